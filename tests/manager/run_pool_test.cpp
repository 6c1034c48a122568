// RunPool (design §6.5): runs on threads of their own, at most N at a time,
// the rest waiting in order; a finished run handed out exactly once; the
// downtime deadline and cancel requests reach the run's RunCancel; a
// shutdown waits for the grace, then cancels. No database: the work is a
// function that waits for its RunCancel (as the engine's forward pass does).
#include "manager/run_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace schemaop::manager {
namespace {

using reconcile::MigrateOutcome;
using reconcile::MigrateResult;
using reconcile::RunControl;
using reconcile::RunTicket;
using State = RunTicket::State;

// A run that ends when released or cancelled (then "rolled back" with the
// cancel's status, as the engine reports it).
struct FakeRuns {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> released;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};

  RunPool::Work Work(const std::string& name) {
    return [this, name](std::shared_ptr<database::RunCancel> cancel) {
      const int now = ++running;
      int seen = max_running.load();
      while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
      }
      MigrateResult result;
      result.outcome = MigrateOutcome::kSucceeded;
      std::unique_lock<std::mutex> lock(mu);
      while (released.count(name) == 0) {
        if (auto why = cancel->requested()) {
          result.outcome = MigrateOutcome::kRolledBack;
          result.failure = *why;
          break;
        }
        cv.wait_for(lock, std::chrono::milliseconds(10));
      }
      --running;
      return core::Result<MigrateResult>(result);
    };
  }
  void Release(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    released.insert(name);
    cv.notify_all();
  }
};

// Polls Find until the run ended; returns its ticket.
RunTicket AwaitFinished(RunPool& pool, const std::string& key) {
  for (int i = 0; i < 1000; ++i) {
    auto ticket = pool.Find(key, RunControl{});
    if (!ticket) {
      ADD_FAILURE() << key << " unknown to the pool";
      return RunTicket{};
    }
    if (ticket->state == State::kFinished) {
      return *ticket;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << key << " did not finish";
  return RunTicket{};
}

TEST(RunPoolTest, BoundsConcurrentRunsAndQueuesTheRestInOrder) {
  FakeRuns runs;
  std::mutex finished_mu;
  std::vector<std::string> finished;
  RunPool pool(2, [&](const std::string& object) {
    std::lock_guard<std::mutex> lock(finished_mu);
    finished.push_back(object);
  });
  pool.Start("a", "ns/a", RunControl{}, runs.Work("a"));
  pool.Start("b", "ns/b", RunControl{}, runs.Work("b"));
  RunTicket third = pool.Start("c", "ns/c", RunControl{}, runs.Work("c"));
  EXPECT_EQ(third.state, State::kWaiting);
  EXPECT_EQ(third.max_runs, 2);
  while (pool.running() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(pool.Find("c", RunControl{})->state, State::kWaiting);

  runs.Release("a");
  RunTicket a = AwaitFinished(pool, "a");
  ASSERT_TRUE(a.result.has_value());
  EXPECT_EQ(a.result->value().outcome, MigrateOutcome::kSucceeded);
  // Handed out once: the pool forgets it.
  EXPECT_FALSE(pool.Find("a", RunControl{}).has_value());
  runs.Release("b");
  runs.Release("c");
  AwaitFinished(pool, "b");
  AwaitFinished(pool, "c");
  EXPECT_EQ(runs.max_running.load(), 2);
  std::lock_guard<std::mutex> lock(finished_mu);
  EXPECT_EQ(finished.size(), 3u);  // every end reconciles its object
}

TEST(RunPoolTest, StartOfAKnownRunDoesNotStartItTwice) {
  FakeRuns runs;
  RunPool pool(4, nullptr);
  pool.Start("a", "ns/a", RunControl{}, runs.Work("a"));
  pool.Start("a", "ns/a", RunControl{}, runs.Work("a"));
  while (pool.running() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(runs.max_running.load(), 1);
  runs.Release("a");
  AwaitFinished(pool, "a");
}

TEST(RunPoolTest, PassedDeadlineCancelsTheRunWithItsStatus) {
  FakeRuns runs;
  RunPool pool(1, nullptr);
  RunControl control;
  control.deadline = core::Timestamp{
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() +
      100};
  control.deadline_status = core::Status(core::Code::kDowntimeExceeded, "budget");
  pool.Start("a", "ns/a", control, runs.Work("a"));
  RunTicket a = AwaitFinished(pool, "a");
  ASSERT_TRUE(a.result.has_value());
  EXPECT_EQ(a.result->value().outcome, MigrateOutcome::kRolledBack);
  EXPECT_EQ(a.result->value().failure.code(), core::Code::kDowntimeExceeded);
}

TEST(RunPoolTest, CancelThroughFindReachesARunningRun) {
  FakeRuns runs;
  RunPool pool(1, nullptr);
  pool.Start("a", "ns/a", RunControl{}, runs.Work("a"));
  while (pool.running() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  RunControl abort;
  abort.cancel = core::Status(core::Code::kAborted, "aborted");
  pool.Find("a", abort);
  RunTicket a = AwaitFinished(pool, "a");
  EXPECT_EQ(a.result->value().failure.code(), core::Code::kAborted);
}

TEST(RunPoolTest, ShutdownLetsRunsEndWithinTheGraceThenCancels) {
  FakeRuns runs;
  RunPool pool(2, nullptr);
  pool.Start("quick", "ns/quick", RunControl{}, runs.Work("quick"));
  pool.Start("slow", "ns/slow", RunControl{}, runs.Work("slow"));
  while (pool.running() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    runs.Release("quick");
  });
  pool.Shutdown(std::chrono::milliseconds(300),
                core::Status(core::Code::kAborted, "stopping", database::kCancelRetryableDetail));
  releaser.join();
  EXPECT_EQ(pool.running(), 0);
  RunTicket quick = *pool.Find("quick", RunControl{});
  EXPECT_EQ(quick.result->value().outcome, MigrateOutcome::kSucceeded);
  RunTicket slow = *pool.Find("slow", RunControl{});
  EXPECT_EQ(slow.result->value().outcome, MigrateOutcome::kRolledBack);
  EXPECT_EQ(slow.result->value().failure.detail(), database::kCancelRetryableDetail);
}

}  // namespace
}  // namespace schemaop::manager
