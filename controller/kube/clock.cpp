#include "kube/clock.h"

#include <vector>

namespace schemaop::kube {

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

FakeClock::FakeClock()
    : now_(std::chrono::steady_clock::time_point() + std::chrono::hours(1000)),
      wall_(std::chrono::system_clock::time_point() + std::chrono::hours(24 * 365 * 50)) {}

Clock::TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

std::chrono::system_clock::time_point FakeClock::WallNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

void FakeClock::WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          TimePoint deadline) {
  int id;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (now_ >= deadline) return;
    id = next_id_++;
    waiters_[id] = Waiter{&cv, lock.mutex()};
  }
  // Advance() takes the waiter's mutex before notifying, so a time change
  // between the check above and this wait cannot be missed.
  cv.wait(lock);
  std::lock_guard<std::mutex> guard(mu_);
  waiters_.erase(id);
}

void FakeClock::Advance(Duration d) {
  std::vector<Waiter> to_wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    for (const auto& [id, waiter] : waiters_) to_wake.push_back(waiter);
  }
  for (const auto& waiter : to_wake) {
    std::lock_guard<std::mutex> lock(*waiter.mu);
    waiter.cv->notify_all();
  }
}

int FakeClock::waiters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(waiters_.size());
}

}  // namespace schemaop::kube
