#include "manager/event_recorder.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include "core/conditions.h"

namespace schemaop::manager {

namespace {
// Kubernetes limits an Event message to 1 KiB.
constexpr std::size_t kMaxMessage = 1024;
// Bounded memory: forget aggregation state when it grows past this.
constexpr std::size_t kMaxSeen = 4096;

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return core::FormatRfc3339(core::Timestamp::FromSeconds(
      std::chrono::duration_cast<std::chrono::seconds>(now).count()));
}
}  // namespace

EventRecorder::EventRecorder(kube::Client& client, std::string component, std::string instance)
    : client_(client), component_(std::move(component)), instance_(std::move(instance)) {}

core::Status EventRecorder::Record(const InvolvedObject& object, const std::string& type,
                                   const std::string& reason, const std::string& message) {
  std::string text = message.size() > kMaxMessage ? message.substr(0, kMaxMessage - 3) + "..."
                                                  : message;
  const std::string key = object.ns + "/" + object.name + "/" + object.uid + "\n" + type + "\n" +
                          reason + "\n" + text;
  const std::string now = NowRfc3339();
  std::string existing;
  std::int64_t count = 1;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = seen_.find(key);
    if (it != seen_.end()) {
      existing = it->second.event_name;
      count = it->second.count + 1;
    } else {
      if (seen_.size() >= kMaxSeen) {
        seen_.clear();
      }
      const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
      char suffix[40];
      std::snprintf(suffix, sizeof(suffix), "%llx%llx", static_cast<unsigned long long>(nanos),
                    static_cast<unsigned long long>(++sequence_));
      name = object.name + "." + suffix;
    }
  }
  if (!existing.empty()) {
    kube::Json patch = {{"count", count}, {"lastTimestamp", now}};
    auto patched = client_.Patch(kube::resources::kEvents, object.ns, existing,
                                 kube::PatchType::kMerge, patch);
    if (patched.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_[key] = Seen{existing, count};
      return core::Status::Ok();
    }
    if (!kube::IsNotFound(patched.status())) {
      return patched.status();
    }
    // The Event expired (TTL): create a new one.
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    name = object.name + "." + std::to_string(nanos);
    count = 1;
  }
  kube::Json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", name}, {"namespace", object.ns}}},
      {"involvedObject",
       {{"apiVersion", object.api_version},
        {"kind", object.kind},
        {"namespace", object.ns},
        {"name", object.name},
        {"uid", object.uid},
        {"resourceVersion", object.resource_version}}},
      {"type", type},
      {"reason", reason},
      {"message", text},
      {"count", count},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"source", {{"component", component_}, {"host", instance_}}},
      {"reportingComponent", component_},
      {"reportingInstance", instance_},
  };
  auto created = client_.Create(kube::resources::kEvents, object.ns, event);
  if (!created.ok()) {
    return created.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  seen_[key] = Seen{name, count};
  return core::Status::Ok();
}

}  // namespace schemaop::manager
