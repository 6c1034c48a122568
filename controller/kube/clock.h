#pragma once
// Injected time (conventions §7): the work queue, informer back-off, event
// aggregation and leader election read time and wait through a Clock, so unit
// tests drive them with FakeClock and no sleeps.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

namespace schemaop::kube {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  // Monotonic time, for durations and deadlines.
  virtual TimePoint Now() const = 0;
  // Wall time, for timestamps written to the API (Events, Leases).
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
  // Waits on `cv` (whose mutex `lock` holds) until notified or Now() reaches
  // `deadline`; spurious wake-ups allowed, callers re-check their condition.
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         TimePoint deadline) = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::now();
  }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override {
    if (deadline == TimePoint::max()) {
      cv.wait(lock);  // wait_until(max) may overflow converting clocks
    } else {
      cv.wait_until(lock, deadline);
    }
  }
  // Process-wide instance.
  static SystemClock& Instance();
};

// Time moves only through Advance(). Waiters blocked in WaitUntil are woken
// on every Advance, so a blocked Get() re-checks its delayed items.
class FakeClock final : public Clock {
 public:
  FakeClock();
  TimePoint Now() const override;
  std::chrono::system_clock::time_point WallNow() const override;
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) override;
  void Advance(Duration d);
  // Number of threads currently blocked in WaitUntil (lets tests wait until a
  // worker is parked before advancing).
  int waiters() const;

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mu;
  };
  mutable std::mutex mu_;
  TimePoint now_;
  std::chrono::system_clock::time_point wall_;
  int next_id_ = 0;
  std::map<int, Waiter> waiters_;
};

}  // namespace schemaop::kube
