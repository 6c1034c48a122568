// Phases Expanding and Contracting (design §3.1, §6.3): a plan with expand
// sections runs them before anything is scaled (writers up), the window
// runs in Migrating as before (writers at zero), and contract sections run
// after ScalingUp (writers back). Each phase is its own engine run with its
// own key (RunIdentity::phase), so the run identity and run_log decide
// after a restart: a resync never moves the database in any other way.
//
//   Planning --(plan has expand, not yet expanded)--> Expanding
//   Expanding --(expand done)--> Planning (gates again) --> ScalingDown ...
//   Expanding --(expand failed)--> ScalingUp (nothing recorded to restore) --> Failed
//   ScalingUp --(window succeeded, plan has contract)--> Contracting
//   Contracting --(done)--> Succeeded; (failed) --> Failed, reason ContractFailed
//   (at the target, a contract pending) --(retry)--> Contracting (PendingContract)
#include <cstdio>
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

std::string Seconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  return buffer;
}

bool Done(const MigrateResult& m) {
  return m.outcome == MigrateOutcome::kSucceeded || m.outcome == MigrateOutcome::kNothingToDo;
}

}  // namespace

bool Reconciler::Pass::SplitsPhases() const {
  return obj_.status.plan &&
         (core::PlanHasExpand(*obj_.status.plan) || core::PlanHasContract(*obj_.status.plan));
}

core::RunPhase Reconciler::Pass::EnginePhase() const {
  if (obj_.status.phase == Phase::kExpanding) {
    return core::RunPhase::kExpand;
  }
  if (obj_.status.phase == Phase::kContracting) {
    return core::RunPhase::kContract;
  }
  return SplitsPhases() ? core::RunPhase::kWindow : core::RunPhase::kAll;
}

void Reconciler::Pass::AddPhaseSeconds(SchemaMigrationStatus& next, core::RunPhase phase,
                                       double seconds) {
  core::PhaseSeconds s = next.run->phase_seconds.value_or(core::PhaseSeconds{});
  (phase == core::RunPhase::kExpand     ? s.expand
   : phase == core::RunPhase::kContract ? s.contract
                                        : s.window) = seconds;
  next.run->phase_seconds = s;
  r_.metrics_.ObservePhaseSeconds(core::RunPhaseName(phase), seconds);
}

std::string Reconciler::Pass::RouteText() const {
  const core::RunStatus& run = *obj_.status.run;
  return core::FormatVersions(run.from_versions) + " to " +
         core::FormatVersions(run.target_versions);
}

// From Planning, after the gates: nothing is scaled; the expand phase runs
// beside the writers.
Next Reconciler::Pass::BeginExpanding() {
  SchemaMigrationStatus next = obj_.status;
  next.phase = Phase::kExpanding;
  const std::string message = "Expanding " + RouteText() +
                              ": the plan's expand sections run while the writers keep running.";
  SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kExpanding, message);
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kExpanding, message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kExpanding, message);
  return Next::Continue();
}

// Expanding and Contracting: start or observe the phase's engine run. An
// abort is recorded first and reaches a run in progress as a cancel.
Next Reconciler::Pass::RunOutsideWindow() {
  if (auto abort = NewAbortRequest(); abort && obj_.status.phase == Phase::kExpanding) {
    if (Status s = RecordCancel(rs::kAborted, "aborted by the annotation " +
                                                  std::string(core::kAnnotationAbort) + "=" +
                                                  *abort);
        !s.ok()) {
      return WriteFailed(s);
    }
  }
  const RunIdentity identity = IdentityOfRun();
  if (auto ticket = r_.db_.FindRun(identity, ControlForRun())) {
    return ObserveRun(std::move(*ticket));
  }
  const core::RunStatus& run = *obj_.status.run;
  if (obj_.status.phase == Phase::kExpanding && !run.cancel_reason.empty()) {
    return AbortRun(run.cancel_reason, run.cancel_message +
                                           ". The expand phase had not started: nothing was "
                                           "migrated and the writers were never touched.");
  }
  if (auto problem = EnsureInputs()) {
    return StopForInputProblem(*problem);
  }
  return ObserveRun(
      r_.db_.StartMigrate(inputs_->target, run.target_versions, identity, ControlForRun(), Key()));
}

void Reconciler::Pass::PhaseEvents(const MigrateResult& m) {
  if (m.fenced) {
    Event(EventType::kWarning, rs::kFencedStaleSession, *m.fenced);
  }
  if (m.recovered) {
    Event(EventType::kNormal, rs::kRecovered, *m.recovered);
  }
}

// The expand's end. Done: back to Planning, marked expanded, so the gates
// (approval, maintenance window) are asked again right before the
// scale-down. Failed: the run ends Failed; the writers were never touched
// and the version table is at the old revision.
Next Reconciler::Pass::RecordExpandResult(const core::Result<MigrateResult>& result) {
  if (!result.ok()) {
    const Status& status = result.status();
    Problem problem = DatabaseProblem(status, "Expanding");
    if (problem.transient || status.detail() == core::kRunLeftOpenDetail ||
        status.detail() == kRecoveryDetail) {
      return RetryRun(problem);  // the writers are up; the retry recovers the run
    }
    const std::string reason =
        status.code() == Code::kMigrationsChanged ? rs::kMigrationsChanged : problem.reason;
    return AbortRun(reason, problem.message +
                                " Nothing was migrated; the writers were never touched.");
  }
  const MigrateResult& m = *result;
  PhaseEvents(m);
  SchemaMigrationStatus next = obj_.status;
  if (!Done(m)) {
    return AbortRun(
        rs::kExpandFailed,
        "The expand phase of " + RouteText() + " failed: " + m.failure.message() +
            ". The writers were never touched and the database is still at " +
            core::FormatVersions(m.final_versions) +
            " (what the expand committed stays; it is never undone beside the running "
            "application, and a retry resumes it). Fix the migration, then retry with the "
            "annotation " + std::string(core::kRetryAnnotation) + " or change the spec.");
  }
  next.run->expanded = true;
  AddPhaseSeconds(next, core::RunPhase::kExpand, m.total_seconds);
  next.phase = Phase::kPlanning;
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kExpanded,
        "Expand phase of " + RouteText() + " done in " + Seconds(m.total_seconds) +
            " with the writers running; the version table is still at " +
            core::FormatVersions(m.final_versions) + ". Scaling down for the window next.");
  return Next::Continue();
}

// After ScalingUp restored the writers: a plan with contract sections
// whose window succeeded runs them now; otherwise the run finishes.
std::optional<Next> Reconciler::Pass::BeginContracting() {
  const core::RunStatus& run = *obj_.status.run;
  if (obj_.status.phase == Phase::kContracting || run.outcome != core::kOutcomeSucceeded ||
      !obj_.status.plan || !core::PlanHasContract(*obj_.status.plan)) {
    return std::nullopt;
  }
  SchemaMigrationStatus next = obj_.status;
  next.phase = Phase::kContracting;
  next.run->scale_up_time = Now();
  const std::string message = "Contracting " + RouteText() +
                              ": the plan's contract sections run with the writers back.";
  SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kContracting, message);
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kContracting, message);
  if (!next.workloads.empty()) {
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kWorkloadsRestored,
            "Workloads restored to their recorded replicas: " +
                WorkloadList(next.workloads, true) + ".");
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  if (!obj_.status.workloads.empty()) {
    Event(EventType::kNormal, rs::kScaledUp,
          "Restored " + WorkloadList(obj_.status.workloads, true) + " replicas");
  }
  Event(EventType::kNormal, rs::kContracting, message);
  return Next::Continue();
}

// At the target, a contract pending (design §3.1, "A failed contract"):
// the window of an earlier run committed the target and its contract
// failed (or never ran). The invariant: a pending contract is never
// reported as Ready, and never forgotten by a resync: the ContractFailed
// of this generation stays Stalled until schemaop.dev/retry gets a new
// value (or the spec changes); then a run of the contract alone starts in
// phase Contracting, the writers untouched (they run on the committed
// revision), resuming where the failed contract stopped. The engine runs
// exactly the pending contract: the run's plan digest is the one run_log
// recorded for it (InspectResult::pending_contract).
Next Reconciler::Pass::PendingContract(Inputs& inputs, const InspectResult& inspect,
                                       const core::ResolvedTargetStatus& resolved) {
  const std::string current = core::FormatVersions(inspect.current_versions);
  const auto& last = obj_.status.last_run;
  if (last && last->reason == rs::kContractFailed && last->generation == generation() &&
      !RetryRequested()) {
    return KeepReportingFailure(current);
  }
  SchemaMigrationStatus next = obj_.status;
  next.observed_generation = generation();
  next.current_revision = current;
  next.target_revision = core::FormatVersions(inspect.target_versions);
  next.resolved_target = resolved;
  next.phase = Phase::kContracting;
  // Nothing is scaled or paused by this run: the replicas recorded by the
  // earlier run are not this run's, and a deletion mid-contract must not
  // "restore" them over what the user set since.
  next.workloads.clear();
  next.autoscalers.clear();
  core::RunStatus run;
  run.generation = generation();
  run.target_revision = obj_.spec.target_revision;
  run.target_versions = inspect.target_versions;
  run.from_versions = inspect.current_versions;
  run.migrations_digest = inputs.digest;
  run.plan_digest = inspect.pending_contract;
  run.start_time = Now();
  run.scale_up_time = run.start_time;  // the writers are up: no downtime
  run.executor = obj_.spec.executor;
  // The window committed the target in an earlier run: this run's fate is
  // that of its contract (RecordContractResult).
  run.outcome = core::kOutcomeSucceeded;
  run.message = "The pending contract phase at " + current +
                " ran with the writers up (the window committed " + current + " earlier).";
  next.run = run;
  TakeRetry(next);
  const std::string message = "Contracting " + current +
                              ": the pending contract phase runs with the writers up.";
  SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kContracting, message);
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kContracting, message);
  SetCond(next, ct::kStalled, ConditionStatus::kFalse, rs::kContracting, message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kContracting, message);
  RetryEvent();
  inputs_ = std::move(inputs);
  return Next::Continue();
}

// The contract's end. The window committed the target revision and the
// writers are up: a failure never rolls anything back; the run ends Failed
// with reason ContractFailed, writers up.
Next Reconciler::Pass::RecordContractResult(const core::Result<MigrateResult>& result) {
  SchemaMigrationStatus next = obj_.status;
  if (result.ok() && Done(*result)) {
    const MigrateResult& m = *result;
    PhaseEvents(m);
    AddPhaseSeconds(next, core::RunPhase::kContract, m.total_seconds);
    next.current_revision = core::FormatVersions(m.final_versions);
    if (Status s = Write(std::move(next)); !s.ok()) {
      return WriteFailed(s);
    }
    Event(EventType::kNormal, rs::kContracted,
          "Contract phase of " + RouteText() + " done in " + Seconds(m.total_seconds) +
              " with the writers running");
    return FinishRun(/*restored_now=*/false);
  }
  std::string why;
  if (!result.ok()) {
    Problem problem = DatabaseProblem(result.status(), "Contracting");
    if (problem.transient || result.status().detail() == core::kRunLeftOpenDetail) {
      return RetryRun(problem);  // the writers stay up; the retry recovers the run
    }
    why = problem.message;
  } else {
    PhaseEvents(*result);
    why = result->failure.message();
  }
  next.run->outcome = core::kOutcomeFailed;
  next.run->reason = rs::kContractFailed;
  next.run->message =
      "The contract phase of " + RouteText() + " failed: " + why + ". The database is at " +
      core::FormatVersions(next.run->target_versions) +
      " (the window committed it) and the writers are running; nothing was rolled back. Fix "
      "the cause, then retry the contract with the annotation " +
      std::string(core::kRetryAnnotation) + " (or run `schemaop upgrade " +
      core::FormatVersions(next.run->target_versions) + " --phase contract`); it resumes where "
      "it stopped.";
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kWarning, rs::kContractFailed, obj_.status.run->message);
  return FinishRun(/*restored_now=*/false);
}

}  // namespace schemaop::reconcile
