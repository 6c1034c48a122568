#pragma once
// The seam between the Kubernetes client and an HTTP library. cpprestsdk is in
// maintenance mode (design §2), so nothing outside cpprest_transport.cpp sees
// it; tests can also plug in a scripted Transport to inject faults.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace schemaop::kube {

struct HttpRequest {
  std::string method;          // "GET", "POST", "PUT", "PATCH", "DELETE"
  std::string path_and_query;  // "/api/v1/namespaces/ns/secrets/x?fieldManager=m"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // How many times the request was sent again because a pooled keep-alive
  // connection turned out dead before any response (the client reports it
  // as a FaultKind::kStaleConnection).
  int resent = 0;
};

// Cancels an in-flight streaming call from another thread. Thread-safe; a
// Cancellation is one-shot (once cancelled it stays cancelled).
class Cancellation {
 public:
  void Cancel();
  bool cancelled() const;
  // Registers `hook` to run on Cancel() (immediately if already cancelled).
  // Returns an id for Unregister. Hooks must be quick and must not block.
  int Register(std::function<void()> hook);
  void Unregister(int id);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;
  int next_id_ = 0;
  std::map<int, std::function<void()>> hooks_;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // One request, whole body buffered. A non-2xx status is NOT an error here
  // (the client maps it); an error status means no HTTP response at all:
  // kUnreachable (connect/TLS failure), kTimeout (no bytes within the timeout).
  virtual core::Result<HttpResponse> Send(const HttpRequest& request) = 0;

  // Streams the response body to `on_data` as bytes arrive (arbitrary chunk
  // boundaries), on the calling thread. Returns when the body ends, `on_data`
  // returns false, or `cancel` fires (then the result is OK with whatever
  // status was received). For a non-2xx status the body is buffered into the
  // returned response and `on_data` is not called. Blocks the calling thread:
  // call it from a dedicated thread, never from a library callback.
  virtual core::Result<HttpResponse> Stream(
      const HttpRequest& request, const std::function<bool(std::string_view data)>& on_data,
      Cancellation& cancel) = 0;
};

}  // namespace schemaop::kube
