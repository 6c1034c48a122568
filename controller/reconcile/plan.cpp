// The plan of a run: targets resolved once, StartRun (phase Planning with
// the plan and status.run, design §6.2 step 11), and phase Planning, which
// records each workload's replicas before anything is scaled (design §6.3).
#include <algorithm>
#include <string>
#include <vector>

#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

std::string StepsText(const std::vector<core::PlanStepStatus>& steps) {
  std::string out;
  for (const core::PlanStepStatus& s : steps) {
    if (!out.empty()) {
      out += ", ";
    }
    out += (s.direction == core::MigrationDirection::kUpgrade ? "+" : "-") + s.revision;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- targets

// Targets are resolved once: a relative target (+N, -N, REV+N, REV-N)
// recorded in status.resolvedTarget is never resolved again while
// spec.targetRevision keeps that text (resyncs, restarts and failovers
// reuse the absolute revision); otherwise each pass would step again from
// wherever the last run left the database. Absolute targets are resolved
// on every pass: for the same files the answer is the same, and head
// follows the files when they change.
const core::ResolvedTargetStatus* Reconciler::Pass::PinnedTarget() const {
  const auto& pinned = obj_.status.resolved_target;
  if (core::IsRelativeTarget(obj_.spec.target_revision) && pinned &&
      pinned->target_revision == obj_.spec.target_revision && !pinned->revision.empty() &&
      pinned->revision.find(',') == std::string::npos) {
    return &*pinned;
  }
  return nullptr;
}

std::string Reconciler::Pass::TargetToInspect() const {
  const core::ResolvedTargetStatus* pinned = PinnedTarget();
  return pinned != nullptr ? pinned->revision : obj_.spec.target_revision;
}

core::ResolvedTargetStatus Reconciler::Pass::ResolvedTarget(const InspectResult& inspect,
                                                            const std::string& digest) const {
  if (const core::ResolvedTargetStatus* pinned = PinnedTarget()) {
    return *pinned;
  }
  return core::ResolvedTargetStatus{obj_.spec.target_revision,
                                    core::FormatVersions(inspect.target_versions), generation(),
                                    digest};
}

// ------------------------------------------------------------- StartRun

// Adds the finalizer, then writes phase Planning with the plan, the
// resolved target and status.run; Continue: the run advances at once.
Next Reconciler::Pass::StartRun(Inputs& inputs, const InspectResult& inspect,
                                const core::ResolvedTargetStatus& resolved) {
  if (!obj_.metadata.HasFinalizer(core::kFinalizer)) {
    auto rv = r_.kube_.AddFinalizer(obj_, core::kFinalizer);
    if (!rv.ok()) {
      return KubeFailure(rv.status(), "Adding the finalizer");
    }
    obj_.metadata.resource_version = rv.value();
    obj_.metadata.finalizers.push_back(core::kFinalizer);
  }
  const auto& spec = obj_.spec;
  SchemaMigrationStatus next = obj_.status;
  next.observed_generation = generation();
  next.current_revision = core::FormatVersions(inspect.current_versions);
  next.target_revision = core::FormatVersions(inspect.target_versions);
  next.phase = Phase::kPlanning;
  next.plan =
      core::PlanStatus{core::PlanDirectionOf(inspect.steps), inspect.steps, inspect.plan_digest};
  next.workloads.clear();
  next.autoscalers.clear();
  next.resolved_target = resolved;
  core::RunStatus run;
  run.generation = generation();
  run.target_revision = spec.target_revision;
  run.target_versions = inspect.target_versions;
  run.from_versions = inspect.current_versions;
  run.workloads = spec.workloads;
  const core::BackupWhen when = core::BackupWhenOf(spec);
  run.executor = spec.executor;
  // With executor Job the backup is mandatory (design §10.4): the tool
  // commits on its own, outside the engine's transactions.
  run.backup_required = when == core::BackupWhen::kAlways || spec.executor == core::kExecutorJob ||
                        (when == core::BackupWhen::kDowngrade && inspect.has_downgrade);
  run.migrations_digest = inputs.digest;
  run.plan_digest = inspect.plan_digest;
  run.start_time = Now();
  next.run = run;
  TakeRetry(next);

  const std::string summary = next.plan->direction + " from " + next.current_revision + " to " +
                              next.target_revision + " (" + std::to_string(inspect.steps.size()) +
                              " steps: " + StepsText(inspect.steps) + ")";
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kProgressing,
          "Running " + summary + ".");
  SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kProgressing, "Running " + summary + ".");
  SetCond(next, ct::kStalled, ConditionStatus::kFalse, rs::kProgressing,
          "Running " + summary + ".");
  SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kPlanning,
          "Workloads are not scaled down yet.");
  if (run.backup_required) {
    SetCond(next, ct::kBackupReady, ConditionStatus::kUnknown, rs::kBackingUp,
            "A backup will be taken before migrating.");
  } else {
    SetCond(next, ct::kBackupReady, ConditionStatus::kFalse, rs::kBackupNotRequired,
            "No backup for this run (backup.when=" + spec.backup_when + ").");
  }
  SetCond(next, ct::kVerified, ConditionStatus::kUnknown, rs::kVerificationPending,
          "The run has not been verified yet.");
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kPlanning, "Planned " + summary);
  RetryEvent();
  inputs_ = std::move(inputs);
  return Next::Continue();
}

// ------------------------------------------------------- phase Planning

// Pending / Planning: nothing was touched yet, so a suspended run is simply
// not started; otherwise the workloads' replicas are recorded.
Next Reconciler::Pass::Plan() {
  if (obj_.spec.suspend) {
    SchemaMigrationStatus next = obj_.status;
    next.run.reset();
    next.phase = Phase::kPending;
    return Suspend(std::move(next));
  }
  if (JobRun() && obj_.status.run->plan_digest.empty()) {
    return PlanWithJob();  // job_plan.cpp: the plan is the plan Job's output
  }
  if (RehearsalPending()) {
    return BeginRehearsal();  // after the plan: a rehearsal is of one plan digest
  }
  if (std::optional<Next> gate = AwaitApproval()) {
    return std::move(*gate);
  }
  if (std::optional<Next> gate = MaintenanceWindowGate()) {
    return std::move(*gate);
  }
  // Design §3.1: the expand phase runs before anything is scaled; after
  // it the gates above are asked again, right before the scale-down.
  if (obj_.status.plan && core::PlanHasExpand(*obj_.status.plan) && !obj_.status.run->expanded) {
    return BeginExpanding();
  }
  return RecordWorkloads();
}

// A workload that another SchemaMigration's run in progress scaled down
// is at 0 only because of that run: recording it now would take 0 for
// its original replicas, and this run would finally "restore" it to 0.
// Wait until the other run has restored it.
std::optional<Problem> Reconciler::Pass::WorkloadsHeldByAnotherRun() {
  for (const core::WorkloadRef& w : obj_.status.run->workloads) {
    auto list = r_.kube_.ListSchemaMigrationsReferencing(ns(), w.kind, w.name);
    if (!list.ok()) {
      return KubeProblem(list.status(), "Listing SchemaMigrations");
    }
    for (const SchemaMigration& other : list.value()) {
      if (other.metadata.name == obj_.metadata.name || !other.status.run) {
        continue;
      }
      const bool held = std::any_of(
          other.status.workloads.begin(), other.status.workloads.end(),
          [&](const core::WorkloadStatus& o) { return o.kind == w.kind && o.name == w.name; });
      if (held) {
        return Problem{kWorkloadInUse,
                       w.kind + " " + ns() + "/" + w.name +
                           " is scaled down by the run in progress of SchemaMigration " + ns() +
                           "/" + other.metadata.name +
                           "; waiting for that run to restore it before recording its "
                           "replicas.",
                       true, Status(Code::kLockHeld, "workload held by another run")};
      }
    }
  }
  return std::nullopt;
}

// Records each workload's spec.replicas not yet recorded (never overwritten
// within a run) and its autoscalers (writers.cpp), then phase ScalingDown
// with intent ScaleDown.
Next Reconciler::Pass::RecordWorkloads() {
  if (obj_.status.workloads.size() < obj_.status.run->workloads.size()) {
    if (auto busy = WorkloadsHeldByAnotherRun()) {
      return RetryRun(*busy);
    }
  }
  SchemaMigrationStatus next = obj_.status;
  for (const core::WorkloadRef& w : next.run->workloads) {
    const bool recorded = std::any_of(
        next.workloads.begin(), next.workloads.end(),
        [&](const core::WorkloadStatus& s) { return s.kind == w.kind && s.name == w.name; });
    if (recorded) {
      continue;
    }
    auto scale = r_.kube_.GetScale(ns(), w);
    if (!scale.ok()) {
      if (scale.status().code() == Code::kInvalidArgument) {  // not scalable (design §6.3)
        return AbortRun(rs::kInvalidSpec, w.name + ": " + scale.status().message());
      }
      if (scale.status().code() == Code::kNotFound) {
        return AbortRun(rs::kWorkloadNotFound,
                        w.kind + " " + ns() + "/" + w.name +
                            " not found. Create it or remove it from spec.workloads.");
      }
      return RetryRun(KubeProblem(scale.status(), "Reading the scale of " + w.kind + "/" + w.name));
    }
    next.workloads.push_back(
        core::WorkloadStatus{w.kind, w.name, scale.value().spec_replicas, w.api_version});
    if (std::optional<Next> stop = RecordAutoscalers(next, w)) {
      return std::move(*stop);
    }
  }
  next.phase = Phase::kScalingDown;
  if (!next.run->scale_down_time) {
    next.run->scale_down_time = Now();
  }
  SetIntent(next, core::kIntentScaleDown);
  SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kScalingDown,
          "Scaling " + WorkloadList(next.workloads, false) + " to 0.");
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Next::Continue();
}

}  // namespace schemaop::reconcile
