#pragma once
// A rate-limited work queue with client-go's semantics (workqueue package):
//  - a key queued twice is processed once (de-duplication);
//  - a key is never handed to two workers at once: re-added while being
//    processed, it is queued again only after Done();
//  - AddRateLimited delays by max(per-key exponential back-off 5 ms * 2^n up
//    to 1000 s, overall token bucket 10 qps burst 100); Forget resets the
//    per-key back-off;
//  - AddAfter(key, d) queues after d (the earliest pending time wins);
//  - ShutDown wakes blocked Get() callers; items already queued are still
//    handed out, then Get() returns nullopt.
// Thread-safe. Time comes from an injected Clock.
//
// Usage (controller loop):
//   kube::WorkQueue queue;                       // default controller limiter
//   // informer handlers call queue.Add(kube::KeyOf(object))
//   while (auto key = queue.Get()) {
//     auto result = Reconcile(*key);
//     if (!result.ok()) {
//       queue.AddRateLimited(*key);    // back off on failure
//     } else {
//       queue.Forget(*key);            // reset the back-off
//       if (result->requeue_after) queue.AddAfter(*key, *result->requeue_after);
//     }
//     queue.Done(*key);
//   }
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kube/clock.h"

namespace schemaop::kube {

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // How long to wait before processing `key` again (counts a failure).
  virtual Clock::Duration When(const std::string& key) = 0;
  virtual void Forget(const std::string& key) = 0;
  virtual int NumRequeues(const std::string& key) = 0;
};

// base * 2^failures, capped at max_delay. Per key.
class ExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ExponentialFailureRateLimiter(Clock::Duration base, Clock::Duration max_delay);
  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  std::mutex mu_;
  Clock::Duration base_;
  Clock::Duration max_;
  std::map<std::string, int> failures_;
};

// Token bucket shared by all keys (golang.org/x/time/rate Reserve semantics:
// each call reserves a token, possibly in the future).
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, Clock& clock);
  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string&) override {}
  int NumRequeues(const std::string&) override { return 0; }

 private:
  std::mutex mu_;
  double qps_;
  double burst_;
  Clock& clock_;
  double tokens_;
  Clock::TimePoint last_;
};

// The longest delay of its members.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);
  Clock::Duration When(const std::string& key) override;
  void Forget(const std::string& key) override;
  int NumRequeues(const std::string& key) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(5 ms..1000 s per key, 10 qps burst 100).
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock& clock);

class WorkQueue {
 public:
  explicit WorkQueue(Clock& clock = SystemClock::Instance());
  WorkQueue(std::unique_ptr<RateLimiter> limiter, Clock& clock);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  void AddAfter(const std::string& key, Clock::Duration delay);
  void AddRateLimited(const std::string& key);
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready or the queue is shut down and drained
  // (nullopt). The caller must call Done(key) when finished with it.
  std::optional<std::string> Get();
  // Non-blocking Get for tests and single-threaded drivers.
  std::optional<std::string> TryGet();
  void Done(const std::string& key);

  // Keys ready to be handed out (excludes delayed and in-process keys).
  size_t Len();
  // Keys waiting for their AddAfter/AddRateLimited time.
  size_t NumWaiting();
  void ShutDown();
  bool ShuttingDown();

 private:
  void AddLocked(const std::string& key);
  // Moves delayed keys whose time has come into the queue.
  void PromoteDueLocked();

  Clock& clock_;
  std::unique_ptr<RateLimiter> limiter_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> dirty_;       // queued or to re-queue after Done
  std::set<std::string> processing_;  // handed out, Done not yet called
  std::map<std::string, Clock::TimePoint> waiting_;  // key -> ready time
  bool shutting_down_ = false;
};

}  // namespace schemaop::kube
