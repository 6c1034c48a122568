// Outside a run (design §6.2): the checks before a run starts, in order,
// each refusal touching neither the database nor the workloads; then
// StartRun (plan.cpp).
#include <string>
#include <tuple>
#include <vector>

#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

// A failed run is not retried for the same input (it would scale the
// application down again and fail the same way) unless the failure came from
// something that can be fixed outside the spec and is re-checked first.
bool BlocksRetry(const core::LastRunStatus& last) {
  if (last.outcome.empty() || last.outcome == core::kOutcomeSucceeded) {
    return false;
  }
  return last.reason.empty() || last.reason == rs::kMigrationFailed ||
         last.reason == rs::kVerificationFailed || last.reason == rs::kDrainTimeout ||
         last.reason == rs::kBackupFailed || last.reason == rs::kChecksumMismatch ||
         last.reason == rs::kSchemaDrift || last.reason == rs::kDowntimeExceeded ||
         last.reason == rs::kAborted || last.reason == rs::kWorkloadFoughtBack ||
         last.reason == rs::kAutoscalerNotPausable;
}

}  // namespace

Next Reconciler::Pass::Start() {
  if (auto invalid = InvalidSpec()) {
    return Refuse(*invalid);
  }
  if (auto zone = UnknownTimeZone()) {
    return Refuse(*zone);
  }
  Status list_error;
  if (auto dup = CheckDuplicates(list_error)) {
    return Refuse(*dup);
  }
  if (!list_error.ok()) {
    return KubeFailure(list_error, "Listing SchemaMigrations");
  }
  if (obj_.spec.suspend) {
    return Suspend(obj_.status);
  }
  Inputs inputs;
  if (auto problem = LoadInputs(inputs)) {
    return Refuse(*problem);
  }
  auto inspected = InspectFor(inputs);  // the version table only with executor Job
  if (!inspected.ok()) {
    return Refuse(DatabaseProblem(inspected.status(), "Inspecting the database"));
  }
  const InspectResult& inspect = inspected.value();
  if (!inspect.database_identity.empty()) {
    if (Next waiting = EnsureSoleOwner(inspect.database_identity); waiting.stops()) {
      return waiting;
    }
  }
  if (auto missing = MissingWorkload()) {
    return Refuse(*missing);
  }
  const std::string current = core::FormatVersions(inspect.current_versions);
  r_.metrics_.SetCurrentRevision(ns(), obj_.metadata.name, current);
  const core::ResolvedTargetStatus resolved = ResolvedTarget(inspect, inputs.digest);
  if (inspect.steps.empty()) {
    if (!inspect.pending_contract.empty()) {
      return PendingContract(inputs, inspect, resolved);  // phases.cpp
    }
    return RecordAtTarget(inspect, resolved);
  }
  if (RetryBlocked(inputs.digest)) {
    return KeepReportingFailure(current);
  }
  if (RehearsalBlocks(inspect.plan_digest)) {
    return KeepReportingFailure(current);  // this plan failed its rehearsal
  }
  if (auto refused = RefusedTwice(inspect, inputs.digest)) {
    return Refuse(*refused);
  }
  return StartRun(inputs, inspect, resolved);
}

// ---------------------------------------------------------------- checks

std::optional<Problem> Reconciler::Pass::InvalidSpec() const {
  const std::vector<core::FieldError> errors = core::ValidateSpec(obj_.spec);
  if (errors.empty()) {
    return std::nullopt;
  }
  std::string message = "Invalid spec: ";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    message += (i == 0 ? "" : "; ") + errors[i].ToString();
  }
  message += ". Fix these fields of the SchemaMigration.";
  return Problem{rs::kInvalidSpec, message, false,
                 Status(Code::kInvalidArgument, "invalid spec", kSpecFieldsDetail)};
}

std::optional<Problem> Reconciler::Pass::CheckDuplicates(Status& kube_error) {
  auto list =
      r_.kube_.ListSchemaMigrationsReferencing(ns(), "Secret", obj_.spec.url_secret_ref.name);
  if (!list.ok()) {
    kube_error = list.status();
    return std::nullopt;
  }
  const auto& me = obj_.metadata;
  const auto my_created = me.creation_timestamp.value_or(core::Timestamp{});
  for (const SchemaMigration& other : list.value()) {
    if (other.metadata.name == me.name) {
      continue;
    }
    if (!(other.spec.url_secret_ref == obj_.spec.url_secret_ref)) {
      continue;
    }
    const auto other_created = other.metadata.creation_timestamp.value_or(core::Timestamp{});
    const bool other_is_older = other_created < my_created ||
                                (other_created == my_created && other.metadata.name < me.name);
    if (other_is_older) {
      return Problem{rs::kDuplicateDatabase,
                     "SchemaMigration " + ns() + "/" + other.metadata.name +
                         " (created earlier) already manages the database of Secret " +
                         obj_.spec.url_secret_ref.name + " key " + obj_.spec.url_secret_ref.key +
                         ". One database must have one SchemaMigration: delete this one or "
                         "point it at another database.",
                     false, Status(Code::kInvalidArgument, "duplicate database")};
    }
  }
  return std::nullopt;
}

// One database, one owner: `identity` is the database as its server
// identifies it, so two Secrets (or namespaces) reaching one database are
// caught. Every status write of this pass records the identity (Write), so
// other objects see it. Of the objects sharing a database, the oldest
// (creationTimestamp, then namespace/name) runs; every other one waits
// (DatabaseInUse) without touching anything, and so does the oldest while
// a younger one still has a run in progress (started before the oldest
// recorded its identity). Continue: this object may proceed.
// Two objects first reconciled within the cache's lag of each other can
// both miss the other and start; the engine's lock serializes their runs,
// and from the next pass on only the older one runs.
Next Reconciler::Pass::EnsureSoleOwner(const std::string& identity) {
  database_identity_ = identity;
  auto list = r_.kube_.ListSchemaMigrationsByDatabaseIdentity(identity);
  if (!list.ok()) {
    return KubeFailure(list.status(), "Listing SchemaMigrations");
  }
  const auto& me = obj_.metadata;
  const auto mine =
      std::make_tuple(me.creation_timestamp.value_or(core::Timestamp{}), me.namespace_, me.name);
  const SchemaMigration* older = nullptr;
  const SchemaMigration* running = nullptr;
  for (const SchemaMigration& other : list.value()) {
    if ((other.metadata.namespace_ == me.namespace_ && other.metadata.name == me.name) ||
        other.status.database_identity != identity) {
      continue;
    }
    if (other.metadata.deletion_timestamp && !other.status.run) {
      continue;  // going away and holding nothing
    }
    const auto theirs =
        std::make_tuple(other.metadata.creation_timestamp.value_or(core::Timestamp{}),
                        other.metadata.namespace_, other.metadata.name);
    if (theirs < mine) {
      older = older == nullptr ? &other : older;
    } else if (other.status.run) {
      running = running == nullptr ? &other : running;
    }
  }
  const std::string where =
      "Secret " + obj_.spec.url_secret_ref.name + " key " + obj_.spec.url_secret_ref.key;
  if (older != nullptr) {
    return Wait(Problem{
        rs::kDatabaseInUse,
        "SchemaMigration " + older->metadata.namespace_ + "/" + older->metadata.name +
            " (created earlier) already manages the database of " + where +
            " (its server reports the same identity, whatever URL reaches it). One database "
            "must have one SchemaMigration: nothing is done here while that one exists; "
            "delete this SchemaMigration or point it at another database.",
        true, Status(Code::kLockHeld, "database in use")});
  }
  if (running != nullptr) {
    return Wait(Problem{rs::kDatabaseInUse,
                        "SchemaMigration " + running->metadata.namespace_ + "/" +
                            running->metadata.name + " has a run in progress on the database of " +
                            where +
                            "; waiting for it to end (after that, the older "
                            "SchemaMigration, this one, manages the database).",
                        true, Status(Code::kLockHeld, "database in use")});
  }
  return Next::Continue();
}

// Every workload of the spec exists.
std::optional<Problem> Reconciler::Pass::MissingWorkload() {
  const auto& workloads = obj_.spec.workloads;
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const core::WorkloadRef& w = workloads[i];
    auto scale = r_.kube_.GetScale(ns(), w);
    if (scale.ok()) {
      continue;
    }
    if (scale.status().code() == Code::kInvalidArgument) {
      // The kind is not served or cannot be scaled (design §6.3): nothing was
      // touched; re-checked like other stalls (a CRD may be installed later).
      return Problem{rs::kInvalidSpec,
                     "spec.workloads[" + std::to_string(i) + "] " + w.name + ": " +
                         scale.status().message(),
                     false, scale.status()};
    }
    if (scale.status().code() == Code::kNotFound) {
      return Problem{rs::kWorkloadNotFound,
                     w.kind + " " + ns() + "/" + w.name + " (spec.workloads[" + std::to_string(i) +
                         "]) not found. Create it or remove it from spec.workloads.",
                     false, scale.status()};
    }
    return KubeProblem(scale.status(), "Reading the scale of " + w.kind + "/" + w.name);
  }
  return std::nullopt;
}

// Already at target: phase Succeeded, Ready=True, no run.
Next Reconciler::Pass::RecordAtTarget(const InspectResult& inspect,
                                      const core::ResolvedTargetStatus& resolved) {
  SchemaMigrationStatus next = obj_.status;
  next.observed_generation = generation();
  next.current_revision = core::FormatVersions(inspect.current_versions);
  next.target_revision = core::FormatVersions(inspect.target_versions);
  next.resolved_target = resolved;
  next.phase = Phase::kSucceeded;
  next.next_window.reset();
  SetAtTargetConditions(next);
  MarkRetrySeen(next);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Finished("success");
}

// The last run failed for this generation and these files with a reason a
// retry would repeat.
bool Reconciler::Pass::RetryBlocked(const std::string& digest) const {
  const auto& last = obj_.status.last_run;
  if (!last || !BlocksRetry(*last) || replanning_ || RetryRequested()) {
    return false;
  }
  const std::int64_t served =
      last->generation != 0 ? last->generation : obj_.status.observed_generation;
  const bool same_files = last->migrations_digest.empty() || last->migrations_digest == digest;
  return served == generation() && same_files;
}

// Keeps reporting the failure; only records what the database says now.
Next Reconciler::Pass::KeepReportingFailure(const std::string& current) {
  SchemaMigrationStatus next = obj_.status;
  next.current_revision = current;
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Requeue(r_.options_.stalled_recheck, "stalled");
}

// The engine refused this very plan as changed although neither the files
// nor the database moved since it was planned: planning again would scale
// the application down and up in a loop.
std::optional<Problem> Reconciler::Pass::RefusedTwice(const InspectResult& inspect,
                                                      const std::string& digest) {
  const auto& last = obj_.status.last_run;
  const std::string current = core::FormatVersions(inspect.current_versions);
  if (replanning_ || RetryRequested()) {
    return std::nullopt;  // design §9
  }
  if (!last || last->reason != rs::kMigrationsChanged || last->generation != generation() ||
      last->migrations_digest != digest || last->from != current ||
      last->to != core::FormatVersions(inspect.target_versions)) {
    return std::nullopt;
  }
  return Problem{rs::kMigrationsChanged,
                 "The migration engine refused the plan from " + current + " to " + last->to +
                     " as changed, but neither ConfigMap " + obj_.spec.migrations_config_map +
                     " nor the database changed since it was planned (" + last->message +
                     "). Not retrying in a loop: check the files and the database (schemaop plan), "
                     "then change the spec or the ConfigMap to retry.",
                 false, Status(Code::kMigrationsChanged, "plan refused twice")};
}

// --------------------------------------------------------------- answers

// Bad input before any side effect: Stalled (terminal) or a retry.
Next Reconciler::Pass::Refuse(const Problem& problem) {
  if (Status s = ReportProblem(problem, /*stalled=*/!problem.transient); !s.ok()) {
    return WriteFailed(s);
  }
  if (problem.transient) {
    return Backoff(problem);
  }
  if (problem.reason == rs::kInvalidSpec && problem.cause.detail() == kSpecFieldsDetail) {
    return Finished("stalled");  // only a spec change helps; that triggers a reconcile
  }
  // Anything else may be fixed outside the spec (a Secret is not watched):
  // re-checked every stalled_recheck.
  return Stalled();
}

// Records `problem` outside a run: Ready=False, and Stalled=True (phase
// Failed) when `stalled`, else Reconciling=True. Its warning Event is
// emitted only when the status changed, so a resync repeats none.
core::Status Reconciler::Pass::ReportProblem(const Problem& problem, bool stalled) {
  SchemaMigrationStatus next = obj_.status;
  next.observed_generation = generation();
  if (stalled) {
    next.phase = Phase::kFailed;
  }
  SetKstatus(
      next, ConditionStatus::kFalse, stalled ? ConditionStatus::kFalse : ConditionStatus::kTrue,
      stalled ? ConditionStatus::kTrue : ConditionStatus::kFalse, problem.reason, problem.message);
  // Compared after Write normalised the messages (scrubbed, bounded): a
  // message that echoes the Secret must not count as new on every resync.
  bool changed = false;
  if (Status s = Write(std::move(next), &changed); !s.ok()) {
    return s;
  }
  if (changed) {
    Event(EventType::kWarning, problem.reason, problem.message);
  }
  return Status::Ok();
}

// A wait for something outside this object (kstatus: not Stalled, since
// it resolves without a change here; Reconciling stays True): reported
// once, re-checked every stalled_recheck.
Next Reconciler::Pass::Wait(const Problem& problem) {
  if (Status s = ReportProblem(problem, /*stalled=*/false); !s.ok()) {
    return WriteFailed(s);
  }
  r_.backoff_.Reset(Key());
  return Requeue(r_.options_.stalled_recheck, "requeue");
}

// spec.suspend: no run is started. Invariant (docs/gitops.md, kstatus):
// whenever Ready is not True for the current generation, Reconciling or
// Stalled is True, or Flux (kstatus) would call the migration done. So
// Ready stays True only while the database is still at what this spec
// asks for (Ready before, for the same spec.targetRevision, resolved to the
// revision last seen); a target changed while suspended is Stalled (reason
// Suspended) until spec.suspend is false, and GitOps tools hold back what
// depends on it.
Next Reconciler::Pass::Suspend(SchemaMigrationStatus next) {
  next.observed_generation = generation();
  const core::Condition* ready = core::FindCondition(next.conditions, ct::kReady);
  const auto& resolved = next.resolved_target;
  const bool still_at_target = ready != nullptr && ready->status == ConditionStatus::kTrue &&
                               resolved && resolved->target_revision == obj_.spec.target_revision &&
                               resolved->revision == next.current_revision;
  const std::string seen =
      next.current_revision.empty() ? std::string("an unknown revision") : next.current_revision;
  if (still_at_target) {
    SetKstatus(next, ConditionStatus::kTrue, ConditionStatus::kFalse, ConditionStatus::kFalse,
               rs::kSuspended,
               "spec.suspend is true: no new run is started; the database is at " + seen +
                   " (spec.targetRevision '" + obj_.spec.target_revision +
                   "'). Set spec.suspend to false to resume.");
  } else {
    SetKstatus(next, ConditionStatus::kFalse, ConditionStatus::kFalse, ConditionStatus::kTrue,
               rs::kSuspended,
               "spec.suspend is true: spec.targetRevision '" + obj_.spec.target_revision +
                   "' is not applied (database last seen at " + seen +
                   "). Set spec.suspend to false to run it.");
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Finished("success");
}

}  // namespace schemaop::reconcile
