// Deletion (design §6.3, "Deletion"): the finalizer schemaop.dev/finalizer
// is added when a run starts. An object deleted mid-run gets its workloads
// back (after the intent Restore) before the finalizer is removed; an
// engine run left interrupted is closed by the recovery of the next run on
// that database.
#include <cstdint>
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
    if (!job.ok() && job.status().code() != Code::kNotFound) {
      return KubeFailure(job.status(), "Reading Job " + name);  // it may still run
    }
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
  if (JobRun() && obj_.status.phase == Phase::kRehearsing) {
    // A rehearsal's copy held by this process (design §10.9); its Jobs and
    // Secret go with the object (owner references).
    (void)r_.db_.DropJobScratch("rehearsal/" + IdentityOfRun().Key());
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

// The sessions of Job `job` ended before the writers come back. Deletion
// never keeps the application at zero for good: while the database cannot
// be reached (or named: its Secret went first, say) the pass backs off,
// writing nothing to the deleting object, for at most the drain timeout
// after the deletion; then the writers come back and a Warning gives the
// query that ends what may be left.
std::optional<Next> Reconciler::Pass::EndSessionsOnDeletion(const std::string& job) {
  Status ended = Status::Ok();
  if (std::optional<Problem> problem = EnsureInputs()) {
    ended = Status(Code::kNotFound, problem->message);
  } else {
    ended = r_.db_.EndJobSessions(inputs_->target, job);
  }
  if (ended.ok()) {
    return std::nullopt;
  }
  const int timeout_seconds = DrainTimeoutSeconds();
  const core::Timestamp deleted = obj_.metadata.deletion_timestamp.value_or(Now());
  if (Now().unix_millis - deleted.unix_millis < std::int64_t{timeout_seconds} * 1000) {
    return Backoff(Problem{rs::kDatabaseUnreachable,
                           "Ending the database sessions of Job " + job +
                               " before the writers come back: " + ended.message(),
                           true, ended});
  }
  Event(EventType::kWarning, kJobSessionsUnchecked,
        "Deleted mid-run after Job " + job + " ended; its database sessions could not be "
        "ended within " + std::to_string(timeout_seconds) + "s (" + ended.message() +
        "). The writers are restored; end what may be left with: SELECT "
        "pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + job +
        "'");
  return std::nullopt;
}

}  // namespace schemaop::reconcile
