// The migration engine against the harness PostgreSQL (tier `pg`). Every test
// has its own scratch database and writes small synthetic migration files.
#include "database/migrator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "support/engine_fixture.h"

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

class MigratorTest : public testing::EngineTest {
 protected:
  MigratorTest() : EngineTest("engine_", "engine", "test") {}

  // r1: items (3 rows).
  void WriteBase() {
    Write("001_r1.sql",
          testing::MigrationText(
              "r1", "", "items",
              "-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);\n"
              "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');\n\n"
              "-- migrate:down\nDROP TABLE items;\n"));
  }
  // Opens the engine with `options`, runs to r1 (which must succeed), then
  // to head: the report of the run to head (none, with a failed
  // expectation, when the engine or a run fails to report).
  std::optional<RunReport> UpgradeFromR1(MigratorOptions options) {
    auto m = Open(std::move(options));
    if (m == nullptr) {
      return std::nullopt;
    }
    auto to_r1 = m->Run("r1");
    EXPECT_TRUE(to_r1.ok() && to_r1->outcome == RunOutcome::kSucceeded)
        << (to_r1.ok() ? to_r1->status.ToString() : to_r1.status().ToString());
    if (!to_r1.ok() || to_r1->outcome != RunOutcome::kSucceeded) {
      return std::nullopt;
    }
    auto to_head = m->Run("head");
    EXPECT_TRUE(to_head.ok()) << to_head.status().ToString();
    return to_head.ok() ? std::optional<RunReport>(std::move(to_head).value()) : std::nullopt;
  }
  // r2 after r1 (revision r2, file 002_r2.sql) with `body` as its sections.
  void WriteR2(const std::string& message, const std::string& body) {
    Write("002_r2.sql", testing::MigrationText("r2", "r1", message, body));
  }
};

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
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("r2_table"));
  EXPECT_FALSE(TableExists("r3_table"));
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
  EXPECT_EQ(LastRunOutcome(), "rolled_back");
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
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
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
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
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
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
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
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
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

TEST_F(MigratorTest, OfflineSqlListsStatementsAndVersionRows) {
  WriteBase();
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto plan = m->Plan("head");
  ASSERT_TRUE(plan.ok());
  auto sql = m->OfflineSql(*plan);
  ASSERT_TRUE(sql.ok());
  EXPECT_NE(sql->find("CREATE TABLE items"), std::string::npos);
  EXPECT_NE(sql->find("INSERT INTO alembic_version (version_num) VALUES ('r1');"), std::string::npos);
  EXPECT_FALSE(TableExists("alembic_version"));
}

// Runs `command` through the shell; returns its exit status and output.
std::pair<int, std::string> Shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return {-1, "popen failed"};
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    output.append(buffer, n);
  }
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// A libpq parse error can quote the part of the URL it rejects, which may be
// the password itself (e.g. a bad percent escape in it).
TEST_F(MigratorTest, UnparsableUrlDoesNotEchoThePassword) {
  auto m = Migrator::Open("postgresql://app:Secr%zzet99@127.0.0.1:5432/db", {}, Options());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(m.status().message().find("Secr"), std::string::npos) << m.status().message();
  EXPECT_EQ(m.status().message().find("zzet99"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("postgresql://USER:PASSWORD@HOST"), std::string::npos)
      << m.status().message();
}

// The advisory lock lives on its own session. When that session ends during
// a run (backend terminated, network cut), the lock is gone and another run
// may start: the run must not COMMIT after that, and must not try to undo.
TEST_F(MigratorTest, LostLockStopsTheRunBeforeCommit) {
  WriteBase();
  WriteR2("t2", "-- migrate:up\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto options = Options();
  bool killed = false;
  std::string kill_error;
  std::string url = url_;
  options.on_progress = [&](const ProgressEvent& event) {
    if (killed || event.phase != "migrating" || event.step_index != 0) {
      return;
    }
    killed = true;
    try {
      pqxx::connection conn(url);
      pqxx::nontransaction tx(conn);
      const std::string holders =
          "FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
          "(SELECT oid FROM pg_database WHERE datname = current_database())";
      tx.exec("SELECT pg_terminate_backend(pid) " + holders);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (tx.exec("SELECT count(*) " + holders)[0][0].as<int>() != 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          kill_error = "the lock holder did not exit";
          return;
        }
        std::this_thread::sleep_for(milliseconds(20));
      }
    } catch (const std::exception& error) {
      kill_error = error.what();
    }
  };
  auto m = Open(options);
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(killed);
  ASSERT_EQ(kill_error, "");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  EXPECT_EQ(report->status.code(), Code::kLockHeld) << report->status.ToString();
  EXPECT_NE(report->status.message().find("lock was lost"), std::string::npos)
      << report->status.message();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("t2"));
  // Without the lock the row is not touched; the next run recovers it.
  EXPECT_EQ(LastRunOutcome(), "running");
  auto next = Open()->Run("head");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_TRUE(next->recovered.has_value());
  EXPECT_EQ(next->outcome, RunOutcome::kSucceeded) << next->status.ToString();
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE outcome = 'running'"), "0");
}

// A dump holds every row of the database: it must not be readable by others,
// whatever the umask.
TEST_F(MigratorTest, BackupFileIsOwnerOnly) {
  WriteBase();
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
  mode_t old_mask = umask(022);
  auto backup = m->Backup();
  auto second = m->Backup();  // same second: a distinct file, also 0600
  umask(old_mask);
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(backup->path, second->path);
  for (const auto& path : {backup->path, second->path}) {
    auto perms = fs::status(path).permissions();
    EXPECT_EQ(perms & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << path;
  }
  EXPECT_GT(backup->bytes, 0u);
}

// `plan --sql` is a script psql can run: the schema, data and alembic_version
// it produces equal those of a real run, upgrade and downgrade.
TEST_F(MigratorTest, OfflineSqlRunByPsqlMatchesARealRun) {
  // r1's up section has no final semicolon; r2's transaction:false
  // statements end in comments; r3 mixes both kinds.
  Write("001_r1.sql",
        testing::MigrationText(
            "r1", "", "items",
            "-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);\n"
            "INSERT INTO items VALUES (1, 'a'), (2, 'b')\n\n"
            "-- migrate:down\nDROP TABLE items\n"));
  WriteR2("index",
          "-- migrate:up transaction:false\n"
          "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_idx ON items (name) -- lookups\n\n"
          "-- migrate:down transaction:false\n"
          "DROP INDEX CONCURRENTLY IF EXISTS items_name_idx -- undo\n");
  Write(
      "003_r3.sql",
      testing::MigrationText(
          "r3", "r2", "column",
          "-- migrate:up\nALTER TABLE items ADD COLUMN note text;\n"
          "UPDATE items SET note = 'n' || id; -- fill\n\n"
          "-- migrate:up transaction:false\n"
          "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_note_idx ON items (note);\n\n"
          "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY IF EXISTS items_note_idx;\n\n"
          "-- migrate:down\nALTER TABLE items DROP COLUMN note\n"));
  std::string offline_url = testing::CreateScratchDatabase("engine_offline_sql_psql_target");
  auto fingerprint = [](const std::string& url) {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    std::string out;
    for (const char* sql :
         {"SELECT coalesce(string_agg(table_name || '.' || column_name || ':' || data_type, ',' "
          "ORDER BY table_name, column_name), '') FROM information_schema.columns "
          "WHERE table_schema = 'public'",
          "SELECT coalesce(string_agg(indexdef, ';' ORDER BY indexdef), '') FROM pg_indexes "
          "WHERE schemaname = 'public'",
          "SELECT coalesce(string_agg(version_num, ',' ORDER BY version_num), '') FROM "
          "alembic_version",
          "SELECT count(*) FROM pg_index WHERE NOT indisvalid"}) {
      out += tx.exec(sql)[0][0].as<std::string>() + "\n";
    }
    if (!tx.exec("SELECT to_regclass('items') IS NULL")[0][0].as<bool>()) {
      out += tx.exec("SELECT coalesce(string_agg(row_to_json(i)::text, ',' ORDER BY id), '') "
                     "FROM items i")[0][0].as<std::string>();
    }
    return out;
  };
  auto run_psql = [&](const std::string& script) {
    std::string path = dir_ + "/plan.sql";
    std::ofstream(path) << script;
    return Shell(testing::HarnessBinDir() + "/psql -X -q -v ON_ERROR_STOP=1 -d '" + offline_url +
                 "' -f " + path);
  };
  // Both databases start with an (empty) version table, as after `stamp base`.
  Exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
       "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))");
  {
    pqxx::connection conn(offline_url);
    pqxx::work tx(conn);
    tx.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))");
    tx.commit();
  }
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto up_plan = m->Plan("head");
  ASSERT_TRUE(up_plan.ok()) << up_plan.status().ToString();
  auto up_sql = m->OfflineSql(*up_plan);
  ASSERT_TRUE(up_sql.ok()) << up_sql.status().ToString();
  auto [up_exit, up_output] = run_psql(*up_sql);
  ASSERT_EQ(up_exit, 0) << up_output << "\n--- script:\n" << *up_sql;
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
  std::string at_head = fingerprint(url_);
  EXPECT_NE(at_head.find("items_note_idx"), std::string::npos) << at_head;
  EXPECT_EQ(fingerprint(offline_url), at_head);

  auto down_plan = m->Plan("base", core::PlanMode::kDowngrade);
  ASSERT_TRUE(down_plan.ok()) << down_plan.status().ToString();
  auto down_sql = m->OfflineSql(*down_plan);
  ASSERT_TRUE(down_sql.ok()) << down_sql.status().ToString();
  auto [down_exit, down_output] = run_psql(*down_sql);
  ASSERT_EQ(down_exit, 0) << down_output << "\n--- script:\n" << *down_sql;
  auto options = Options();
  options.allow_row_loss = {"items"};
  ASSERT_EQ(Open(options)->Run("base", core::PlanMode::kDowngrade)->outcome, RunOutcome::kSucceeded);
  std::string at_base = fingerprint(url_);
  EXPECT_EQ(fingerprint(offline_url), at_base);
  EXPECT_EQ(at_base.find("items"), std::string::npos) << at_base;
}

// The connection dies while COMMIT is in flight (a deferred trigger ends its
// own backend during COMMIT). Whether the transaction committed is unknown to
// the client, so the run must not claim a rollback; the next run recovers.
TEST_F(MigratorTest, ConnectionLostDuringCommitIsNotReportedAsRolledBack) {
  WriteBase();
  WriteR2("dies at commit",
          "-- migrate:up\nCREATE TABLE t2 (id int);\n"
          "CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$\n"
          "BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); RETURN NULL; "
          "END $$;\n"
          "CREATE CONSTRAINT TRIGGER t2_die AFTER INSERT ON t2 DEFERRABLE INITIALLY DEFERRED\n"
          "  FOR EACH ROW EXECUTE FUNCTION die_at_commit();\n"
          "INSERT INTO t2 VALUES (1);\n\n"
          "-- migrate:down\nDROP TABLE t2;\nDROP FUNCTION die_at_commit();\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto report = m->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kFailed);
  EXPECT_EQ(report->status.code(), Code::kUnreachable) << report->status.ToString();
  EXPECT_EQ(report->status.detail(), "in-doubt") << report->status.ToString();
  EXPECT_NE(report->status.message().find("unknown"), std::string::npos) << report->status.message();
  // PostgreSQL aborted it; the report reads the real versions afresh.
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(report->final_versions, std::vector<std::string>{"r1"});
  // The same Migrator reconnects for its next run, which closes the
  // interrupted row (nothing had been committed) and is then refused again.
  Exec("SELECT 1");
  auto recovered = m->RecoverInterruptedRun();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_TRUE(recovered->has_value());
  EXPECT_EQ(Query("SELECT count(*) FROM schemaop.run_log WHERE outcome = 'running'"), "0");
}

// pg_restore --clean only replaces what the dump lists: restoring a backup
// taken before an upgrade would keep the upgrade's new tables. Refused,
// naming them and the fix, with the database untouched; after the
// downgrade the restore is exact.
TEST_F(MigratorTest, RestoreRefusesToLeaveRelationsTheBackupLacks) {
  WriteBase();
  WriteR2(
      "orders",
      "-- migrate:up\nCREATE TABLE orders (id int PRIMARY KEY, item int REFERENCES items (id));\n"
      "INSERT INTO orders VALUES (10, 1);\n\n-- migrate:down\nDROP TABLE orders;\n");
  auto m = Open();
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto backup = m->Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  ASSERT_EQ(m->Run("head")->outcome, RunOutcome::kSucceeded);
  Exec("UPDATE items SET name = 'changed'");
  core::Status refused = m->Restore(backup->path);
  EXPECT_EQ(refused.code(), Code::kInvalidArgument) << refused.ToString();
  EXPECT_NE(refused.message().find("public.orders"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("Downgrade"), std::string::npos) << refused.message();
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT count(*) FROM orders"), "1");
  EXPECT_EQ(Query("SELECT string_agg(name, ',' ORDER BY id) FROM items"), "changed,changed,changed");

  auto options = Options();
  options.allow_row_loss = {"orders"};
  ASSERT_EQ(Open(options)->Run("r1", core::PlanMode::kDowngrade)->outcome, RunOutcome::kSucceeded);
  core::Status restored = m->Restore(backup->path);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("orders"));
  EXPECT_EQ(Query("SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM items"), "1:a,2:b,3:c");
}

// ---- issue 7: invariants of "nothing lost" -------------------------------

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
    Exec("INSERT INTO schemaop.run_log (from_versions, to_versions, direction, actor, outcome, "
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
  Exec("DELETE FROM schemaop.run_log WHERE actor = 'crashed' AND id <> (SELECT max(id) FROM "
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
  Exec("UPDATE schemaop.run_log SET outcome = 'running', finished_at = NULL, error = NULL "
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
  auto other = Migrator::Open(testing::CreateScratchDatabase("engine_identity_other"), {}, Options());
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
  EXPECT_EQ(dup->status.message().find("alice-private"), std::string::npos) << dup->status.message();
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
