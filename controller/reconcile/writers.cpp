// Writers besides the replicas, and the ones who fight back (design §6.8):
// the autoscalers of the listed workloads are recorded in status.autoscalers
// with the workloads (before anything is touched), paused with the
// scale-down and restored to exactly the recorded state with the workloads;
// a CronJob's running Jobs are deleted during the drain when its
// spec.workloads entry says jobs: Delete; and a writer someone else scales
// up during the run stops the run (WorkloadFoughtBack), naming the
// managedFields manager of that write.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

const char kFoughtBackFix[] =
    "Pause or reconfigure that writer for the migration (an HPA or KEDA ScaledObject not "
    "targeting the listed workload, a GitOps self-heal without ignoreDifferences on "
    "spec.replicas, a script), then change the spec or annotate schemaop.dev/retry to run "
    "again.";

// Appends the autoscalers targeting `w` (recorded with w, never again in
// this run). nullopt: recorded; else what Planning returns (an HPA that a
// target at 0 replicas does not disable refuses the run, nothing touched).
std::optional<Next> Reconciler::Pass::RecordAutoscalers(SchemaMigrationStatus& next,
                                                        const core::WorkloadRef& w) {
  if (w.kind == core::kKindCronJob) {
    return std::nullopt;  // a CronJob has no scale subresource to autoscale
  }
  auto found = r_.kube_.ListAutoscalersOf(ns(), w.kind, w.name);
  if (!found.ok()) {
    return RetryRun(KubeProblem(found.status(), "Listing the autoscalers of " +
                                                    WorkloadName(w.kind, w.name)));
  }
  for (const AutoscalerInfo& a : found.value()) {
    if (a.kind == core::kKindHorizontalPodAutoscaler && a.min_replicas == 0) {
      return AbortRun(rs::kAutoscalerNotPausable,
                      "HorizontalPodAutoscaler " + ns() + "/" + a.name + " targets " +
                          WorkloadName(w.kind, w.name) +
                          " with minReplicas 0 (HPAScaleToZero): such an HPA keeps scaling a "
                          "target at 0 replicas, so the run cannot hold the writers at zero. "
                          "Nothing was changed. Set its minReplicas to 1 or more for the "
                          "migration (or delete it), then change the spec or annotate "
                          "schemaop.dev/retry to run again.");
    }
    core::AutoscalerStatus recorded;
    recorded.kind = a.kind;
    recorded.name = a.name;
    recorded.workload = WorkloadName(w.kind, w.name);
    recorded.original_paused_replicas = a.paused_replicas;
    next.autoscalers.push_back(std::move(recorded));
  }
  return std::nullopt;
}

// With the scale-down (after the intent ScaleDown): each recorded KEDA
// ScaledObject gets paused-replicas "0". An HPA is not written: its target
// at 0 replicas disables it ("scaling is disabled since the replica count of
// the target is zero", kube-controller-manager, for minReplicas >= 1).
core::Status Reconciler::Pass::PauseAutoscalers() {
  for (const core::AutoscalerStatus& a : obj_.status.autoscalers) {
    if (a.kind != core::kKindScaledObject) {
      continue;
    }
    Status s = r_.kube_.SetScaledObjectPausedReplicas(ns(), a.name, std::string("0"));
    if (!s.ok() && s.code() != Code::kNotFound) {
      return s;
    }
  }
  return Status::Ok();
}

// After the workloads are restored: each ScaledObject's annotation back to
// its recorded value (removed when it had none). Idempotent.
core::Status Reconciler::Pass::ResumeAutoscalers() {
  for (const core::AutoscalerStatus& a : obj_.status.autoscalers) {
    if (a.kind != core::kKindScaledObject) {
      continue;
    }
    Status s = r_.kube_.SetScaledObjectPausedReplicas(ns(), a.name, a.original_paused_replicas);
    if (!s.ok() && s.code() != Code::kNotFound) {
      return s;
    }
  }
  return Status::Ok();
}

// Draining a CronJob listed with jobs: Delete: its running Jobs go, with
// their pods (Foreground); with Wait (the default) the drain waits for them.
core::Status Reconciler::Pass::DeleteJobsIfAsked(const core::WorkloadStatus& w) {
  if (w.kind != core::kKindCronJob || !obj_.status.run) {
    return Status::Ok();
  }
  for (const core::WorkloadRef& ref : obj_.status.run->workloads) {
    if (ref.kind == w.kind && ref.name == w.name && ref.jobs == core::kJobsDelete) {
      Status s = r_.kube_.DeleteRunningJobsOf(ns(), w.name);
      return s.code() == Code::kNotFound ? Status::Ok() : s;
    }
  }
  return Status::Ok();
}

// The WorkloadFoughtBack message for `w` found at `replicas` after the
// scale-down: what happened, who did it (managedFields), and the fix.
std::string Reconciler::Pass::FoughtBackMessage(const core::WorkloadStatus& w,
                                                std::int32_t replicas) {
  auto writer = r_.kube_.ReplicasWriterOf(ns(), w.Ref());
  const std::string who =
      writer.ok() ? writer.value()
                  : "a writer that could not be read (" + writer.status().message() + ")";
  const std::string what = w.kind == core::kKindCronJob
                               ? WorkloadName(w.kind, w.name) + " was resumed (spec.suspend false)"
                               : WorkloadName(w.kind, w.name) + " was scaled to " +
                                     std::to_string(replicas) + " replicas";
  return what + " during the run by " + who + ", after the controller had set it to zero";
}

// A run on a run thread: a writer scaled up since the drain cancels it (the
// engine rolls back what it did, design §4.7), recorded in status.run first.
// `cancelled`: the cancel was recorded now.
std::optional<Next> Reconciler::Pass::CancelIfFoughtBack(bool& cancelled) {
  cancelled = false;
  if (!obj_.status.run->cancel_reason.empty()) {
    return std::nullopt;
  }
  for (const core::WorkloadStatus& w : obj_.status.workloads) {
    auto scale = r_.kube_.GetScale(ns(), w.Ref());
    if (!scale.ok() || scale.value().spec_replicas == 0) {
      continue;  // unreadable now: the next poll reads it again
    }
    if (Status s = RecordCancel(rs::kWorkloadFoughtBack,
                                FoughtBackMessage(w, scale.value().spec_replicas));
        !s.ok()) {
      return WriteFailed(s);
    }
    cancelled = true;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace schemaop::reconcile
