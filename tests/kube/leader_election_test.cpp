// The election algorithm against an in-memory LeaseStore and a FakeClock.
#include "kube/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace schemaop::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class MemoryLeaseStore final : public LeaseStore {
 public:
  core::Result<std::optional<ObservedLease>> Get() override {
    {
      // A renew that hangs (a slow API server) until the test lets it go.
      std::unique_lock<std::mutex> lock(hang_mu_);
      if (hang_) {
        ++hung_;
        hang_cv_.notify_all();
        hang_cv_.wait(lock, [this] { return !hang_; });
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_gets.load() > 0) {
      fail_gets.fetch_sub(1);
      return core::Status(core::Code::kUnreachable, "injected");
    }
    if (!lease_) return std::optional<ObservedLease>();
    return lease_;
  }
  core::Status Create(const LeaderElectionRecord& record) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (lease_) return core::Status(core::Code::kConflict, "exists", "HTTP 409 AlreadyExists");
    lease_ = ObservedLease{record, std::to_string(++rv_)};
    return core::Status::Ok();
  }
  core::Status Update(const LeaderElectionRecord& record, const std::string& rv) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!lease_ || lease_->resource_version != rv) {
      ++conflicts;
      return core::Status(core::Code::kConflict, "stale", "HTTP 409 Conflict");
    }
    lease_ = ObservedLease{record, std::to_string(++rv_)};
    return core::Status::Ok();
  }
  std::string Describe() const override { return "memory"; }
  // Another machine writes the lease (its clock is not ours).
  void Put(LeaderElectionRecord record) {
    std::lock_guard<std::mutex> lock(mu_);
    lease_ = ObservedLease{std::move(record), std::to_string(++rv_)};
  }
  LeaderElectionRecord record() {
    std::lock_guard<std::mutex> lock(mu_);
    return lease_->record;
  }
  void Hang(bool on) {
    std::lock_guard<std::mutex> lock(hang_mu_);
    hang_ = on;
    hang_cv_.notify_all();
  }
  void WaitUntilHung() {
    std::unique_lock<std::mutex> lock(hang_mu_);
    hang_cv_.wait(lock, [this] { return hung_ > 0; });
  }
  int conflicts = 0;
  std::atomic<int> fail_gets{0};

 private:
  std::mutex hang_mu_;
  std::condition_variable hang_cv_;
  bool hang_ = false;
  int hung_ = 0;
  std::mutex mu_;
  std::optional<ObservedLease> lease_;
  int rv_ = 0;
};

LeaderElectionConfig Config(const std::string& id) {
  LeaderElectionConfig c;
  c.identity = id;
  return c;  // defaults 15 s / 10 s / 2 s
}

// Each test's Lease store and clock, and its candidates.
class LeaderElectionTest : public ::testing::Test {
 protected:
  // A candidate with identity `id` and the default durations (null, with a
  // failed expectation, if it cannot be created).
  std::unique_ptr<LeaderElector> Elector(const std::string& id) {
    auto elector = LeaderElector::Create(store_, Config(id), clock_);
    EXPECT_TRUE(elector.ok()) << elector.status().ToString();
    return elector.ok() ? std::move(elector).value() : nullptr;
  }

  // Candidate "a", started on its own thread and leading; counts its
  // started/stopped callbacks.
  core::Result<std::unique_ptr<LeaderElector>> StartLeader() {
    LeaderElectionConfig config = Config("a");
    config.on_started_leading = [this] { ++started_; };
    config.on_stopped_leading = [this] { ++stopped_; };
    auto a = LeaderElector::Create(store_, config, clock_);
    if (a.ok()) {
      (*a)->Start();
      while (started_.load() == 0) std::this_thread::yield();
    }
    return a;
  }

  FakeClock clock_;
  MemoryLeaseStore store_;
  std::atomic<int> started_{0};
  std::atomic<int> stopped_{0};
};

// A candidate that cannot read the Lease (RBAC forbids it, the API server is
// down) must be able to say why it is not leading; otherwise it stands by
// silently forever.
TEST_F(LeaderElectionTest, FailedAttemptIsVisibleInLastErrorAndClearedBySuccess) {
  auto a = Elector("a");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->last_error().ok());
  store_.fail_gets = 1;
  EXPECT_FALSE(a->TryAcquireOrRenew());
  const core::Status error = a->last_error();
  EXPECT_EQ(error.code(), core::Code::kUnreachable);
  EXPECT_NE(error.message().find("memory"), std::string::npos) << error.message();
  EXPECT_NE(error.message().find("injected"), std::string::npos) << error.message();
  EXPECT_TRUE(a->TryAcquireOrRenew());
  EXPECT_TRUE(a->last_error().ok());
}

TEST_F(LeaderElectionTest, FirstCandidateCreatesTheLeaseSecondWaits) {
  auto a = Elector("a");
  auto b = Elector("b");
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->TryAcquireOrRenew());
  EXPECT_EQ(store_.record().holder_identity, "a");
  EXPECT_EQ(store_.record().lease_duration_seconds, 15);
  EXPECT_FALSE(b->TryAcquireOrRenew());
  EXPECT_EQ(b->LeaderIdentity(), "a");
  clock_.Advance(seconds(2));
  EXPECT_TRUE(a->TryAcquireOrRenew()) << "renew";
  EXPECT_EQ(store_.record().lease_transitions, 0);
}

TEST_F(LeaderElectionTest, ExpiryIsJudgedByLocalObservationNotByRenewTime) {
  // Written by a machine whose clock is a year behind: renewTime looks
  // ancient, but we have only just observed it.
  store_.Put({"other", 15, "2000-01-01T00:00:00.000000Z", "2000-01-01T00:00:00.000000Z", 3});
  auto b = Elector("b");
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_.Advance(seconds(14));
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_.Advance(seconds(1));
  EXPECT_TRUE(b->TryAcquireOrRenew());
  EXPECT_EQ(store_.record().holder_identity, "b");
  EXPECT_EQ(store_.record().lease_transitions, 4);
}

TEST_F(LeaderElectionTest, ARenewingHolderIsNeverTakenOver) {
  auto b = Elector("b");
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 20; ++i) {
    // The holder renews every 10 s with a renewTime that never moves forward
    // in our eyes (clock skew); any change of the record counts.
    store_.Put({"other", 15, "2000-01-01T00:00:00Z",
                "2000-01-01T00:00:0" + std::to_string(i % 2) + "Z", 0});
    EXPECT_FALSE(b->TryAcquireOrRenew()) << i;
    clock_.Advance(seconds(10));
  }
}

TEST_F(LeaderElectionTest, OfTwoContendersOnlyOneWinsTheUpdate) {
  store_.Put({"gone", 15, "", "", 0});
  auto a = Elector("a");
  auto b = Elector("b");
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  clock_.Advance(seconds(16));
  // Both read the expired record; a writes first, b's update is stale.
  auto snapshot = store_.Get();
  ASSERT_TRUE(snapshot.ok());
  EXPECT_TRUE(a->TryAcquireOrRenew());
  EXPECT_TRUE(store_.Update({"b", 15, "", "", 1}, (*snapshot)->resource_version).code() ==
              core::Code::kConflict);
  EXPECT_FALSE(b->TryAcquireOrRenew()) << "a's fresh record restarts b's observation";
  EXPECT_EQ(store_.record().holder_identity, "a");
}

TEST_F(LeaderElectionTest, ReleaseLetsASuccessorTakeOverImmediately) {
  auto a = Elector("a");
  auto b = Elector("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->TryAcquireOrRenew());
  EXPECT_FALSE(b->TryAcquireOrRenew());
  ASSERT_TRUE(a->Release().ok());
  EXPECT_EQ(store_.record().holder_identity, "");
  EXPECT_EQ(store_.record().lease_duration_seconds, 1);
  EXPECT_TRUE(b->TryAcquireOrRenew()) << "no waiting for the old lease duration";
  EXPECT_EQ(store_.record().holder_identity, "b");
  EXPECT_EQ(store_.record().lease_transitions, 1);
}

TEST_F(LeaderElectionTest, StoreErrorsMeanNotLeading) {
  auto a = Elector("a");
  ASSERT_NE(a, nullptr);
  store_.fail_gets = 1;
  EXPECT_FALSE(a->TryAcquireOrRenew());
  EXPECT_TRUE(a->TryAcquireOrRenew());
}

TEST_F(LeaderElectionTest, RunRenewsAndStepsDownAfterTheRenewDeadline) {
  auto a = StartLeader();
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE((*a)->IsLeader());
  // Renewals keep working: advance a few retry periods.
  for (int i = 0; i < 3; ++i) {
    while (clock_.waiters() == 0) std::this_thread::yield();
    clock_.Advance(seconds(2));
  }
  EXPECT_EQ(stopped_.load(), 0);
  // Now every Get fails: after renewDeadline (10 s) it must step down,
  // before the 15 s lease could expire for anyone else.
  store_.fail_gets = 1000;
  for (int i = 0; i < 6 && stopped_.load() == 0; ++i) {
    while (clock_.waiters() == 0 && stopped_.load() == 0) std::this_thread::yield();
    clock_.Advance(seconds(2));
  }
  while (stopped_.load() == 0) std::this_thread::yield();
  EXPECT_FALSE((*a)->IsLeader());
  (*a)->Stop();
  EXPECT_EQ(started_.load(), 1);
  EXPECT_EQ(stopped_.load(), 1);
}

// Invariant (design §4.2): a leader never acts after a successor could hold
// the Lease. A renew call that hangs keeps the elector's thread from noticing
// the renew deadline, so leadership is judged by time: IsLeader() turns false
// renewDeadline after the last renew started, while the hung call has not
// returned and on_stopped_leading has not been called yet. The manager's
// StillLeading() (fencing, its work loop) relies on exactly this.
TEST_F(LeaderElectionTest, LeadershipEndsOnTimeWhileARenewHangs) {
  auto a = StartLeader();
  ASSERT_TRUE(a.ok());
  store_.Hang(true);
  while (clock_.waiters() == 0) std::this_thread::yield();
  clock_.Advance(seconds(2));  // the next renew starts and hangs
  store_.WaitUntilHung();
  EXPECT_TRUE((*a)->IsLeader());
  clock_.Advance(seconds(7));  // 9 s after the last renew: still inside the deadline
  EXPECT_TRUE((*a)->IsLeader());
  clock_.Advance(seconds(1));  // 10 s: the renew deadline
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_EQ(stopped_.load(), 0) << "the hung renew has not returned, yet leadership is over";
  // The hung call finally fails: the elector's thread steps down too.
  store_.fail_gets = 1000;
  store_.Hang(false);
  while (stopped_.load() == 0) std::this_thread::yield();
  EXPECT_FALSE((*a)->IsLeader());
  (*a)->Stop();
}

TEST_F(LeaderElectionTest, InvalidDurationsAreRejected) {
  LeaderElectionConfig config = Config("a");
  config.renew_deadline = seconds(15);
  auto bad = LeaderElector::Create(store_, config, clock_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("renewDeadline"), std::string::npos);
  auto anonymous = LeaderElector::Create(store_, LeaderElectionConfig{}, clock_);
  ASSERT_FALSE(anonymous.ok());
}

}  // namespace
}  // namespace schemaop::kube
