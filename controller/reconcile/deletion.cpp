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
