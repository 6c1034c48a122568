#include "manager/leader_election.h"

#include <cstdio>
#include <ctime>
#include <utility>

namespace schemaop::manager {

using core::Code;
using core::Status;

std::string FormatMicroTime(std::chrono::system_clock::time_point time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(micros % 1000000));
  return buffer;
}

LeaderElector::LeaderElector(kube::Client& client, LeaderElectionConfig config)
    : client_(client), config_(std::move(config)) {}

std::string LeaderElector::observed_holder() const { return observed_holder_; }

core::Result<bool> LeaderElector::TryAcquireOrRenew() {
  const auto now_steady = std::chrono::steady_clock::now();
  const std::string now = FormatMicroTime(std::chrono::system_clock::now());
  const int duration_seconds = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
  const auto& ref = kube::resources::kLeases;

  auto current = client_.Get(ref, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    if (current.status().code() != Code::kNotFound) {
      leader_.store(false);
      return current.status();
    }
    kube::Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", config_.identity},
          {"leaseDurationSeconds", duration_seconds},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}},
    };
    auto created = client_.Create(ref, config_.lease_namespace, lease);
    if (!created.ok()) {
      leader_.store(false);
      return created.status();
    }
    observed_holder_ = config_.identity;
    observed_record_ = created->dump();
    observed_at_ = now_steady;
    leader_.store(true);
    return true;
  }

  kube::Json lease = std::move(current).value();
  kube::Json spec = lease.contains("spec") && lease["spec"].is_object() ? lease["spec"]
                                                                      : kube::Json::object();
  const std::string holder = spec.value("holderIdentity", "");
  const std::string record = spec.dump();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now_steady;
  }
  observed_holder_ = holder;
  std::chrono::milliseconds their_duration = config_.lease_duration;
  if (spec.contains("leaseDurationSeconds") && spec["leaseDurationSeconds"].is_number_integer()) {
    their_duration = std::chrono::seconds(spec["leaseDurationSeconds"].get<int>());
  }
  const bool held_by_other = !holder.empty() && holder != config_.identity;
  if (held_by_other && now_steady < observed_at_ + their_duration) {
    leader_.store(false);
    return false;
  }

  kube::Json next = spec;
  if (holder != config_.identity) {
    next["acquireTime"] = now;
    next["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder.empty() ? 0 : 1);
  }
  next["holderIdentity"] = config_.identity;
  next["leaseDurationSeconds"] = duration_seconds;
  next["renewTime"] = now;
  lease["spec"] = next;
  auto updated = client_.Update(ref, config_.lease_namespace, lease);
  if (!updated.ok()) {
    leader_.store(false);
    return updated.status();
  }
  observed_record_ = (*updated)["spec"].dump();
  observed_at_ = now_steady;
  observed_holder_ = config_.identity;
  leader_.store(true);
  return true;
}

Status LeaderElector::Release() {
  if (!leader_.load()) {
    return Status::Ok();
  }
  leader_.store(false);
  const auto& ref = kube::resources::kLeases;
  auto current = client_.Get(ref, config_.lease_namespace, config_.lease_name);
  if (!current.ok()) {
    return current.status();
  }
  kube::Json lease = std::move(current).value();
  if (!lease.contains("spec") || lease["spec"].value("holderIdentity", "") != config_.identity) {
    return Status::Ok();  // someone else holds it already
  }
  const std::string now = FormatMicroTime(std::chrono::system_clock::now());
  // As client-go: no holder, 1 s duration, so a standby acquires at once.
  lease["spec"]["holderIdentity"] = "";
  lease["spec"]["leaseDurationSeconds"] = 1;
  lease["spec"]["renewTime"] = now;
  lease["spec"]["acquireTime"] = now;
  auto updated = client_.Update(ref, config_.lease_namespace, lease);
  return updated.ok() ? Status::Ok() : updated.status();
}

}  // namespace schemaop::manager
