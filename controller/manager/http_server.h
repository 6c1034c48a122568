#pragma once
// The controller's small HTTP endpoints (cpp-httplib, design §2: not
// cpprestsdk's listener): /metrics on the metrics address, /healthz and
// /readyz on the probe address. One server per address; the same address
// for both serves all three paths.
//
// Thread safety: handlers run on the server's threads and call the given
// callbacks concurrently; callbacks must be thread-safe.
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace schemaop::manager {

struct BindAddress {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: pick a free port (see HttpServer::port())
};

// ":8080" -> 0.0.0.0:8080, "127.0.0.1:0", "[::1]:8080", "8080". "0" is not an
// address (it means "disabled" to the caller): kInvalidArgument here.
core::Result<BindAddress> ParseBindAddress(const std::string& text);

struct Endpoints {
  // Body of /metrics (Prometheus text format); unset: no /metrics.
  std::function<std::string()> metrics;
  // /healthz and /readyz: empty string = OK (200 "ok"), otherwise 503 with
  // the reason. Unset: no such path.
  std::function<std::string()> healthz;
  std::function<std::string()> readyz;
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (kUnreachable naming the address when it cannot) and serves on a
  // background thread.
  [[nodiscard]] core::Status Start(const BindAddress& address, Endpoints endpoints);
  void Stop();
  // The bound port (useful with port 0).
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace schemaop::manager
