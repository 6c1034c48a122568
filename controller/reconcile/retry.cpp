// The schemaop.dev/retry annotation (design §9): a failed run is not
// retried for the same input (design §6.2 step 9); a NEW value of the
// annotation lifts that once. The last value acted on is kept in
// status.lastHandledRetry, so each value retries once, across restarts
// and failovers.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

std::string Reconciler::Pass::RetryValue() const {
  const auto found = obj_.metadata.annotations.find(core::kRetryAnnotation);
  if (found == obj_.metadata.annotations.end() || found->second.empty()) {
    return "";
  }
  return core::RetryToken(found->second);
}

bool Reconciler::Pass::RetryRequested() const {
  const std::string value = RetryValue();
  return !value.empty() && value != obj_.status.last_handled_retry;
}

// Every pass that decides about a run (one starts, the database is already
// at the target, or a run ends) takes the value as seen: a value set before
// a failure does not retry that failure; only one set after it does.
void Reconciler::Pass::MarkRetrySeen(SchemaMigrationStatus& next) const {
  const std::string value = RetryValue();
  if (!value.empty()) {
    next.last_handled_retry = value;
  }
}

// StartRun: a run started while a new value was pending is that retry
// (status.run.retry, later lastRun.retry); a replanned one keeps it.
void Reconciler::Pass::TakeRetry(SchemaMigrationStatus& next) {
  if (RetryRequested()) {
    next.run->retry = RetryValue();
    retry_started_ = true;
  } else if (replanning_) {
    next.run->retry = replanned_retry_;
  }
  MarkRetrySeen(next);
}

// After the StartRun write of a run that TakeRetry made a retry.
void Reconciler::Pass::RetryEvent() {
  if (!retry_started_) {
    return;
  }
  const auto& last = obj_.status.last_run;
  std::string after;
  if (last && last->outcome != core::kOutcomeSucceeded) {
    after = " after the failed one (" + last->outcome +
            (last->reason.empty() ? "" : ", " + last->reason) + ")";
  }
  Event(EventType::kNormal, rs::kRetryRequested,
        "Annotation " + std::string(core::kRetryAnnotation) + "=" + obj_.status.run->retry +
            ": started a new run" + after + ".");
}

// RunIdentity::retry of `run`: its retry value and its start time, so a
// value used again later (after another one) is still a new run; stable
// for the run's whole life, since both are in status.run.
std::string RetryKey(const core::RunStatus& run) {
  if (run.retry.empty()) {
    return "";
  }
  return run.retry + "@" + std::to_string(run.start_time.value_or(core::Timestamp{}).unix_millis);
}

}  // namespace schemaop::reconcile
