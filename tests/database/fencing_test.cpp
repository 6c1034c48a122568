// Fencing a dead owner's sessions (issue 12 item 2, design §4.2), on the
// harness PostgreSQL as the non-superuser owner. A frozen controller (or a
// host cut off without a TCP reset) keeps its sessions: the lock session
// holds the migration lock and the migration session may be inside a long
// statement. The new owner terminates every session of the stale owner and
// runs; nobody else's sessions are touched, and without fencing the run
// waits and fails with kLockHeld as before.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "support/engine_fixture.h"

namespace schemaop::database {
namespace {

using std::chrono::milliseconds;

// A session named `application_name` on `url`.
std::unique_ptr<pqxx::connection> SessionAs(const std::string& url, const std::string& name) {
  auto conn = std::make_unique<pqxx::connection>(url);
  pqxx::nontransaction(*conn).exec("SET application_name = " + conn->quote(name));
  return conn;
}

class FencingTest : public schemaop::testing::EngineTest {
 protected:
  FencingTest() : EngineTest("engine_fencing", "fencing", "new-owner") {}

  void SetUp() override {
    EngineTest::SetUp();
    Write("001_r1.sql", schemaop::testing::MigrationText(
                            "r1", "", "items",
                            "-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY);\n"
                            "INSERT INTO items VALUES (1), (2);\n\n"
                            "-- migrate:down\nDROP TABLE items;\n"));
  }

  // A stale owner: one session holding the lock, one more idle in a
  // transaction (as a migration session inside a statement would be).
  void StartStaleOwner(const std::string& name) {
    lock_holder_ = SessionAs(url_, name);
    pqxx::nontransaction(*lock_holder_).exec_params("SELECT pg_advisory_lock($1)",
                                               schemaop::testing::MigrationLockKey());
    worker_ = SessionAs(url_, name);
    worker_tx_ = std::make_unique<pqxx::work>(*worker_);
    worker_tx_->exec("SELECT 1");
  }
  int SessionsNamed(const std::string& name) {
    return std::stoi(Query("SELECT count(*) FROM pg_stat_activity WHERE application_name = '" +
                           name + "'"));
  }

  MigratorOptions Fencing(const std::string& owner, const std::string& prefix) {
    auto options = Options();
    options.lock_wait = milliseconds(3000);
    options.session_owner = owner;
    options.fence_prefix = prefix;
    options.on_progress = [this](const ProgressEvent& e) {
      if (e.phase == "fenced") fenced_.push_back(e.message);
    };
    return options;
  }

  std::unique_ptr<pqxx::connection> lock_holder_, worker_;
  std::unique_ptr<pqxx::work> worker_tx_;
  std::vector<std::string> fenced_;
};

TEST_F(FencingTest, StaleOwnerIsTerminatedAndTheRunProceeds) {
  StartStaleOwner("schemaop:ctl:old-leader_1");
  auto bystander = SessionAs(url_, "schemaop:cli:someone@host:7");  // not a controller
  auto m = Open(Fencing("ctl:new-leader_2", "schemaop:ctl:"));
  ASSERT_NE(m, nullptr);
  const auto started = std::chrono::steady_clock::now();
  auto report = m->Run("r1");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  ASSERT_EQ(fenced_.size(), 1u);
  EXPECT_NE(fenced_[0].find("'schemaop:ctl:old-leader_1'"), std::string::npos) << fenced_[0];
  EXPECT_NE(fenced_[0].find("terminated 2 "), std::string::npos) << fenced_[0];
  EXPECT_EQ(SessionsNamed("schemaop:ctl:old-leader_1"), 0);
  EXPECT_EQ(SessionsNamed("schemaop:cli:someone@host:7"), 1) << "only the stale owner is fenced";
  EXPECT_EQ(Versions(), "r1");
  // The run's own (still open) session carries the new owner.
  EXPECT_GE(SessionsNamed("schemaop:ctl:new-leader_2"), 1);
}

// Invariant (design §4.2): only the current Lease holder fences. A leader
// deposed while one of its reconciles was still running (the chaos soak's
// fault 740) asks may_fence at the moment of fencing, gets false, and waits
// for the lock like anyone else: the new leader's sessions live on.
TEST_F(FencingTest, ACallerThatNoLongerMayFenceWaitsInstead) {
  StartStaleOwner("schemaop:ctl:new-leader_2");
  auto options = Fencing("ctl:deposed-leader_1", "schemaop:ctl:");
  options.lock_wait = milliseconds(300);
  int asked = 0;
  options.may_fence = [&asked] {
    ++asked;
    return false;
  };
  auto m = Open(options);
  ASSERT_NE(m, nullptr);
  auto report = m->Run("r1");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), core::Code::kLockHeld);
  EXPECT_GE(asked, 1);
  EXPECT_TRUE(fenced_.empty());
  EXPECT_EQ(SessionsNamed("schemaop:ctl:new-leader_2"), 2);
}

TEST_F(FencingTest, WithoutFencingTheRunWaitsAndNamesTheHolder) {
  StartStaleOwner("schemaop:ctl:old-leader_1");
  auto options = Fencing("ctl:new-leader_2", "");
  options.lock_wait = milliseconds(300);
  auto m = Open(options);
  ASSERT_NE(m, nullptr);
  auto report = m->Run("r1");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), core::Code::kLockHeld);
  EXPECT_NE(report.status().message().find("schemaop:ctl:old-leader_1"), std::string::npos);
  EXPECT_TRUE(fenced_.empty());
  EXPECT_EQ(SessionsNamed("schemaop:ctl:old-leader_1"), 2);
}

// A holder outside the prefix (a CLI run, any other client) or with our own
// name is never terminated: the run waits and fails with kLockHeld.
TEST_F(FencingTest, HoldersOutsideThePrefixOrOurOwnAreNotFenced) {
  for (const std::string holder : {"schemaop:cli:someone@host:7", "psql", "schemaop:ctl:me_1"}) {
    StartStaleOwner(holder);
    auto options = Fencing("ctl:me_1", "schemaop:ctl:");
    options.lock_wait = milliseconds(300);
    auto m = Open(options);
    ASSERT_NE(m, nullptr);
    auto report = m->Run("r1");
    ASSERT_FALSE(report.ok()) << holder;
    EXPECT_EQ(report.status().code(), core::Code::kLockHeld) << holder;
    EXPECT_TRUE(fenced_.empty()) << holder;
    EXPECT_GE(SessionsNamed(holder), 2) << holder;  // ours too, for our own name
    worker_tx_.reset();
    worker_.reset();
    lock_holder_.reset();
  }
}

}  // namespace
}  // namespace schemaop::database
