#include "kube/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace schemaop::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(WorkQueueTest, DeduplicatesQueuedKeys) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  queue.Add("b");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.TryGet(), "a");
  EXPECT_EQ(queue.TryGet(), "b");
  EXPECT_EQ(queue.TryGet(), std::nullopt);
}

TEST(WorkQueueTest, KeyReaddedWhileProcessingIsQueuedAgainOnlyAfterDone) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  auto key = queue.TryGet();
  ASSERT_EQ(key, "a");
  queue.Add("a");
  queue.Add("a");
  EXPECT_EQ(queue.Len(), 0u) << "a second worker must not get a key in process";
  EXPECT_EQ(queue.TryGet(), std::nullopt);
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 1u);
  EXPECT_EQ(queue.TryGet(), "a");
  queue.Done("a");
  EXPECT_EQ(queue.Len(), 0u);
}

TEST(WorkQueueTest, AddAfterWaitsForTheInjectedClock) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("a", seconds(2));
  queue.AddAfter("b", seconds(1));
  queue.AddAfter("a", seconds(5));  // later time does not postpone
  EXPECT_EQ(queue.Len(), 0u);
  EXPECT_EQ(queue.NumWaiting(), 2u);
  clock.Advance(milliseconds(999));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(queue.Len(), 1u);
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 2u);
  EXPECT_EQ(queue.TryGet(), "b");
  EXPECT_EQ(queue.TryGet(), "a");
  queue.AddAfter("c", seconds(0));
  EXPECT_EQ(queue.Len(), 1u) << "non-positive delay adds immediately";
}

TEST(WorkQueueTest, AddAfterOfAQueuedKeyDoesNotDuplicate) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  queue.AddAfter("a", seconds(1));
  clock.Advance(seconds(1));
  EXPECT_EQ(queue.Len(), 1u);
}

TEST(RateLimiterTest, ExponentialPerKeyBackoffCappedAndForgotten) {
  ExponentialFailureRateLimiter limiter(milliseconds(5), seconds(1000));
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
  EXPECT_EQ(limiter.When("a"), milliseconds(10));
  EXPECT_EQ(limiter.When("a"), milliseconds(20));
  EXPECT_EQ(limiter.When("b"), milliseconds(5)) << "per key";
  EXPECT_EQ(limiter.NumRequeues("a"), 3);
  for (int i = 0; i < 100; ++i) (void)limiter.When("a");
  EXPECT_EQ(limiter.When("a"), seconds(1000));
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
}

TEST(RateLimiterTest, TokenBucketAllowsBurstThenPacesAtQps) {
  FakeClock clock;
  BucketRateLimiter limiter(10.0, 100, clock);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(limiter.When("k" + std::to_string(i)), Clock::Duration::zero()) << i;
  }
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(limiter.When("x")), milliseconds(100));
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(limiter.When("y")), milliseconds(200));
  clock.Advance(seconds(10));  // refills 100 tokens, minus the 2 reserved
  int free_tokens = 0;
  while (limiter.When("z") == Clock::Duration::zero()) ++free_tokens;
  EXPECT_EQ(free_tokens, 98);
}

TEST(RateLimiterTest, DefaultControllerLimiterTakesTheMax) {
  FakeClock clock;
  WorkQueue queue(clock);  // default limiter
  // Per-key back-off dominates while the bucket has tokens.
  queue.AddRateLimited("a");
  EXPECT_EQ(queue.NumRequeues("a"), 1);
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(milliseconds(4));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(queue.Len(), 1u);
  ASSERT_EQ(queue.TryGet(), "a");
  queue.Done("a");
  queue.AddRateLimited("a");
  clock.Advance(milliseconds(9));
  EXPECT_EQ(queue.Len(), 0u);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(queue.Len(), 1u);
  queue.Forget("a");
  EXPECT_EQ(queue.NumRequeues("a"), 0);

  // The bucket dominates once the burst is spent: 98 more fresh keys are
  // free (2 tokens used above), the next waits 100 ms although its own
  // back-off is only 5 ms.
  for (int i = 0; i < 98; ++i) queue.AddRateLimited("k" + std::to_string(i));
  clock.Advance(milliseconds(5));
  size_t ready = queue.Len();
  queue.AddRateLimited("late");
  clock.Advance(milliseconds(50));
  EXPECT_EQ(queue.Len(), ready);
  clock.Advance(milliseconds(50));
  EXPECT_EQ(queue.Len(), ready + 1);
}

TEST(WorkQueueTest, GetBlocksUntilAddAndShutDownWakesWaiters) {
  FakeClock clock;
  WorkQueue queue(clock);
  std::optional<std::string> got;
  std::thread worker([&] { got = queue.Get(); });
  queue.Add("x");
  worker.join();
  EXPECT_EQ(got, "x");

  std::atomic<int> woke{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      if (!queue.Get().has_value()) ++woke;
    });
  }
  queue.ShutDown();
  for (auto& t : waiters) t.join();
  EXPECT_EQ(woke.load(), 3);
  EXPECT_TRUE(queue.ShuttingDown());
  queue.Add("after");
  EXPECT_EQ(queue.Len(), 0u) << "adds after shutdown are ignored";
}

TEST(WorkQueueTest, ShutDownStillDrainsQueuedItems) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.Add("a");
  queue.ShutDown();
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Get(), std::nullopt);
}

TEST(WorkQueueTest, BlockedGetWakesWhenTheFakeClockReachesADelayedKey) {
  FakeClock clock;
  WorkQueue queue(clock);
  queue.AddAfter("later", seconds(30));
  std::optional<std::string> got;
  std::thread worker([&] { got = queue.Get(); });
  // Wait (on a condition, not a sleep) until the worker is parked on the clock.
  while (clock.waiters() == 0) std::this_thread::yield();
  clock.Advance(seconds(10));
  EXPECT_FALSE(got.has_value());
  clock.Advance(seconds(20));
  worker.join();
  EXPECT_EQ(got, "later");
}

TEST(WorkQueueTest, NoKeyIsProcessedByTwoWorkersAtOnce) {
  WorkQueue queue;  // real clock: concurrency check, no timing asserted
  std::atomic<int> in_flight{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = queue.Get()) {
        if (++in_flight > 1) overlap = true;
        queue.Add(*key);  // re-add while processing
        --in_flight;
        ++processed;
        queue.Done(*key);
        if (processed.load() > 2000) queue.ShutDown();
      }
    });
  }
  queue.Add("only");
  for (auto& t : workers) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GT(processed.load(), 2000);
}

}  // namespace
}  // namespace schemaop::kube
