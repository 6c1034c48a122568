// Phase Rehearsing (design §6.7): with spec.rehearse, the plan of the run
// is rehearsed on a scratch copy of the database before anything is
// scaled. The result is recorded in status.rehearsal, keyed by the plan
// digest (status.run.planDigest), so one plan is rehearsed once; a failed
// rehearsal ends the run through AbortRun (RehearsalFailed) with no
// workload recorded, so none is touched, and Start does not retry that
// plan for that generation (RehearsalBlocks).
//
// The rehearsal runs on a run thread like a migration (design §6.5, §6.7):
// the pass starts it and later passes observe it, so a rehearsal that takes
// as long as the copy and both runs leaves the reconcile workers free.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

bool Reconciler::Pass::RehearsalPending() const {
  if (!obj_.spec.rehearse || !obj_.status.run) {
    return false;
  }
  const auto& last = obj_.status.rehearsal;
  // A Job run's plan digest covers the plan Job's output, not the image or
  // the undo command: its rehearsal also holds for one generation only.
  return !(last && last->plan_digest == obj_.status.run->plan_digest &&
           last->outcome == core::kOutcomeSucceeded &&
           (!JobRun() || last->generation == obj_.status.run->generation));
}

bool Reconciler::Pass::RehearsalBlocks(const std::string& plan_digest) const {
  const auto& last = obj_.status.rehearsal;
  // A Job run's plan digest is known only after its plan Job (Start sees
  // none): for the Job executor a failed rehearsal blocks the generation.
  return obj_.spec.rehearse && last && last->outcome == core::kOutcomeFailed &&
         (last->plan_digest == plan_digest ||
          (obj_.spec.executor == core::kExecutorJob && !RetryRequested())) &&
         last->generation == generation();
}

// Planning -> Rehearsing: recorded before the engine is called, so the
// phase is visible while the rehearsal runs.
Next Reconciler::Pass::BeginRehearsal() {
  SchemaMigrationStatus next = obj_.status;
  next.phase = Phase::kRehearsing;
  const std::string message =
      "Rehearsing the plan on a scratch copy of the database; nothing is scaled yet.";
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kRehearsing, message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kRehearsing, message);
  return Next::Continue();
}

Next Reconciler::Pass::Rehearse() {
  if (obj_.spec.suspend || !RehearsalPending()) {
    if (JobRun()) {  // a rehearsal Job, its Secret and copy go first (§10.9)
      if (std::optional<Next> wait = CleanUpJobRehearsal()) {
        return std::move(*wait);
      }
    }
    return Plan();  // suspended, or rehearsed by an earlier pass
  }
  if (JobRun()) {
    return RehearseWithJob();  // job_rehearse.cpp
  }
  if (auto ticket = r_.db_.FindRehearsal(IdentityOfRun())) {
    return ObserveRehearsal(std::move(*ticket));
  }
  if (auto problem = EnsureInputs()) {
    return StopForInputProblem(*problem);
  }
  const core::RunStatus& run = *obj_.status.run;
  return ObserveRehearsal(r_.db_.StartRehearse(inputs_->target, run.target_versions,
                                               IdentityOfRun(), run.backup_required, Key()));
}

// A rehearsal on a run thread: waiting for a thread or running, the pass
// says so and comes back; finished, its result is recorded.
Next Reconciler::Pass::ObserveRehearsal(RehearsalTicket ticket) {
  if (ticket.state != RunTicket::State::kFinished) {
    SchemaMigrationStatus next = obj_.status;
    const bool waiting = ticket.state == RunTicket::State::kWaiting;
    const std::string message =
        waiting ? "Waiting for a free run thread to rehearse the plan: " +
                      std::to_string(ticket.runs_in_progress) +
                      " run(s) in progress, the limit is " + std::to_string(ticket.max_runs) +
                      " (--max-concurrent-runs). Nothing is scaled yet."
                : "Rehearsing the plan on a scratch copy of the database; nothing is scaled yet.";
    const std::string reason = waiting ? rs::kWaitingForRunSlot : rs::kRehearsing;
    SetCond(next, ct::kReady, ConditionStatus::kFalse, reason, message);
    SetCond(next, ct::kReconciling, ConditionStatus::kTrue, reason, message);
    if (Status s = Write(std::move(next)); !s.ok()) {
      return WriteFailed(s);
    }
    return Requeue(r_.options_.run_poll, "requeue");
  }
  const core::Result<RehearseResult>& result = *ticket.result;
  if (!result.ok()) {
    Problem problem = DatabaseProblem(result.status(), "Rehearsal");
    if (problem.transient) {
      return RetryRun(problem);
    }
    return RecordRehearsal(false, 0, 0, "Rehearsal refused: " + result.status().message());
  }
  const RehearseResult& r = result.value();
  if (!r.succeeded && r.failure.code() == Code::kMigrationsChanged) {
    return AbortRun(rs::kMigrationsChanged, "Rehearsal: " + r.failure.message() + ". Planning again.");
  }
  return RecordRehearsal(r.succeeded, r.sql_seconds, r.predicted_downtime_seconds,
                         r.succeeded ? std::string() : r.failure.message());
}

// status.rehearsal, then on success back to Planning (the workloads are
// recorded next), on failure the end of the run.
Next Reconciler::Pass::RecordRehearsal(bool succeeded, double sql_seconds, double downtime,
                                       const std::string& failure, bool scratch_dropped) {
  const core::RunStatus& run = *obj_.status.run;
  SchemaMigrationStatus next = obj_.status;
  core::RehearsalStatus rehearsal;
  rehearsal.outcome = succeeded ? core::kOutcomeSucceeded : core::kOutcomeFailed;
  rehearsal.plan_digest = run.plan_digest;
  rehearsal.generation = run.generation;
  rehearsal.from = core::FormatVersions(run.from_versions);
  rehearsal.to = core::FormatVersions(run.target_versions);
  rehearsal.sql_seconds = sql_seconds;
  rehearsal.predicted_downtime_seconds = downtime;
  rehearsal.finish_time = Now();
  const std::string summary = "from " + rehearsal.from + " to " + rehearsal.to + ": " +
                              std::to_string(sql_seconds) + " s SQL, predicted write-downtime " +
                              std::to_string(downtime) + " s";
  if (JobRun()) {
    next.run->job.reset();  // the last rehearsal Job; the run's are named anew
  }
  if (succeeded) {
    rehearsal.message = "Rehearsed " + summary +
                        (JobRun() ? " (the forward Job's time on the copy)" : "") +
                        (scratch_dropped ? "; the scratch copy was dropped."
                                         : "; the scratch copy could not be dropped (the next "
                                           "rehearsal drops it).");
    next.phase = Phase::kPlanning;
  } else {
    rehearsal.reason = rs::kRehearsalFailed;
    rehearsal.message = failure;
  }
  next.rehearsal = rehearsal;
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  if (succeeded) {
    Event(EventType::kNormal, rs::kRehearsed, rehearsal.message);
    return Next::Continue();
  }
  if (JobRun()) {
    return AbortRun(rs::kRehearsalFailed,
                    "The rehearsal by the tool's Jobs on a scratch copy failed: " + failure +
                        ". Nothing was scaled. Fix the migration or spec.job, then change the "
                        "spec, or set the annotation " + std::string(core::kRetryAnnotation) +
                        " to rehearse again.");
  }
  return AbortRun(rs::kRehearsalFailed,
                  "The rehearsal on a scratch copy failed: " + failure +
                      ". Nothing was scaled and the database was not changed. Fix the "
                      "migrations (schemaop rehearse TARGET shows the same locally); a new plan "
                      "is rehearsed again.");
}

}  // namespace schemaop::reconcile
