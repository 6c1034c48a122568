// CronJobs, Jobs, autoscalers and writers that fight back (design §6.8),
// against the fakes: every setting the run changes is recorded in status
// before it is changed and comes back to exactly the recorded value, on
// success, rollback and failure; a writer scaled up by someone else stops
// the run safely and names who did it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reconcile/reconciler_fixture.h"

namespace schemaop::reconcile {

class ReconcilerWritersTest : public ReconcilerTest {
 protected:
  void AddCronJob(bool suspended, int running_jobs, const std::string& jobs = "") {
    Obj().spec.workloads.push_back({core::kKindCronJob, "nightly-report", "", jobs});
    kube_.workloads["drawing/CronJob/nightly-report"] = {suspended ? 0 : 1, running_jobs};
  }
  FakeWorkload& CronJob() { return kube_.Workload(kNs, core::kKindCronJob, "nightly-report"); }
  void AddHpa(std::int32_t min_replicas) {
    AutoscalerInfo hpa;
    hpa.kind = core::kKindHorizontalPodAutoscaler;
    hpa.name = "backend";
    hpa.min_replicas = min_replicas;
    kube_.autoscalers["drawing/Deployment/backend"].push_back(hpa);
  }
  void AddScaledObject(std::optional<std::string> paused) {
    AutoscalerInfo so;
    so.kind = core::kKindScaledObject;
    so.name = "backend-queue";
    so.paused_replicas = std::move(paused);
    kube_.autoscalers["drawing/Deployment/backend"].push_back(so);
  }
};

TEST_F(ReconcilerWritersTest, CronJobIsSuspendedForTheRunAndResumedAfter) {
  AddCronJob(/*suspended=*/false, /*running_jobs=*/0);
  std::int32_t suspended_when_migrating = -1;
  db_.on_migrate = [&] { suspended_when_migrating = CronJob().spec_replicas; };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(suspended_when_migrating, 0);  // spec.suspend true while the SQL ran
  ASSERT_EQ(St().workloads.size(), 3u);
  EXPECT_EQ(St().workloads[2].kind, core::kKindCronJob);
  EXPECT_EQ(St().workloads[2].original_replicas, 1);  // originalSuspend: false
  EXPECT_EQ(CronJob().spec_replicas, 1);              // spec.suspend false again
  // Recorded (the status write of Planning) before the first suspend.
  EXPECT_LT(effects_.IndexOf("status:ScalingDown"), effects_.IndexOf("scale:CronJob/nightly-report=0"));
}

TEST_F(ReconcilerWritersTest, CronJobSuspendedBeforeTheRunStaysSuspended) {
  AddCronJob(/*suspended=*/true, /*running_jobs=*/0);
  db_.fail_at_step = 0;  // rolled back: the restore still applies
  RunUntilDone();
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().workloads[2].original_replicas, 0);
  EXPECT_EQ(CronJob().spec_replicas, 0);
  EXPECT_EQ(effects_.Count("scale:CronJob/nightly-report=1"), 0);
}

TEST_F(ReconcilerWritersTest, RunningJobIsWaitedForBeforeMigrating) {
  AddCronJob(false, /*running_jobs=*/1);
  kube_.auto_drain = false;
  for (int i = 0; i < 6; ++i) {
    ReconcileResult r = Reconcile();
    ASSERT_TRUE(r.requeue_after.has_value());
    // Only the Deployments' pods go; the Job keeps running.
    kube_.Workload(kNs, "Deployment", "backend").status_replicas = 0;
    kube_.Workload(kNs, "Deployment", "celery-worker").status_replicas = 0;
    clock_.Advance(*r.requeue_after);
  }
  EXPECT_EQ(St().phase, Phase::kDraining);
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(effects_.Count("delete-jobs:"), 0);  // jobs: Wait (the default) deletes nothing
  CronJob().status_replicas = 0;                // the Job completed
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(CronJob().spec_replicas, 1);
}

TEST_F(ReconcilerWritersTest, JobsDeleteDeletesTheRunningJobsAndMigrates) {
  AddCronJob(false, /*running_jobs=*/2, core::kJobsDelete);
  kube_.auto_drain = false;
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_GE(effects_.Count("delete-jobs:CronJob/nightly-report"), 1);
  EXPECT_LT(effects_.IndexOf("delete-jobs:CronJob/nightly-report"), effects_.IndexOf("db:migrate"));
  EXPECT_EQ(CronJob().spec_replicas, 1);
}

TEST_F(ReconcilerWritersTest, KedaScaledObjectIsPausedAndItsAnnotationRemovedAfter) {
  AddScaledObject(std::nullopt);
  std::optional<std::string> paused_when_migrating;
  db_.on_migrate = [&] { paused_when_migrating = kube_.PausedReplicasOf(kNs, "backend-queue"); };
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(paused_when_migrating, std::optional<std::string>("0"));
  ASSERT_EQ(St().autoscalers.size(), 1u);
  EXPECT_EQ(St().autoscalers[0].kind, core::kKindScaledObject);
  EXPECT_EQ(St().autoscalers[0].workload, "Deployment/backend");
  EXPECT_FALSE(St().autoscalers[0].original_paused_replicas.has_value());
  EXPECT_EQ(kube_.PausedReplicasOf(kNs, "backend-queue"), std::nullopt);
  EXPECT_LT(effects_.IndexOf("status:ScalingDown"), effects_.IndexOf("keda-paused:backend-queue=0"));
  // Resumed after the replicas came back.
  EXPECT_LT(effects_.IndexOf("scale:Deployment/backend=2"),
            effects_.IndexOf("keda-paused:backend-queue=<none>"));
}

TEST_F(ReconcilerWritersTest, KedaPausedBeforeTheRunGetsItsOwnValueBackAfterAFailure) {
  AddScaledObject(std::string("3"));
  db_.fail_at_step = 1;
  RunUntilDone();
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().autoscalers[0].original_paused_replicas, std::optional<std::string>("3"));
  EXPECT_EQ(kube_.PausedReplicasOf(kNs, "backend-queue"), std::optional<std::string>("3"));
}

TEST_F(ReconcilerWritersTest, RestoreAfterACrashIsIdempotent) {
  AddScaledObject(std::nullopt);
  AddCronJob(false, 0);
  effects_.CrashOn("keda-paused:backend-queue=<none>", /*after_effect=*/true);
  EXPECT_THROW(RunUntilDone(), SimulatedCrash);
  effects_.ClearCrash();
  reconciler_ = NewReconciler();  // a restarted controller, from status only
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  EXPECT_EQ(kube_.PausedReplicasOf(kNs, "backend-queue"), std::nullopt);
  EXPECT_EQ(CronJob().spec_replicas, 1);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerWritersTest, HpaIsRecordedAndNeverWritten) {
  AddHpa(2);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kSucceeded);
  ASSERT_EQ(St().autoscalers.size(), 1u);
  EXPECT_EQ(St().autoscalers[0].kind, core::kKindHorizontalPodAutoscaler);
  EXPECT_EQ(effects_.Count("keda-paused:"), 0);
}

TEST_F(ReconcilerWritersTest, HpaWithMinReplicasZeroRefusesTheRunBeforeAnythingIsTouched) {
  AddHpa(0);
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(St().last_run->reason, rs::kAutoscalerNotPausable);
  EXPECT_NE(St().last_run->message.find("HorizontalPodAutoscaler drawing/backend"),
            std::string::npos);
  ExpectNothingTouched();
}

TEST_F(ReconcilerWritersTest, CronJobResumedDuringTheDrainStopsTheRun) {
  AddCronJob(false, /*running_jobs=*/1);
  kube_.auto_drain = false;
  Reconcile();  // recorded, suspended, draining (the Job runs)
  ASSERT_EQ(St().phase, Phase::kDraining);
  CronJob().spec_replicas = 1;
  kube_.writers["drawing/CronJob/nightly-report"] =
      "manager \"kubectl-patch\" (operation Update, at 2026-12-01T05:00:00Z)";
  kube_.auto_drain = true;
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(St().last_run->reason, rs::kWorkloadFoughtBack);
  EXPECT_NE(St().last_run->message.find("CronJob/nightly-report was resumed (spec.suspend false) "
                                        "during the run by manager \"kubectl-patch\""),
            std::string::npos)
      << St().last_run->message;
  EXPECT_EQ(db_.migrate_calls, 0);
  EXPECT_EQ(CronJob().spec_replicas, 1);
  EXPECT_EQ(Replicas("backend"), 2);
}

TEST_F(ReconcilerWritersTest, WriterScaledUpDuringTheEngineRunCancelsIt) {
  AddScaledObject(std::nullopt);
  db_.hold_runs = true;
  for (int i = 0; i < 20 && db_.held.empty(); ++i) {
    ReconcileResult r = Reconcile();
    kube_.Settle();
    if (r.requeue_after) clock_.Advance(*r.requeue_after);
  }
  ASSERT_EQ(db_.held.size(), 1u);
  FakeWorkload& backend = kube_.Workload(kNs, "Deployment", "backend");
  backend.spec_replicas = 4;
  kube_.writers["drawing/Deployment/backend"] =
      "manager \"test-autoscaler\" (operation Update, subresource scale)";
  Reconcile();
  ASSERT_TRUE(St().run.has_value());
  EXPECT_EQ(St().run->cancel_reason, rs::kWorkloadFoughtBack);
  ASSERT_TRUE(db_.held.begin()->second.control.cancel.has_value());
  RunUntilDone();
  EXPECT_EQ(St().phase, Phase::kFailed);
  EXPECT_EQ(St().last_run->outcome, core::kOutcomeRolledBack);
  EXPECT_EQ(St().last_run->reason, rs::kWorkloadFoughtBack);
  EXPECT_NE(St().last_run->message.find("manager \"test-autoscaler\""), std::string::npos)
      << St().last_run->message;
  EXPECT_EQ(Cond(ct::kStalled).reason, rs::kWorkloadFoughtBack);
  EXPECT_EQ(db_.versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_EQ(Replicas("backend"), 2);
  EXPECT_EQ(Replicas("celery-worker"), 3);
  EXPECT_EQ(kube_.PausedReplicasOf(kNs, "backend-queue"), std::nullopt);
}

}  // namespace schemaop::reconcile
