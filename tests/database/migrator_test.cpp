// The migration engine against the harness PostgreSQL (tier `pg`): runs,
// verification, the lock, the archive, segments, backups, bad input. Every
// test has its own scratch database and writes small synthetic migration
// files (migrator_fixture.h).
#include "database/migrator.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using core::Code;
using std::chrono::milliseconds;

using testing::PasswordOf;

// r2's up sections in the segment tests: a transactional segment (seg, two
// rows with the same v), then two indexes built CONCURRENTLY, the unique one
// failing on those rows.
constexpr const char* kSegmentedUp =
    "-- migrate:up\nCREATE TABLE seg (id int, v int);\nINSERT INTO seg VALUES (1, 1), (2, 1);\n\n"
    "-- migrate:up transaction:false\n"
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS seg_id_idx ON seg (id);\n"
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS seg_v_uq ON seg (v);\n\n";

TEST_F(MigratorTest, UpgradeRecordsVersionArchiveAndRunLog) {
  WriteBase();
  WriteR2("tags",
          "-- migrate:up\nCREATE TABLE tags (id int);\n\n-- migrate:down\nDROP TABLE tags;\n");
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_EQ(report->steps_applied, 2);
  EXPECT_EQ(report->final_versions, std::vector<std::string>{"r2"});
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.revision_archive"), "2");
  const std::string text = testing::ReadTextFile(dir_ + "/m/002_r2.sql");
  EXPECT_EQ(Query("SELECT sha256 FROM schemaop.revision_archive WHERE revision = 'r2'"), Sha256Hex(text));
  EXPECT_EQ(Query("SELECT outcome || ' ' || actor || ' ' || direction FROM schemaop.run_log"),
            "succeeded test upgrade");
  // A second run has nothing to do and writes nothing.
  auto again = m->Run("head");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, RunOutcome::kNothingToDo);
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log"), "1");
}

TEST_F(MigratorTest, AlembicVersionTableIsExactlyAlembics) {
  WriteBase();
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->Run("head").ok());
  EXPECT_EQ(Query("SELECT data_type || ' ' || character_maximum_length || ' ' || is_nullable "
                  "FROM information_schema.columns WHERE table_name = 'alembic_version' "
                  "AND column_name = 'version_num'"),
            "character varying 32 NO");
  EXPECT_EQ(Query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'alembic_version'"), "1");
  EXPECT_EQ(Query("SELECT contype::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
                  "WHERE conname = 'alembic_version_pkc'"),
            "p PRIMARY KEY (version_num)");
}

TEST_F(MigratorTest, FailingStatementLeavesDatabaseAtStartingRevision) {
  WriteBase();
  WriteR2("ok",
          "-- migrate:up\nCREATE TABLE r2_table (id int);\nINSERT INTO items VALUES (4, 'd');\n\n"
          "-- migrate:down\nDROP TABLE r2_table;\n");
  Write("003_r3.sql",
        testing::MigrationText("r3", "r2", "fails",
                               "-- migrate:up\nCREATE TABLE r3_table (id int);\nSELECT 1 / 0;\n\n"
                               "-- migrate:down\nDROP TABLE r3_table;\n"));
  auto report = UpgradeFromR1(Options());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(report->status.code(), Code::kMigrationFailed);
  EXPECT_EQ(report->status.detail(), "22012");
  EXPECT_NE(report->status.message().find("r3"), std::string::npos) << report->status.message();
  // The statement that failed, not only its section (each statement of a
  // transactional section is its own query, design §4.11).
  EXPECT_NE(report->status.message().find("statement 2/2 at line "), std::string::npos)
      << report->status.message();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("r2_table"));
  EXPECT_FALSE(TableExists("r3_table"));
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
  EXPECT_EQ(LastRunOutcome(), "rolled_back");
}

// Statements whose text holds semicolons the server does not end them at
// (a rule's parenthesised actions, a BEGIN ATOMIC body, a dollar-quoted
// body) run whole when a transactional section runs statement by statement.
TEST_F(MigratorTest, StatementsWithInnerSemicolonsRunWhole) {
  WriteBase();
  WriteR2("inner semicolons",
          "-- migrate:up\n"
          "CREATE TABLE audit (n int);\n"
          "CREATE RULE items_audit AS ON INSERT TO items DO ALSO "
          "(INSERT INTO audit VALUES (NEW.id); INSERT INTO audit VALUES (-NEW.id));\n"
          "CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql\n"
          "BEGIN ATOMIC\n  SELECT x * 2;\nEND;\n"
          "CREATE FUNCTION thrice(x int) RETURNS int AS $$ SELECT x; SELECT x * 3 $$ "
          "LANGUAGE sql;\n"
          "INSERT INTO items VALUES (4, 'd');\n\n"
          "-- migrate:down\nDELETE FROM items WHERE id = 4;\nDROP FUNCTION thrice(int);\n"
          "DROP FUNCTION twice(int);\nDROP RULE items_audit ON items;\nDROP TABLE audit;\n");
  auto report = UpgradeFromR1(Options());
  ASSERT_TRUE(report);
  ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT string_agg(n::text, ',' ORDER BY n) FROM audit"), "-4,4");
  EXPECT_EQ(Query("SELECT twice(5) || ',' || thrice(5)"), "10,15");
}

TEST_F(MigratorTest, RowLossRollsBackNamingTableAndCounts) {
  WriteBase();
  WriteR2("loses a row",
          "-- migrate:up\nDELETE FROM items WHERE id = 1;\nCREATE TABLE r2_table (id int);\n\n"
          "-- migrate:down\nDROP TABLE r2_table;\n");
  auto report = UpgradeFromR1(Options());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(report->status.code(), Code::kVerificationFailed);
  const auto& message = report->status.message();
  EXPECT_NE(message.find("public.items had 3 rows before the run and 2 after"), std::string::npos) << message;
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
  EXPECT_FALSE(TableExists("r2_table"));

  auto options = Options();
  options.allow_row_loss = {"items"};
  auto allowed = Open(options);
  ASSERT_NE(allowed, nullptr);
  auto ok = allowed->Run("head");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->outcome, RunOutcome::kSucceeded) << ok->status.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "2");
}

TEST_F(MigratorTest, DownRowLossHeaderAllowsLossOnDowngradeOnly) {
  WriteBase();
  Write("002_r2.sql",
        "-- revision: r2\n-- down_revision: r1\n-- message: seed\n-- down_row_loss: items\n\n"
        "-- migrate:up\nINSERT INTO items VALUES (10, 'seed');\n\n"
        "-- migrate:down\nDELETE FROM items WHERE id = 10;\n");
  auto m = OpenAt("head");
  ASSERT_NE(m, nullptr);
  auto down = m->Run("r1", core::PlanMode::kDowngrade);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->outcome, RunOutcome::kSucceeded) << down->status.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
}

TEST_F(MigratorTest, FailingUserCheckRollsBackNamingTheCheck) {
  WriteBase();
  WriteR2("renames", "-- migrate:up\nUPDATE items SET name = 'x';\n\n-- migrate:down\nSELECT 1;\n");
  auto options = Options();
  options.checks = {{"names_distinct", "SELECT count(DISTINCT name) = count(*) FROM items"}};
  auto report = UpgradeFromR1(options);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(report->status.code(), Code::kVerificationFailed);
  EXPECT_NE(report->status.message().find("names_distinct"), std::string::npos);
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT string_agg(name, '' ORDER BY id) FROM items"), "abc");
}

TEST_F(MigratorTest, ConcurrentRunsSerializeAndShortWaitNamesTheHolder) {
  WriteBase();
  WriteR2("waits on gate",
          "-- migrate:up\nLOCK TABLE gate IN SHARE MODE;\nCREATE TABLE r2_table (id int);\n\n"
          "-- migrate:down\nDROP TABLE r2_table;\n");
  auto first = Open();
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->Run("r1")->outcome, RunOutcome::kSucceeded);
  Exec("CREATE TABLE gate (id int)");
  // Hold the gate (ROW EXCLUSIVE, which the row count before the run does
  // not wait for) so the first run blocks inside its migration, lock held.
  pqxx::connection gate_conn(url_);
  pqxx::work gate(gate_conn);
  gate.exec("INSERT INTO gate VALUES (1)");

  auto blocked_options = Options();
  blocked_options.lock_timeout = milliseconds(0);
  auto runner = Open(blocked_options);
  ASSERT_NE(runner, nullptr);
  core::Result<RunReport> first_result = core::Status(Code::kInternal, "not run");
  std::thread first_thread([&] { first_result = runner->Run("head"); });
  // Wait (with a deadline) until the first run is blocked on the gate.
  pqxx::connection watch(testing::HarnessUrl());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool blocked = false;
  while (!blocked && std::chrono::steady_clock::now() < deadline) {
    pqxx::nontransaction tx(watch);
    blocked = tx.exec("SELECT 1 FROM pg_stat_activity WHERE application_name = 'schemaop' "
                      "AND wait_event_type = 'Lock' AND query LIKE '%LOCK TABLE gate%'")
                  .size() == 1;
    if (!blocked) {
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  ASSERT_TRUE(blocked);

  auto short_options = Options();
  short_options.lock_wait = milliseconds(200);
  auto impatient = Open(short_options);
  ASSERT_NE(impatient, nullptr);
  auto refused = impatient->Run("head");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kLockHeld);
  EXPECT_NE(refused.status().message().find("application_name 'schemaop'"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("pid "), std::string::npos);
  EXPECT_NE(refused.status().message().find("by test"), std::string::npos)
      << refused.status().message();

  // A patient second run waits for the lock, then finds nothing to do.
  std::mutex mu;
  std::condition_variable cv;
  bool waiting = false;
  auto patient_options = Options();
  patient_options.on_progress = [&](const ProgressEvent& event) {
    if (event.phase == "waiting-for-lock") {
      std::lock_guard<std::mutex> lock(mu);
      waiting = true;
      cv.notify_all();
    }
  };
  auto patient = Open(patient_options);
  ASSERT_NE(patient, nullptr);
  core::Result<RunReport> second_result = core::Status(Code::kInternal, "not run");
  std::thread second_thread([&] { second_result = patient->Run("head"); });
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return waiting; }));
  }
  gate.commit();
  first_thread.join();
  second_thread.join();
  ASSERT_TRUE(first_result.ok()) << first_result.status().ToString();
  EXPECT_EQ(first_result->outcome, RunOutcome::kSucceeded) << first_result->status.ToString();
  ASSERT_TRUE(second_result.ok()) << second_result.status().ToString();
  EXPECT_EQ(second_result->outcome, RunOutcome::kNothingToDo);
  EXPECT_EQ(Versions(), "r2");
}

TEST_F(MigratorTest, DowngradeUsesArchiveWhenNewerFilesAreGone) {
  WriteBase();
  WriteR2("t2", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  Write("003_r3.sql",
        testing::MigrationText(
            "r3", "r2", "t3",
            "-- migrate:up\nCREATE TABLE t3 (id int);\n\n-- migrate:down\nDROP TABLE t3;\n"));
  {
    auto m = Open();
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
  }
  Remove("002_r2.sql");
  Remove("003_r3.sql");
  auto options = Options();
  options.backup_policy = BackupPolicy::kDowngrade;
  auto m = Open(options);
  ASSERT_NE(m, nullptr);
  auto report = m->Run("r1", core::PlanMode::kDowngrade);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_EQ(report->steps_applied, 2);
  ASSERT_TRUE(report->backup.has_value());
  EXPECT_GT(report->backup->bytes, 0u);
  EXPECT_TRUE(fs::exists(report->backup->path));
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("t2"));
  EXPECT_FALSE(TableExists("t3"));
  EXPECT_TRUE(TableExists("items"));
}

TEST_F(MigratorTest, ChangedAppliedFileIsRefusedUnlessAllowed) {
  WriteBase();
  {
    auto m = Open();
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
  }
  std::ofstream(dir_ + "/m/001_r1.sql", std::ios::app) << "-- an edit after it was applied\n";
  WriteR2("t2", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto refused = m->Run("head");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kChecksumMismatch);
  EXPECT_NE(refused.status().message().find("001_r1.sql"), std::string::npos);
  EXPECT_EQ(Versions(), "r1");
  auto verify = m->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_FALSE(verify->ok());

  auto options = Options();
  options.allow_changed = true;
  auto allowed = Open(options);
  ASSERT_NE(allowed, nullptr);
  auto report = allowed->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
}

TEST_F(MigratorTest, FailedConcurrentIndexIsRebuiltOnRetry) {
  Write(
      "001_r1.sql",
      testing::MigrationText(
          "r1", "", "dup",
          "-- migrate:up\nCREATE TABLE dup (id int PRIMARY KEY, v int);\n"
          "INSERT INTO dup VALUES (1, 7), (2, 7), (3, 8);\n\n-- migrate:down\nDROP TABLE dup;\n"));
  WriteR2("unique index",
          "-- migrate:up transaction:false\n"
          "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS dup_v_uq ON dup (v);\n\n"
          "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS dup_v_uq;\n");
  auto failed = UpgradeFromR1(Options());
  ASSERT_TRUE(failed);
  EXPECT_NE(failed->outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(failed->status.detail(), "23505");
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                  "WHERE c.relname = 'dup_v_uq' AND NOT i.indisvalid"),
            "1");
  Exec("DELETE FROM dup WHERE id = 2");
  auto options = Options();
  options.allow_row_loss = {"dup"};
  auto retry = Open(options)->Run("head");
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->outcome, RunOutcome::kSucceeded) << retry->status.ToString();
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_class WHERE relname = 'dup_v_uq'"), "1");
}

TEST_F(MigratorTest, FailureAfterCommittedSegmentIsUndone) {
  WriteBase();
  WriteR2("segmented", std::string(kSegmentedUp) +
                           "-- migrate:down transaction:false\n"
                           "DROP INDEX CONCURRENTLY IF EXISTS seg_v_uq;\nDROP INDEX CONCURRENTLY "
                           "IF EXISTS seg_id_idx;\n\n"
                           "-- migrate:down\nDROP TABLE seg;\n");
  auto report = UpgradeFromR1(Options());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack) << report->status.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("seg"));
  EXPECT_EQ(Query("SELECT count(*) FROM pg_class WHERE relname LIKE 'seg%'"), "0");
  EXPECT_EQ(LastRunOutcome(), "rolled_back");
}

TEST_F(MigratorTest, InterruptedSegmentedRunIsResumedFromItsProgress) {
  WriteBase();
  WriteR2("segmented",
          std::string(kSegmentedUp) +
              "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS seg_v_uq;\n\n"
              "-- migrate:down\nDROP TABLE seg;\n");
  Write("003_r3.sql", testing::MigrationText("r3", "r2", "after",
                                             "-- migrate:up\nCREATE TABLE after_seg (id "
                                             "int);\n\n-- migrate:down\nDROP TABLE after_seg;\n"));
  auto options = Options();
  options.failure_policy = FailurePolicy::kHalt;  // leaves the partial state behind
  auto halted = UpgradeFromR1(options);
  ASSERT_TRUE(halted);
  ASSERT_EQ(halted->outcome, RunOutcome::kFailed);
  // Make the row look like the process died right there.
  Exec("UPDATE schemaop.run_log SET outcome = 'running', finished_at = NULL, error = NULL "
       "WHERE id = (SELECT max(id) FROM schemaop.run_log)");
  EXPECT_EQ(Query("SELECT (progress->>'step') || '/' || (progress->>'section') || '/' || "
                  "(progress->>'statement') FROM schemaop.run_log ORDER BY id DESC LIMIT 1"),
            "0/1/1");
  EXPECT_EQ(Versions(), "r1");
  EXPECT_TRUE(TableExists("seg"));
  Exec("UPDATE seg SET v = id");  // fix the data the unique index failed on

  auto resumed = Open()->Run("head");
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_TRUE(resumed->recovered.has_value());
  EXPECT_NE(resumed->recovered->find("resumed"), std::string::npos) << *resumed->recovered;
  EXPECT_EQ(resumed->outcome, RunOutcome::kNothingToDo);
  EXPECT_EQ(Versions(), "r3");
  EXPECT_TRUE(TableExists("after_seg"));
  EXPECT_EQ(Query("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), "0");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_class WHERE relname IN ('seg_id_idx', 'seg_v_uq')"), "2");
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE outcome = 'running'"), "0");
  EXPECT_EQ(LastRunOutcome(), "succeeded");
}

TEST_F(MigratorTest, InterruptedSingleTransactionRunIsClosed) {
  WriteBase();
  auto m = OpenAt("head");
  ASSERT_NE(m, nullptr);
  Exec("INSERT INTO schemaop.run_log (from_versions, to_versions, direction, actor, outcome, plan, progress) "
       "VALUES ('{r1}', '{}', 'downgrade', 'crashed', 'running', "
       "'{\"steps\": [{\"revision\": \"r1\", \"direction\": \"down\", \"versions_after\": []}]}', "
       "'{\"phase\": \"forward\", \"step\": 0, \"section\": 0, \"statement\": 0}')");
  auto recovered = m->RecoverInterruptedRun();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  ASSERT_TRUE(recovered->has_value());
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT outcome FROM schemaop.run_log WHERE actor = 'crashed'"), "failed");
}

TEST_F(MigratorTest, BackupThenRestoreGivesIdenticalData) {
  WriteBase();
  auto m = OpenAt("head");
  ASSERT_NE(m, nullptr);
  std::string snapshot_sql = "SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM items";
  std::string before = Query(snapshot_sql);
  auto backup = m->Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  EXPECT_GT(backup->bytes, 0u);
  EXPECT_EQ(backup->sha256.size(), 64u);
  EXPECT_EQ(backup->path.find(PasswordOf(url_)), std::string::npos);
  Exec("DELETE FROM items WHERE id = 2; UPDATE items SET name = 'changed'; INSERT INTO items VALUES (9, 'z')");
  ASSERT_NE(Query(snapshot_sql), before);
  core::Status restored = m->Restore(backup->path);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_EQ(Query(snapshot_sql), before);
  EXPECT_EQ(Versions(), "r1");
}

TEST_F(MigratorTest, BackupFailureMigratesNothing) {
  WriteBase();
  auto m = OpenAt("head");
  ASSERT_NE(m, nullptr);
  auto options = Options();
  options.pg_bin_dir = dir_ + "/no-such-bin";
  options.backup_policy = BackupPolicy::kDowngrade;
  auto broken = Open(options);
  ASSERT_NE(broken, nullptr);
  auto report = broken->Run("base", core::PlanMode::kDowngrade);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kBackupFailed);
  EXPECT_NE(report.status().message().find("pg_dump"), std::string::npos) << report.status().message();
  EXPECT_EQ(Versions(), "r1");
}

TEST_F(MigratorTest, UnknownTargetChangesNothing) {
  WriteBase();
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto report = m->Run("no_such_revision");
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kUnknownRevision);
  EXPECT_FALSE(TableExists("alembic_version"));
  EXPECT_EQ(Query("SELECT count(*) FROM pg_namespace WHERE nspname = 'schemaop'"), "0");
}

TEST_F(MigratorTest, DatabaseAtRevisionTheFilesDoNotKnow) {
  WriteBase();
  Exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
       "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)); "
       "INSERT INTO alembic_version VALUES ('deadbeef')");
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto plan = m->Plan("head");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kUnknownRevision);
  EXPECT_NE(plan.status().message().find("deadbeef"), std::string::npos);
  EXPECT_FALSE(m->Run("head").ok());
  EXPECT_EQ(Versions(), "deadbeef");
}

TEST_F(MigratorTest, UnreachableDatabaseNamesTheFixWithoutPassword) {
  const int port = testing::UnusedLoopbackPort();
  std::string url = "postgresql://app:TopSecret123@127.0.0.1:" + std::to_string(port) + "/db";
  auto m = Migrator::Open(url, {}, Options());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kUnreachable);
  EXPECT_EQ(m.status().message().find("TopSecret123"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("check the host and port"), std::string::npos) << m.status().message();
}

TEST_F(MigratorTest, WrongPasswordIsNotEchoed) {
  std::string real = PasswordOf(url_);
  std::string url = url_;
  url.replace(url.find(real), real.size(), "WrongPass987");
  auto m = Migrator::Open(url, {}, Options());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kUnreachable);
  EXPECT_EQ(m.status().message().find("WrongPass987"), std::string::npos) << m.status().message();
  EXPECT_EQ(m.status().message().find(real), std::string::npos);
  EXPECT_NE(m.status().message().find("check the user and password"), std::string::npos)
      << m.status().message();
}

TEST_F(MigratorTest, MissingDirectoryAndMalformedFileAreNamed) {
  auto missing = LoadMigrationDirectory(dir_ + "/nowhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("nowhere"), std::string::npos);
  Write("001_bad.sql", "-- message: no revision header\n\n-- migrate:up\nSELECT 1;\n");
  auto bad = LoadMigrationDirectory(dir_ + "/m");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kParseError);
  EXPECT_NE(bad.status().message().find("001_bad.sql"), std::string::npos) << bad.status().message();
}

TEST_F(MigratorTest, StampAndWaitAtLeast) {
  WriteBase();
  WriteR2("t2", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto timed_out = m->WaitAtLeast("r1", milliseconds(300));
  EXPECT_EQ(timed_out.code(), Code::kTimeout);
  ASSERT_TRUE(m->Stamp("r2").ok());
  EXPECT_EQ(Versions(), "r2");
  EXPECT_FALSE(TableExists("items"));  // stamp runs no SQL
  EXPECT_TRUE(m->WaitAtLeast("r1", milliseconds(300)).ok());
  EXPECT_EQ(m->WaitAtLeast("nope", milliseconds(10)).code(), Code::kUnknownRevision);
}

}  // namespace
}  // namespace schemaop::database
