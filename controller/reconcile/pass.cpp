// The plumbing every step of a Pass shares: conditions, the one status write
// (conventions §4), intents (design §7), events, and the results a step
// stops with.
#include "reconcile/pass.h"

#include <utility>

namespace schemaop::reconcile {

// ---------------------------------------------------------------- status

void Reconciler::Pass::SetCond(SchemaMigrationStatus& s, const char* type, ConditionStatus status,
                               const std::string& reason, const std::string& message) {
  core::Condition c;
  c.type = type;
  c.status = status;
  c.observed_generation = s.observed_generation;
  c.reason = reason;
  c.message = message;
  core::SetCondition(s.conditions, std::move(c), Now());
}

void Reconciler::Pass::SetKstatus(SchemaMigrationStatus& s, ConditionStatus ready,
                                  ConditionStatus reconciling, ConditionStatus stalled,
                                  const std::string& reason, const std::string& message) {
  SetCond(s, ct::kReady, ready, reason, message);
  SetCond(s, ct::kReconciling, reconciling, reason, message);
  SetCond(s, ct::kStalled, stalled, reason, message);
}

void Reconciler::Pass::SetAtTargetConditions(SchemaMigrationStatus& next) {
  const std::string message = "Database is at revision " + next.current_revision +
                              " (spec.targetRevision '" + obj_.spec.target_revision +
                              "'); workloads are running.";
  SetKstatus(next, ConditionStatus::kTrue, ConditionStatus::kFalse, ConditionStatus::kFalse,
             rs::kSucceeded, message);
}

// Writes `next` as the new status unless it equals the stored one
// (conventions §4: computed, then written once), or always when `force`
// (an intent write: its point is the resourceVersion check by the API
// server, so a stale object is answered with a conflict).
// `wrote` (optional) tells whether an API write happened.
core::Status Reconciler::Pass::Write(SchemaMigrationStatus next, bool* wrote, bool force) {
  if (wrote != nullptr) {
    *wrote = false;
  }
  for (core::Condition& c : next.conditions) {
    c.message = BoundedMessage(scrubber_.Scrub(std::move(c.message)));
  }
  if (next.last_run) {
    next.last_run->message = BoundedMessage(scrubber_.Scrub(std::move(next.last_run->message)));
  }
  if (next.run) {
    next.run->message = BoundedMessage(scrubber_.Scrub(std::move(next.run->message)));
  }
  if (next.rehearsal) {
    next.rehearsal->message = BoundedMessage(scrubber_.Scrub(std::move(next.rehearsal->message)));
  }
  if (!database_identity_.empty()) {
    next.database_identity = database_identity_;
  }
  // status.progress exists only while the engine runs (design §6.8).
  if (run_ended_ || next.phase != core::Phase::kMigrating || !next.run) {
    next.progress.reset();
  }
  if (!force && next == obj_.status) {
    return Status::Ok();
  }
  SchemaMigration updated = obj_;
  updated.status = std::move(next);
  auto rv = r_.kube_.UpdateStatus(updated);
  if (!rv.ok()) {
    return rv.status();
  }
  updated.metadata.resource_version = rv.value();
  obj_ = std::move(updated);
  intent_written_ = obj_.status.run ? obj_.status.run->intent : std::string();
  if (wrote != nullptr) {
    *wrote = true;
  }
  return Status::Ok();
}

// Intent before action (design §7, rule 1: a controller with a stale cache
// after a failover must not scale or back up anything): `intent` is recorded
// in status.run by a write that succeeded against the object's current
// resourceVersion before the action is taken. A write of this pass that
// already carried the intent counts; otherwise the write is forced, even
// when nothing else changed, so the API server checks the resourceVersion
// (kConflict on a stale object, and the caller acts on nothing).
void Reconciler::Pass::SetIntent(SchemaMigrationStatus& next, const char* intent) {
  if (next.run->intent != intent) {
    next.run->intent = intent;
    next.run->intent_time = Now();
  }
}

core::Status Reconciler::Pass::RecordIntent(const char* intent) {
  if (intent_written_ == intent) {
    return Status::Ok();
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->intent = intent;
  next.run->intent_time = Now();
  return Write(std::move(next), nullptr, /*force=*/true);
}

void Reconciler::Pass::Event(EventType type, const std::string& reason,
                             const std::string& message) {
  r_.kube_.RecordEvent(obj_, type, reason, BoundedMessage(scrubber_.Scrub(message)));
}

// --------------------------------------------------------------- results

Next Reconciler::Pass::Requeue(std::chrono::milliseconds after, std::string metric) {
  metric_result_ = std::move(metric);
  ReconcileResult result;
  result.requeue_after = after;
  return Next::Stop(result);
}

// Nothing pending: the next watch event or resync comes back.
Next Reconciler::Pass::Finished(std::string metric) {
  metric_result_ = std::move(metric);
  r_.backoff_.Reset(Key());
  return Next::Stop(ReconcileResult{});
}

// Stalled on something that may be fixed outside the spec: re-checked
// every stalled_recheck.
Next Reconciler::Pass::Stalled() {
  r_.backoff_.Reset(Key());
  return Requeue(r_.options_.stalled_recheck, "stalled");
}

Next Reconciler::Pass::Backoff(const Problem& problem) {
  metric_result_ = "retry";
  ReconcileResult result;
  result.requeue_after = r_.backoff_.Failed(Key());
  // The detail too: the manager logs Status::ToString(), detail included.
  result.error = Status(problem.cause.ok() ? Code::kInternal : problem.cause.code(),
                        scrubber_.Scrub(problem.message), scrubber_.Scrub(problem.cause.detail()));
  return Next::Stop(result);
}

// A Kubernetes API failure that is neither a conflict nor a missing input.
// A conflict stops the Pass; Reconcile starts a new one on a fresh read.
Next Reconciler::Pass::KubeFailure(const Status& status, const std::string& what) {
  if (status.code() == Code::kConflict) {
    return Next::Stop(status);
  }
  metric_result_ = "error";
  ReconcileResult result;
  result.requeue_after = r_.backoff_.Failed(Key());
  result.error = Status(status.code(), what + ": " + scrubber_.Scrub(status.message()),
                        scrubber_.Scrub(status.detail()));
  return Next::Stop(result);
}

// ------------------------------------------------------------ in a run

// A transient problem during a run: the run stays where it is.
Next Reconciler::Pass::RetryRun(const Problem& problem) {
  SchemaMigrationStatus next = obj_.status;
  SetCond(next, ct::kReady, ConditionStatus::kFalse, problem.reason, problem.message);
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, problem.reason, problem.message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Backoff(problem);
}

// An input (Secret, ConfigMap, workload) went wrong mid-run, before the
// database is touched: a transient problem retries the run, a terminal one
// ends it (AbortRun records why and restores the workloads).
Next Reconciler::Pass::StopForInputProblem(const Problem& problem) {
  if (problem.transient) {
    return RetryRun(problem);
  }
  return AbortRun(problem.reason, problem.message);
}

}  // namespace schemaop::reconcile
