// Deletion (design §6.3, "Deletion"): the finalizer schemaop.dev/finalizer
// is added when a run starts. An object deleted mid-run gets its workloads
// back (after the intent Restore) before the finalizer is removed; an
// engine run left interrupted is closed by the recovery of the next run on
// that database.
#include <optional>
#include <string>

#include "core/job_spec.h"
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
    const std::string name = obj_.status.run->job->name;
    auto job = r_.kube_.GetJob(ns(), name);
    if (job.ok() && job.value().phase == JobState::Phase::kActive) {
      return Requeue(r_.options_.drain_poll, "requeue");
    }
    // The Job ended or is gone (a foreground delete of the object removes
    // it first): its killed pod's statement may still run in the server.
    // Invariant (design §10.4): no session of a Job that writes is left
    // when the writers come back.
    const std::string& verb = obj_.status.run->job->verb;
    if (verb == core::kVerbUpgrade || verb == core::kVerbDowngrade) {
      if (std::optional<Next> ended = EndSessionsOnDeletion(name)) {
        return std::move(*ended);
      }
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

// The sessions of Job `job` ended before the writers come back. A database
// that cannot be reached is retried as a run would be; one that cannot be
// named any more (the Secret went with the namespace, say) must not keep
// the application at zero: the writers come back, and a Warning names the
// query that ends what may be left.
std::optional<Next> Reconciler::Pass::EndSessionsOnDeletion(const std::string& job) {
  if (std::optional<Problem> problem = EnsureInputs()) {
    if (problem->transient) {
      return RetryRun(*problem);
    }
    Event(EventType::kWarning, rs::kWorkloadsRestored,
          "Deleted mid-run after Job " + job + " ended; its database sessions could not be "
          "checked (" + problem->message + "). The writers are restored; end what may be "
          "left with: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
          "application_name = '" + job + "'");
    return std::nullopt;
  }
  return EndJobSessions(job);
}

}  // namespace schemaop::reconcile
