#include "kube/leader_election.h"

#include <cmath>
#include <random>

#include "kube/events.h"

namespace schemaop::kube {
namespace {

using core::Code;
using core::Status;

int CeilSeconds(Clock::Duration d) {
  double s = std::chrono::duration<double>(d).count();
  return std::max(1, static_cast<int>(std::ceil(s)));
}

}  // namespace

// ---- KubeLeaseStore ----------------------------------------------------------

KubeLeaseStore::KubeLeaseStore(Client& client, std::string namespace_name, std::string name)
    : client_(client), namespace_(std::move(namespace_name)), name_(std::move(name)) {}

std::string KubeLeaseStore::Describe() const { return "Lease " + namespace_ + "/" + name_; }

core::Result<std::optional<ObservedLease>> KubeLeaseStore::Get() {
  auto lease = client_.Get(resources::kLeases, namespace_, name_);
  if (!lease.ok()) {
    if (IsNotFound(lease.status())) return std::optional<ObservedLease>();
    return lease.status();
  }
  ObservedLease out;
  const Json spec = lease->value("spec", Json::object());
  auto str = [&](const char* k) {
    return spec.contains(k) && spec[k].is_string() ? spec[k].get<std::string>() : "";
  };
  auto num = [&](const char* k) {
    return spec.contains(k) && spec[k].is_number_integer() ? spec[k].get<int>() : 0;
  };
  out.record.holder_identity = str("holderIdentity");
  out.record.lease_duration_seconds = num("leaseDurationSeconds");
  out.record.acquire_time = str("acquireTime");
  out.record.renew_time = str("renewTime");
  out.record.lease_transitions = num("leaseTransitions");
  out.resource_version = (*lease)["metadata"].value("resourceVersion", "");
  return std::optional<ObservedLease>(std::move(out));
}

namespace {
Json LeaseSpec(const LeaderElectionRecord& r) {
  Json spec = {{"holderIdentity", r.holder_identity},
               {"leaseDurationSeconds", r.lease_duration_seconds},
               {"leaseTransitions", r.lease_transitions}};
  if (!r.acquire_time.empty()) spec["acquireTime"] = r.acquire_time;
  if (!r.renew_time.empty()) spec["renewTime"] = r.renew_time;
  return spec;
}
}  // namespace

core::Status KubeLeaseStore::Create(const LeaderElectionRecord& record) {
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name_}, {"namespace", namespace_}}},
                {"spec", LeaseSpec(record)}};
  auto created = client_.Create(resources::kLeases, namespace_, lease);
  return created.ok() ? Status::Ok() : created.status();
}

core::Status KubeLeaseStore::Update(const LeaderElectionRecord& record,
                                    const std::string& resource_version) {
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata",
                 {{"name", name_}, {"namespace", namespace_}, {"resourceVersion", resource_version}}},
                {"spec", LeaseSpec(record)}};
  auto updated = client_.Update(resources::kLeases, namespace_, lease);
  return updated.ok() ? Status::Ok() : updated.status();
}

// ---- LeaderElector -------------------------------------------------------------

core::Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(LeaseStore& store,
                                                                    LeaderElectionConfig config,
                                                                    Clock& clock) {
  if (config.identity.empty()) {
    return Status(Code::kInvalidArgument,
                  "leader election needs an identity (e.g. the pod name); set "
                  "LeaderElectionConfig.identity");
  }
  if (config.lease_duration <= config.renew_deadline) {
    return Status(Code::kInvalidArgument,
                  "leader election: leaseDuration must be greater than renewDeadline");
  }
  if (config.renew_deadline <= config.retry_period * 1.2) {
    return Status(Code::kInvalidArgument,
                  "leader election: renewDeadline must be greater than retryPeriod * 1.2");
  }
  if (config.retry_period <= Clock::Duration::zero()) {
    return Status(Code::kInvalidArgument, "leader election: retryPeriod must be positive");
  }
  return std::unique_ptr<LeaderElector>(new LeaderElector(store, std::move(config), clock));
}

LeaderElector::LeaderElector(LeaseStore& store, LeaderElectionConfig config, Clock& clock)
    : store_(store), config_(std::move(config)), clock_(clock) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::ReportLeader(const std::string& holder) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (holder == reported_leader_) return;
    reported_leader_ = holder;
  }
  if (config_.on_new_leader && !holder.empty()) config_.on_new_leader(holder);
}

bool LeaderElector::TryAcquireOrRenew() {
  const auto now = clock_.Now();
  const std::string wall = FormatMicroTime(clock_.WallNow());
  LeaderElectionRecord desired;
  desired.holder_identity = config_.identity;
  desired.lease_duration_seconds = CeilSeconds(config_.lease_duration);
  desired.acquire_time = wall;
  desired.renew_time = wall;

  auto current = store_.Get();
  if (!Note(current.ok() ? Status::Ok() : current.status(), "read").ok()) return false;
  if (!current->has_value()) {
    if (!Note(store_.Create(desired), "create").ok()) return false;
    auto created = store_.Get();  // learn the resourceVersion for the next renew
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = created.ok() && created->has_value() ? **created : ObservedLease{desired, ""};
    observed_time_ = now;
    return true;
  }
  const ObservedLease old = **current;
  std::string holder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!observed_ || observed_->record != old.record) {
      observed_ = old;
      observed_time_ = now;
    }
    observed_->resource_version = old.resource_version;
    holder = old.record.holder_identity;
    const auto valid_until =
        observed_time_ + std::chrono::seconds(old.record.lease_duration_seconds);
    if (!holder.empty() && holder != config_.identity && valid_until > now) {
      // Held by someone else and not expired by our own observation.
      leading_ = false;
    } else {
      holder.clear();
    }
  }
  if (!holder.empty()) {
    ReportLeader(holder);
    return false;
  }
  if (old.record.holder_identity == config_.identity) {
    desired.acquire_time = old.record.acquire_time;
    desired.lease_transitions = old.record.lease_transitions;
  } else {
    desired.lease_transitions = old.record.lease_transitions + 1;
  }
  if (!Note(store_.Update(desired, old.resource_version), "update").ok()) return false;
  auto updated = store_.Get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = ObservedLease{desired, old.resource_version};
    if (updated.ok() && updated->has_value() && (*updated)->record == desired) {
      observed_->resource_version = (*updated)->resource_version;
    }
    observed_time_ = now;
  }
  ReportLeader(config_.identity);
  return true;
}

core::Status LeaderElector::Note(core::Status status, const char* action) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = status.ok() ? Status::Ok()
                            : Status(status.code(),
                                     std::string("leader election: cannot ") + action + " " +
                                         store_.Describe() + ": " + status.message(),
                                     status.detail());
  return status;
}

core::Status LeaderElector::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

core::Status LeaderElector::Release() {
  std::optional<ObservedLease> observed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    observed = observed_;
    leading_ = false;
  }
  if (!observed || observed->record.holder_identity != config_.identity) return Status::Ok();
  LeaderElectionRecord released;
  released.lease_duration_seconds = 1;
  released.acquire_time = released.renew_time = FormatMicroTime(clock_.WallNow());
  released.lease_transitions = observed->record.lease_transitions;
  Status s = store_.Update(released, observed->resource_version);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    observed_ = ObservedLease{released, ""};
    observed_time_ = clock_.Now();
  }
  return s;
}

bool LeaderElector::IsLeader() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leading_ && clock_.Now() - last_renew_start_ < config_.renew_deadline;
}

std::string LeaderElector::LeaderIdentity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observed_ ? observed_->record.holder_identity : "";
}

bool LeaderElector::WaitFor(Clock::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = clock_.Now() + d;
  while (!stopping_ && clock_.Now() < deadline) clock_.WaitUntil(cv_, lock, deadline);
  return !stopping_;
}

void LeaderElector::Run() {
  std::mt19937_64 random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(1.0, 1.2);
  // Acquire.
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    const auto attempt_start = clock_.Now();
    if (TryAcquireOrRenew()) {
      std::lock_guard<std::mutex> lock(mu_);
      leading_ = true;
      last_renew_start_ = attempt_start;
      break;
    }
    auto wait = std::chrono::duration_cast<Clock::Duration>(config_.retry_period * jitter(random));
    if (!WaitFor(wait)) return;
  }
  if (config_.on_started_leading) config_.on_started_leading();
  // Renew until the deadline passes without a successful renew, or Stop().
  bool stopped = false;
  while (true) {
    if (!WaitFor(config_.retry_period)) {
      stopped = true;
      break;
    }
    Clock::TimePoint last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = last_renew_start_;
    }
    const auto attempt_start = clock_.Now();
    if (attempt_start - last >= config_.renew_deadline) break;
    if (TryAcquireOrRenew()) {
      std::lock_guard<std::mutex> lock(mu_);
      last_renew_start_ = attempt_start;
    } else if (clock_.Now() - last >= config_.renew_deadline) {
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    leading_ = false;
  }
  if (stopped && config_.release_on_cancel) (void)Release();
  if (config_.on_stopped_leading) config_.on_stopped_leading();
}

void LeaderElector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace schemaop::kube
