// The reconcile contract (design §6) against in-memory fakes and a fake
// clock: order of side effects, no-op reconciles, deletion, suspend, spec
// changes mid-run, conditions, conflicts and secrets. The fixture is
// reconciler_fixture.h; bad input, failures and crashes, and the data-safety
// invariants have their own files (reconciler_*_test.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/conditions.h"
#include "core/schema_migration.h"
#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {
namespace {

// ---------------------------------------------------------------- happy path

TEST_F(ReconcilerTest, UpgradeRunsPhasesInOrderAndWritesStatusBeforeEachSideEffect) {
  kube_.auto_drain = false;  // pods take time to go away
  ReconcileResult first = Reconcile();
  ASSERT_TRUE(first.requeue_after.has_value());
  EXPECT_EQ(*first.requeue_after, std::chrono::seconds(1));
  EXPECT_EQ(St().phase, Phase::kDraining);
  EXPECT_EQ(db_.migrate_calls, 0);

  // Original replicas were recorded before anything was scaled.
  ASSERT_EQ(St().workloads.size(), 2u);
  EXPECT_EQ(St().workloads[0].original_replicas, 2);
  EXPECT_EQ(St().workloads[1].original_replicas, 3);

  const auto& ops = effects_.ops();
  const int fin = effects_.IndexOf("finalizer+");
  const int planning = effects_.IndexOf("status:Planning");
  const int scaling_down = effects_.IndexOf("status:ScalingDown");
  const int scale_backend = effects_.IndexOf("scale:Deployment/backend=0");
  const int scale_celery = effects_.IndexOf("scale:Deployment/celery-worker=0");
  const int draining = effects_.IndexOf("status:Draining");
  ASSERT_GE(fin, 0);
  EXPECT_LT(fin, planning);
  EXPECT_LT(planning, scaling_down);
  EXPECT_LT(scaling_down, scale_backend);
  EXPECT_LT(scale_backend, draining);
  EXPECT_LT(scale_celery, draining);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kWorkloadsScaledDown).reason, rs::kDraining);

  // Still draining: a poll writes nothing.
  const int writes = kube_.status_writes();
  clock_.Advance(std::chrono::seconds(1));
  EXPECT_TRUE(Reconcile().requeue_after.has_value());
  EXPECT_EQ(kube_.status_writes(), writes);

  kube_.Settle();
  clock_.Advance(std::chrono::seconds(4));
  ReconcileResult last = Reconcile();
  EXPECT_FALSE(last.requeue_after.has_value());
  EXPECT_TRUE(last.error.ok());

  const int migrating = effects_.IndexOf("status:Migrating");
  const int migrate = effects_.IndexOf("db:migrate");
  const int scaling_up = effects_.IndexOf("status:ScalingUp");
  const int restore = effects_.IndexOf("scale:Deployment/backend=2");
  const int succeeded = effects_.IndexOf("status:Succeeded");
  EXPECT_LT(draining, migrating);
  EXPECT_LT(migrating, migrate);
  EXPECT_LT(migrate, scaling_up);
  EXPECT_LT(scaling_up, restore);
  EXPECT_LT(restore, succeeded);
  EXPECT_EQ(effects_.IndexOf("db:backup"), -1) << "an upgrade needs no backup by default";
  EXPECT_EQ(effects_.IndexOf("status:BackingUp"), -1);

  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().current_revision, "seed_default_schemas");
  EXPECT_EQ(St().target_revision, "seed_default_schemas");
  EXPECT_EQ(St().observed_generation, 1);
  EXPECT_FALSE(St().run.has_value());
  ASSERT_TRUE(St().plan.has_value());
  EXPECT_EQ(St().plan->direction, "upgrade");
  ASSERT_EQ(St().plan->steps.size(), 2u);
  EXPECT_EQ(St().plan->steps[0].revision, "add_flexible_schemas");
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kVerified).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReady).observed_generation, 1);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeSucceeded);
  EXPECT_EQ(St().last_run->from, "9bc6a98f1c12");
  EXPECT_EQ(St().last_run->to, "seed_default_schemas");
  // Scale-down happened at t0, everything restored at t0+5s.
  EXPECT_DOUBLE_EQ(St().last_run->downtime_seconds, 5.0);
  ASSERT_EQ(metrics_.downtime_seconds.size(), 1u);
  EXPECT_DOUBLE_EQ(metrics_.downtime_seconds[0], 5.0);
  EXPECT_EQ(metrics_.runs, std::vector<std::string>{"Succeeded"});
  EXPECT_EQ(metrics_.revisions["drawing/drawing-db"], "seed_default_schemas");

  std::vector<std::string> reasons;
  for (const auto& e : kube_.events) {
    reasons.push_back(e.reason);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{rs::kPlanning, rs::kScalingDown, rs::kScaledDown,
                                               rs::kMigrating, rs::kMigrated, rs::kScaledUp}));
  // The engine got the actor and the files.
  ASSERT_FALSE(db_.targets_seen.empty());
  EXPECT_EQ(db_.targets_seen.back().actor, "schemaop-controller drawing/drawing-db");
  EXPECT_EQ(db_.targets_seen.back().migration_files.size(), 3u);
  EXPECT_EQ(db_.targets_seen.back().url, kUrl);
  (void)ops;
}

TEST_F(ReconcilerTest, DowngradeTakesABackupBeforeMigrating) {
  db_.versions = {"seed_default_schemas"};
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "9bc6a98f1c12"; });
  RunUntilDone();
  const int backing_up = effects_.IndexOf("status:BackingUp");
  const int backup = effects_.IndexOf("db:backup");
  const int migrating = effects_.IndexOf("status:Migrating");
  const int migrate = effects_.IndexOf("db:migrate");
  ASSERT_GE(backing_up, 0);
  EXPECT_LT(effects_.IndexOf("status:Draining"), backing_up);
  EXPECT_LT(backing_up, backup);
  EXPECT_LT(backup, migrating);
  EXPECT_LT(migrating, migrate);
  ASSERT_TRUE(St().backup.has_value());
  EXPECT_EQ(St().backup->file, "/backups/drawing-1.dump");
  EXPECT_EQ(St().backup->bytes, 4096u);
  EXPECT_EQ(Cond(ct::kBackupReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kBackupReady).reason, rs::kBackupCreated);
  EXPECT_EQ(St().plan->direction, "downgrade");
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(St().observed_generation, 2);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerTest, BackupNeverSkipsItEvenForADowngrade) {
  db_.versions = {"seed_default_schemas"};
  kube_.EditSpec(kNs, kName, [](auto& spec) {
    spec.target_revision = "base";
    spec.backup_when = "Never";
  });
  RunUntilDone();
  EXPECT_EQ(db_.backup_calls, 0);
  EXPECT_TRUE(db_.versions.empty());
  EXPECT_EQ(St().current_revision, "base");
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

// --------------------------------------------------------------------- no-op

TEST_F(ReconcilerTest, ReconcileAtTargetAfterARunWritesNothing) {
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  const int writes = kube_.status_writes();
  const std::size_t events = kube_.events.size();
  const int ops = effects_.count();
  clock_.Advance(std::chrono::minutes(10));
  for (int i = 0; i < 3; ++i) {
    ReconcileResult r = Reconcile();
    EXPECT_FALSE(r.requeue_after.has_value());
  }
  EXPECT_EQ(kube_.status_writes(), writes);
  EXPECT_EQ(kube_.events.size(), events);
  EXPECT_EQ(effects_.count(), ops) << "no side effect of any kind";
}

TEST_F(ReconcilerTest, ObjectAlreadyAtTargetGetsOneStatusWriteThenNone) {
  db_.versions = {"seed_default_schemas"};
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), 1);
  EXPECT_EQ(kube_.scale_calls(), 0);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  clock_.Advance(std::chrono::minutes(1));
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), 1);
  EXPECT_EQ(kube_.finalizer_writes(), 0);
}

// --------------------------------------------------------- deletion, suspend

TEST_F(ReconcilerTest, DeletionMidRunRestoresWorkloadsThenReleasesTheObject) {
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  ASSERT_EQ(Replicas("backend"), 0);
  kube_.MarkDeleted(kNs, kName, clock_.now);
  ReconcileResult r = Reconcile();
  EXPECT_FALSE(r.requeue_after.has_value());
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(kube_.objects.count(std::string(kNs) + "/" + kName), 0u) << "finalizer removed";
  EXPECT_LT(effects_.IndexOf("scale:Deployment/backend=2"), effects_.IndexOf("finalizer-"));
}

TEST_F(ReconcilerTest, DeletionWithoutRunOnlyRemovesTheFinalizer) {
  RunUntilDone();
  const int scales = kube_.scale_calls();
  kube_.MarkDeleted(kNs, kName, clock_.now);
  Reconcile();
  EXPECT_EQ(kube_.scale_calls(), scales);
  EXPECT_TRUE(kube_.objects.empty());
}

TEST_F(ReconcilerTest, SuspendStartsNoRun) {
  Obj().spec.suspend = true;
  ReconcileResult r = Reconcile();
  EXPECT_FALSE(r.requeue_after.has_value());
  ExpectNothingTouched();
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kSuspended);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kSuspended);
  // Not at the target and not going there: Stalled, so kstatus (Flux) does
  // not call it Current and holds back what depends on it.
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  const int writes = kube_.status_writes();
  Reconcile();
  EXPECT_EQ(kube_.status_writes(), writes);

  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.suspend = false; });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

// Invariant (docs/gitops.md): Ready=True for a generation means the
// database is at that generation's target. Suspending an object at its
// target keeps it Ready; a new target that arrives suspended is not Ready.
TEST_F(ReconcilerTest, SuspendKeepsReadyOnlyAtTheSpecsTarget) {
  RunUntilDone();
  ASSERT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.suspend = true; });
  Reconcile();
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReady).observed_generation, 2);
  EXPECT_EQ(Cond(ct::kReady).reason, rs::kSuspended);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);

  // GitOps moves the target while the object is suspended.
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "add_flexible_schemas"; });
  Reconcile();
  EXPECT_EQ(St().observed_generation, 3);
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kSuspended);
  EXPECT_NE(Cond(ct::kStalled).message.find("'add_flexible_schemas' is not applied"),
            std::string::npos)
      << Cond(ct::kStalled).message;
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);

  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.suspend = false; });
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"add_flexible_schemas"});
  EXPECT_EQ(Cond(ct::kReady).status, ConditionStatus::kTrue);
}

TEST_F(ReconcilerTest, SuspendDuringDrainingFinishesTheRun) {
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.suspend = true; });
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_FALSE(St().run.has_value());
}

// ------------------------------------------------------ spec changes mid-run

TEST_F(ReconcilerTest, TargetChangedMidRunFinishesThenPlansTheNewTarget) {
  kube_.auto_drain = false;
  Obj().spec.target_revision = "add_flexible_schemas";
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  kube_.EditSpec(kNs, kName, [](auto& spec) { spec.target_revision = "seed_default_schemas"; });
  kube_.Settle();
  ReconcileResult r = Reconcile();
  // The first run finished at its own resolved target and served generation 1.
  EXPECT_EQ(St().last_run->to, "add_flexible_schemas");
  EXPECT_EQ(St().observed_generation, 1);
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(r.requeue_after->count(), 0);
  EXPECT_EQ(Replicas("backend"), 2);
  // The next reconcile plans generation 2.
  RunUntilDone();
  EXPECT_EQ(db_.versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(St().observed_generation, 2);
  EXPECT_EQ(St().last_run->from, "add_flexible_schemas");
  EXPECT_EQ(Cond(ct::kReady).observed_generation, 2);
  EXPECT_EQ(db_.migrate_calls, 2);
}

// ------------------------------------------------ conditions, conflicts, secrets

TEST_F(ReconcilerTest, LastTransitionTimeMovesOnlyWhenStatusChanges) {
  kube_.config_maps.clear();
  Reconcile();
  const core::Timestamp stalled_since = Cond(ct::kStalled).last_transition_time;
  clock_.Advance(std::chrono::minutes(3));
  kube_.config_maps["drawing/drawing-migrations"] = {};  // still broken, other reason
  Reconcile();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kInvalidMigrations);
  EXPECT_EQ(Cond(ct::kStalled).last_transition_time, stalled_since);
  clock_.Advance(std::chrono::minutes(3));
  kube_.config_maps["drawing/drawing-migrations"] = {{"a.sql", "-- revision: a\n"}};
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
  EXPECT_NE(Cond(ct::kStalled).last_transition_time, stalled_since);
}

TEST_F(ReconcilerTest, StatusConflictIsRetriedOnAFreshRead) {
  kube_.conflicts_to_inject = 2;
  // The retries are reported to the caller, which logs and counts them.
  EXPECT_EQ(Reconcile().conflict_retries, 2);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(kube_.conflicts_to_inject, 0);
}

// The worker logs the returned error with Status::ToString(), which
// includes the detail: a detail echoing the URL must be scrubbed as well.
TEST_F(ReconcilerTest, SecretNeverAppearsInTheDetailOfTheReturnedError) {
  db_.inspect_error = Status(Code::kUnreachable, "could not connect to server", "dsn " + kUrl);
  ReconcileResult r = Reconcile();
  ASSERT_FALSE(r.error.ok());
  EXPECT_EQ(r.error.ToString().find(kPassword), std::string::npos) << r.error.ToString();
  db_.inspect_error.reset();
  db_.migrate_error =
      Status(Code::kUnreachable, "lost the connection", std::string("password=") + kPassword);
  clock_.Advance(*r.requeue_after);
  r = Reconcile();
  ASSERT_FALSE(r.error.ok());
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(r.error.ToString().find(kPassword), std::string::npos) << r.error.ToString();
}

TEST_F(ReconcilerTest, SecretNeverAppearsInStatusEventsOrErrors) {
  // Every failure path that echoes the URL.
  db_.inspect_error = Status(Code::kUnreachable, "could not connect to server: " + kUrl +
                                                     " password=" + kPassword);
  ReconcileResult r = Reconcile();
  EXPECT_EQ(r.error.message().find(kPassword), std::string::npos);
  db_.inspect_error.reset();
  db_.verification_failure = Status(Code::kVerificationFailed, "check failed on " + kUrl);
  clock_.Advance(std::chrono::seconds(5));
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kFailed);
  const std::string text = kube_.AllWrittenText();
  EXPECT_NE(text.find("***"), std::string::npos) << "the URL was echoed, and scrubbed";
  EXPECT_EQ(text.find(kPassword), std::string::npos) << text;
  EXPECT_EQ(text.find(kUrl), std::string::npos);
}

// Issue 8: the scrubber knows every form a Secret's URL can take, short
// passwords and quoted keyword values included (the old one skipped
// secrets under 4 characters and `password='a b'`).
TEST_F(ReconcilerTest, ShortAndQuotedSecretsNeverAppearInStatusOrEvents) {
  const std::vector<std::pair<std::string, std::string>> urls = {
      {"postgresql://app:Zq@db.drawing.svc/drawing", "Zq"},
      {"host=db.drawing.svc user=app password='two words' dbname=drawing", "two words"},
      {"postgresql://app@db.drawing.svc/drawing?sslpassword=keyphrase9", "keyphrase9"},
  };
  for (const auto& [url, secret] : urls) {
    reconciler_ = NewReconciler();  // a fresh scrubber that never saw another URL
    kube_.secrets["drawing/drawing-db"] = {{"DATABASE_URL", url}};
    db_.inspect_error = Status(Code::kUnreachable, "could not connect: " + url + " (secret " +
                                                       secret + ")");
    ReconcileResult r = Reconcile();
    ASSERT_FALSE(r.error.ok());
    const std::string text = kube_.AllWrittenText() + r.error.ToString();
    EXPECT_EQ(text.find(" " + secret + ")"), std::string::npos) << url << ": " << text;
    EXPECT_EQ(text.find("'" + secret + "'"), std::string::npos) << url << ": " << text;
    EXPECT_EQ(text.find("=" + secret), std::string::npos) << url << ": " << text;
    EXPECT_EQ(text.find(":" + secret + "@"), std::string::npos) << url << ": " << text;
  }
}

}  // namespace
}  // namespace schemaop::reconcile
