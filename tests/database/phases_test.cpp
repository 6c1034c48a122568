// Expand/contract phases in the engine (design §3.1): batch:N sections repeat
// until they change no row, each repetition committed with the run's cursor,
// and a run killed in the middle of a batch resumes at the next repetition.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <string>

#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

using core::Code;
using std::chrono::milliseconds;

class PhasesTest : public MigratorTest {
 protected:
  // r1: big (250 rows, v = id, touched = 0) and a switch for the killer.
  void WriteBig() {
    Write(
        "001_r1.sql",
        testing::MigrationText(
            "r1", "", "big",
            "-- migrate:up\nCREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, "
            "touched int NOT NULL DEFAULT 0);\n"
            "INSERT INTO big (id, v) SELECT g, g FROM generate_series(1, 250) g;\n"
            "CREATE TABLE ctl (kill boolean NOT NULL);\nINSERT INTO ctl VALUES (false);\n"
            "CREATE FUNCTION maybe_die(id int) RETURNS int LANGUAGE plpgsql AS $$\n"
            "BEGIN\n  IF id > 120 AND (SELECT kill FROM ctl) THEN\n"
            "    PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);\n"
            "  END IF;\n  RETURN 0;\nEND $$;\n\n"
            "-- migrate:down\nDROP TABLE big;\nDROP TABLE ctl;\nDROP FUNCTION maybe_die(int);\n"));
  }

  // r2: a column added in expand, backfilled 40 rows at a time, made NOT NULL
  // in the window.
  void WriteBackfill() {
    Write("002_r2.sql",
          testing::MigrationText(
              "r2", "r1", "doubled",
              "-- migrate:up phase:expand\nALTER TABLE big ADD COLUMN doubled int;\n\n"
              "-- migrate:up phase:expand batch:40\n"
              "UPDATE big SET doubled = v * 2 + maybe_die(id), touched = touched + 1\n"
              "WHERE id IN (SELECT id FROM big WHERE doubled IS NULL ORDER BY id LIMIT 40);\n\n"
              "-- migrate:up\nALTER TABLE big ALTER COLUMN doubled SET NOT NULL;\n\n"
              "-- migrate:down\nALTER TABLE big DROP COLUMN doubled;\n"));
  }

  // r1 (big), r2: a window section, then a contract batch over big;
  // r3: a window section that fails while ctl.kill. In the plan r1 -> r3
  // the schedule puts r2's batch in the window.
  void WriteContractBatchBeforeAWindow() {
    WriteBig();
    ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
    Write("002_r2.sql",
          testing::MigrationText("r2", "r1", "mark",
                                 "-- migrate:up\nCREATE TABLE marked (id int);\n\n"
                                 "-- migrate:up phase:contract batch:40\n"
                                 "UPDATE big SET touched = touched + 1\n"
                                 "WHERE id IN (SELECT id FROM big WHERE touched = 0 ORDER BY id "
                                 "LIMIT 40);\n\n"
                                 "-- migrate:down\nDROP TABLE marked;\n"));
    Write("003_r3.sql",
          testing::MigrationText("r3", "r2", "fails while ctl.kill",
                                 "-- migrate:up\nCREATE TABLE r3t AS SELECT 1 / (CASE WHEN kill "
                                 "THEN 0 ELSE 1 END) AS one FROM ctl;\n\n"
                                 "-- migrate:down\nDROP TABLE r3t;\n"));
  }
  // Runs `script` with psql against the test database, as its owner;
  // psql's exit status.
  int Psql(const std::string& script) {
    const std::string path = dir_ + "/plan.sql";
    std::ofstream(path) << script;
    const std::string command = testing::HarnessBinDir() + "/psql -X -q -v ON_ERROR_STOP=1 -d '" +
                                url_ + "' -f " + path + " > " + dir_ + "/psql.out 2>&1";
    return std::system(command.c_str());
  }
  void RunPsql(const std::string& script) { EXPECT_EQ(Psql(script), 0) << script; }
  // r2 = `expand` (an expand section on big) then a window section, run to
  // head with the run's lock_timeout off (0) while another session holds
  // `lock_mode` on big; then again once the lock is released. The first
  // run must fail on the lock within expand_lock_timeout (design §3.1:
  // lock_timeout is always on in expand), with the database at r1 and the
  // window not run; the second reaches r2. Without the rule the statement
  // would wait until statement_timeout (20 s here) and fail with 57014.
  // The window section records the lock_timeout it ran with: the run's own
  // (0), the expand's set back after its section.
  void ExpectExpandStopsOnTheLock(const std::string& expand, const std::string& lock_mode) {
    WriteBig();
    ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
    Write("002_r2.sql",
          testing::MigrationText("r2", "r1", "beside a lock",
                                 expand +
                                     "-- migrate:up\nCREATE TABLE after_window AS SELECT "
                                     "current_setting('lock_timeout') AS lock_timeout;\n\n"
                                     "-- migrate:down\nDROP TABLE after_window;\n"));
    auto options = Options();
    options.lock_timeout = milliseconds(0);
    options.expand_lock_timeout = milliseconds(300);
    options.statement_timeout = milliseconds(20000);
    {
      pqxx::connection holder(url_);
      pqxx::work hold(holder);
      hold.exec("LOCK TABLE big IN " + lock_mode + " MODE");
      auto blocked = Open(options)->Run("head");
      ASSERT_TRUE(blocked.ok()) << blocked.status().ToString();
      EXPECT_NE(blocked->outcome, RunOutcome::kSucceeded);
      EXPECT_EQ(blocked->status.detail(), "55P03") << blocked->status.ToString();
      EXPECT_NE(blocked->status.message().find("within lock_timeout"), std::string::npos)
          << blocked->status.ToString();
    }
    EXPECT_EQ(Versions(), "r1");
    EXPECT_EQ(Query("SELECT to_regclass('after_window') IS NULL"), "t");
    auto released = Open(options)->Run("head");
    ASSERT_TRUE(released.ok()) << released.status().ToString();
    EXPECT_EQ(released->outcome, RunOutcome::kSucceeded) << released->status.ToString();
    EXPECT_EQ(Versions(), "r2");
    // The window ran with the run's own lock_timeout: the expand's was set
    // back after its section.
    EXPECT_EQ(Query("SELECT lock_timeout FROM after_window"), "0");
  }
  // Every row backfilled exactly once with the right value.
  void ExpectBackfilledOnce() {
    EXPECT_EQ(Query("SELECT count(*) FROM big"), "250");
    EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled IS DISTINCT FROM v * 2"), "0");
    EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched <> 1"), "0");
    EXPECT_EQ(Query("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'big'::regclass "
                    "AND attname = 'doubled'"),
              "t");
  }
};

TEST_F(PhasesTest, BatchSectionRepeatsUntilItChangesNoRow) {
  WriteBig();
  WriteBackfill();
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto report = Open()->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_EQ(Versions(), "r2");
  ExpectBackfilledOnce();
  // 250 rows, 40 at a time: 7 repetitions that change rows and the 8th
  // that finds none, each committed with the cursor.
  EXPECT_EQ(Query("SELECT progress -> 'batch' ->> 'repetitions' FROM schemaop.run_log "
                  "ORDER BY id DESC LIMIT 1"),
            "8");
  EXPECT_EQ(Query("SELECT progress -> 'batch' ->> 'rows_this_pass' FROM schemaop.run_log "
                  "ORDER BY id DESC LIMIT 1"),
            "250");
  // The downgrade is an ordinary one.
  auto down = Open()->Run("r1");
  ASSERT_TRUE(down.ok() && down->outcome == RunOutcome::kSucceeded);
  EXPECT_EQ(Query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'big'::regclass "
                  "AND attname = 'doubled'"),
            "0");
}

// The controller dies in the middle of the backfill (its backend is
// terminated in the 4th repetition): three repetitions are committed, the
// run_log row stays 'running' with its cursor, and recovery resumes at the
// 4th repetition; no row is backfilled twice or left out.
TEST_F(PhasesTest, RunKilledMidBatchResumesAtTheNextRepetition) {
  WriteBig();
  WriteBackfill();
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  Exec("UPDATE ctl SET kill = true");
  auto killed = Open()->Run("head");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_EQ(killed->outcome, RunOutcome::kFailed);
  EXPECT_EQ(killed->status.code(), Code::kUnreachable) << killed->status.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled IS NOT NULL"), "120");
  EXPECT_EQ(Query("SELECT outcome || ' ' || (progress ->> 'statement') || ' ' || "
                  "(progress -> 'batch' ->> 'repetitions') FROM schemaop.run_log "
                  "ORDER BY id DESC LIMIT 1"),
            "running 3 3");

  Exec("UPDATE ctl SET kill = false");
  auto recovered = Open()->RecoverInterruptedRun();
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  ASSERT_TRUE(recovered->has_value());
  EXPECT_NE(recovered->value().find("resumed"), std::string::npos) << recovered->value();
  EXPECT_EQ(Versions(), "r2");
  ExpectBackfilledOnce();
  EXPECT_EQ(Query("SELECT outcome || ' ' || (progress -> 'batch' ->> 'repetitions') FROM "
                  "schemaop.run_log ORDER BY id DESC LIMIT 1"),
            "succeeded 8");
}

// A transactional expand section (ALTER TABLE waits for ACCESS EXCLUSIVE).
TEST_F(PhasesTest, ExpandSectionNeverWaitsUnboundedForALock) {
  ExpectExpandStopsOnTheLock("-- migrate:up phase:expand\nALTER TABLE big ADD COLUMN extra int;\n\n",
                             "ACCESS SHARE");
}

// A transaction:false expand section (CREATE INDEX CONCURRENTLY waits for
// SHARE UPDATE EXCLUSIVE).
TEST_F(PhasesTest, ExpandAutocommitStatementNeverWaitsUnboundedForALock) {
  ExpectExpandStopsOnTheLock(
      "-- migrate:up phase:expand transaction:false\nCREATE INDEX CONCURRENTLY big_v ON big "
      "(v);\n\n",
      "SHARE");
  EXPECT_EQ(Query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v'::regclass"), "t");
}

// Invariant (design §3.1, "batch:N execution"): a window is one atomic
// step. A contract batch section of one step that a later step's window
// section follows runs in the window (the schedule keeps file order); with
// the writers at zero its repetitions join the window's transaction, so a
// failure later in the window leaves nothing of it. Without the rule the
// window's first segment and every repetition committed on their own, and
// the failure had to be undone by the down sections, which do not undo a
// backfill.
TEST_F(PhasesTest, ABatchSectionInTheWindowIsPartOfTheWindowsTransaction) {
  WriteContractBatchBeforeAWindow();
  Exec("UPDATE ctl SET kill = true");
  auto failed = Open()->Run("r3");
  ASSERT_TRUE(failed.ok()) << failed.status().ToString();
  EXPECT_EQ(failed->outcome, RunOutcome::kRolledBack) << failed->status.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched <> 0"), "0");
  EXPECT_EQ(Query("SELECT to_regclass('marked') IS NULL"), "t");

  Exec("UPDATE ctl SET kill = false");
  auto report = Open()->Run("r3");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_EQ(Versions(), "r3");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched <> 1"), "0");
}

// `schemaop plan --sql`: the batch becomes a DO block that commits each
// repetition; psql runs it to the same result as the engine.
TEST_F(PhasesTest, OfflineSqlLoopsTheBatch) {
  WriteBig();
  WriteBackfill();
  auto m = Open();
  ASSERT_EQ(m->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto plan = m->Plan("head");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto sql = m->OfflineSql(*plan);
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  EXPECT_NE(sql->find("-- phase:expand\n-- batch:40"), std::string::npos) << *sql;
  EXPECT_NE(sql->find("COMMIT;\n    EXIT WHEN changed = 0;"), std::string::npos) << *sql;
  m.reset();
  RunPsql(*sql);
  EXPECT_EQ(Versions(), "r2");
  ExpectBackfilledOnce();
}

// `plan --sql` keeps the same invariant: a batch the schedule puts in the
// window loops inside the window's transaction, so psql stopping on the
// later failure leaves nothing of it.
TEST_F(PhasesTest, OfflineSqlKeepsABatchInTheWindowInTheWindowsTransaction) {
  WriteContractBatchBeforeAWindow();
  auto m = Open();
  auto plan = m->Plan("r3");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto sql = m->OfflineSql(*plan);
  ASSERT_TRUE(sql.ok()) << sql.status().ToString();
  m.reset();
  EXPECT_NE(sql->find("in the window, repeated inside its transaction"), std::string::npos) << *sql;
  Exec("UPDATE ctl SET kill = true");
  EXPECT_NE(Psql(*sql), 0) << *sql;
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched <> 0"), "0");
  Exec("UPDATE ctl SET kill = false");
  RunPsql(*sql);
  EXPECT_EQ(Versions(), "r3");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched <> 1"), "0");
}

// The plan hash (design §9.1) covers the phases: moving a section from
// expand to contract is a different plan to approve.
TEST_F(PhasesTest, PlanHashCoversThePhases) {
  WriteBig();
  WriteBackfill();
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  auto expand = Open()->PlanAndDigest("head");
  ASSERT_TRUE(expand.ok()) << expand.status().ToString();
  Write("002_r2.sql", testing::MigrationText(
                          "r2", "r1", "doubled",
                          "-- migrate:up phase:expand\nALTER TABLE big ADD COLUMN doubled int;\n\n"
                          "-- migrate:up phase:contract batch:40\n"
                          "UPDATE big SET doubled = v * 2 + maybe_die(id), touched = touched + 1\n"
                          "WHERE id IN (SELECT id FROM big WHERE doubled IS NULL ORDER BY id "
                          "LIMIT 40);\n\n"
                          "-- migrate:down\nALTER TABLE big DROP COLUMN doubled;\n"));
  auto contract = Open()->PlanAndDigest("head");
  ASSERT_TRUE(contract.ok()) << contract.status().ToString();
  EXPECT_NE(expand->digest, contract->digest);
}

}  // namespace
}  // namespace schemaop::database
