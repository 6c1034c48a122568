// The end of a run (design §6.3): AbortRun, phases RollingBack and
// ScalingUp. The workloads always come back to the replicas recorded in
// status.workloads, after the intent Restore is written (design §7 rule 1);
// then status.lastRun replaces status.run and the phase says how it ended.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

// The run cannot reach its target: record why (outcome Failed), then
// restore the workloads (phase ScalingUp, intent Restore).
Next Reconciler::Pass::AbortRun(const std::string& reason, const std::string& message) {
  SchemaMigrationStatus next = obj_.status;
  next.run->outcome = core::kOutcomeFailed;
  next.run->reason = reason;
  next.run->message = message;
  next.phase = Phase::kScalingUp;
  SetIntent(next, core::kIntentRestore);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kWarning, reason, message);
  return Next::Continue();
}

// RollingBack records that the engine rolled the run back (inside the
// Migrate call); the workloads come back next.
Next Reconciler::Pass::FinishRollback() {
  if (JobRun()) {
    return UndoWithJob();  // job_run.cpp: the downgrade Job, or the backup
  }
  SchemaMigrationStatus next = obj_.status;
  next.phase = Phase::kScalingUp;
  SetIntent(next, core::kIntentRestore);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Next::Continue();
}

// The intent Restore (when there are workloads), then every recorded
// workload back to its original replicas (a deleted one is skipped; a
// CronJob to its recorded spec.suspend), then the recorded autoscalers.
// Continue when all are restored. A failed restore is retried as a
// transient problem of the run, or, `deleting`, as an API error.
Next Reconciler::Pass::RestoreWorkloads(bool deleting) {
  if (!obj_.status.workloads.empty()) {
    if (Status s = RecordIntent(core::kIntentRestore); !s.ok()) {
      return KubeFailure(s, "Recording the restore in status");
    }
  }
  for (const core::WorkloadStatus& w : obj_.status.workloads) {
    Status s = r_.kube_.SetReplicas(ns(), w.Ref(), w.original_replicas);
    if (!s.ok() && s.code() != Code::kNotFound) {
      const std::string what = "Restoring " + WorkloadName(w.kind, w.name);
      return deleting ? KubeFailure(s, what) : RetryRun(KubeProblem(s, what));
    }
  }
  // After the replicas: an autoscaler resumed first could act on the
  // workload at 0 (design §6.8).
  if (Status s = ResumeAutoscalers(); !s.ok()) {
    const std::string what = "Restoring the KEDA ScaledObjects of the workloads";
    return deleting ? KubeFailure(s, what) : RetryRun(KubeProblem(s, what));
  }
  return Next::Continue();
}

core::LastRunStatus Reconciler::Pass::LastRunOf(const core::RunStatus& run,
                                                core::Timestamp now) const {
  core::LastRunStatus last;
  last.from = core::FormatVersions(run.from_versions);
  last.to = core::FormatVersions(run.target_versions);
  last.start_time = run.start_time;
  last.finish_time = now;
  // The writers came back before the contract phase (design §3.1): the
  // write-downtime ends there.
  const core::Timestamp restored = run.scale_up_time ? *run.scale_up_time : now;
  last.downtime_seconds =
      run.scale_down_time
          ? static_cast<double>(restored.unix_millis - run.scale_down_time->unix_millis) / 1000.0
          : 0.0;
  last.phase_seconds = run.phase_seconds;
  // An outcome is always decided before ScalingUp; an empty one means the
  // status was edited by hand, and is not reported as a success.
  last.outcome = run.outcome.empty() ? core::kOutcomeFailed : run.outcome;
  last.reason = run.outcome == core::kOutcomeSucceeded ? "" : run.reason;
  last.message = run.message;
  last.generation = run.generation;
  last.migrations_digest = run.migrations_digest;
  last.retry = run.retry;
  last.job_log = run.job ? run.job->log : std::string();
  return last;
}

// ScalingUp (and a run found in Succeeded or Failed): intent write, each
// workload to its original replicas, then lastRun from run, run removed,
// phase Succeeded, Failed (Stalled) or Pending (MigrationsChanged: plan
// again).
Next Reconciler::Pass::ScaleUpAndFinish() {
  if (Next restored = RestoreWorkloads(/*deleting=*/false); restored.stops()) {
    return restored;
  }
  if (std::optional<Next> contract = BeginContracting()) {
    return std::move(*contract);
  }
  return FinishRun(/*restored_now=*/true);
}

Next Reconciler::Pass::FinishRun(bool restored_now) {
  const core::RunStatus run = *obj_.status.run;
  SchemaMigrationStatus next = obj_.status;
  next.run.reset();
  next.observed_generation = run.generation;
  const core::LastRunStatus last = LastRunOf(run, Now());
  next.last_run = last;
  MarkRetrySeen(next);
  if (!next.workloads.empty() && restored_now) {
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kWorkloadsRestored,
            "Workloads restored to their recorded replicas: " + WorkloadList(next.workloads, true) +
                ".");
  }
  const bool replan = last.reason == rs::kMigrationsChanged;
  if (last.outcome == core::kOutcomeSucceeded) {
    next.phase = Phase::kSucceeded;
    SetAtTargetConditions(next);
  } else if (replan) {
    // Not stalled: the next pass plans a new run (kstatus: still
    // reconciling towards the spec).
    next.phase = Phase::kPending;
    SetKstatus(next, ConditionStatus::kFalse, ConditionStatus::kTrue, ConditionStatus::kFalse,
               run.reason, run.message);
  } else {
    next.phase = Phase::kFailed;
    SetKstatus(next, ConditionStatus::kFalse, ConditionStatus::kFalse, ConditionStatus::kTrue,
               run.reason.empty() ? rs::kMigrationFailed : run.reason,
               run.message.empty() ? "The run failed." : run.message);
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  if (!obj_.status.workloads.empty() && restored_now) {
    Event(EventType::kNormal, rs::kScaledUp,
          "Restored " + WorkloadList(obj_.status.workloads, true) + " replicas");
  }
  r_.metrics_.CountRun(last.outcome);
  r_.metrics_.ObserveDowntimeSeconds(last.downtime_seconds);
  if (generation() != run.generation || replan) {
    // The spec changed during the run, or the files it was planned with
    // did: plan again.
    return Requeue(std::chrono::milliseconds(0), "requeue");
  }
  if (last.outcome == core::kOutcomeSucceeded) {
    return Finished("success");
  }
  return Stalled();
}

}  // namespace schemaop::reconcile
