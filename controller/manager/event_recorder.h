#pragma once
// Kubernetes Events (core/v1) for SchemaMigrations, aggregated like
// client-go's EventCorrelator: the same (object, type, reason, message)
// seen again patches count and lastTimestamp of the existing Event instead
// of creating a new one, so a retry loop does not flood the namespace.
// Best effort: a failure is returned for logging, never retried.
//
// Thread-safe.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/status.h"
#include "kube/client.h"

namespace schemaop::manager {

struct InvolvedObject {
  std::string api_version;
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
};

class EventRecorder {
 public:
  // `component` e.g. "schemaop-controller"; `instance` the controller's identity.
  EventRecorder(kube::Client& client, std::string component, std::string instance);

  // `type` "Normal" | "Warning".
  [[nodiscard]] core::Status Record(const InvolvedObject& object, const std::string& type,
                                    const std::string& reason, const std::string& message);

 private:
  struct Seen {
    std::string event_name;
    std::int64_t count = 0;
  };
  kube::Client& client_;
  const std::string component_;
  const std::string instance_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;  // aggregation key -> event
  std::uint64_t sequence_ = 0;
};

}  // namespace schemaop::manager
