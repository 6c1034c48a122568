// Runs off the workers and cancelling a run, at the reconciler (design §6.5,
// §4.7): a run on a run thread is only observed; schemaop.dev/abort and the
// downtime budget cancel it (recorded in status first), before Migrating
// through AbortRun; a cancelled run ends Stalled and is not retried; a
// deletion waits for the run's end before the workloads come back.
#include <algorithm>
#include <chrono>
#include <string>

#include "reconcile/reconciler_fixture.h"
#include <nlohmann/json.hpp>

#include "reconcile/schema_migration_json.h"

namespace schemaop::reconcile {
namespace {

bool HasEvent(const FakeKube& kube, const std::string& reason) {
  return std::any_of(kube.events.begin(), kube.events.end(),
                     [&](const testing::RecordedEvent& e) { return e.reason == reason; });
}

}  // namespace

class ReconcilerRunsTest : public ReconcilerTest {
 protected:
  // Passes until the run is held on its (fake) run thread.
  void ReachHeldRun() {
    db_.hold_runs = true;
    for (int i = 0; i < 20 && db_.held.empty(); ++i) {
      ReconcileResult r = Reconcile();
      kube_.Settle();
      if (r.requeue_after) clock_.Advance(*r.requeue_after);
    }
    ASSERT_EQ(db_.held.size(), 1u);
    ASSERT_EQ(St().phase, Phase::kMigrating);
    ASSERT_EQ(Replicas("backend"), 0);
  }
};

TEST_F(ReconcilerRunsTest, RunInProgressIsOnlyObserved) {
  ReachHeldRun();
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kProgressing);
  // The Secret goes: nothing happens to the run while the engine works (no
  // input step, no abort, no restore). A writer coming back is another
  // matter: ReconcilerWritersTest.WriterScaledUpDuringTheEngineRunCancelsIt.
  kube_.secrets.erase("drawing/drawing-db");
  ReconcileResult r = Reconcile();
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_EQ(St().phase, Phase::kMigrating);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Replicas("backend"), 0);
  EXPECT_EQ(Replicas("celery-worker"), 0);
  EXPECT_FALSE(St().run->outcome.size());
}

TEST_F(ReconcilerRunsTest, FinishedRunIsRecordedOnce) {
  ReachHeldRun();
  db_.FinishHeld();
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(db_.executions, 1);
  EXPECT_EQ(db_.versions.back(), "seed_default_schemas");
}

TEST_F(ReconcilerRunsTest, WaitingForARunThreadIsVisible) {
  db_.slots_full = true;
  ReachHeldRun();
  EXPECT_EQ(Cond(ct::kReconciling).status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(ct::kReconciling).reason, rs::kWaitingForRunSlot);
  EXPECT_NE(Cond(ct::kReady).message.find("--max-concurrent-runs"), std::string::npos)
      << Cond(ct::kReady).message;
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kFalse);
}

TEST_F(ReconcilerRunsTest, AbortAnnotationCancelsTheRunSafely) {
  ReachHeldRun();
  Obj().metadata.annotations[core::kAnnotationAbort] = "now";
  Reconcile();
  // Recorded before the engine heard it; the workloads stay at 0 until the
  // engine ended the run.
  ASSERT_TRUE(St().run.has_value());
  EXPECT_EQ(St().run->cancel_reason, rs::kAborted);
  EXPECT_EQ(St().handled_abort, "now");
  EXPECT_EQ(Replicas("backend"), 0);
  ASSERT_TRUE(db_.held.begin()->second.control.cancel.has_value());
  EXPECT_EQ(db_.held.begin()->second.control.cancel->code(), Code::kAborted);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kAborted);
  EXPECT_EQ(Cond(ct::kStalled).status, ConditionStatus::kTrue);
  ASSERT_TRUE(St().last_run.has_value());
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kAborted);
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_TRUE(HasEvent(kube_, rs::kAborted));
  // Not retried for the same input.
  db_.hold_runs = false;
  Reconcile();
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(St().phase, Phase::kFailed);
}

TEST_F(ReconcilerRunsTest, AbortBeforeMigratingEndsTheRunWithoutTheDatabase) {
  kube_.auto_drain = false;
  Reconcile();  // Planning -> ScalingDown -> Draining, pods still there
  ASSERT_EQ(St().phase, Phase::kDraining);
  Obj().metadata.annotations[core::kAnnotationAbort] = "stop";
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kAborted);
  EXPECT_EQ(St().handled_abort, "stop");
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Replicas("backend"), 2);
  // A new spec runs although the annotation is still there.
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.drain_timeout_seconds = 301; });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
}

TEST_F(ReconcilerRunsTest, DowntimeBudgetBeforeMigratingAborts) {
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.max_downtime_seconds = 5; });
  kube_.auto_drain = false;
  Reconcile();
  ASSERT_EQ(St().phase, Phase::kDraining);
  clock_.Advance(std::chrono::seconds(6));
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kDowntimeExceeded);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerRunsTest, DowntimeBudgetIsTheRunsDeadline) {
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.max_downtime_seconds = 30; });
  ReachHeldRun();
  const RunControl& control = db_.held.begin()->second.control;
  ASSERT_TRUE(control.deadline.has_value());
  EXPECT_EQ(control.deadline->unix_millis, St().run->scale_down_time->unix_millis + 30000);
  EXPECT_EQ(control.deadline_status.code(), Code::kDowntimeExceeded);
  // The run pool cancelled at the deadline and the engine rolled back:
  // Stalled DowntimeExceeded, the message says it was cancelled.
  MigrateResult rolled;
  rolled.outcome = MigrateOutcome::kRolledBack;
  rolled.final_versions = db_.versions;
  rolled.failure = control.deadline_status;
  db_.held.begin()->second.result = rolled;
  RunUntilDone();
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kDowntimeExceeded);
  EXPECT_NE(St().last_run->message.find("Cancelled"), std::string::npos) << St().last_run->message;
  EXPECT_NE(St().last_run->message.find("maxDowntimeSeconds"), std::string::npos);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerRunsTest, DeletionWaitsForTheRunsEnd) {
  ReachHeldRun();
  kube_.MarkDeleted(kNs, kName, clock_.now);
  Reconcile();
  // The run is asked to stop; the writers stay at 0 until it ended.
  EXPECT_TRUE(db_.held.begin()->second.control.cancel.has_value());
  EXPECT_EQ(Replicas("backend"), 0);
  EXPECT_TRUE(Obj().metadata.HasFinalizer(core::kFinalizer));
  Reconcile();
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
}

TEST(SchemaMigrationRunsJsonTest, NewFieldsRoundTripAndAreValidated) {
  core::SchemaMigration obj;
  obj.metadata.name = "a";
  obj.metadata.annotations[core::kAnnotationAbort] = "x";
  obj.spec.max_downtime_seconds = 120;
  obj.status.handled_abort = "x";
  obj.status.run = core::RunStatus{};
  obj.status.run->cancel_reason = "Aborted";
  obj.status.run->cancel_message = "by the annotation";
  auto back = SchemaMigrationFromJson(SchemaMigrationToJson(obj));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->metadata.annotations, obj.metadata.annotations);
  EXPECT_EQ(back->spec.max_downtime_seconds, 120);
  EXPECT_EQ(back->status.handled_abort, "x");
  EXPECT_EQ(back->status.run->cancel_reason, "Aborted");
  EXPECT_EQ(back->status.run->cancel_message, "by the annotation");
  core::SchemaMigrationSpec spec = obj.spec;
  spec.target_revision = "head";
  spec.url_secret_ref = {"s", "k"};
  spec.migrations_config_map = "m";
  spec.max_downtime_seconds = -1;
  auto errors = core::ValidateSpec(spec);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "spec.maxDowntimeSeconds");
}

}  // namespace schemaop::reconcile

namespace schemaop::reconcile {

TEST_F(ReconcilerRunsTest, AbortWithoutARunAbortsNothingLater) {
  RunUntilDone();
  ASSERT_EQ(St().phase, Phase::kSucceeded);
  Obj().metadata.annotations[core::kAnnotationAbort] = "idle";
  Reconcile();
  EXPECT_EQ(St().handled_abort, "idle");
  kube_.EditSpec(kNs, kName, [](core::SchemaMigrationSpec& s) { s.target_revision = "9bc6a98f1c12"; });
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
}

}  // namespace schemaop::reconcile

// ---- status.progress (design §6.8)
namespace schemaop::reconcile {

namespace {
core::RunProgress SampledProgress(int statement) {
  core::RunProgress p;
  p.phase = "forward";
  p.step = 1;
  p.steps = 1;
  p.revision = "seed_default_schemas";
  p.section = 1;
  p.sections = 1;
  p.statement = statement;
  p.statements = 7;
  p.elapsed_seconds = statement;
  p.summary = core::FormatProgress(p);
  return p;
}
}  // namespace

TEST_F(ReconcilerRunsTest, ProgressIsWrittenAtMostEveryTwoSecondsAndClearedAtTheEnd) {
  ReachHeldRun();
  db_.held_progress = SampledProgress(1);
  ReconcileResult r = Reconcile();
  ASSERT_TRUE(St().progress.has_value());
  EXPECT_EQ(St().progress->summary, "1/1 seed_default_schemas stmt 1/7");
  EXPECT_TRUE(St().progress->update_time.has_value());
  // Passes come at least every 2 s while the run lasts.
  ASSERT_TRUE(r.requeue_after.has_value());
  EXPECT_LE(r.requeue_after->count(), 2000);
  // A newer sample 1 s later is not written; 2 s after the last write it is.
  db_.held_progress = SampledProgress(2);
  clock_.Advance(std::chrono::seconds(1));
  const int writes = kube_.status_writes();
  Reconcile();
  EXPECT_EQ(St().progress->statement, 1);
  EXPECT_EQ(kube_.status_writes(), writes);
  clock_.Advance(std::chrono::seconds(1));
  Reconcile();
  EXPECT_EQ(St().progress->statement, 2);
  // The run ends: the progress goes with it.
  db_.FinishHeld();
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_FALSE(St().progress.has_value());
  EXPECT_FALSE(SchemaMigrationToJson(Obj())["status"].contains("progress"));
}

TEST_F(ReconcilerRunsTest, AFailedStatusWriteDuringTheRunIsIgnoredWithoutBackOff) {
  ReachHeldRun();
  db_.held_progress = SampledProgress(3);
  kube_.update_status_error = Status(Code::kHttpError, "the API server is down", "503");
  for (int i = 0; i < 5; ++i) {
    ReconcileResult r = Reconcile();
    ASSERT_FALSE(r.error.ok());  // logged by the manager
    ASSERT_TRUE(r.requeue_after.has_value());
    EXPECT_LE(r.requeue_after->count(), 2000) << "pass " << i << " backed off";
    clock_.Advance(*r.requeue_after);
  }
  // The run was never touched; once it ends and the API server is back the
  // outcome is recorded as usual.
  EXPECT_FALSE(db_.held.begin()->second.result.has_value());
  kube_.update_status_error.reset();
  db_.FinishHeld();
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_FALSE(St().progress.has_value());
  EXPECT_EQ(Replicas("backend"), 2);
}

}  // namespace schemaop::reconcile
