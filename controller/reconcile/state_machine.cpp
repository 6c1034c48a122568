// The SchemaMigration state machine (design §6): read this file first.
//
// Reconciler::Reconcile (reconciler.cpp) gets the object and runs one Pass
// (pass.h) on that snapshot. The Pass handles deletion first, then starts a
// run or advances the one recorded in status.run, one phase handler after
// the other until a handler stops (a wait, a requeue, the end of the run, an
// error). Each handler records its transition in status BEFORE the side
// effect that follows it, so any Pass, in any process, resumes from status.
//
//   deletion_timestamp set        HandleDeletion    deletion.cpp
//   no status.run                 Start             start.cpp  (design §6.2)
//                                 -> StartRun writes Planning and the run
//   phase                         handler           file            leaves to
//   Pending, Planning             Plan              plan.cpp        Expanding (a plan with expand
//                                                                   sections, not yet expanded);
//                                                                   ScalingDown (intent ScaleDown);
//                                                                   Pending if suspended
//                                   approval gate   approval.cpp    waits (AwaitingApproval) or
//                                                                   replans (design §9)
//                                                                   Pending if suspended;
//                                                                   Rehearsing (spec.rehearse)
//   Rehearsing                    Rehearse          rehearse.cpp    Planning, or ScalingUp
//                                                                   (abort RehearsalFailed)
//   ScalingDown                   ScaleDown         scale_down.cpp  Draining
//   Draining                      Drain             scale_down.cpp  BackingUp or Migrating
//                                                                   (requeue while pods are left)
//   BackingUp                     BackUp            backup.cpp      Migrating
//   Migrating, Verifying          Migrate           migrate.cpp     ScalingUp, RollingBack, or
//                                                                   ScalingDown (pods are back)
//   RollingBack                   FinishRollback    restore.cpp     ScalingUp (intent Restore)
//   Expanding                     RunOutsideWindow  phases.cpp      Planning (expanded: the gates
//                                                                   again, then ScalingDown), or
//                                                                   ScalingUp (ExpandFailed)
//   ScalingUp, Succeeded, Failed  ScaleUpAndFinish  restore.cpp     Contracting (a plan with contract
//                                                                   sections), Succeeded, Failed, or
//                                                                   Pending (replan); status.run removed
//   Contracting                   RunOutsideWindow  phases.cpp      Succeeded, or Failed
//                                                                   (ContractFailed, writers up)
//
// A run that cannot reach its target ends through AbortRun (restore.cpp):
// outcome Failed with the reason, phase ScalingUp, intent Restore, so the
// workloads always come back (WorkloadNotFound in Planning, DrainTimeout,
// WorkloadFoughtBack and AutoscalerNotPausable (writers.cpp),
// BackupFailed, MigrationsChanged and refused input in Migrating). A
// transient failure keeps the phase and retries with back-off (RetryRun).
// The diagram with every transition is design §6.3.
#include "reconcile/pass.h"

namespace schemaop::reconcile {

// Bounds the handlers one Pass runs: each writes a transition, so only a bug
// could loop; a run needs at most eight.
constexpr int kMaxHandlersPerPass = 32;

core::Result<ReconcileResult> Reconciler::Pass::Run() {
  if (obj_.metadata.deletion_timestamp) {
    return HandleDeletion().TakeResult();
  }
  if (std::optional<Next> failed = AbortWithoutRun()) {
    return std::move(*failed).TakeResult();
  }
  if (!obj_.status.run) {
    if (Next started = Start(); started.stops()) {
      return std::move(started).TakeResult();
    }
  }
  return Advance().TakeResult();
}

Next Reconciler::Pass::Advance() {
  for (int i = 0; i < kMaxHandlersPerPass; ++i) {
    if (!obj_.status.run) {
      return Finished("success");
    }
    if (Next next = RunPhase(obj_.status.phase); next.stops()) {
      return next;
    }
  }
  return Requeue(std::chrono::milliseconds(0), "requeue");
}

Next Reconciler::Pass::RunPhase(Phase phase) {
  if (phase == Phase::kPending || phase == Phase::kPlanning || phase == Phase::kScalingDown ||
      phase == Phase::kDraining || phase == Phase::kBackingUp) {
    // Abort / downtime budget before the database is touched (run_control.cpp).
    if (std::optional<Next> cancelled = CancelBeforeMigrating()) {
      return std::move(*cancelled);
    }
  }
  switch (phase) {
    case Phase::kPending:
    case Phase::kPlanning:
      return Plan();
    case Phase::kRehearsing:
      return Rehearse();
    case Phase::kExpanding:
    case Phase::kContracting:
      return RunOutsideWindow();
    case Phase::kScalingDown:
      return ScaleDown();
    case Phase::kDraining:
      return Drain();
    case Phase::kBackingUp:
      return BackUp();
    case Phase::kMigrating:
    case Phase::kVerifying:  // never written by this controller; resumed as Migrating
      return Migrate();
    case Phase::kRollingBack:
      return FinishRollback();
    case Phase::kScalingUp:
    case Phase::kSucceeded:
    case Phase::kFailed:
      return ScaleUpAndFinish();
  }
  return Next::Continue();
}

}  // namespace schemaop::reconcile
