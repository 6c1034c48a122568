#pragma once
// core/v1 Event recorder with aggregation: the same involvedObject + type +
// reason + message recorded again within the window PATCHes the existing
// Event's count and lastTimestamp instead of creating a new Event (as
// client-go's EventCorrelator does), so a reconcile loop retrying every few
// seconds does not flood etcd.
//
// SECURITY: the message is published to anyone who can read Events in the
// namespace. Callers must never put secrets (passwords, tokens, database URLs
// with credentials) into `reason` or `message`; redact before calling.
//
// Usage:
//   kube::EventRecorder recorder(client, "schemaop-controller", pod_name);
//   (void)recorder.Record(migration, kube::EventType::kNormal, "ScaledDown",
//                         "Scaled Deployment backend from 3 to 0");
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "kube/client.h"
#include "kube/clock.h"

namespace schemaop::kube {

enum class EventType { kNormal, kWarning };

class EventRecorder {
 public:
  // `component` is source.component / reportingComponent; `instance` is
  // source.host / reportingInstance (e.g. the pod name).
  EventRecorder(Client& client, std::string component, std::string instance,
                Clock& clock = SystemClock::Instance(),
                std::chrono::seconds aggregation_window = std::chrono::minutes(10));

  // `involved` is the object the event is about (needs apiVersion, kind,
  // metadata.name/namespace/uid). Messages longer than 1024 bytes are cut.
  // Thread-safe.
  [[nodiscard]] core::Status Record(const Json& involved, EventType type,
                                    const std::string& reason, const std::string& message);

  // Events created / aggregated into an existing Event (for tests, metrics).
  int created() const;
  int aggregated() const;

 private:
  struct Seen {
    std::string namespace_name;
    std::string event_name;
    int64_t count = 0;
    Clock::TimePoint last;
  };

  Client& client_;
  const std::string component_;
  const std::string instance_;
  Clock& clock_;
  const std::chrono::seconds window_;
  mutable std::mutex mu_;
  std::map<std::string, Seen> seen_;
  int created_ = 0;
  int aggregated_ = 0;
  uint64_t sequence_ = 0;
};

// RFC 3339 UTC with seconds ("2024-05-01T12:00:00Z") and with microseconds
// ("2024-05-01T12:00:00.123456Z", MicroTime).
std::string FormatTime(std::chrono::system_clock::time_point t);
std::string FormatMicroTime(std::chrono::system_clock::time_point t);
// Parses either form; nullopt if malformed.
std::optional<std::chrono::system_clock::time_point> ParseTime(const std::string& text);

}  // namespace schemaop::kube
