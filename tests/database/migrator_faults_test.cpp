// The migration engine against the harness PostgreSQL (tier `pg`): offline
// SQL, lost locks and connections, backup files and restores
// (migrator_fixture.h).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <thread>
#include <utility>

#include "database/migrator.h"
#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using core::Code;
using std::chrono::milliseconds;

TEST_F(MigratorTest, OfflineSqlListsStatementsAndVersionRows) {
  WriteBase();
  auto m = Open();
  ASSERT_NE(m, nullptr);
  auto plan = m->Plan("head");
  ASSERT_TRUE(plan.ok());
  auto sql = m->OfflineSql(*plan);
  ASSERT_TRUE(sql.ok());
  EXPECT_NE(sql->find("CREATE TABLE items"), std::string::npos);
  EXPECT_NE(sql->find("INSERT INTO alembic_version (version_num) VALUES ('r1');"),
            std::string::npos);
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
  auto m = OpenAt("head");
  ASSERT_NE(m, nullptr);
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

// A backup whose session PostgreSQL ended under pg_dump (found by the chaos
// soak, bench/chaos: pg_terminate_backend during BackingUp left the
// SchemaMigration Stalled as BackupFailed, waiting for a human) is
// kUnreachable, which the operator retries with back-off; the partial file
// is gone and the next backup succeeds.
TEST_F(MigratorTest, BackupWhoseConnectionIsLostIsUnreachable) {
  WriteBase();
  auto m = OpenAt("head");
  ASSERT_NE(m, nullptr);
  // pg_dump waits for this lock, so its session can be ended mid-dump.
  pqxx::connection holder(url_);
  pqxx::work hold(holder);
  hold.exec("LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
  std::optional<core::Result<BackupInfo>> backup;
  std::thread dump([&] { backup.emplace(m->Backup()); });
  pqxx::connection killer(url_);
  int terminated = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (terminated == 0 && std::chrono::steady_clock::now() < deadline) {
    pqxx::nontransaction tx(killer);
    terminated = tx.exec1(
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                       "AND query LIKE 'LOCK TABLE%'")[0]
                     .as<int>();
    std::this_thread::sleep_for(milliseconds(20));
  }
  hold.abort();
  dump.join();
  ASSERT_EQ(terminated, 1) << "pg_dump never waited for the test's lock";
  ASSERT_TRUE(backup.has_value());
  ASSERT_FALSE(backup->ok());
  EXPECT_EQ(backup->status().code(), Code::kUnreachable) << backup->status().ToString();
  EXPECT_EQ(backup->status().detail(), "pg_dump-connection-lost");
  EXPECT_NE(backup->status().message().find("lost its connection"), std::string::npos)
      << backup->status().message();
  int dumps = 0;
  for (const auto& entry : fs::directory_iterator(dir_ + "/backups")) {
    dumps += entry.path().extension() == ".dump" ? 1 : 0;
  }
  EXPECT_EQ(dumps, 0) << "the partial backup was left behind";
  auto again = m->Backup();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_GT(again->bytes, 0u);
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
      out += tx.exec(
                   "SELECT coalesce(string_agg(row_to_json(i)::text, ',' ORDER BY id), '') "
                   "FROM items i")[0][0]
                 .as<std::string>();
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
  Exec(
      "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
      "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))");
  {
    pqxx::connection conn(offline_url);
    pqxx::work tx(conn);
    tx.exec(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
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
  ASSERT_EQ(Open(options)->Run("base", core::PlanMode::kDowngrade)->outcome,
            RunOutcome::kSucceeded);
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
  EXPECT_NE(report->status.message().find("unknown"), std::string::npos)
      << report->status.message();
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
  auto m = OpenAt("r1");
  ASSERT_NE(m, nullptr);
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
  EXPECT_EQ(Query("SELECT string_agg(name, ',' ORDER BY id) FROM items"),
            "changed,changed,changed");

  auto options = Options();
  options.allow_row_loss = {"orders"};
  ASSERT_EQ(Open(options)->Run("r1", core::PlanMode::kDowngrade)->outcome, RunOutcome::kSucceeded);
  core::Status restored = m->Restore(backup->path);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(TableExists("orders"));
  EXPECT_EQ(Query("SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM items"),
            "1:a,2:b,3:c");
}

}  // namespace
}  // namespace schemaop::database
