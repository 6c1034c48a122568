#pragma once
// schemaop's own small Kubernetes REST client (no client-go): the verbs over
// any ResourceRef, the patch types, status/scale subresources and one-shot
// watch requests. Informer, WorkQueue, EventRecorder and LeaderElector build
// on it. Objects are nlohmann::json; errors are core::Status values whose
// detail is "HTTP <code> <API reason>" (e.g. "HTTP 409 Conflict") and whose
// message carries the API Status message. Tokens never appear in messages.
//
// Thread safety: all methods may be called concurrently.
//
// Usage:
//   auto config = kube::LoadDefaultConfig();           // in-cluster or kubeconfig
//   if (!config.ok()) return config.status();
//   auto client = kube::Client::Create(*config);
//   if (!client.ok()) return client.status();
//   auto secret = (*client)->Get(kube::resources::kSecrets, "drawing", "drawing-db");
//   auto scale = (*client)->GetScale(kube::resources::kDeployments, "drawing", "backend");
//   auto done = (*client)->SetReplicas(kube::resources::kDeployments, "drawing", "backend", 0);
//   auto updated = (*client)->UpdateStatusWithRetry(
//       kube::resources::kSchemaMigrations, "drawing", "drawing-db",
//       [](nlohmann::json& obj) { obj["status"]["phase"] = "Planning"; return core::Status::Ok(); });
//   auto with = (*client)->AddFinalizer(kube::resources::kSchemaMigrations, "drawing",
//                                       "drawing-db", "schemaop.dev/finalizer");
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/config.h"
#include "kube/faults.h"
#include "kube/resource.h"
#include "kube/transport.h"

namespace schemaop::kube {

using Json = nlohmann::json;

struct ListOptions {
  std::string label_selector;  // "app=backend,tier!=db"
  std::string field_selector;  // "metadata.name=x"
  int64_t limit = 0;           // page size; 0 = server default (no paging)
  std::string continue_token;  // from ObjectList::continue_token
  std::string resource_version;  // "" = most recent (quorum read)
};

struct ObjectList {
  std::vector<Json> items;
  std::string resource_version;  // of the list, to start a watch from
  std::string continue_token;    // non-empty when more pages remain
};

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJson,       // application/json-patch+json (RFC 6902; `test` ops as preconditions)
  kApply,      // application/apply-patch+yaml (server-side apply; needs field_manager)
  kStrategic,  // application/strategic-merge-patch+json (built-in types only)
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
};

struct DeleteOptions {
  std::string propagation_policy;  // "Foreground" | "Background" | "Orphan" | ""
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;               // delete only this incarnation
  std::string precondition_resource_version;  // delete only this version
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type = WatchEventType::kError;
  Json object;  // the object, or a metav1.Status for kError
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // start after this version ("" = from now)
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // server-side timeoutSeconds
};

// HTTP status carried in a Status detail ("HTTP 410 Expired" -> 410), 0 if none.
int HttpCodeOf(const core::Status& status);
inline bool IsNotFound(const core::Status& s) { return HttpCodeOf(s) == 404; }
inline bool IsConflict(const core::Status& s) { return s.code() == core::Code::kConflict; }
inline bool IsGone(const core::Status& s) { return HttpCodeOf(s) == 410; }

// Maps an HTTP error response (non-2xx) to a Status: 404 kNotFound, 409
// kConflict, 400/422 kInvalidArgument, other kHttpError. `what` describes the
// call ("GET /api/v1/...").
core::Status StatusFromHttp(int http_status, const std::string& body, const std::string& what);

class Client {
 public:
  // Connects through the cpprestsdk transport (TLS per `config`).
  [[nodiscard]] static core::Result<std::unique_ptr<Client>> Create(Config config);
  // For tests and alternative transports.
  Client(Config config, std::unique_ptr<Transport> transport);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }
  const std::string& default_namespace() const { return config_.default_namespace; }

  // `ns` is ignored for cluster-scoped resources. `subresource` is "" or
  // "status" / "scale".
  [[nodiscard]] core::Result<Json> Get(const ResourceRef& ref, const std::string& ns,
                                       const std::string& name,
                                       const std::string& subresource = "");
  // One page (or everything if options.limit == 0 and the server does not page).
  [[nodiscard]] core::Result<ObjectList> List(const ResourceRef& ref, const std::string& ns,
                                              const ListOptions& options = {});
  // Follows continue tokens until the last page. resource_version is that of
  // the first page (a consistent snapshot). Page size options.limit (0 -> 500).
  [[nodiscard]] core::Result<ObjectList> ListAll(const ResourceRef& ref, const std::string& ns,
                                                 ListOptions options = {});
  // POST; namespace from `ns` (object's metadata.namespace is not required).
  [[nodiscard]] core::Result<Json> Create(const ResourceRef& ref, const std::string& ns,
                                          const Json& object);
  // PUT; name from metadata.name. Include metadata.resourceVersion for an
  // optimistic-concurrency update: a stale one gives kConflict (HTTP 409).
  [[nodiscard]] core::Result<Json> Update(const ResourceRef& ref, const std::string& ns,
                                          const Json& object,
                                          const std::string& subresource = "");
  // PATCH with the given type; `patch` is an object (merge/apply/strategic) or
  // an array of operations (kJson).
  [[nodiscard]] core::Result<Json> Patch(const ResourceRef& ref, const std::string& ns,
                                         const std::string& name, PatchType type,
                                         const Json& patch, const PatchOptions& options = {},
                                         const std::string& subresource = "");
  // DELETE; a missing object is kNotFound (callers that don't care test
  // IsNotFound).
  [[nodiscard]] core::Status Delete(const ResourceRef& ref, const std::string& ns,
                                    const std::string& name, const DeleteOptions& options = {});

  // --- Subresources -------------------------------------------------------
  [[nodiscard]] core::Result<Json> GetStatus(const ResourceRef& ref, const std::string& ns,
                                             const std::string& name) {
    return Get(ref, ns, name, "status");
  }
  [[nodiscard]] core::Result<Json> UpdateStatus(const ResourceRef& ref, const std::string& ns,
                                                const Json& object) {
    return Update(ref, ns, object, "status");
  }
  [[nodiscard]] core::Result<Json> PatchStatus(const ResourceRef& ref, const std::string& ns,
                                               const std::string& name, PatchType type,
                                               const Json& patch,
                                               const PatchOptions& options = {}) {
    return Patch(ref, ns, name, type, patch, options, "status");
  }
  // autoscaling/v1 Scale objects.
  [[nodiscard]] core::Result<Json> GetScale(const ResourceRef& ref, const std::string& ns,
                                            const std::string& name) {
    return Get(ref, ns, name, "scale");
  }
  [[nodiscard]] core::Result<Json> UpdateScale(const ResourceRef& ref, const std::string& ns,
                                               const Json& scale) {
    return Update(ref, ns, scale, "scale");
  }
  [[nodiscard]] core::Result<Json> PatchScale(const ResourceRef& ref, const std::string& ns,
                                              const std::string& name, PatchType type,
                                              const Json& patch) {
    return Patch(ref, ns, name, type, patch, {}, "scale");
  }
  // Merge-patches scale spec.replicas with the resourceVersion of the Scale
  // read just before (a late write fails instead of landing); re-reads on
  // 409. Returns the new Scale (or the current one when already there).
  [[nodiscard]] core::Result<Json> SetReplicas(const ResourceRef& ref, const std::string& ns,
                                               const std::string& name, int32_t replicas);

  // --- Read-modify-write helpers -------------------------------------------
  // GET, mutate (may return an error to abort), PUT /status with the object's
  // resourceVersion; on 409 start over, up to max_attempts. Returns the
  // updated object. If mutate leaves the object unchanged, nothing is written.
  [[nodiscard]] core::Result<Json> UpdateStatusWithRetry(
      const ResourceRef& ref, const std::string& ns, const std::string& name,
      const std::function<core::Status(Json& object)>& mutate, int max_attempts = 5);
  // Adds/removes a metadata.finalizers entry by merge patch guarded by the
  // object's resourceVersion (409 -> re-read and retry). No write if already
  // in the desired state. Returns the resulting object.
  [[nodiscard]] core::Result<Json> AddFinalizer(const ResourceRef& ref, const std::string& ns,
                                                const std::string& name,
                                                const std::string& finalizer);
  [[nodiscard]] core::Result<Json> RemoveFinalizer(const ResourceRef& ref, const std::string& ns,
                                                   const std::string& name,
                                                   const std::string& finalizer);

  // --- Watch ---------------------------------------------------------------
  // One watch request: blocks the calling thread, delivering each event to
  // `handler` (return false to stop), until the server ends the stream
  // (timeout) -> OK, `cancel` fires -> OK, or an error. An HTTP 410 or an
  // in-stream ERROR event with code 410 returns a Status with IsGone() true:
  // the caller must re-list. Other in-stream ERROR events are returned as
  // errors too. Run it on a dedicated thread (Informer does).
  [[nodiscard]] core::Status Watch(const ResourceRef& ref, const std::string& ns,
                                   const WatchOptions& options,
                                   const std::function<bool(const WatchEvent&)>& handler,
                                   Cancellation& cancel);

  // Every fault a call meets (kube/faults.h) is reported to `observer`,
  // also the ones the client survives by retrying. Set it before the client
  // is shared between threads; empty = none.
  void SetFaultObserver(FaultObserver observer);
  // For the Client's own users (Informer) to report a fault they handle.
  void ReportFault(const Fault& fault) const;

  // Raw call with authentication and error mapping; `path_and_query` is
  // relative to the server. Returns the parsed JSON body of a 2xx response.
  [[nodiscard]] core::Result<Json> Request(const std::string& method,
                                           const std::string& path_and_query,
                                           const std::string& content_type = "",
                                           const std::string& body = "");
  // The same, returning the 2xx body as it came (e.g. text/plain pod logs),
  // sent with Accept `accept`.
  [[nodiscard]] core::Result<std::string> RequestText(const std::string& method,
                                                      const std::string& path_and_query,
                                                      const std::string& content_type,
                                                      const std::string& body,
                                                      const std::string& accept);

 private:
  std::string Token(bool force_reload);
  core::Result<Json> ModifyFinalizers(const ResourceRef& ref, const std::string& ns,
                                      const std::string& name, const std::string& finalizer,
                                      bool add);

  Config config_;
  std::unique_ptr<Transport> transport_;
  std::mutex token_mu_;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_at_{};
  FaultObserver fault_observer_;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& value);

}  // namespace schemaop::kube
