#pragma once
// Lease-based leader election (coordination.k8s.io/v1 Lease), following
// client-go's leaderelection package:
//  - a lease held by someone else is judged expired by LOCAL observation: we
//    record when we last saw its record change and wait leaseDuration on our
//    own monotonic clock from then (never comparing our clock with renewTime
//    written by another machine);
//  - acquire and renew are updates carrying the resourceVersion we read, so
//    of two contenders exactly one succeeds (the other gets 409 Conflict);
//  - the leader keeps renewing every retryPeriod and steps down when it has
//    not renewed for renewDeadline (< leaseDuration, so it stops before
//    anyone else may take over);
//  - on Stop() a leader releases the lease (holderIdentity "",
//    leaseDurationSeconds 1) so a successor takes over at once.
// Defaults: leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s.
//
// Usage:
//   kube::KubeLeaseStore store(client, "schemaop-system", "schemaop-controller");
//   kube::LeaderElectionConfig config;
//   config.identity = pod_name;
//   config.on_started_leading = [&] { controller.StartWorkers(); };  // must not block
//   config.on_stopped_leading = [&] { controller.StopWorkers(); };
//   auto elector = kube::LeaderElector::Create(store, config);
//   if (!elector.ok()) return elector.status();
//   (*elector)->Start();    // own thread
//   ...
//   (*elector)->Stop();     // releases the lease if leading, joins
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/clock.h"

namespace schemaop::kube {

struct LeaderElectionRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime, as written
  std::string renew_time;
  int lease_transitions = 0;
  bool operator==(const LeaderElectionRecord& o) const {
    return holder_identity == o.holder_identity &&
           lease_duration_seconds == o.lease_duration_seconds && acquire_time == o.acquire_time &&
           renew_time == o.renew_time && lease_transitions == o.lease_transitions;
  }
  bool operator!=(const LeaderElectionRecord& o) const { return !(*this == o); }
};

struct ObservedLease {
  LeaderElectionRecord record;
  std::string resource_version;
};

// Where the record lives; abstract so the algorithm is unit-tested in memory.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // nullopt if the lease does not exist.
  [[nodiscard]] virtual core::Result<std::optional<ObservedLease>> Get() = 0;
  // kConflict if it already exists.
  [[nodiscard]] virtual core::Status Create(const LeaderElectionRecord& record) = 0;
  // kConflict if resource_version is stale.
  [[nodiscard]] virtual core::Status Update(const LeaderElectionRecord& record,
                                            const std::string& resource_version) = 0;
  virtual std::string Describe() const = 0;
};

// A Lease object through the Client. Give the Client a request_timeout below
// the renew deadline so a hung call cannot outlive leadership.
class KubeLeaseStore final : public LeaseStore {
 public:
  KubeLeaseStore(Client& client, std::string namespace_name, std::string name);
  core::Result<std::optional<ObservedLease>> Get() override;
  core::Status Create(const LeaderElectionRecord& record) override;
  core::Status Update(const LeaderElectionRecord& record,
                      const std::string& resource_version) override;
  std::string Describe() const override;

 private:
  Client& client_;
  const std::string namespace_;
  const std::string name_;
};

struct LeaderElectionConfig {
  std::string identity;  // unique per candidate, e.g. the pod name
  Clock::Duration lease_duration = std::chrono::seconds(15);
  Clock::Duration renew_deadline = std::chrono::seconds(10);
  Clock::Duration retry_period = std::chrono::seconds(2);
  bool release_on_cancel = true;
  // Called on the elector's thread; must return quickly.
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
};

class LeaderElector {
 public:
  // Validates: identity set, lease_duration > renew_deadline > retry_period * 1.2.
  [[nodiscard]] static core::Result<std::unique_ptr<LeaderElector>> Create(
      LeaseStore& store, LeaderElectionConfig config, Clock& clock = SystemClock::Instance());
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // One acquire-or-renew attempt; true if we hold the lease afterwards.
  // Exposed for tests; Run() calls it.
  bool TryAcquireOrRenew();
  // Gives the lease up if we hold it (holder "", duration 1 s).
  [[nodiscard]] core::Status Release();

  // Blocks: waits to acquire, leads while renewing, returns after
  // on_stopped_leading (lost the lease) or when Stop() is called.
  void Run();
  void Start();  // Run() on an own thread
  void Stop();   // ends Run(), releasing the lease if configured; joins

  // True while we hold a lease renewed within renew_deadline (time-based, so
  // it turns false on time even if a renew call hangs).
  bool IsLeader() const;
  // Holder identity last observed ("" if none).
  std::string LeaderIdentity() const;
  // Why the last acquire/renew attempt failed (naming the Lease), e.g.
  // forbidden or unreachable; OK after an attempt that reached the Lease
  // (also when it is held by someone else). For logs and /readyz.
  core::Status last_error() const;

 private:
  LeaderElector(LeaseStore& store, LeaderElectionConfig config, Clock& clock);
  bool WaitFor(Clock::Duration d);  // false if stopping
  void ReportLeader(const std::string& holder);
  // Records the outcome of one store call; returns `status`.
  core::Status Note(core::Status status, const char* action);

  LeaseStore& store_;
  const LeaderElectionConfig config_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::optional<ObservedLease> observed_;
  Clock::TimePoint observed_time_{};
  bool leading_ = false;
  Clock::TimePoint last_renew_start_{};
  std::string reported_leader_;
  core::Status last_error_;
  std::thread thread_;
};

}  // namespace schemaop::kube
