// The approval gate of phase Planning (design §9): with spec.approval
// Manual, a run goes on to the scale-down only when spec.approvedPlanHash
// equals the digest of the plan it will execute (status.run.planDigest,
// published as status.plan.planHash), computed by this pass from the
// current files and database. Until then it waits (AwaitingApproval,
// Reconciling=True), touching neither the database (Inspect only reads)
// nor the workloads. A waiting run whose plan no longer describes what
// would run now is dropped and planned again, so an old approval never
// covers a new plan.
#include <string>

#include "core/job_spec.h"
#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

std::string PlanSummary(const core::SchemaMigrationStatus& s) {
  const std::size_t steps = s.plan ? s.plan->steps.size() : 0;
  return (s.plan ? s.plan->direction : std::string("plan")) + " from " + s.current_revision +
         " to " + s.target_revision + ", " + std::to_string(steps) +
         (steps == 1 ? " step" : " steps");
}

}  // namespace

std::optional<Next> Reconciler::Pass::AwaitApproval() {
  if (core::ApprovalOf(obj_.spec) != core::Approval::kManual) {
    return std::nullopt;
  }
  const core::RunStatus& run = *obj_.status.run;
  // A run whose expand committed is finished by its own plan (design §3.1,
  // "A plan change after the expand"): never replanned, so its approval is
  // checked against its own hash.
  if (!inputs_ && !run.expanded) {
    // Planned by an earlier pass: the spec, the files or the database may
    // have moved since. Only a plan computed now may be approved.
    if (run.generation != generation()) {
      return Replan();
    }
    Inputs inputs;
    if (LoadInputs(inputs)) {
      return Replan();  // Start reports the problem
    }
    auto inspected = InspectFor(inputs);
    // A Job plan is pinned by the plan Job's output: the database must
    // still be where that plan starts.
    const bool moved = !inspected.ok() ||
                       (JobRun() ? inspected.value().current_versions != run.from_versions
                                 : inspected.value().plan_digest != run.plan_digest);
    if (moved || inputs.digest != run.migrations_digest) {
      return Replan();
    }
    inputs_ = std::move(inputs);
  }
  if (!run.plan_digest.empty() && obj_.spec.approved_plan_hash == run.plan_digest) {
    Event(EventType::kNormal, rs::kApproved,
          "Plan " + run.plan_digest + " approved (spec.approvedPlanHash); running the " +
              PlanSummary(obj_.status) + ".");
    return std::nullopt;
  }
  return WaitForApproval();
}

// Drops the waiting run (nothing was touched: phase Planning) and starts
// over with the checks of design §6.2; also used by the maintenance window
// gate when the spec changed under a waiting run. The run had been allowed to start,
// so a block on retrying a failed run does not apply again (replanning_).
Next Reconciler::Pass::Replan() {
  SchemaMigrationStatus next = obj_.status;
  replanned_retry_ = next.run->retry;
  next.run.reset();
  next.phase = Phase::kPending;
  next.next_window.reset();
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  replanning_ = true;
  return Start();  // Continue: a new run is in Planning, its handler runs again
}

// Where the plan to approve can be read: the files' plan is in status.plan
// and reproduced by the CLI; a Job run's is the plan Job's output.
std::string Reconciler::Pass::ReviewHint() const {
  if (!JobRun()) {
    return "Review status.plan (`schemaop plan " + obj_.spec.target_revision +
           "` prints the same hash for the same files and database)";
  }
  const std::string forward = JobForwardVerb();
  const std::string plan_verb =
      forward == core::kVerbUpgrade ? core::kVerbUpgradeSql : core::kVerbDowngradeSql;
  if (core::CommandFor(*obj_.spec.job, plan_verb).empty()) {
    return "There is no plan Job (spec.job has no commands." + plan_verb +
           "): the plan is the " + forward + " command itself, from " +
           JobRevision(obj_.status.run->from_versions) + " to " +
           JobRevision(obj_.status.run->target_versions) + "; review it in spec.job";
  }
  const std::string job = core::JobName(obj_.metadata.name, plan_verb, JobRunKey(plan_verb));
  return "Review the plan Job's output: kubectl logs -n " + ns() + " job/" + job +
         " (kept for spec.job.ttlSecondsAfterFinished; its start is in the Planning Event)";
}

Next Reconciler::Pass::WaitForApproval() {
  const std::string& hash = obj_.status.run->plan_digest;
  const std::string& given = obj_.spec.approved_plan_hash;
  std::string message;
  if (!given.empty()) {
    message = "spec.approvedPlanHash " + given + " does not match the plan to run now (" + hash +
              "): the migration files or the database changed since that plan was approved, "
              "or the hash was copied wrong. ";
  }
  message += "Plan " + hash + " (" + PlanSummary(obj_.status) +
             ") waits for approval: nothing is scaled, backed up or migrated until "
             "spec.approvedPlanHash equals it. " + ReviewHint() +
             ", then approve with: kubectl patch schemamigration " + obj_.metadata.name +
             " -n " + ns() + " --type merge -p '{\"spec\":{\"approvedPlanHash\":\"" + hash +
             "\"}}'";
  SchemaMigrationStatus next = obj_.status;
  SetKstatus(next, ConditionStatus::kFalse, ConditionStatus::kTrue, ConditionStatus::kFalse,
             rs::kAwaitingApproval, message);
  bool changed = false;
  if (Status s = Write(std::move(next), &changed); !s.ok()) {
    return WriteFailed(s);
  }
  if (changed) {
    Event(EventType::kNormal, rs::kAwaitingApproval, message);
  }
  r_.backoff_.Reset(Key());
  // The files and the spec are watched; the database is looked at again
  // on every re-check.
  return Requeue(r_.options_.stalled_recheck, "requeue");
}

}  // namespace schemaop::reconcile
