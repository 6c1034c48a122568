// Deletion (design §6.3, "Deletion"): the finalizer schemaop.dev/finalizer
// is added when a run starts. An object deleted mid-run gets its workloads
// back (after the intent Restore) before the finalizer is removed; an
// engine run left interrupted is closed by the recovery of the next run on
// that database.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

Next Reconciler::Pass::HandleDeletion() {
  if (!obj_.metadata.HasFinalizer(core::kFinalizer)) {
    return Finished("success");
  }
  if (std::optional<Next> wait = WaitForRunOnDeletion()) {
    return std::move(*wait);
  }
  if (JobRun() && obj_.status.run->job && obj_.status.phase != Phase::kPlanning &&
      obj_.status.phase != Phase::kPending) {
    // A migration or downgrade Job may still write: the writers come back
    // only after it ended (design §10.4).
    auto job = r_.kube_.GetJob(ns(), obj_.status.run->job->name);
    if (job.ok() && job.value().phase == JobState::Phase::kActive) {
      return Requeue(r_.options_.drain_poll, "requeue");
    }
  }
  if (obj_.status.run) {
    // Never leave the application at zero because its SchemaMigration went
    // away.
    if (Next restored = RestoreWorkloads(/*deleting=*/true); restored.stops()) {
      return restored;
    }
    if (!obj_.status.workloads.empty()) {
      Event(EventType::kNormal, rs::kScaledUp,
            "Deleted mid-run: restored " + WorkloadList(obj_.status.workloads, true) + " replicas");
    }
  }
  auto rv = r_.kube_.RemoveFinalizer(obj_, core::kFinalizer);
  if (!rv.ok() && rv.status().code() != Code::kNotFound) {
    return KubeFailure(rv.status(), "Removing the finalizer");
  }
  return Finished("success");
}

}  // namespace schemaop::reconcile
