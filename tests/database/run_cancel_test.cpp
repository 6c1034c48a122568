// Cancelling a run (design §4.7, database/run_cancel.h) against the harness
// PostgreSQL: a cancel interrupts the statement in flight and the run is
// rolled back with the requested status recorded in run_log; committed
// segments are undone; a request after the last COMMIT changes nothing; a
// retryable cancel (the controller's shutdown) frees the run key.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

using core::Code;

// r2: a table, then a statement that would sleep for ten minutes.
constexpr const char* kSlowUp =
    "-- migrate:up\nCREATE TABLE t2 (id int);\nSELECT pg_sleep(600);\n\n"
    "-- migrate:down\nDROP TABLE t2;\n";
// r2: a committed segment (t2), then a transaction:false sleep.
constexpr const char* kSegmentedSlowUp =
    "-- migrate:up\nCREATE TABLE t2 (id int);\n\n"
    "-- migrate:up transaction:false\nSELECT pg_sleep(600);\n\n"
    "-- migrate:down\nDROP TABLE t2;\n";

// Requests `why` on `cancel` once the run's step 0 has been running for a
// moment (the statement is in flight by then).
void CancelWhenMigrating(MigratorOptions& options, const std::shared_ptr<RunCancel>& cancel,
                         core::Status why, std::thread& canceller) {
  options.cancel = cancel;
  options.on_progress = [cancel, why, &canceller](const ProgressEvent& event) {
    if (event.phase == "migrating" && event.step_index == 0 && !canceller.joinable()) {
      canceller = std::thread([cancel, why] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        cancel->Request(why);
      });
    }
  };
}

TEST_F(MigratorTest, CancelInterruptsTheStatementAndRollsBack) {
  WriteBase();
  WriteR2("slow", kSlowUp);
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto options = Options();
  auto cancel = std::make_shared<RunCancel>();
  std::thread canceller;
  CancelWhenMigrating(options, cancel, core::Status(Code::kDowntimeExceeded, "budget spent"),
                      canceller);
  const auto started = std::chrono::steady_clock::now();
  auto report = Open(options)->Run("head");
  canceller.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(report->status.code(), Code::kDowntimeExceeded) << report->status.ToString();
  EXPECT_NE(report->status.message().find("budget spent"), std::string::npos);
  // Interrupted, not slept through.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(300));
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("t2"));
  EXPECT_EQ(Query("SELECT outcome || ' ' || error_code FROM schemaop.run_log ORDER BY id DESC "
                  "LIMIT 1"),
            "rolled_back DowntimeExceeded");
  // (This database only: other tests on the server may sleep too.)
  EXPECT_EQ(Query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(600)%' "
                  "AND state = 'active' AND pid <> pg_backend_pid() "
                  "AND datname = current_database()"),
            "0");
}

TEST_F(MigratorTest, CancelAfterACommittedSegmentUndoesIt) {
  WriteBase();
  WriteR2("slow", kSegmentedSlowUp);
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto options = Options();
  auto cancel = std::make_shared<RunCancel>();
  std::thread canceller;
  CancelWhenMigrating(options, cancel, core::Status(Code::kAborted, "abort"), canceller);
  auto report = Open(options)->Run("head");
  canceller.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
  EXPECT_EQ(report->status.code(), Code::kAborted);
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("t2"));  // the committed segment was undone
  EXPECT_EQ(LastRunOutcome(), "rolled_back");
}

TEST_F(MigratorTest, CancelAfterTheLastCommitChangesNothing) {
  WriteBase();
  WriteR2("quick", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto options = Options();
  auto cancel = std::make_shared<RunCancel>();
  options.cancel = cancel;
  options.on_progress = [cancel](const ProgressEvent& event) {
    if (event.phase == "committed") {  // the run's last COMMIT went through
      cancel->Request(core::Status(Code::kAborted, "too late"));
    }
  };
  auto report = Open(options)->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_TRUE(cancel->requested().has_value());
  EXPECT_EQ(Versions(), "r2");
  EXPECT_TRUE(TableExists("t2"));
  EXPECT_EQ(LastRunOutcome(), "succeeded");
}

TEST_F(MigratorTest, RetryableCancelFreesTheRunKey) {
  WriteBase();
  WriteR2("slow", kSlowUp);
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto options = Options();
  options.run_key = "uid/1/digest";
  auto cancel = std::make_shared<RunCancel>();
  std::thread canceller;
  CancelWhenMigrating(options, cancel,
                      core::Status(Code::kAborted, "stopping", kCancelRetryableDetail),
                      canceller);
  auto report = Open(options)->Run("head");
  canceller.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE run_key = 'uid/1/digest'"), "0");
  // The same key is not replayed as rolled back: a cancel requested before
  // the run stops it again, as a new execution (not a replay).
  auto again_options = Options();
  again_options.run_key = "uid/1/digest";
  again_options.cancel = std::make_shared<RunCancel>();
  again_options.cancel->Request(core::Status(Code::kAborted, "again"));
  auto again = Open(again_options)->Run("head");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->replayed);
  EXPECT_EQ(again->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(again->status.message().rfind("again", 0), 0u) << again->status.message();
  EXPECT_EQ(Versions(), "r1");
}

}  // namespace
}  // namespace schemaop::database
