// The data-safety invariants of the reconciler (issue 7; design §6.2,
// §6.3, §7): targets resolved once, exactly once after a lost write, pinned
// plans, one database one owner, intent before action, no retry loops.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/conditions.h"
#include "core/schema_migration.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

// ------------------------------------------------------------ issue 7: data safety

// Invariant (targets are resolved once): a relative target is resolved
// against the database once, recorded in status.resolvedTarget, and never
// resolved again while spec.targetRevision keeps its text: resyncs,
// restarts and failovers (a new Reconciler) inspect the recorded absolute
// revision, so "-1" moves the database one step, once. Before the fix each
// pass re-resolved "-1" against the revision the previous run left and
// walked the database down to base.
TEST_F(ReconcilerTest, RelativeTargetIsResolvedOnceAndNeverAgainByResyncsOrRestarts) {
  db_.versions = {"seed_default_schemas"};
  Obj().spec.target_revision = "-1";
  RunUntilDone();
  ASSERT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().target_revision, "add_flexible_schemas");
  ASSERT_TRUE(St().resolved_target.has_value());
  EXPECT_EQ(St().resolved_target->target_revision, "-1");
  EXPECT_EQ(St().resolved_target->revision, "add_flexible_schemas");
  EXPECT_EQ(St().resolved_target->generation, 1);
  EXPECT_FALSE(St().resolved_target->migrations_digest.empty());

  for (int i = 0; i < 5; ++i) {  // resyncs
    clock_.Advance(std::chrono::minutes(10));
    Reconcile();
  }
  for (int restart = 0; restart < 3; ++restart) {  // restarts / failovers
    reconciler_ = NewReconciler();
    clock_.Advance(std::chrono::minutes(10));
    Reconcile();
    Reconcile();
  }
  // An unrelated spec edit (a new generation) does not re-resolve it either.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.drain_timeout_seconds = 60; });
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(db_.migrate_calls, 1);
  EXPECT_EQ(db_.executions, 1);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  ASSERT_GE(db_.inspected_targets.size(), 2u);
  EXPECT_EQ(db_.inspected_targets.front(), "-1");
  for (std::size_t i = 1; i < db_.inspected_targets.size(); ++i) {
    EXPECT_EQ(db_.inspected_targets[i], "add_flexible_schemas") << "inspect #" << i;
  }

  // A new target text is resolved anew, once.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "+1"; });
  RunUntilDone();
  reconciler_ = NewReconciler();
  Reconcile();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(db_.executions, 2);
  EXPECT_EQ(St().resolved_target->target_revision, "+1");
  EXPECT_EQ(St().resolved_target->generation, 3);
}

// Exactly once, one case per outcome of the run.
struct ConflictAfterRunCase {
  std::string name;
  std::function<void(FakeDatabase&, core::SchemaMigration&)> arrange;
  std::string outcome;  // lastRun.outcome
  std::vector<std::string> final_versions;
};

void PrintTo(const ConflictAfterRunCase& c, std::ostream* os) { *os << c.name; }

class ConflictAfterRunTest : public ReconcilerTest,
                             public ::testing::WithParamInterface<ConflictAfterRunCase> {};

// Invariant (exactly once): a run is identified by the SchemaMigration's
// UID, the run's generation and the plan digest recorded at planning, and
// the engine executes a run of one identity at most once. When the status
// write that records the run's result is lost to a 409, the next pass calls
// Migrate again with the same identity, the engine replays the recorded
// outcome, and the bookkeeping (outcome, conditions, workloads) finishes
// from it.
TEST_P(ConflictAfterRunTest, StatusConflictAfterTheRunNeverExecutesItAgain) {
  const ConflictAfterRunCase& c = GetParam();
  c.arrange(db_, Obj());
  db_.on_migrate = [this] {
    if (db_.migrate_calls == 1) {
      kube_.conflicts_to_inject = 1;  // the write of the result loses a race
    }
  };
  RunUntilDone();
  EXPECT_EQ(db_.executions, 1);
  ASSERT_EQ(db_.migrate_calls, 2) << "the second call is answered from the run log";
  ASSERT_EQ(db_.identities_seen.size(), 2u);
  const RunIdentity& identity = db_.identities_seen[0];
  EXPECT_EQ(identity.owner_uid, "uid-1");
  EXPECT_EQ(identity.generation, 1);
  std::vector<std::pair<std::string, std::string>> files(
      kube_.config_maps["drawing/drawing-migrations"].begin(),
      kube_.config_maps["drawing/drawing-migrations"].end());
  EXPECT_EQ(identity.plan_digest,
            FakeDatabase::PlanDigest(files, {"9bc6a98f1c12"}, {"seed_default_schemas"}));
  EXPECT_EQ(db_.identities_seen[1].Key(), identity.Key());
  EXPECT_EQ(db_.versions, c.final_versions);
  EXPECT_EQ(St().current_revision, core::FormatVersions(c.final_versions));
  EXPECT_FALSE(St().run.has_value());
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->outcome, c.outcome);
  EXPECT_EQ(metrics_.runs, std::vector<std::string>{c.outcome});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(effects_.Count("scale:Deployment/backend=0"), 1);
  EXPECT_GE(effects_.IndexOf("event:Recovered"), 0);
  if (c.outcome == core::kOutcomeSucceeded) {
    EXPECT_EQ(St().phase, Phase::kSucceeded);
    EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  } else {
    EXPECT_EQ(St().phase, Phase::kFailed);
    EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  }
  // And it stays that way.
  clock_.Advance(std::chrono::minutes(10));
  reconciler_ = NewReconciler();
  Reconcile();
  EXPECT_EQ(db_.executions, 1);
}

INSTANTIATE_TEST_SUITE_P(
    All, ConflictAfterRunTest,
    ::testing::Values(
        ConflictAfterRunCase{"Succeeded", [](FakeDatabase&, core::SchemaMigration&) {},
                             core::kOutcomeSucceeded, {"seed_default_schemas"}},
        ConflictAfterRunCase{"RolledBack",
                             [](FakeDatabase& db, core::SchemaMigration&) {
                               db.verification_failure =
                                   Status(Code::kVerificationFailed, "rows of components lost");
                             },
                             core::kOutcomeRolledBack, {"9bc6a98f1c12"}},
        ConflictAfterRunCase{"Failed",
                             [](FakeDatabase& db, core::SchemaMigration& obj) {
                               obj.spec.failure_policy = "Halt";
                               db.fail_at_step = 1;
                             },
                             core::kOutcomeFailed, {"add_flexible_schemas"}}),
    [](const auto& info) { return info.param.name; });

// Invariant (pinned files): a run executes the plan recorded at planning.
// When the ConfigMap changes between planning and migrating, the engine
// refuses (kMigrationsChanged) and nothing is executed; the run ends with
// reason MigrationsChanged, the workloads restored, not Stalled, and the
// next pass plans a new run from the new files, which then runs once.
TEST_F(ReconcilerTest, ConfigMapChangedAfterPlanningEndsTheRunAndTheNextPassPlansAgain) {
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  ASSERT_TRUE(St().run.has_value());
  const std::string planned_digest = St().run->plan_digest;
  EXPECT_FALSE(planned_digest.empty());
  kube_.config_maps["drawing/drawing-migrations"]["0003_seed_default_schemas.sql"] +=
      "DELETE FROM components;\n";
  kube_.Settle();
  ReconcileResult r = Reconcile();
  EXPECT_EQ(db_.executions, 0) << "SQL other than the planned SQL ran";
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_FALSE(St().run.has_value());
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->reason, rs::kMigrationsChanged);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kMigrationsChanged);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
  EXPECT_NE(Cond(ct::kReady).message.find("drawing-migrations"), std::string::npos);
  EXPECT_NE(Cond(ct::kReady).message.find("restore the ConfigMap"), std::string::npos);
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(r.requeue_after->count(), 0);

  RunUntilDone();
  EXPECT_EQ(db_.executions, 1);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_NE(db_.identities_seen.back().plan_digest, planned_digest);
  EXPECT_EQ(Replicas("backend"), 2);
}

// Invariant: MigrationsChanged never loops. When the engine refuses a plan
// as changed although neither the files nor the database moved since it was
// planned, the reconciler stops (Stalled) instead of scaling the
// application down and up again and again.
TEST_F(ReconcilerTest, PlanRefusedAsChangedWithNothingChangedStallsInsteadOfLooping) {
  db_.migrate_error = Status(Code::kMigrationsChanged, "plan digest differs");
  RunUntilDone();
  EXPECT_EQ(db_.migrate_calls, 1);
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kMigrationsChanged);
  const int scales = kube_.scale_calls();
  EXPECT_EQ(scales, 4);
  clock_.Advance(std::chrono::minutes(5));
  Reconcile();
  EXPECT_EQ(kube_.scale_calls(), scales);
  EXPECT_EQ(db_.migrate_calls, 1);
}

// Invariant (one database, one owner): duplicates are found by the identity
// the database server reports (status.databaseIdentity), across namespaces
// and Secrets. Of two SchemaMigrations on one database only the older one
// (creationTimestamp, then namespace/name) runs; the younger waits with
// reason DatabaseInUse naming the older one (Reconciling, not Stalled: it
// resolves when the older one goes away), never calls Migrate and never
// scales its workloads.
TEST_F(ReconcilerTest, SameDatabaseThroughAnotherSecretInAnotherNamespaceWaitsForTheOlderOne) {
  core::SchemaMigration younger = Obj();
  younger.metadata.namespace_ = "analytics";
  younger.metadata.name = "analytics-db";
  younger.metadata.uid = "uid-2";
  younger.metadata.creation_timestamp->unix_millis += 60'000;
  younger.spec.target_revision = "9bc6a98f1c12";  // would move the database back down
  younger.spec.url_secret_ref = {"reporting-db", "URL"};
  younger.spec.migrations_config_map = "reporting-migrations";
  younger.spec.workloads = {{"Deployment", "reporting", ""}};
  kube_.objects["analytics/analytics-db"] = younger;
  kube_.secrets["analytics/reporting-db"] = {{"URL", "postgresql://reporter@10.0.4.7/drawing"}};
  kube_.config_maps["analytics/reporting-migrations"] = kube_.config_maps["drawing/drawing-migrations"];
  kube_.workloads["analytics/Deployment/reporting"] = {1, 1};
  auto reconcile_younger = [this] { return reconciler_->Reconcile("analytics", "analytics-db"); };

  reconcile_younger();  // first: the database is at its target, nothing to do
  RunUntilDone();       // the older one upgrades
  ASSERT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(1));
    ReconcileResult r = reconcile_younger();
    EXPECT_TRUE(r.requeue_after.has_value());
    EXPECT_TRUE(r.error.ok());
  }
  reconciler_ = NewReconciler();
  reconcile_younger();
  Reconcile();

  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  for (const RunIdentity& identity : db_.identities_seen) {
    EXPECT_EQ(identity.owner_uid, "uid-1") << "the younger one called Migrate";
  }
  EXPECT_EQ(effects_.Count("scale:Deployment/reporting"), 0);
  const auto& y = kube_.Object("analytics", "analytics-db").status;
  EXPECT_EQ(y.database_identity, db_.database_identity);
  EXPECT_EQ(St().database_identity, db_.database_identity);
  const core::Condition* ready = core::FindCondition(y.conditions, ct::kReady);
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, ConditionStatus::kFalse);
  EXPECT_EQ(ready->reason, rs::kDatabaseInUse);
  EXPECT_NE(ready->message.find("drawing/drawing-db"), std::string::npos) << ready->message;
  EXPECT_EQ(core::FindCondition(y.conditions, ct::kStalled)->status, ConditionStatus::kFalse);
  EXPECT_EQ(core::FindCondition(y.conditions, ct::kReconciling)->status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue) << "the older one is unaffected";

  // The older one goes away: the younger one now owns the database.
  kube_.MarkDeleted(kNs, kName, clock_.now);
  Reconcile();
  ASSERT_EQ(kube_.objects.count(std::string(kNs) + "/" + kName), 0u);
  for (int i = 0; i < 10 && reconcile_younger().requeue_after; ++i) {
    kube_.Settle();
  }
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(db_.identities_seen.back().owner_uid, "uid-2");
}

// Invariant: the older owner does not run over a run of a younger one that
// started before the older one recorded the database's identity; it waits
// (DatabaseInUse naming it) until that run has ended.
TEST_F(ReconcilerTest, OlderOwnerWaitsForARunInProgressOfAYoungerOne) {
  core::SchemaMigration younger = Obj();
  younger.metadata.namespace_ = "analytics";
  younger.metadata.name = "analytics-db";
  younger.metadata.uid = "uid-2";
  younger.metadata.creation_timestamp->unix_millis += 60'000;
  younger.status.database_identity = db_.database_identity;
  younger.status.phase = Phase::kDraining;
  younger.status.run = core::RunStatus{};
  kube_.objects["analytics/analytics-db"] = younger;
  ReconcileResult r = Reconcile();
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kDatabaseInUse);
  EXPECT_NE(Cond(ct::kReady).message.find("analytics/analytics-db"), std::string::npos);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);

  kube_.Object("analytics", "analytics-db").status.run.reset();
  kube_.Object("analytics", "analytics-db").status.phase = Phase::kSucceeded;
  clock_.Advance(*r.requeue_after);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
}

// Intent before action, one case per action.
struct StaleCacheCase {
  std::string name;
  std::string crash_on;  // where the first controller died
  bool after_effect;
  Phase stale_phase;     // what the lagging cache then shows
};

void PrintTo(const StaleCacheCase& c, std::ostream* os) { *os << c.name; }

class StaleCacheTest : public ReconcilerTest,
                       public ::testing::WithParamInterface<StaleCacheCase> {};

// Invariant (intent before action): a scale-down, a restore and a backup
// happen only after a status write that records them succeeded against the
// object's current resourceVersion. A controller that starts after a
// failover and reads a stale copy of the object (mid-run, while the run has
// in fact finished and the application is back) gets 409 on that write and
// never scales or backs up anything.
TEST_P(StaleCacheTest, StaleObjectAfterFailoverNeverScalesOrBacksUp) {
  const StaleCacheCase& c = GetParam();
  kube_.auto_drain = false;
  Obj().spec.backup_when = "Always";
  effects_.CrashOn(c.crash_on, c.after_effect);
  try {
    for (int i = 0; i < 20; ++i) {
      Reconcile();
      kube_.Settle();
    }
    FAIL() << "never reached " << c.crash_on;
  } catch (const SimulatedCrash&) {
  }
  const core::SchemaMigration snapshot = Obj();
  ASSERT_EQ(snapshot.status.phase, c.stale_phase);
  // Another replica took over and finished the run.
  reconciler_ = NewReconciler();
  kube_.Settle();
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_EQ(Replicas("backend"), 2);

  // Failover to a controller whose cache still shows the snapshot.
  kube_.stale[std::string(kNs) + "/" + kName] = snapshot;
  const int scales = kube_.scale_calls();
  const int backups = db_.backup_calls;
  const core::SchemaMigrationStatus finished = St();
  reconciler_ = NewReconciler();
  for (int i = 0; i < 3; ++i) {
    ReconcileResult r = Reconcile();
    EXPECT_EQ(r.error.code(), Code::kConflict) << r.error.ToString();
  }
  EXPECT_EQ(kube_.scale_calls(), scales) << "scaled from a stale object";
  EXPECT_EQ(db_.backup_calls, backups) << "backed up from a stale object";
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St(), finished);

  // Once the cache catches up there is nothing to do.
  kube_.stale.clear();
  EXPECT_FALSE(Reconcile().requeue_after.has_value());
  EXPECT_EQ(kube_.scale_calls(), scales);
}

INSTANTIATE_TEST_SUITE_P(
    All, StaleCacheTest,
    ::testing::Values(
        StaleCacheCase{"ScaleDown", "scale:Deployment/backend=0", false, Phase::kScalingDown},
        StaleCacheCase{"DrainRescale", "status:Draining", true, Phase::kDraining},
        StaleCacheCase{"Backup", "db:backup", false, Phase::kBackingUp},
        StaleCacheCase{"Restore", "scale:Deployment/backend=2", false, Phase::kScalingUp}),
    [](const auto& info) { return info.param.name; });

// Invariant: a run the engine rolled back for schema drift (the schema after
// the run is not the one recorded for the revision reached) is reported
// (Stalled, reason SchemaDrift, naming the way out) and not retried for the
// same input: retrying would scale the application down for the same
// refusal again and again.
TEST_F(ReconcilerTest, SchemaDriftRollbackStallsAndIsNotRetriedForTheSameInput) {
  db_.versions = {"seed_default_schemas"};
  Obj().spec.target_revision = "9bc6a98f1c12";
  db_.verification_failure = Status(
      Code::kSchemaDrift, "column components.dynamic_data exists but did not at 9bc6a98f1c12");
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSchemaDrift);
  EXPECT_NE(Cond(ct::kStalled).message.find("components.dynamic_data"), std::string::npos);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.verify.schema: Ignore"), std::string::npos);
  EXPECT_EQ(Replicas("backend"), 2);
  const int scales = kube_.scale_calls();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(5));
    Reconcile();
  }
  EXPECT_EQ(db_.migrate_calls, 1);
  EXPECT_EQ(kube_.scale_calls(), scales);
}

TEST_F(ReconcilerTest, VerifySchemaIgnoreReachesTheEngine) {
  RunUntilDone();
  ASSERT_FALSE(db_.targets_seen.empty());
  EXPECT_TRUE(db_.targets_seen.back().verify_schema) << "Enforce is the default";
  kube_.EditSpec(kNs, kName, [](auto& spec) {
    spec.verify_schema = "Ignore";
    spec.target_revision = "add_flexible_schemas";
  });
  RunUntilDone();
  EXPECT_FALSE(db_.targets_seen.back().verify_schema);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.verify_schema = "Sometimes"; });
  Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidSpec);
  EXPECT_NE(Cond(ct::kStalled).message.find("spec.verify.schema"), std::string::npos);
}

}  // namespace
}  // namespace schemaop::reconcile
