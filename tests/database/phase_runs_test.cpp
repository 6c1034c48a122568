// Running one phase of a plan (design §3.1 "Running the phases apart"):
// MigratorOptions::phase = expand | window | contract, the state between
// phases read from run_log, the fingerprint expected at each phase
// boundary, resuming a phase after a kill or a failure. Real PostgreSQL 15,
// the database owned by a non-superuser.
#include <gtest/gtest.h>


#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

using core::Code;
using core::RunPhase;

class PhaseRunsTest : public MigratorTest {
 protected:
  // r1: big (250 rows, v = id, legacy = id), a kill switch and a fail switch.
  void WriteBig() {
    Write("001_r1.sql",
          testing::MigrationText(
              "r1", "", "big",
              "-- migrate:up\nCREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, "
              "legacy int, touched int NOT NULL DEFAULT 0);\n"
              "INSERT INTO big (id, v, legacy) SELECT g, g, g FROM generate_series(1, 250) g;\n"
              "CREATE TABLE ctl (kill boolean NOT NULL, fail boolean NOT NULL);\n"
              "INSERT INTO ctl VALUES (false, false);\n"
              "CREATE FUNCTION maybe_die(id int) RETURNS int LANGUAGE plpgsql AS $$\n"
              "BEGIN\n  IF id > 120 AND (SELECT kill FROM ctl) THEN\n"
              "    PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);\n"
              "  END IF;\n  IF id > 120 AND (SELECT fail FROM ctl) THEN\n"
              "    RAISE EXCEPTION 'failing on purpose';\n  END IF;\n  RETURN 0;\nEND $$;\n\n"
              "-- migrate:down\nDROP TABLE big;\nDROP TABLE ctl;\nDROP FUNCTION maybe_die(int);\n"));
  }

  // r2: expand adds `doubled` and backfills it 40 rows at a time; the
  // window makes it NOT NULL; contract drops `legacy`. The downgrade puts
  // `legacy` back in its expand (nullable, refilled; also where the
  // contract never ran, as in the undo of a failed window) and drops
  // `doubled` in its window.
  void WriteThreePhases() {
    WriteR2("three phases",
            "-- migrate:up phase:expand\nALTER TABLE big ADD COLUMN doubled int;\n\n"
            "-- migrate:up phase:expand batch:40\n"
            "UPDATE big SET doubled = v * 2 + maybe_die(id), touched = touched + 1\n"
            "WHERE id IN (SELECT id FROM big WHERE doubled IS NULL ORDER BY id LIMIT 40);\n\n"
            "-- migrate:up\nALTER TABLE big ALTER COLUMN doubled SET NOT NULL;\n\n"
            "-- migrate:up phase:contract\nALTER TABLE big DROP COLUMN legacy;\n\n"
            "-- migrate:down phase:expand\nALTER TABLE big ADD COLUMN IF NOT EXISTS legacy int;\n"
            "UPDATE big SET legacy = id WHERE legacy IS DISTINCT FROM id;\n\n"
            "-- migrate:down\nALTER TABLE big DROP COLUMN doubled;\n");
  }

  MigratorOptions Phase(RunPhase phase) {
    MigratorOptions options = Options();
    options.phase = phase;
    return options;
  }
  core::Result<RunReport> RunPhase(RunPhase phase, const std::string& target = "head") {
    auto m = Open(Phase(phase));
    if (m == nullptr) {
      return core::Status(Code::kInternal, "cannot open the engine");
    }
    return m->Run(target);
  }
  bool HasColumn(const std::string& column) {
    return Query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'big'::regclass AND "
                 "attname = '" + column + "' AND NOT attisdropped") == "1";
  }
  std::string Runs() { return Query("SELECT count(*) FROM schemaop.run_log"); }
  void AtR1() {
    WriteBig();
    WriteThreePhases();
    ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  }
};

// Evaluates `report` once (it may run a phase).
#define ASSERT_OUTCOME(report, expected)                                     \
  do {                                                                       \
    const auto& r_ = (report);                                               \
    ASSERT_TRUE(r_.ok()) << r_.status().ToString();                          \
    ASSERT_EQ(r_->outcome, expected) << r_->status.ToString();               \
  } while (false)

// Expand alone: the backfill ran beside the old application, the version
// table still shows the old revision, the window's NOT NULL and the
// contract's drop did not run. A second expand is nothing to do.
TEST_F(PhaseRunsTest, ExpandOnlyLeavesTheVersionTableAtTheOldRevision) {
  AtR1();
  auto expand = RunPhase(RunPhase::kExpand);
  ASSERT_OUTCOME(expand, RunOutcome::kSucceeded);
  EXPECT_EQ(expand->phases, "expand");
  EXPECT_EQ(expand->final_versions, std::vector<std::string>{"r1"});
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled = v * 2 AND touched = 1"), "250");
  EXPECT_EQ(Query("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'big'::regclass "
                  "AND attname = 'doubled'"),
            "f");
  EXPECT_TRUE(HasColumn("legacy"));
  const std::string runs = Runs();

  auto again = RunPhase(RunPhase::kExpand);
  ASSERT_OUTCOME(again, RunOutcome::kNothingToDo);
  EXPECT_EQ(Runs(), runs);  // nothing recorded, nothing run
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched = 1"), "250");
}

// Every phase on its own, in order: the version table moves with the
// window, the contract runs after it and then is nothing to do.
TEST_F(PhaseRunsTest, ExpandThenWindowThenContract) {
  AtR1();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  auto window = RunPhase(RunPhase::kWindow);
  ASSERT_OUTCOME(window, RunOutcome::kSucceeded);
  EXPECT_EQ(window->phases, "window");
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'big'::regclass "
                  "AND attname = 'doubled'"),
            "t");
  EXPECT_TRUE(HasColumn("legacy"));  // the contract has not run

  auto contract = RunPhase(RunPhase::kContract);
  ASSERT_OUTCOME(contract, RunOutcome::kSucceeded);
  EXPECT_EQ(contract->phases, "contract");
  EXPECT_FALSE(HasColumn("legacy"));
  EXPECT_EQ(Versions(), "r2");
  ASSERT_OUTCOME(RunPhase(RunPhase::kContract), RunOutcome::kNothingToDo);
  ASSERT_OUTCOME(RunPhase(RunPhase::kAll), RunOutcome::kNothingToDo);
  // r2's reference schema is the one after the contract; the two phase
  // boundaries have their own records.
  EXPECT_EQ(Query("SELECT string_agg(split_part(versions, ':', 1), ' ' ORDER BY versions) "
                  "FROM schemaop.schema_fingerprint"),
            "base r1 r1|expanded r2 r2|window");

  // The way back, phase by phase: expand puts legacy back, the window
  // drops doubled and moves the version table; the schema equals r1's.
  auto down_expand = RunPhase(RunPhase::kExpand, "r1");
  ASSERT_OUTCOME(down_expand, RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
  EXPECT_TRUE(HasColumn("legacy"));
  auto down_window = RunPhase(RunPhase::kWindow, "r1");
  ASSERT_OUTCOME(down_window, RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(HasColumn("doubled"));
  ASSERT_OUTCOME(RunPhase(RunPhase::kContract, "r1"), RunOutcome::kNothingToDo);
}

// Out of order is refused, naming the phase to run first; nothing changes.
TEST_F(PhaseRunsTest, WindowBeforeExpandAndContractBeforeWindowAreRefused) {
  AtR1();
  const std::string runs = Runs();
  auto window = RunPhase(RunPhase::kWindow);
  ASSERT_FALSE(window.ok());
  EXPECT_EQ(window.status().code(), Code::kInvalidArgument);
  EXPECT_NE(window.status().message().find("expand phase has not run"), std::string::npos)
      << window.status().message();
  EXPECT_NE(window.status().message().find("--phase expand"), std::string::npos);
  auto contract = RunPhase(RunPhase::kContract);
  ASSERT_FALSE(contract.ok());
  EXPECT_EQ(contract.status().code(), Code::kInvalidArgument);
  EXPECT_NE(contract.status().message().find("the window has not run"), std::string::npos)
      << contract.status().message();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(HasColumn("doubled"));
  EXPECT_EQ(Runs(), runs);

  // After expand, the contract still waits for the window.
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  EXPECT_FALSE(RunPhase(RunPhase::kContract).ok());
  EXPECT_EQ(Versions(), "r1");
}

// Without a phase after an expand: the window and the contract, in order.
TEST_F(PhaseRunsTest, AllAfterExpandRunsTheRest) {
  AtR1();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  auto rest = RunPhase(RunPhase::kAll);
  ASSERT_OUTCOME(rest, RunOutcome::kSucceeded);
  EXPECT_EQ(rest->phases, "window+contract");
  EXPECT_EQ(Versions(), "r2");
  EXPECT_FALSE(HasColumn("legacy"));
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE touched = 1"), "250");
}

// The schema between two phases is recorded when the first ends; a change
// made meanwhile stops the next phase before it runs anything.
TEST_F(PhaseRunsTest, SchemaChangedBetweenPhasesStopsTheNextPhase) {
  AtR1();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  Exec("ALTER TABLE big ADD COLUMN by_hand int");
  const std::string runs = Runs();
  auto window = RunPhase(RunPhase::kWindow);
  ASSERT_FALSE(window.ok());
  EXPECT_EQ(window.status().code(), Code::kSchemaDrift);
  EXPECT_NE(window.status().message().find("by_hand"), std::string::npos)
      << window.status().message();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Runs(), runs);

  MigratorOptions ignore = Phase(RunPhase::kWindow);
  ignore.verify_schema = false;
  auto accepted = Open(ignore)->Run("head");
  ASSERT_OUTCOME(accepted, RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
}

// The controller dies in the 4th repetition of the expand backfill:
// recovery finishes the expand phase only (the version table stays at r1,
// the window's NOT NULL does not run), without redoing a repetition.
TEST_F(PhaseRunsTest, ExpandKilledMidBatchResumesOnlyTheExpand) {
  AtR1();
  Exec("UPDATE ctl SET kill = true");
  auto killed = RunPhase(RunPhase::kExpand);
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_EQ(killed->status.code(), Code::kUnreachable) << killed->status.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled IS NOT NULL"), "120");
  Exec("UPDATE ctl SET kill = false");

  // The next expand call (a restarted controller) recovers it first, then
  // finds the expand done.
  auto resumed = RunPhase(RunPhase::kExpand);
  ASSERT_OUTCOME(resumed, RunOutcome::kNothingToDo);
  ASSERT_TRUE(resumed->recovered.has_value());
  EXPECT_NE(resumed->recovered->find("phase expand"), std::string::npos) << *resumed->recovered;
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled = v * 2 AND touched = 1"), "250");
  EXPECT_EQ(Query("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'big'::regclass "
                  "AND attname = 'doubled'"),
            "f");
  ASSERT_OUTCOME(RunPhase(RunPhase::kWindow), RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
}

// A failing expand is never undone (its down sections are written for
// writers at zero); the next expand resumes at its cursor, so committed
// repetitions are not run again.
TEST_F(PhaseRunsTest, FailedExpandIsLeftAsCommittedAndResumes) {
  AtR1();
  Exec("UPDATE ctl SET fail = true");
  auto failed = RunPhase(RunPhase::kExpand);
  ASSERT_OUTCOME(failed, RunOutcome::kFailed);
  EXPECT_NE(failed->status.message().find("never undone"), std::string::npos)
      << failed->status.message();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled IS NOT NULL"), "120");
  // The window refuses while the expand is unfinished.
  auto window = RunPhase(RunPhase::kWindow);
  ASSERT_FALSE(window.ok());
  EXPECT_NE(window.status().message().find("failed"), std::string::npos);

  Exec("UPDATE ctl SET fail = false");
  auto resumed = RunPhase(RunPhase::kExpand);
  ASSERT_OUTCOME(resumed, RunOutcome::kSucceeded);
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled = v * 2 AND touched = 1"), "250");
  EXPECT_EQ(Versions(), "r1");
  ASSERT_OUTCOME(RunPhase(RunPhase::kWindow), RunOutcome::kSucceeded);
}

// A window that fails after its expand is undone back to the start of the
// plan, expand included (the writers are at zero in the window): RolledBack
// means the database as it was before the expand. The retry runs the
// expand again, then the window. Without the undo the column the expand
// added stays behind at r1.
TEST_F(PhaseRunsTest, FailedWindowUndoesTheExpand) {
  AtR1();
  // The rows as the old application sees them (`touched` counts the
  // backfill's writes, which the down sections leave alone).
  const std::string rows = "SELECT md5(string_agg((id, v, legacy)::text, ',' ORDER BY id)) FROM big";
  const std::string before = Query(rows);
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  Exec("INSERT INTO big (id, v, legacy) VALUES (1000, 1000, 1000)");  // the old app: doubled NULL
  auto window = RunPhase(RunPhase::kWindow);
  ASSERT_OUTCOME(window, RunOutcome::kRolledBack);
  EXPECT_EQ(Versions(), "r1");
  EXPECT_FALSE(HasColumn("doubled"));
  EXPECT_TRUE(HasColumn("legacy"));
  Exec("DELETE FROM big WHERE id = 1000");
  EXPECT_EQ(Query(rows), before);
  EXPECT_FALSE(RunPhase(RunPhase::kWindow).ok());  // the expand must run first
  Exec("INSERT INTO big (id, v, legacy) VALUES (1000, 1000, 1000)");
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  ASSERT_OUTCOME(RunPhase(RunPhase::kWindow), RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT doubled FROM big WHERE id = 1000"), "2000");
}

// With failure policy Halt a failed window after its expand ends Failed,
// left as committed, the expand included: never RolledBack, which would
// claim the database is as it was before the expand. The version table
// stays at the old revision (the window's own transaction rolled back), the
// expand's column stays, and once the cause is fixed the window runs again
// without a second expand.
// Invariant (design §3.1, "A plan change after the expand"): the expand of
// one plan is followed only by that plan's window. Another plan from the
// same versions is refused, nothing changed, until the first one finished.
TEST_F(PhaseRunsTest, AnotherPlanCannotStartOnAPendingExpand) {
  AtR1();
  Write("003_r3.sql", testing::MigrationText("r3", "r2", "after",
                                             "-- migrate:up\nCREATE TABLE r3t (id int);\n\n"
                                             "-- migrate:down\nDROP TABLE r3t;\n"));
  ASSERT_EQ(RunPhase(RunPhase::kExpand, "r3")->outcome, RunOutcome::kSucceeded);
  ASSERT_TRUE(HasColumn("doubled"));
  const std::string runs = Runs();
  for (core::RunPhase phase : {RunPhase::kAll, RunPhase::kExpand, RunPhase::kWindow}) {
    auto other = RunPhase(phase, "r2");
    ASSERT_FALSE(other.ok()) << core::RunPhaseName(phase);
    EXPECT_EQ(other.status().code(), Code::kInvalidArgument);
    EXPECT_NE(other.status().message().find("the expand phase of another plan"),
              std::string::npos)
        << other.status().message();
    EXPECT_NE(other.status().message().find("schemaop upgrade r3"), std::string::npos);
  }
  EXPECT_EQ(Runs(), runs);
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "r1");
  EXPECT_EQ(Query("SELECT count(*) FROM big WHERE doubled IS NULL"), "0");
  // The first plan finishes; then the database moves on from its target.
  ASSERT_EQ(RunPhase(RunPhase::kAll, "r3")->outcome, RunOutcome::kSucceeded);
  ASSERT_EQ(RunPhase(RunPhase::kAll, "r2")->outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(Query("SELECT version_num FROM alembic_version"), "r2");
}

TEST_F(PhaseRunsTest, FailedWindowWithHaltKeepsTheExpand) {
  AtR1();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  Exec("INSERT INTO big (id, v, legacy) VALUES (1000, 1000, 1000)");  // the old app: doubled NULL
  MigratorOptions halt = Phase(RunPhase::kWindow);
  halt.failure_policy = FailurePolicy::kHalt;
  auto window = Open(halt)->Run("head");
  ASSERT_TRUE(window.ok()) << window.status().ToString();
  EXPECT_EQ(window->outcome, RunOutcome::kFailed) << window->status.ToString();
  EXPECT_EQ(Versions(), "r1");
  EXPECT_TRUE(HasColumn("doubled"));
  Exec("UPDATE big SET doubled = 2000 WHERE id = 1000");
  ASSERT_OUTCOME(RunPhase(RunPhase::kWindow), RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
}

// A contract that fails never moves the database back: the version table
// stays at the new revision and a retry runs the contract again.
TEST_F(PhaseRunsTest, FailedContractKeepsTheNewRevision) {
  AtR1();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  ASSERT_OUTCOME(RunPhase(RunPhase::kWindow), RunOutcome::kSucceeded);
  // A session of the new application holds a lock the contract needs.
  MigratorOptions short_lock = Phase(RunPhase::kContract);
  short_lock.lock_timeout = std::chrono::milliseconds(200);
  auto app = std::make_unique<pqxx::connection>(url_);
  auto holding = std::make_unique<pqxx::work>(*app);
  holding->exec("LOCK TABLE big IN ACCESS SHARE MODE");
  auto contract = Open(short_lock)->Run("head");
  holding.reset();
  app.reset();
  ASSERT_TRUE(contract.ok()) << contract.status().ToString();
  EXPECT_NE(contract->outcome, RunOutcome::kSucceeded);
  EXPECT_EQ(Versions(), "r2");
  EXPECT_TRUE(HasColumn("legacy"));
  EXPECT_TRUE(HasColumn("doubled"));
  ASSERT_OUTCOME(RunPhase(RunPhase::kContract), RunOutcome::kSucceeded);
  EXPECT_FALSE(HasColumn("legacy"));
}

// Invariant (design §3.1, "Failure per phase"): a failed contract is never
// undone, also when one run executes every phase (`schemaop upgrade`
// without --phase). Without the rule the engine ran the down sections
// after the window had committed the target; the run of the same target
// must then resume the contract where it stopped.
TEST_F(PhaseRunsTest, AContractThatFailsInARunOfEveryPhaseIsNotUndone) {
  WriteBig();
  WriteR2("window and contract",
          "-- migrate:up\nCREATE TABLE windowed (id int);\n\n"
          "-- migrate:up phase:contract batch:100\nUPDATE ctl SET kill = false WHERE kill;\n\n"
          "-- migrate:up phase:contract\nALTER TABLE ctl ADD COLUMN contracted int;\n\n"
          "-- migrate:down\nALTER TABLE ctl DROP COLUMN IF EXISTS contracted;\n"
          "DROP TABLE windowed;\n");
  ASSERT_EQ(Open()->Run("r1")->outcome, RunOutcome::kSucceeded);
  MigratorOptions short_lock = Options();
  short_lock.lock_timeout = std::chrono::milliseconds(200);
  {
    // A session of the new application holds a lock the contract's batch
    // needs (and the window does not). The batch commits on its own, after
    // the window's transaction committed r2: the failure comes after that.
    pqxx::connection app(url_);
    pqxx::work holding(app);
    holding.exec("LOCK TABLE ctl IN SHARE MODE");
    auto run = Open(short_lock)->Run("head");
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    EXPECT_EQ(run->outcome, RunOutcome::kFailed) << run->status.ToString();
    EXPECT_NE(run->status.message().find("never undone"), std::string::npos)
        << run->status.ToString();
  }
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT to_regclass('windowed') IS NOT NULL"), "t");
  // The same target again: the pending contract, resumed.
  auto again = Open()->Run("head");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, RunOutcome::kSucceeded) << again->status.ToString();
  EXPECT_EQ(Versions(), "r2");
  EXPECT_EQ(Query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'ctl'::regclass AND "
                  "attname = 'contracted'"),
            "1");
}

// The pending contract is found behind runs that changed nothing. run_log
// is read newest first in pages (the first of one row): 40 rolled-back
// runs newer than the failed contract cross the page boundaries, and the
// inspection still reports the contract as pending (design §3.1).
TEST_F(PhaseRunsTest, APendingContractIsFoundBehindRunsThatChangedNothing) {
  AtR1();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kSucceeded);
  ASSERT_OUTCOME(RunPhase(RunPhase::kWindow), RunOutcome::kSucceeded);
  auto before = Open()->PlanAndDigest("head");
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_FALSE(before->pending_contract.empty());
  Exec("INSERT INTO schemaop.run_log (from_versions, to_versions, direction, actor, "
       "finished_at, outcome, progress) SELECT '{r2}', '{r1}', 'downgrade', 'test', now(), "
       "'rolled_back', '{\"phase\": \"forward\"}' FROM generate_series(1, 40)");
  auto behind = Open()->PlanAndDigest("head");
  ASSERT_TRUE(behind.ok()) << behind.status().ToString();
  EXPECT_EQ(behind->pending_contract, before->pending_contract);
  ASSERT_OUTCOME(RunPhase(RunPhase::kContract), RunOutcome::kSucceeded);
  auto after = Open()->PlanAndDigest("head");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->pending_contract.empty());
}

// A plan without phases runs as before: one run, phases "all".
TEST_F(PhaseRunsTest, PlanWithoutPhasesIsUnchanged) {
  WriteBase();
  ASSERT_OUTCOME(RunPhase(RunPhase::kExpand), RunOutcome::kNothingToDo);
  EXPECT_EQ(Query("SELECT count(*) FROM pg_tables WHERE tablename = 'items'"), "0");
  EXPECT_FALSE(RunPhase(RunPhase::kContract).ok());  // the window has not run
  auto window = RunPhase(RunPhase::kWindow);
  ASSERT_OUTCOME(window, RunOutcome::kSucceeded);
  EXPECT_EQ(window->phases, "window");
  EXPECT_EQ(Versions(), "r1");
}

}  // namespace
}  // namespace schemaop::database
