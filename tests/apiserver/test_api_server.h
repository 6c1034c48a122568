#pragma once

// In-process handle on the schemaop test Kubernetes API server.
//
// The server implements the subset of the Kubernetes REST API that the
// operator, its client library and kubectl use (discovery, CRUD, status and
// scale subresources, patches, watch with bookmarks and 410 Gone, CRDs with
// structural-schema validation and printer columns, a simulated deployment
// controller) plus a fault-injection API for tests. See README.md.
//
// Thread safety: every method may be called from any thread while the server
// runs. Heavy dependencies (httplib, nlohmann::json) stay behind the pimpl.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace schemaop::apiserver {

struct Options {
  std::string bind_address = "127.0.0.1";
  int port = 0;  // 0 picks a free port; read it back with port().
  // TLS with client-certificate authentication. Certificates (ca.crt,
  // server.crt/.key, client.crt/.key) are generated into cert_dir; an empty
  // cert_dir means a fresh temporary directory.
  bool tls = false;
  std::string cert_dir;
  int bookmark_interval_ms = 1000;
  // Watch events kept per resource type; a watch from an older
  // resourceVersion gets 410 Gone.
  std::size_t history_size = 1000;
  // Delay before the simulated deployment/statefulset controller makes
  // status follow spec.replicas.
  int deployment_delay_ms = 200;
  // Watches without timeoutSeconds are closed after this many seconds.
  int default_watch_timeout_seconds = 1800;
  // true: a watch from an expired resourceVersion gets HTTP 200 and an
  // in-stream ERROR event with a 410 Expired Status (what a real server
  // does). false: the request fails with HTTP 410.
  bool expired_in_stream = true;
  int thread_pool_size = 64;
  bool log_requests = false;  // one line per request on stderr
  // Authentication (see README.md): bearer tokens from this file (the
  // kube-apiserver --token-auth-file CSV format) and from AddToken; the
  // admin token of WriteKubeconfig and the generated client certificate are
  // in system:masters. Requests without credentials act as the admin unless
  // require_authentication (then 401).
  std::string token_file;
  bool require_authentication = false;
};

// Fails the next `count` requests matching method (empty = any) and
// path_regex (ECMAScript, searched in the URL path without the query).
struct FaultRule {
  std::string method;
  std::string path_regex;
  int code = 500;
  int count = 1;  // -1: until cleared
  std::string reason;   // Status reason; derived from code when empty.
  std::string message;  // Status message; a default naming the fault if empty.
  // Only watch requests (1), only non-watch requests (0) or both (-1).
  int watch = -1;
};

// Delays matching requests by delay_ms before they are handled.
struct LatencyRule {
  std::string method;
  std::string path_regex;
  int delay_ms = 0;
  int count = -1;  // -1: until cleared
};

class TestApiServer {
 public:
  TestApiServer();
  ~TestApiServer();  // Stops the server.
  TestApiServer(const TestApiServer&) = delete;
  TestApiServer& operator=(const TestApiServer&) = delete;

  // Binds and starts serving on background threads. Returns false and sets
  // *error when binding or certificate generation fails.
  [[nodiscard]] bool Start(const Options& options, std::string* error = nullptr);
  // Closes watch streams, stops the controller and the listener, joins all
  // threads. Idempotent.
  void Stop();

  int port() const;
  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT".
  std::string url() const;
  // Writes a kubeconfig (context "schemaop-test", namespace default) for this
  // server: with TLS the CA and client certificate/key inline, otherwise the
  // http URL and a dummy bearer token.
  [[nodiscard]] bool WriteKubeconfig(const std::string& path,
                                     std::string* error = nullptr) const;
  // PEM material; empty without TLS.
  std::string ca_cert_pem() const;
  std::string client_cert_pem() const;
  std::string client_key_pem() const;

  // Fault injection, same as the /_test/ admin API.
  void AddFault(const FaultRule& rule);
  void AddLatency(const LatencyRule& rule);
  void ClearFaults();  // faults and latency rules
  void CloseWatches();
  // Forgets the watch history: a watch from any resourceVersion older than
  // the current one gets 410 Gone.
  void ExpireHistory();
  void SetExpiredInStream(bool in_stream);
  void SetBookmarkInterval(int milliseconds);
  void SetDeploymentDelay(int milliseconds);
  // Paused: workload status no longer follows spec (e.g. to test drain
  // timeouts). Resuming processes everything pending.
  void SetControllersPaused(bool paused);

  // Request counters keyed "<verb> <resource>[/<subresource>]", verb one of
  // get list watch create update patch delete deletecollection; resource is
  // the plural name, e.g. "patch deployments/scale",
  // "update schemamigrations/status". Admin (/_test/) and discovery requests
  // are not counted.
  std::map<std::string, std::int64_t> RequestCounts() const;
  std::int64_t RequestCount(const std::string& key) const;
  // Sum of create/update/patch/delete/deletecollection requests.
  std::int64_t WriteCount() const;
  void ResetCounters();
  // Clears faults, latency rules and counters; resumes controllers.
  void Reset();

  // Bearer token `token` authenticates as `user` in `groups` (plus
  // system:authenticated). Requests are then authorized by the RBAC objects
  // stored in the server (rbac.h).
  void AddToken(const std::string& token, const std::string& user,
                const std::vector<std::string>& groups);
  // A new token of ServiceAccount ns/name (system:serviceaccount:ns:name).
  std::string AddServiceAccountToken(const std::string& ns, const std::string& name);

  // The current global resourceVersion.
  std::int64_t CurrentResourceVersion() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace schemaop::apiserver
