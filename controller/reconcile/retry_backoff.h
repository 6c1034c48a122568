#pragma once
// Per-object exponential back-off of transient failures (design §6.1): the
// delay a failed reconcile puts into ReconcileResult::requeue_after. It
// starts at `initial`, doubles with each consecutive failure of the same
// object up to `max`, and starts over once the object makes progress.
// The manager requeues a failed reconcile through its own rate-limited work
// queue with the same bounds (manager/manager.h); drivers without such a
// queue (the unit and kube tiers) follow requeue_after.
#include <algorithm>
#include <chrono>
#include <map>
#include <string>

namespace schemaop::reconcile {

class RetryBackoff {
 public:
  RetryBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max) {}

  // Counts one more failure of `key` ("ns/name") and returns the delay.
  std::chrono::milliseconds Failed(const std::string& key) {
    int& failures = failures_[key];
    std::chrono::milliseconds delay = initial_;
    for (int i = 0; i < failures && delay < max_; ++i) {
      delay *= 2;
    }
    ++failures;
    return std::min(delay, max_);
  }

  // `key` made progress (or is gone): its next failure waits `initial` again.
  void Reset(const std::string& key) { failures_.erase(key); }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::map<std::string, int> failures_;  // consecutive failures per "ns/name"
};

}  // namespace schemaop::reconcile
