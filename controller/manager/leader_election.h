#pragma once
// Lease-based leader election (coordination.k8s.io/v1), client-go's
// leaderelection semantics: acquire when the Lease is free or its holder
// has not renewed for leaseDuration as observed on OUR clock (never compare
// with the holder's clock), renew every retryPeriod, give up leadership when
// a renewal has not succeeded for renewDeadline, and on a clean shutdown
// release the Lease (empty holder) so a standby takes over at once.
//
// Thread safety: TryAcquireOrRenew and Release are called by one thread
// (the manager's election thread); IsLeader may be read from any thread.
#include <atomic>
#include <chrono>
#include <string>

#include "core/status.h"
#include "kube/client.h"

namespace schemaop::manager {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name = "schemaop-leader";
  std::string identity;
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
};

class LeaderElector {
 public:
  LeaderElector(kube::Client& client, LeaderElectionConfig config);

  // One attempt. OK(true) when we hold the Lease now (acquired or renewed),
  // OK(false) when another holder's Lease is still valid; errors are API
  // failures (including kConflict when someone else wrote the Lease first).
  core::Result<bool> TryAcquireOrRenew();
  // Gives the Lease up if we hold it (best effort).
  [[nodiscard]] core::Status Release();

  bool IsLeader() const { return leader_.load(); }
  void MarkLost() { leader_.store(false); }
  const LeaderElectionConfig& config() const { return config_; }
  // The holder seen last (for logs).
  std::string observed_holder() const;

 private:
  kube::Client& client_;
  LeaderElectionConfig config_;
  std::atomic<bool> leader_{false};
  // What we saw last and when (steady clock), to decide expiry on our clock.
  std::string observed_record_;
  std::string observed_holder_;
  std::chrono::steady_clock::time_point observed_at_{};
};

// Kubernetes MicroTime: "2006-01-02T15:04:05.000000Z".
std::string FormatMicroTime(std::chrono::system_clock::time_point time);

}  // namespace schemaop::manager
