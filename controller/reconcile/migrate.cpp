// Phase Migrating (and Verifying, never written, resumed the same way):
// design §6.3. The writers are re-checked, then DatabasePort::Migrate runs
// the recorded plan under the run identity: the engine migrates, verifies
// and rolls back in one call (design §4.3-§4.7), and replays the outcome of
// a run that already ended (exactly once, design §4.4). The outcome is
// recorded with the intent Restore before any workload comes back.
#include <cstdio>
#include <optional>
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

bool IsCancel(const std::string& reason) {
  return reason == rs::kDowntimeExceeded || reason == rs::kAborted ||
         reason == rs::kWorkloadFoughtBack;
}

std::string FailurePrefix(const std::string& reason) {
  if (IsCancel(reason)) {
    return "Cancelled: ";
  }
  if (reason == rs::kVerificationFailed) {
    return "Verification failed: ";
  }
  if (reason == rs::kSchemaDrift) {
    return "Schema drift: ";
  }
  return "Migration failed: ";
}

std::string FormatSeconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  return buffer;
}

// How a run the engine executed (or replayed) ended, as status records it.
struct RunEnd {
  std::string outcome;
  std::optional<std::string> reason;  // unset: run.reason is left as it is
  std::string message;
  core::Phase phase = core::Phase::kScalingUp;
  core::ConditionStatus verified = core::ConditionStatus::kFalse;
  std::string verified_reason;
  std::string verified_message;
  EventType event_type = EventType::kWarning;
  std::string event_reason;
  std::string event_message;
};

// `current` is the revision the engine left the database at; `halt`:
// failurePolicy Halt.
// `cancel_reason`: status.run.cancelReason (a cancel the engine reports as
// kAborted keeps the reason it was recorded with, e.g. WorkloadFoughtBack).
RunEnd DescribeRunEnd(const MigrateResult& m, const std::string& from, const std::string& to,
                      const std::string& current, bool halt, const std::string& cancel_reason) {
  RunEnd end;
  if (m.outcome == MigrateOutcome::kNothingToDo || m.outcome == MigrateOutcome::kSucceeded) {
    end.outcome = core::kOutcomeSucceeded;
    end.message = "Migrated from " + from + " to " + to + ".";
    end.verified = core::ConditionStatus::kTrue;
    end.verified_reason = rs::kSucceeded;
    end.verified_message = "Verification passed at revision " + current + ".";
    end.event_type = EventType::kNormal;
    end.event_reason = rs::kMigrated;
    end.event_message =
        "Migrated from " + from + " to " + to + " (SQL " + FormatSeconds(m.sql_seconds) + ")";
    return end;
  }
  std::string reason = core::ReasonForCode(m.failure.code(), rs::kMigrationFailed);
  if (reason == rs::kAborted && cancel_reason == rs::kWorkloadFoughtBack) {
    reason = cancel_reason;
  }
  end.reason = reason;
  end.verified_reason = reason;
  if (m.outcome == MigrateOutcome::kRolledBack) {
    end.outcome = core::kOutcomeRolledBack;
    end.message = FailurePrefix(reason) + m.failure.message() +
                  ". The run was rolled back: the database is at " + current +
                  " and the workloads were restored. " +
                  (reason == rs::kSchemaDrift
                       ? "Fix the migration files so the schema matches the one recorded for "
                         "that revision (or set spec.verify.schema: Ignore if the difference is "
                         "intended)"
                   : reason == rs::kDowntimeExceeded
                       ? "Raise spec.maxDowntimeSeconds or make the migration faster"
                   : reason == rs::kAborted ? "When ready"
                   : reason == rs::kWorkloadFoughtBack
                       ? "Pause or reconfigure that writer for the migration (an HPA, a KEDA "
                         "ScaledObject, a GitOps self-heal without ignoreDifferences on "
                         "spec.replicas, a script)"
                                            : "Fix the migration files or spec.verify") +
                  ", then change the spec or the ConfigMap to retry.";
    end.phase = core::Phase::kRollingBack;
    end.event_reason = IsCancel(reason) ? reason : rs::kRolledBack;
  } else {  // kFailed
    end.outcome = core::kOutcomeFailed;
    end.message = FailurePrefix(reason) + m.failure.message() + ". The database was left at " +
                  current + (halt ? " (failurePolicy Halt)" : " (the rollback failed)") +
                  " for inspection; the workloads were restored. Repair the database (schemaop "
                  "current/history/downgrade), then change the spec to retry.";
    end.event_reason = reason;
  }
  end.verified_message = end.message;
  end.event_message = end.message;
  return end;
}

}  // namespace

Next Reconciler::Pass::Migrate() {
  if (JobRun()) {
    return MigrateWithJob();  // job_run.cpp
  }
  // A cancel (schemaop.dev/abort) is recorded before the engine hears it;
  // the downtime budget is part of the control (design §4.7).
  if (auto abort = NewAbortRequest()) {
    if (Status s = RecordCancel(rs::kAborted, "aborted by the annotation " +
                                                  std::string(core::kAnnotationAbort) + "=" +
                                                  *abort);
        !s.ok()) {
      return WriteFailed(s);
    }
  }
  // Exactly once: whatever this status says (a lost write, a 409, a crash
  // after the engine returned), the engine never executes a run of this
  // identity again once its record has ended; it replays the outcome.
  const RunIdentity identity = IdentityOfRun();
  const RunControl control = ControlForRun();
  // A run already on a run thread is only observed (design §6.5): no
  // input or re-drain step while the engine works; a writer scaled up
  // meanwhile cancels it (WorkloadFoughtBack, design §6.8).
  if (auto ticket = r_.db_.FindRun(identity, control)) {
    if (ticket->state == RunTicket::State::kRunning) {
      bool cancelled = false;
      if (std::optional<Next> failed = CancelIfFoughtBack(cancelled)) {
        return std::move(*failed);
      }
      if (cancelled) {
        ticket = r_.db_.FindRun(identity, ControlForRun());
        if (!ticket) {
          return Requeue(std::chrono::milliseconds(0), "requeue");
        }
      }
    }
    return ObserveRun(std::move(*ticket));
  }
  if (auto problem = EnsureInputs()) {
    return StopForInputProblem(*problem);
  }
  if (std::optional<Next> stop = WritersBeforeMigrating()) {
    return std::move(*stop);
  }
  return ObserveRun(r_.db_.StartMigrate(inputs_->target, obj_.status.run->target_versions,
                                        identity, control, Key()));
}

// The writers re-checked before anything migrates (the engine call, or the
// Job executor's migration Job): one scaled up meanwhile ends the run
// (WorkloadFoughtBack) or drains again. nullopt: none is running.
std::optional<Next> Reconciler::Pass::WritersBeforeMigrating() {
  std::string running;
  std::string fought_back;
  if (auto problem = FindRunningWriters(running, fought_back)) {
    return RetryRun(*problem);
  }
  if (!fought_back.empty()) {
    return AbortRun(rs::kWorkloadFoughtBack,
                    fought_back +
                        ". The run stopped before migrating: nothing was migrated and the "
                        "workloads were restored. " + kFoughtBackFix);
  }
  if (!running.empty()) {
    return Redrain(running);  // Advance continues with ScalingDown
  }
  return std::nullopt;
}

// The engine migrated nothing in this call.
Next Reconciler::Pass::MigrateRefused(const Status& status) {
  if (status.code() == Code::kMigrationsChanged) {
    // Pinned files: the plan the engine would run now is not the one
    // recorded at planning. Nothing new is executed; the run ends and the
    // next pass plans again from the current files and database.
    return AbortRun(rs::kMigrationsChanged,
                    "The migrations changed after this run was planned: " + status.message() +
                        ". Nothing was migrated and the workloads were restored; a new run is "
                        "planned from the current files of ConfigMap " +
                        obj_.spec.migrations_config_map +
                        " and the database as it is now. To keep the previous plan, restore the "
                        "ConfigMap.");
  }
  if (status.detail() == kRecoveryDetail) {
    // The database holds an interrupted run the engine could not finish
    // or undo: it may be between revisions, so the writers stay at zero
    // (restoring them onto it could lose writes) until it is repaired.
    return RetryRun(Problem{
        rs::kRecoveryBlocked,
        "The database holds an interrupted run that cannot be recovered: " + status.message() +
            ". The workloads stay at 0 because the database may be between revisions. Restore "
            "the migration files as they were when that run started (ConfigMap " +
            obj_.spec.migrations_config_map +
            "), or repair the database (schemaop history/current, or restore the backup); "
            "retrying with backoff.",
        true, status});
  }
  if (status.detail() == core::kRunLeftOpenDetail) {
    // PostgreSQL, not the controller, ended the run: it is still open in
    // run_log and may have committed part of the plan (design §4.7).
    r_.metrics_.CountDatabaseConnectionLost();
    return RetryRun(Problem{
        rs::kConnectionLost,
        "PostgreSQL ended the run's session before the run finished: " + status.message() +
            ". The workloads stay at 0; the next attempt recovers the run (finishes or undoes "
            "it) before they return; retrying with backoff.",
        true, status});
  }
  Problem problem = DatabaseProblem(status, "Migrating");
  if (problem.transient) {
    // The writers stay at 0: the database may hold an interrupted run
    // that only the engine can finish or undo.
    return RetryRun(problem);
  }
  return AbortRun(problem.reason,
                  problem.message + " Nothing was migrated; the workloads were restored.");
}

// Records the outcome (intent Restore, Verified) before the workloads come
// back: phase ScalingUp, or RollingBack after an engine rollback.
Next Reconciler::Pass::RecordMigrateResult(const MigrateResult& m) {
  if (m.replayed) {
    // Observed by whoever executed it; this is bookkeeping only.
    Event(EventType::kNormal, rs::kRecovered,
          "The run had already ended in the database (schemaop.run_log) before its outcome "
          "was recorded here; nothing was executed again, finishing from the recorded outcome");
  } else {
    r_.metrics_.ObserveMigrationSeconds(m.sql_seconds);
  }
  if (m.fenced) {
    Event(EventType::kWarning, rs::kFencedStaleSession, *m.fenced);
  }
  if (m.recovered) {
    Event(EventType::kNormal, rs::kRecovered, *m.recovered);
  }
  SchemaMigrationStatus next = obj_.status;
  SetIntent(next, core::kIntentRestore);
  next.current_revision = core::FormatVersions(m.final_versions);
  next.run->migration_seconds = m.sql_seconds;
  if (SplitsPhases()) {
    AddPhaseSeconds(next, core::RunPhase::kWindow, m.total_seconds);
  }
  r_.metrics_.SetCurrentRevision(ns(), obj_.metadata.name, next.current_revision);
  const RunEnd end =
      DescribeRunEnd(m, core::FormatVersions(next.run->from_versions),
                     core::FormatVersions(next.run->target_versions), next.current_revision,
                     inputs_->target.failure_policy == core::FailurePolicy::kHalt,
                     obj_.status.run->cancel_reason);
  next.run->outcome = end.outcome;
  if (end.reason) {
    next.run->reason = *end.reason;
  }
  next.run->message = end.message;
  next.phase = end.phase;
  SetCond(next, ct::kVerified, end.verified, end.verified_reason, end.verified_message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(end.event_type, end.event_reason, end.event_message);
  return Next::Continue();
}

void Reconciler::Pass::MigratingEvent() {
  Event(EventType::kNormal, rs::kMigrating,
        "Migrating from " + core::FormatVersions(obj_.status.run->from_versions) + " to " +
            core::FormatVersions(obj_.status.run->target_versions));
}

}  // namespace schemaop::reconcile
