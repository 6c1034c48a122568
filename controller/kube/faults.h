#pragma once
// Faults the Kubernetes client meets and survives (design §7): an error
// response, an unreachable API server, a pooled connection found dead and
// the request sent again, a conflict the client re-reads and retries, a
// watch whose history was compacted (410) and is listed again. Each is
// reported to one observer on the Client (Client::SetFaultObserver), which
// `schemaop controller` turns into a rate-limited log line and a counter
// (manager/fault_log.h), so a fault that is survived is still visible.
#include <functional>
#include <string>

namespace schemaop::kube {

enum class FaultKind {
  kHttpError,        // a non-2xx response (http_code)
  kUnreachable,      // no response at all: connect/TLS failure, timeout
  kStaleConnection,  // a pooled keep-alive connection was dead; sent again
  kConflictRetry,    // 409 on a read-modify-write the client retries
  kWatchRelist,      // 410 Gone on a watch: the informer lists again
};

// "http-error", "unreachable", "stale-connection", "conflict-retry",
// "watch-relist".
const char* FaultKindName(FaultKind kind);

struct Fault {
  FaultKind kind = FaultKind::kHttpError;
  int http_code = 0;    // 0 when no response arrived
  std::string call;     // "GET /api/v1/namespaces/drawing/secrets/db": never a token or a body
  std::string message;  // the API Status message or the transport error
  std::string next;     // what happens next: "retrying", "re-listing", "returned to the caller"
};

// Called on the thread that met the fault; must be quick and must not call
// back into the Client.
using FaultObserver = std::function<void(const Fault&)>;

}  // namespace schemaop::kube
