// Rehearsal (design §4.10) against the harness PostgreSQL, as a
// non-superuser owner: the plan runs forward and back on a scratch copy,
// failures are reported by stage, the database itself is never changed
// (a whole pg_dump of it is byte-identical before and after), and no
// scratch database is left behind.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "database/migrator.h"
#include "support/engine_fixture.h"

namespace schemaop::database {
namespace {

using testing::MigrationText;

constexpr const char* kRole = "schemaop_rehearser";
constexpr const char* kRolePassword = "rehearse-pw-1";

class RehearsalTest : public testing::EngineTest {
 protected:
  RehearsalTest() : EngineTest("rh_", "rehearse", "rehearsal-test") {}

  void SetUp() override {
    EngineTest::SetUp();
    // The database's owner may create databases (and is no superuser).
    testing::EnsureLoginRole(kRole, kRolePassword, "NOSUPERUSER CREATEDB");
    testing::ExecSql(testing::HarnessUrl(),
                     "ALTER DATABASE " + database_ + " OWNER TO " + kRole);
    owner_url_ = testing::UrlAs(url_, kRole, kRolePassword);
    engine_url_ = owner_url_;
    observer_url_ = testing::SuperuserUrlFor(database_);
    Write("001_r1.sql", MigrationText("r1", "", "items",
                                      "-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY, "
                                      "name text NOT NULL);\n"
                                      "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');\n\n"
                                      "-- migrate:down\nDROP TABLE items;\n"));
  }

  void WriteR2(const std::string& up, const std::string& down) {
    Write("002_r2.sql", MigrationText("r2", "r1", "r2",
                                      "-- migrate:up\n" + up + "\n\n-- migrate:down\n" + down +
                                          "\n"));
  }

  // The whole database as pg_dump prints it: schema, rows, version table,
  // run_log, archive and fingerprints.
  std::string Dump() {
    std::string command = testing::HarnessBinDir() + "/pg_dump --no-password '" +
                          testing::SuperuserUrlFor(database_) + "' 2>&1";
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    for (std::size_t n; pipe != nullptr && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
      out.append(buffer, n);
    }
    EXPECT_EQ(pipe != nullptr ? pclose(pipe) : -1, 0) << out;
    // pg_dump 15.14+ brackets its output with a random \restrict key.
    std::string kept;
    for (std::size_t start = 0, end; start < out.size(); start = end + 1) {
      end = out.find('\n', start);
      end = end == std::string::npos ? out.size() : end;
      std::string line = out.substr(start, end - start);
      if (line.rfind("\\restrict ", 0) != 0 && line.rfind("\\unrestrict ", 0) != 0) {
        kept += line + "\n";
      }
    }
    return kept;
  }

  std::string ScratchDatabases() {
    return testing::QueryValue(testing::HarnessUrl(),
                               "SELECT coalesce(string_agg(datname, ',' ORDER BY datname), '') "
                               "FROM pg_database WHERE datname LIKE 'schemaop\\_rehearsal\\_%' "
                               "AND datdba = 'schemaop_rehearser'::regrole");  // not other tests' 
  }

  core::Result<RehearsalReport> Rehearse(const std::string& target, RehearsalOptions options = {}) {
    auto m = Open();
    if (m == nullptr) {
      return core::Status(core::Code::kInternal, "no migrator");
    }
    return m->Rehearse(target, core::PlanMode::kAuto, options);
  }

  // Runs to `target`, which must succeed.
  bool OpenAt(const std::string& target) {
    auto m = Open();
    auto report = m != nullptr ? m->Run(target) : core::Result<RunReport>(core::Status(
                                                      core::Code::kInternal, "no migrator"));
    EXPECT_TRUE(report.ok() && report->outcome == RunOutcome::kSucceeded)
        << (report.ok() ? report->status.ToString() : report.status().ToString());
    return report.ok() && report->outcome == RunOutcome::kSucceeded;
  }

  std::string owner_url_;
};

TEST_F(RehearsalTest, RunsForwardAndBackOnACopyAndLeavesTheDatabaseAsItWas) {
  WriteR2("ALTER TABLE items ADD COLUMN price int;\nCREATE INDEX items_name ON items (name);",
          "DROP INDEX items_name;\nALTER TABLE items DROP COLUMN price;");
  ASSERT_TRUE(OpenAt("r1"));
  const std::string before = Dump();
  auto report = Rehearse("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->succeeded) << report->failed_stage << ": " << report->status.ToString();
  ASSERT_EQ(report->forward_steps.size(), 1u);
  EXPECT_EQ(report->forward_steps[0].revision, "r2");
  EXPECT_EQ(report->forward_steps[0].direction, core::Direction::kUp);
  ASSERT_EQ(report->reverse_steps.size(), 1u);
  EXPECT_EQ(report->reverse_steps[0].direction, core::Direction::kDown);
  EXPECT_EQ(report->plan_digest.size(), 64u);
  EXPECT_GE(report->predicted_downtime, report->forward_sql);
  EXPECT_TRUE(report->scratch_dropped);
  EXPECT_EQ(report->scratch_database.rfind("schemaop_rehearsal_", 0), 0u);
  EXPECT_EQ(ScratchDatabases(), "");
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(Versions(), "r1");
}

TEST_F(RehearsalTest, AFailingVerificationFailsTheRehearsalAndChangesNothing) {
  WriteR2("DELETE FROM items WHERE id = 2;", "SELECT 1;");
  ASSERT_TRUE(OpenAt("r1"));
  const std::string before = Dump();
  auto report = Rehearse("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->succeeded);
  EXPECT_EQ(report->failed_stage, "forward");
  EXPECT_EQ(report->status.code(), core::Code::kVerificationFailed) << report->status.ToString();
  EXPECT_TRUE(report->scratch_dropped);
  EXPECT_EQ(ScratchDatabases(), "");
  EXPECT_EQ(Dump(), before);
}

TEST_F(RehearsalTest, ADownSectionThatForgetsAnObjectFailsTheReversePath) {
  WriteR2("CREATE INDEX items_name ON items (name);", "SELECT 1;");
  ASSERT_TRUE(OpenAt("r1"));
  const std::string before = Dump();
  auto report = Rehearse("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->succeeded);
  EXPECT_EQ(report->failed_stage, "reverse");
  EXPECT_EQ(report->status.code(), core::Code::kSchemaDrift) << report->status.ToString();
  EXPECT_NE(report->status.message().find("items_name"), std::string::npos)
      << report->status.message();
  EXPECT_EQ(ScratchDatabases(), "");
  EXPECT_EQ(Dump(), before);
}

TEST_F(RehearsalTest, ARoleWithoutCreatedbIsToldTheFixAndNothingIsCreated) {
  WriteR2("ALTER TABLE items ADD COLUMN price int;", "ALTER TABLE items DROP COLUMN price;");
  ASSERT_TRUE(OpenAt("r1"));
  testing::ExecSql(testing::HarnessUrl(), std::string("ALTER ROLE ") + kRole + " NOCREATEDB");
  const std::string before = Dump();
  auto report = Rehearse("head");
  testing::ExecSql(testing::HarnessUrl(), std::string("ALTER ROLE ") + kRole + " CREATEDB");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().detail(), "42501");
  EXPECT_NE(report.status().message().find("CREATEDB"), std::string::npos);
  EXPECT_NE(report.status().message().find("--rehearsal-url"), std::string::npos);
  EXPECT_EQ(report.status().message().find(kRolePassword), std::string::npos);
  EXPECT_EQ(ScratchDatabases(), "");
  EXPECT_EQ(Dump(), before);
}

TEST_F(RehearsalTest, ARehearsalUrlLendsARoleThatMayCreateDatabases) {
  WriteR2("ALTER TABLE items ADD COLUMN price int;", "ALTER TABLE items DROP COLUMN price;");
  // The harness owner may not create databases; the rehearsal role may.
  testing::ExecSql(testing::HarnessUrl(), "ALTER DATABASE " + database_ + " OWNER TO " +
                                              testing::OwnerRole());
  engine_url_ = url_;
  ASSERT_TRUE(OpenAt("r1"));
  const std::string before = Dump();
  RehearsalOptions options;
  options.rehearsal_url = testing::UrlAs(testing::HarnessUrlFor("postgres"), kRole, kRolePassword);
  auto report = Rehearse("head", options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->succeeded) << report->failed_stage << ": " << report->status.ToString();
  EXPECT_EQ(ScratchDatabases(), "");
  EXPECT_EQ(Dump(), before);
}

TEST_F(RehearsalTest, LeftoversAreDroppedOnlyWhenNamedAndMarkedAsScratch) {
  WriteR2("ALTER TABLE items ADD COLUMN price int;", "ALTER TABLE items DROP COLUMN price;");
  ASSERT_TRUE(OpenAt("r1"));
  const std::string leftover = "schemaop_rehearsal_00000000deadbeef";
  const std::string unmarked = "schemaop_rehearsal_00000000cafef00d";
  const std::string other_name = "schemaop_rehearsal_keep";
  for (const auto& name : {leftover, unmarked, other_name}) {
    testing::ExecSql(testing::HarnessUrl(), "DROP DATABASE IF EXISTS " + name);
    testing::ExecSql(testing::HarnessUrl(),
                     "CREATE DATABASE " + name + " OWNER " + std::string(kRole));
  }
  for (const auto& name : {leftover, other_name}) {
    testing::ExecSql(testing::HarnessUrl(), "COMMENT ON DATABASE " + name + " IS '" +
                                                std::string(kScratchComment) + "'");
  }
  auto report = Rehearse("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->succeeded) << report->status.ToString();
  ASSERT_EQ(report->removed_leftovers.size(), 1u);
  EXPECT_EQ(report->removed_leftovers[0], leftover);
  EXPECT_EQ(ScratchDatabases(), unmarked + "," + other_name);
  for (const auto& name : {unmarked, other_name}) {
    testing::ExecSql(testing::HarnessUrl(), "DROP DATABASE " + name);
  }
}

TEST_F(RehearsalTest, AtTargetThereIsNothingToRehearseAndNoCopy) {
  ASSERT_TRUE(OpenAt("r1"));
  auto report = Rehearse("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->plan.empty());
  EXPECT_TRUE(report->scratch_database.empty());
}

}  // namespace
}  // namespace schemaop::database
