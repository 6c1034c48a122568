// The migration engine against the harness PostgreSQL (tier `pg`): the
// invariants of "nothing lost" (issue 7): replay, recovery, run identity,
// schema drift, checks, scrubbed server errors (migrator_fixture.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "database/migrator.h"
#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

using core::Code;

using testing::PasswordOf;

// Invariant: a run whose record has ended is never executed again, whatever
// moved the database since. The same run key replays the recorded outcome.
TEST_F(MigratorTest, EndedRunIsReplayedNeverExecutedAgain) {
  WriteBase();
  WriteR2(
      "counts executions",
      "-- migrate:up\nCREATE TABLE IF NOT EXISTS hits (n int);\nINSERT INTO hits VALUES (1);\n\n"
      "-- migrate:down\nSELECT 1;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto keyed = Options();
  keyed.run_key = "uid-1/7/digest";
  auto first = Open(keyed)->Run("head");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->outcome, RunOutcome::kSucceeded);
  EXPECT_FALSE(first->replayed);
  // Someone moves the database back (hits keeps its row: the down is a no-op).
  auto no_schema_check = Options();
  no_schema_check.verify_schema = false;
  ASSERT_EQ(Open(no_schema_check)->Run("r1", core::PlanMode::kDowngrade)->outcome,
            RunOutcome::kSucceeded);
  auto again = Open(keyed)->Run("head");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(again->final_versions, std::vector<std::string>{"r1"});
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM hits"), "1");
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE run_key = 'uid-1/7/digest'"), "1");
}

TEST_F(MigratorTest, RolledBackRunIsReplayedWithItsReason) {
  WriteBase();
  WriteR2("loses rows", "-- migrate:up\nDELETE FROM items;\n\n-- migrate:down\nSELECT 1;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto keyed = Options();
  keyed.run_key = "uid-1/8/digest";
  auto first = Open(keyed)->Run("head");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->outcome, RunOutcome::kRolledBack);
  auto again = Open(keyed)->Run("head");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(again->status.code(), Code::kVerificationFailed);
  EXPECT_NE(again->status.message().find("public.items"), std::string::npos);
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE direction = 'upgrade' AND "
                  "outcome = 'rolled_back'"),
            "1");
}

// A run interrupted before its first commit took no effect: it may execute
// again (bounded), and executes once more.
TEST_F(MigratorTest, RunInterruptedBeforeItsFirstCommitMayRunAgain) {
  WriteBase();
  auto keyed = Options();
  keyed.run_key = "uid-1/9/digest";
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  WriteR2("t", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  for (int attempt = 0; attempt < 3; ++attempt) {
    Exec(
        "INSERT INTO schemaop.run_log (from_versions, to_versions, direction, actor, outcome, "
        "plan, progress, run_key) VALUES ('{r1}', '{r2}', 'upgrade', 'crashed', 'running', "
        "'{\"steps\": []}', '{\"phase\": \"forward\", \"step\": 0, \"section\": 0, "
        "\"statement\": 0}', 'uid-1/9/digest')");
    if (attempt < 2) {
      ASSERT_TRUE(Open()->RecoverInterruptedRun().ok());
    }
  }
  // Three interrupted attempts: not started a fourth time.
  auto refused = Open(keyed)->Run("head");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kMigrationFailed);
  EXPECT_NE(refused.status().message().find("interrupted 3 times"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Versions(), "r1");
  Exec(
      "DELETE FROM schemaop.run_log WHERE actor = 'crashed' AND id <> (SELECT max(id) FROM "
      "schemaop.run_log WHERE actor = 'crashed')");
  auto ran = Open(keyed)->Run("head");
  ASSERT_TRUE(ran.ok()) << ran.status().ToString();
  EXPECT_FALSE(ran->replayed);
  EXPECT_EQ(ran->outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
}

// Invariant: a run executes only the plan recorded at planning.
TEST_F(MigratorTest, ChangedPlanExecutesNothing) {
  WriteBase();
  WriteR2(
      "t",
      "-- migrate:up\nCREATE TABLE planned (id int);\n\n-- migrate:down\nDROP TABLE planned;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto planner = Open();
  auto plan = planner->Plan("head");
  ASSERT_TRUE(plan.ok());
  auto digest = planner->PlanDigest(*plan);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(digest->size(), 64u);
  EXPECT_EQ(*Open()->PlanDigest(*plan), *digest);  // deterministic
  WriteR2("t",
          "-- migrate:up\nCREATE TABLE unplanned (id int);\n\n-- migrate:down\nDROP TABLE "
          "unplanned;\n");
  auto pinned = Options();
  pinned.expected_plan_digest = *digest;
  auto changed = Open(pinned)->Run("head");
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), Code::kMigrationsChanged);
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("unplanned"));
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log"), "1");
}

// Invariant: crash recovery runs only the SQL the run started with.
TEST_F(MigratorTest, RecoveryRefusesAFileChangedSinceTheRunStarted) {
  WriteBase();
  const std::string r2 =
      "-- revision: r2\n-- down_revision: r1\n-- message: segmented\n\n"
      "-- migrate:up\nCREATE TABLE seg (id int, v int);\nINSERT INTO seg VALUES (1, 1), (2, 1);\n\n"
      "-- migrate:up transaction:false\n"
      "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS seg_v_uq ON seg (v);\n\n"
      "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS seg_v_uq;\n\n"
      "-- migrate:down\nDROP TABLE seg;\n";
  Write("002_r2.sql", r2);
  auto options = Options();
  options.failure_policy = FailurePolicy::kHalt;
  ASSERT_EQ(Open(options)->Run("r1")->outcome, RunOutcome::kSucceeded);
  ASSERT_EQ(Open(options)->Run("head")->outcome, RunOutcome::kFailed);
  Exec(
      "UPDATE schemaop.run_log SET outcome = 'running', finished_at = NULL, error = NULL "
      "WHERE id = (SELECT max(id) FROM schemaop.run_log)");
  Exec("UPDATE seg SET v = id");
  Write("002_r2.sql", r2 + "-- edited after the run started\n");
  auto refused = Open()->Run("head");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kChecksumMismatch);
  EXPECT_EQ(refused.status().detail(), kRecoveryDetail);  // the caller keeps writers down
  EXPECT_NE(refused.status().message().find("recovery runs only the SQL the run started with"),
            std::string::npos)
      << refused.status().message();
  // The halted run's failed index build is still INVALID: nothing resumed.
  EXPECT_EQ(Query("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                  "WHERE c.relname = 'seg_v_uq' AND i.indisvalid"),
            "0");
  EXPECT_EQ(LastRunOutcome(), "running");
  Write("002_r2.sql", r2);
  auto resumed = Open()->Run("head");
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(Versions(), "r2");
}

// Invariant: one database has one identity, whatever URL reaches it.
TEST_F(MigratorTest, DatabaseIdentityIsTheSameThroughAnotherUrl) {
  auto a = Open();
  ASSERT_NE(a, nullptr);
  auto id_a = a->DatabaseIdentity();
  ASSERT_TRUE(id_a.ok()) << id_a.status().ToString();
  // The same database as a libpq key=value string instead of a URL.
  const std::string password = PasswordOf(url_);
  auto at = url_.rfind('@');
  auto slash = url_.find('/', at);
  auto colon = url_.find(':', at);
  const std::string conninfo = "host=" + url_.substr(at + 1, colon - at - 1) +
                               " port=" + url_.substr(colon + 1, slash - colon - 1) +
                               " dbname=" + url_.substr(slash + 1) +
                               " user=" + testing::OwnerRole() + " password=" + password;
  auto b = Migrator::Open(conninfo, {}, Options());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b.value()->DatabaseIdentity(), *id_a);
  auto other =
      Migrator::Open(testing::CreateScratchDatabase("engine_identity_other"), {}, Options());
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other.value()->DatabaseIdentity(), *id_a);
}

// Invariant: after a downgrade the schema is the one the revision had.
TEST_F(MigratorTest, DowngradeThatForgetsAColumnIsSchemaDrift) {
  WriteBase();
  WriteR2("extra",
          "-- migrate:up\nALTER TABLE items ADD COLUMN extra int;\n\n"
          "-- migrate:down\nSELECT 1;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  ASSERT_EQ(Open()->Run("head")->outcome, RunOutcome::kSucceeded);
  auto down = Open()->Run("r1", core::PlanMode::kDowngrade);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(down->status.code(), Code::kSchemaDrift);
  EXPECT_NE(down->status.message().find("column public.items.extra exists but did not at r1"),
            std::string::npos)
      << down->status.message();
  EXPECT_EQ(Versions(), "r2");
  auto ignore = Options();
  ignore.verify_schema = false;
  auto allowed = Open(ignore)->Run("r1", core::PlanMode::kDowngrade);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->outcome, RunOutcome::kSucceeded) << allowed->status.ToString();
  // Accepted drift becomes r1's recorded schema; a later hand change at r1
  // is what `verify` reports.
  auto accepted = Open()->Verify();
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->ok()) << accepted->problems.front();
  Exec("CREATE INDEX items_by_hand ON items (name)");
  auto verified = Open()->Verify();
  ASSERT_TRUE(verified.ok());
  ASSERT_FALSE(verified->ok());
  EXPECT_NE(verified->problems.front().find("index public.items_by_hand exists but did not at r1"),
            std::string::npos)
      << verified->problems.front();
}

// Invariant: a check cannot change data, even when its statement writes.
TEST_F(MigratorTest, CheckThatWritesFailsAndKeepsEveryRow) {
  WriteBase();
  WriteR2("t", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto options = Options();
  options.checks = {{"sneaky", "WITH d AS (DELETE FROM items RETURNING 1) SELECT true"}};
  auto report = Open(options)->Run("head");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_NE(report->status.message().find("tried to write"), std::string::npos)
      << report->status.message();
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
  options.checks = {{"two", "SELECT true; DELETE FROM items"}};
  auto two = Open(options)->Run("head");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->outcome, RunOutcome::kRolledBack);
  EXPECT_NE(two->status.message().find("exactly one statement"), std::string::npos);
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
}

// Invariant: every committed segment was verified before its COMMIT.
TEST_F(MigratorTest, LossInAnEarlierSegmentIsRefusedBeforeItCommits) {
  WriteBase();
  WriteR2("segmented loss",
          "-- migrate:up\nDELETE FROM items WHERE id = 1;\n\n"
          "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_name ON "
          "items (name);\n\n"
          "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS items_name;\n\n"
          "-- migrate:down\nSELECT 1;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto report = Open()->Run("head");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(report->status.code(), Code::kVerificationFailed);
  EXPECT_NE(report->status.message().find("before committing the segment"), std::string::npos)
      << report->status.message();
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
  EXPECT_EQ(Versions(), "r1");
}

// Invariant (issue 8): status, Events and run_log never carry row values.
// PostgreSQL's DETAIL ("Key (name)=(...) already exists") and a data
// exception's quoted value are dropped; the constraint's name stays.
TEST_F(MigratorTest, ServerErrorsReachNoMessageWithRowValues) {
  WriteBase();
  Exec("CREATE TABLE IF NOT EXISTS people (email text UNIQUE)");
  Exec("INSERT INTO people VALUES ('alice-private@example.com')");
  WriteR2("dup",
          "-- migrate:up\nINSERT INTO people VALUES ('alice-private@example.com');\n\n"
          "-- migrate:down\nSELECT 1;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  std::vector<std::string> full_errors;  // for the controller's debug log only
  auto options = Options();
  options.on_progress = [&full_errors](const ProgressEvent& event) {
    if (event.phase == "server-error") {
      full_errors.push_back(event.message);
    }
  };
  auto dup = Open(options)->Run("head");
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ(dup->outcome, RunOutcome::kRolledBack);
  ASSERT_FALSE(full_errors.empty());
  EXPECT_NE(full_errors.front().find("alice-private"), std::string::npos) << full_errors.front();
  EXPECT_EQ(full_errors.front().find(PasswordOf(url_)), std::string::npos);
  EXPECT_NE(dup->status.message().find("people_email_key"), std::string::npos)
      << dup->status.message();
  EXPECT_EQ(dup->status.message().find("alice-private"), std::string::npos)
      << dup->status.message();
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE error LIKE '%alice-private%'"), "0");

  WriteR2("cast",
          "-- migrate:up\nALTER TABLE people ADD COLUMN n int;\n"
          "UPDATE people SET n = email::int;\n\n"
          "-- migrate:down\nALTER TABLE people DROP COLUMN n;\n");
  auto cast = Open()->Run("head");
  ASSERT_TRUE(cast.ok());
  EXPECT_EQ(cast->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(cast->status.detail(), "22P02");
  EXPECT_NE(cast->status.message().find("invalid input syntax for type integer"), std::string::npos)
      << cast->status.message();
  EXPECT_EQ(cast->status.message().find("alice-private"), std::string::npos)
      << cast->status.message();
}

// A hand-made change at the revision a run starts from becomes that
// revision's recorded schema, and the run says so (never silently).
TEST_F(MigratorTest, HandMadeChangeAtTheStartingRevisionIsReported) {
  WriteBase();
  WriteR2("t", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  Exec("CREATE INDEX items_by_hand ON items (name)");
  std::vector<std::string> warnings;
  auto options = Options();
  options.on_progress = [&warnings](const ProgressEvent& event) {
    if (event.phase == "warning") {
      warnings.push_back(event.message);
    }
  };
  ASSERT_EQ(Open(options)->Run("head")->outcome, RunOutcome::kSucceeded);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("index public.items_by_hand exists but did not at r1"),
            std::string::npos)
      << warnings[0];
}

}  // namespace
}  // namespace schemaop::database
