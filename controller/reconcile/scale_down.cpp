// Phases ScalingDown and Draining (design §6.3): the writers go to 0 after
// the intent ScaleDown is recorded, and the run waits until their pods are
// gone; before migrating, Migrate re-checks them (FindRunningWriters) and
// sends the run back here when one came back.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

// ScalingDown: intent write (unless this pass wrote it), then replicas 0.
Next Reconciler::Pass::ScaleDown() {
  if (Status s = RecordIntent(core::kIntentScaleDown); !s.ok()) {
    return KubeFailure(s, "Recording the scale-down in status");
  }
  if (Status s = PauseAutoscalers(); !s.ok()) {
    return RetryRun(KubeProblem(s, "Pausing the KEDA ScaledObjects of the workloads"));
  }
  for (const core::WorkloadStatus& w : obj_.status.workloads) {
    Status s = r_.kube_.SetReplicas(ns(), w.Ref(), 0);
    if (!s.ok() && s.code() != Code::kNotFound) {  // a deleted writer writes nothing
      return RetryRun(KubeProblem(s, "Scaling " + WorkloadName(w.kind, w.name) + " to 0"));
    }
  }
  SchemaMigrationStatus next = obj_.status;
  next.phase = Phase::kDraining;
  if (!next.run->drain_start_time) {
    next.run->drain_start_time = Now();
  }
  SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kDraining,
          "Waiting for the pods of " + WorkloadList(next.workloads, false) +
              " to terminate (drainTimeoutSeconds " +
              std::to_string(obj_.spec.drain_timeout_seconds) + ").");
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kScalingDown,
        "Scaled " + WorkloadList(obj_.status.workloads, true) + " to 0 replicas");
  return Next::Continue();
}

// Draining: reads the scale subresources from the API server; a workload
// scaled up again stops the run (WorkloadFoughtBack); a CronJob's running
// Jobs are deleted when it is listed with jobs: Delete; waits until no pod
// (no running Job) is left, up to drainTimeoutSeconds (then AbortRun,
// DrainTimeout).
Next Reconciler::Pass::Drain() {
  std::int64_t pods_left = 0;
  std::string waiting_for;
  for (const core::WorkloadStatus& w : obj_.status.workloads) {
    auto scale = r_.kube_.GetScale(ns(), w.Ref());
    if (!scale.ok()) {
      if (scale.status().code() == Code::kNotFound) {
        continue;
      }
      return RetryRun(KubeProblem(scale.status(), "Reading the scale of " + w.kind + "/" + w.name));
    }
    if (scale.value().spec_replicas != 0) {
      // Someone (an autoscaler, a GitOps self-heal, a user) scaled it back
      // up after the scale-down: the run stops safely (design §6.8).
      return FoughtBack(w, scale.value().spec_replicas);
    }
    if (scale.value().status_replicas > 0) {
      if (Status s = DeleteJobsIfAsked(w); !s.ok()) {
        return RetryRun(KubeProblem(s, "Deleting the running Jobs of " +
                                           WorkloadName(w.kind, w.name)));
      }
      pods_left += scale.value().status_replicas;
      waiting_for += (waiting_for.empty() ? "" : ", ") + WorkloadName(w.kind, w.name);
    }
  }
  const auto& run = *obj_.status.run;
  if (pods_left > 0) {
    const int timeout_seconds = DrainTimeoutSeconds();
    const core::Timestamp started = run.drain_start_time.value_or(Now());
    if (Now().unix_millis - started.unix_millis >= std::int64_t{timeout_seconds} * 1000) {
      return AbortRun(rs::kDrainTimeout,
                      "The pods of " + waiting_for + " did not terminate within " +
                          std::to_string(timeout_seconds) + "s (" + std::to_string(pods_left) +
                          " left). Nothing was migrated and the workloads were restored. Check "
                          "PodDisruptionBudgets, finalizers and terminationGracePeriodSeconds, "
                          "or raise spec.drainTimeoutSeconds, then change the spec to retry.");
    }
    return Requeue(r_.options_.drain_poll, "requeue");
  }
  SchemaMigrationStatus next = obj_.status;
  next.phase = run.backup_required ? Phase::kBackingUp : Phase::kMigrating;
  SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kTrue, rs::kScaledDown,
          "All pods of " + WorkloadList(next.workloads, false) + " have terminated.");
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kScaledDown,
        "All pods of " + WorkloadList(obj_.status.workloads, false) + " have terminated");
  if (obj_.status.phase == Phase::kMigrating) {
    MigratingEvent();
  }
  return Next::Continue();
}

// Between the drain and the migration (a backup can take minutes) a GitOps
// self-heal, an autoscaler or a user may have scaled a writer back up.
// `running` lists the writers with replicas or pods ("Kind/name (N pods)"),
// `fought_back` describes the first one scaled up (replicas not 0; empty:
// none); a Problem only when the API could not be read.
std::optional<Problem> Reconciler::Pass::FindRunningWriters(std::string& running,
                                                            std::string& fought_back) {
  running.clear();
  fought_back.clear();
  for (const core::WorkloadStatus& w : obj_.status.workloads) {
    auto scale = r_.kube_.GetScale(ns(), w.Ref());
    if (!scale.ok()) {
      if (scale.status().code() == Code::kNotFound) {
        continue;  // a deleted writer writes nothing
      }
      return KubeProblem(scale.status(), "Reading the scale of " + WorkloadName(w.kind, w.name));
    }
    if (scale.value().spec_replicas != 0 && fought_back.empty()) {
      fought_back = FoughtBackMessage(w, scale.value().spec_replicas);
    }
    if (scale.value().spec_replicas != 0 || scale.value().status_replicas > 0) {
      running += (running.empty() ? "" : ", ") + WorkloadName(w.kind, w.name) + " (" +
                 std::to_string(scale.value().status_replicas) + " pods)";
    }
  }
  return std::nullopt;
}

// WorkloadFoughtBack before the engine ran: nothing migrated, the writers
// (and autoscalers) are restored through AbortRun.
Next Reconciler::Pass::FoughtBack(const core::WorkloadStatus& w, std::int32_t replicas) {
  return AbortRun(rs::kWorkloadFoughtBack,
                  FoughtBackMessage(w, replicas) +
                      ". The run stopped before migrating: nothing was migrated and the "
                      "workloads were restored. " + kFoughtBackFix);
}

// Pods left with the replicas at 0 (not a fight): the run goes
// back to ScalingDown (scale to 0, drain again, retake the backup, since
// writes may have landed after it) instead of migrating under live writers.
Next Reconciler::Pass::Redrain(const std::string& running) {
  const std::string message = running +
                              " scaled up again after the drain (by a user, an autoscaler or a "
                              "GitOps sync); scaling to 0 again before migrating.";
  SchemaMigrationStatus next = obj_.status;
  next.phase = Phase::kScalingDown;
  next.run->drain_start_time.reset();  // a new drain gets its whole timeout
  SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kScalingDown, message);
  if (next.run->backup_required) {
    SetCond(next, ct::kBackupReady, ConditionStatus::kUnknown, rs::kBackingUp,
            "The backup is taken again after the new drain.");
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kWarning, rs::kScalingDown, message);
  return Next::Continue();
}

}  // namespace schemaop::reconcile
