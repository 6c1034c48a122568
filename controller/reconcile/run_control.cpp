// Runs off the workers and cancelling a run (design §6.5, §4.7): the
// migrate step starts a run through DatabasePort::StartMigrate (a run
// thread of the manager) and returns; later passes observe it with FindRun
// until it ended. A cancel (the downtime budget spec.maxDowntimeSeconds,
// the annotation schemaop.dev/abort) is recorded in status.run before the
// engine is asked, so every later pass (and a controller after a restart)
// asks again until the run ended; the engine cancels only before the run
// committed and rolls back what it did. Before Migrating, nothing ran in
// the database: a cancel there ends the run through AbortRun.
#include <algorithm>
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

RunIdentity Reconciler::Pass::IdentityOfRun() const {
  const core::RunStatus& run = *obj_.status.run;
  return RunIdentity{obj_.metadata.uid, run.generation, run.plan_digest, RetryKey(run),
                     EnginePhase()};
}

namespace {

core::Code CancelCode(const std::string& reason) {
  return reason == rs::kDowntimeExceeded ? core::Code::kDowntimeExceeded : core::Code::kAborted;
}

std::string BudgetText(int seconds) {
  return "the writers were at zero for spec.maxDowntimeSeconds (" + std::to_string(seconds) +
         "s) before the migration committed";
}

}  // namespace

RunControl Reconciler::Pass::ControlForRun() const {
  const core::RunStatus& run = *obj_.status.run;
  RunControl control;
  // The budget counts the writers at zero: never in Expanding or
  // Contracting, where they run.
  const bool writers_up =
      obj_.status.phase == Phase::kExpanding || obj_.status.phase == Phase::kContracting;
  if (obj_.spec.max_downtime_seconds > 0 && run.scale_down_time && !writers_up) {
    control.deadline = core::Timestamp{run.scale_down_time->unix_millis +
                                       obj_.spec.max_downtime_seconds * 1000LL};
    control.deadline_status =
        Status(Code::kDowntimeExceeded, BudgetText(obj_.spec.max_downtime_seconds));
  }
  if (!run.cancel_reason.empty()) {
    control.cancel = Status(CancelCode(run.cancel_reason), run.cancel_message);
  }
  return control;
}

// A value of schemaop.dev/abort not acted upon yet (status.handledAbort).
std::optional<std::string> Reconciler::Pass::NewAbortRequest() const {
  auto it = obj_.metadata.annotations.find(core::kAnnotationAbort);
  if (it == obj_.metadata.annotations.end() || it->second.empty() ||
      it->second == obj_.status.handled_abort) {
    return std::nullopt;
  }
  return it->second;
}

// Intent before action (design §7 rule 1): the cancel is in status.run
// (and the abort value in status.handledAbort) before the engine hears it.
core::Status Reconciler::Pass::RecordCancel(const std::string& reason,
                                            const std::string& message) {
  SchemaMigrationStatus next = obj_.status;
  if (auto abort = NewAbortRequest()) {
    next.handled_abort = *abort;
  }
  if (next.run->cancel_reason.empty()) {
    next.run->cancel_reason = reason;
    next.run->cancel_message = message;
  }
  bool wrote = false;
  if (Status s = Write(std::move(next), &wrote); !s.ok()) {
    return s;
  }
  if (wrote) {
    Event(EventType::kWarning, reason, "Cancelling the run: " + message);
  }
  return Status::Ok();
}

// A new abort value with no run to cancel (none in progress, or its fate
// already decided) aborts nothing; it is recorded as handled, so it cannot
// abort a later run.
std::optional<Next> Reconciler::Pass::AbortWithoutRun() {
  auto abort = NewAbortRequest();
  if (!abort || (obj_.status.run && obj_.status.run->outcome.empty())) {
    return std::nullopt;
  }
  SchemaMigrationStatus next = obj_.status;
  next.handled_abort = *abort;
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kAborted,
        "Annotation " + std::string(core::kAnnotationAbort) + "=" + *abort +
            ": no run in progress to abort; nothing was changed");
  return std::nullopt;
}

// Phases Planning to BackingUp: the database has not been touched by this
// run, so an abort or an exhausted budget ends it at once, workloads
// restored.
std::optional<Next> Reconciler::Pass::CancelBeforeMigrating() {
  const core::RunStatus& run = *obj_.status.run;
  std::string reason;
  std::string message;
  if (auto abort = NewAbortRequest()) {
    reason = rs::kAborted;
    message = "The run was aborted (annotation " + std::string(core::kAnnotationAbort) + "=" +
              *abort + ") before migrating";
    obj_.status.handled_abort = *abort;  // written by AbortRun
  } else if (!run.cancel_reason.empty()) {
    reason = run.cancel_reason;
    message = run.cancel_message;
  } else if (auto deadline = ControlForRun().deadline; deadline && Now().unix_millis >= deadline->unix_millis) {
    reason = rs::kDowntimeExceeded;
    message = "Downtime budget exceeded: " + BudgetText(obj_.spec.max_downtime_seconds) +
              ", before migrating";
  } else {
    return std::nullopt;
  }
  return AbortRun(reason, message +
                              ". Nothing was migrated and the workloads were restored. " +
                              (reason == rs::kAborted
                                   ? "Change the spec or the ConfigMap to run again."
                                   : "Raise spec.maxDowntimeSeconds, then change the spec or "
                                     "the ConfigMap to run again."));
}

// Phase Migrating of a Job run while its Job is active (design §10.6): an
// abort or an exhausted downtime budget is recorded first (as for files),
// then the Job is deleted with propagation Foreground, so it is gone only
// once its pod is; the next pass finds it gone and judges the database
// (its sessions ended first), undoing whatever the tool committed. The
// tool commits on its own: a Job that reached the target before the cancel
// took effect is a success.
std::optional<Next> Reconciler::Pass::CancelRunningJob() {
  const core::RunStatus& run = *obj_.status.run;
  if (run.cancel_reason.empty()) {
    std::string reason;
    std::string message;
    if (auto abort = NewAbortRequest()) {
      reason = rs::kAborted;
      message = "aborted by the annotation " + std::string(core::kAnnotationAbort) + "=" + *abort;
    } else if (auto deadline = ControlForRun().deadline;
               deadline && Now().unix_millis >= deadline->unix_millis) {
      reason = rs::kDowntimeExceeded;
      message = "Downtime budget exceeded: " + BudgetText(obj_.spec.max_downtime_seconds);
    } else {
      return std::nullopt;
    }
    if (Status s = RecordCancel(reason, message); !s.ok()) {
      return WriteFailed(s);
    }
  }
  const std::string job = obj_.status.run->job->name;
  if (Status deleted = r_.kube_.DeleteJob(ns(), job); !deleted.ok()) {
    return RetryRun(KubeProblem(deleted, "Deleting Job " + job + " to cancel the run"));
  }
  return Requeue(r_.options_.drain_poll, "requeue");
}

// What a pass does with a run on a run thread.
Next Reconciler::Pass::ObserveRun(RunTicket ticket) {
  if (ticket.state == RunTicket::State::kFinished) {
    run_ended_ = true;
    const core::Result<MigrateResult>& result = *ticket.result;
    if (obj_.status.phase == Phase::kExpanding) {
      return RecordExpandResult(result);
    }
    if (obj_.status.phase == Phase::kContracting) {
      return RecordContractResult(result);
    }
    if (!result.ok()) {
      return MigrateRefused(result.status());
    }
    return RecordMigrateResult(result.value());
  }
  const core::RunStatus& run = *obj_.status.run;
  const std::string route = core::FormatVersions(run.from_versions) + " to " +
                            core::FormatVersions(run.target_versions);
  SchemaMigrationStatus next = obj_.status;
  const bool writers_up =
      obj_.status.phase == Phase::kExpanding || obj_.status.phase == Phase::kContracting;
  const std::string what = obj_.status.phase == Phase::kExpanding     ? "Expanding"
                           : obj_.status.phase == Phase::kContracting ? "Contracting"
                                                                      : "Migrating";
  if (ticket.state == RunTicket::State::kWaiting) {
    const std::string message =
        "Waiting for a free run thread to migrate from " + route + ": " +
        std::to_string(ticket.runs_in_progress) + " run(s) in progress, the limit is " +
        std::to_string(ticket.max_runs) + " (--max-concurrent-runs). " +
        (writers_up ? "The writers keep running meanwhile." : "The workloads stay at 0 meanwhile.");
    SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kWaitingForRunSlot, message);
    SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kWaitingForRunSlot, message);
  } else {
    const std::string message =
        what + " from " + route + (writers_up ? " (the writers are running)." : ".");
    SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kProgressing, message);
    SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kProgressing, message);
    const core::Timestamp now = r_.clock_.Now();
    if (ticket.progress && core::ProgressDue(obj_.status.progress, now, core::kProgressInterval)) {
      next.progress = std::move(ticket.progress);
      next.progress->update_time = now;
    }
  }
  const auto poll = std::min(r_.options_.run_poll,
                             std::chrono::duration_cast<std::chrono::milliseconds>(
                                 core::kProgressInterval));
  if (Status s = Write(std::move(next)); !s.ok()) {
    if (s.code() == Code::kConflict) {
      return WriteFailed(s);
    }
    // Design §6.8: a status write while the run is in progress that fails
    // is logged (the result's error) and ignored; the run goes on and its
    // end reconciles the object at once, so no back-off delays it.
    metric_result_ = "error";
    ReconcileResult result;
    result.requeue_after = poll;
    result.error = Status(s.code(), "Updating the status of a run in progress: " +
                                        scrubber_.Scrub(s.message()));
    return Next::Stop(result);
  }
  return Requeue(poll, "requeue");
}

// Deleted while a run of this process is in progress: the writers come
// back only onto a run the engine closed, so the run is cancelled and the
// deletion waits for its end.
std::optional<Next> Reconciler::Pass::WaitForRunOnDeletion() {
  if (!obj_.status.run || obj_.status.run->plan_digest.empty()) {
    return std::nullopt;
  }
  RunControl control;
  control.cancel = Status(Code::kAborted, "the SchemaMigration was deleted during the run");
  auto ticket = r_.db_.FindRun(IdentityOfRun(), control);
  if (!ticket || ticket->state == RunTicket::State::kFinished) {
    return std::nullopt;
  }
  return Requeue(std::chrono::seconds(1), "requeue");
}

}  // namespace schemaop::reconcile
