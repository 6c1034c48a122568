#include "kube/client.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "kube/cpprest_transport.h"

namespace schemaop::kube {
namespace {

// dump() throws on invalid UTF-8 by default; a status or Event message may
// carry bytes of another encoding (a database error) and must not turn a
// write into an exception through the caller. Invalid bytes become U+FFFD.
std::string Serialize(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

using core::Code;
using core::Result;
using core::Status;

const char* ReasonPhrase(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "Error";
  }
}

const char* ContentTypeOf(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kApply: return "application/apply-patch+yaml";
    case PatchType::kStrategic: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

std::string ObjectPath(const ResourceRef& ref, const std::string& ns, const std::string& name,
                       const std::string& subresource) {
  std::string path = ref.CollectionPath(ns) + "/" + UrlEncode(name);
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

void AddParam(std::string* query, const char* key, const std::string& value) {
  if (value.empty()) return;
  *query += query->empty() ? '?' : '&';
  *query += key;
  *query += '=';
  *query += UrlEncode(value);
}

Result<Json> ParseBody(const std::string& body, const std::string& what) {
  if (body.empty()) return Json::object();
  try {
    return Json::parse(body);
  } catch (const Json::parse_error& e) {
    // Never echo the body: it may hold Secret data.
    return Status(Code::kHttpError,
                  what + ": response is not valid JSON (" + std::to_string(body.size()) +
                      " bytes, parse error at byte " + std::to_string(e.byte) +
                      "); is the server a Kubernetes API server, or was the response truncated?",
                  "invalid JSON");
  }
}

Status CheckNamespace(const ResourceRef& ref, const std::string& ns, const std::string& verb) {
  if (ref.namespaced && ns.empty()) {
    return Status(Code::kInvalidArgument, verb + " " + ref.resource +
                                              ": a namespace is required for a namespaced "
                                              "resource");
  }
  return Status::Ok();
}

}  // namespace

std::string UrlEncode(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int HttpCodeOf(const core::Status& status) {
  int code = 0;
  if (std::sscanf(status.detail().c_str(), "HTTP %d", &code) == 1) return code;
  return 0;
}

core::Status StatusFromHttp(int http_status, const std::string& body, const std::string& what) {
  std::string reason = ReasonPhrase(http_status);
  std::string message;
  try {
    Json status = Json::parse(body);
    if (status.is_object() && status.value("kind", "") == "Status") {
      if (status.contains("reason") && status["reason"].is_string() &&
          !status["reason"].get<std::string>().empty()) {
        reason = status["reason"].get<std::string>();
      }
      if (status.contains("message") && status["message"].is_string()) {
        message = status["message"].get<std::string>();
      }
    }
  } catch (const Json::exception&) {
    // Not a metav1.Status (proxy error page, empty body): keep the phrase.
  }
  std::string text = what + " failed: HTTP " + std::to_string(http_status) + " " + reason;
  if (!message.empty()) text += ": " + message;
  if (http_status == 401) text += " (check the token or client certificate)";
  if (http_status == 403) text += " (check the RBAC rules of the service account)";
  Code code = Code::kHttpError;
  if (http_status == 404) code = Code::kNotFound;
  if (http_status == 409) code = Code::kConflict;
  if (http_status == 400 || http_status == 422) code = Code::kInvalidArgument;
  if (http_status == 504 || http_status == 408) code = Code::kTimeout;
  return Status(code, text, "HTTP " + std::to_string(http_status) + " " + reason);
}

core::Result<std::unique_ptr<Client>> Client::Create(Config config) {
  auto transport = MakeCppRestTransport(config);
  if (!transport.ok()) return transport.status();
  return std::make_unique<Client>(std::move(config), std::move(transport.value()));
}

Client::Client(Config config, std::unique_ptr<Transport> transport)
    : config_(std::move(config)),
      transport_(std::move(transport)),
      token_(config_.bearer_token),
      token_read_at_(std::chrono::steady_clock::now()) {
}

Client::~Client() = default;

std::string Client::Token(bool force_reload) {
  std::lock_guard<std::mutex> lock(token_mu_);
  if (config_.token_file.empty()) return token_;
  auto now = std::chrono::steady_clock::now();
  if (force_reload || now - token_read_at_ >= config_.token_refresh_interval) {
    std::ifstream in(config_.token_file, std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      std::string token = text.str();
      while (!token.empty() && (token.back() == '\n' || token.back() == '\r' ||
                                token.back() == ' ')) {
        token.pop_back();
      }
      // A rotation in progress may leave the file briefly empty: keep the old token.
      if (!token.empty()) token_ = std::move(token);
    }
    token_read_at_ = now;
  }
  return token_;
}

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kHttpError: return "http-error";
    case FaultKind::kUnreachable: return "unreachable";
    case FaultKind::kStaleConnection: return "stale-connection";
    case FaultKind::kConflictRetry: return "conflict-retry";
    case FaultKind::kWatchRelist: return "watch-relist";
  }
  return "unknown";
}

void Client::SetFaultObserver(FaultObserver observer) { fault_observer_ = std::move(observer); }

void Client::ReportFault(const Fault& fault) const {
  if (fault_observer_) fault_observer_(fault);
}

core::Result<Json> Client::Request(const std::string& method, const std::string& path_and_query,
                                   const std::string& content_type, const std::string& body) {
  auto text = RequestText(method, path_and_query, content_type, body, "application/json");
  if (!text.ok()) return text.status();
  return ParseBody(text.value(), method + " " + path_and_query);
}

core::Result<std::string> Client::RequestText(const std::string& method,
                                              const std::string& path_and_query,
                                              const std::string& content_type,
                                              const std::string& body, const std::string& accept) {
  const std::string what = method + " " + path_and_query;
  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpRequest request;
    request.method = method;
    request.path_and_query = path_and_query;
    request.headers.emplace_back("Accept", accept);
    if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
    std::string token = Token(attempt > 0);
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    request.body = body;
    auto response = transport_->Send(request);
    if (!response.ok()) {
      ReportFault({FaultKind::kUnreachable, 0, what, response.status().message(),
                   "returned to the caller"});
      return Status(response.status().code(), what + ": " + response.status().message(),
                    response.status().detail());
    }
    if (response->resent > 0) {
      ReportFault({FaultKind::kStaleConnection, response->status, what,
                   "a pooled connection was closed by the server; sent again " +
                       std::to_string(response->resent) + " time(s)",
                   "answered"});
    }
    // A 401 with a token file: the token may have been rotated; re-read once.
    if (response->status == 401 && attempt == 0 && !config_.token_file.empty()) continue;
    if (response->status < 200 || response->status >= 300) {
      Status error = StatusFromHttp(response->status, response->body, what);
      ReportFault({FaultKind::kHttpError, response->status, what, error.message(),
                   "returned to the caller"});
      return error;
    }
    return std::move(response->body);
  }
  return Status(Code::kInternal, what + ": unreachable retry state");
}

core::Result<Json> Client::Get(const ResourceRef& ref, const std::string& ns,
                               const std::string& name, const std::string& subresource) {
  if (Status s = CheckNamespace(ref, ns, "get"); !s.ok()) return s;
  return Request("GET", ObjectPath(ref, ns, name, subresource));
}

core::Result<ObjectList> Client::List(const ResourceRef& ref, const std::string& ns,
                                      const ListOptions& options) {
  std::string query;
  AddParam(&query, "labelSelector", options.label_selector);
  AddParam(&query, "fieldSelector", options.field_selector);
  if (options.limit > 0) AddParam(&query, "limit", std::to_string(options.limit));
  AddParam(&query, "continue", options.continue_token);
  AddParam(&query, "resourceVersion", options.resource_version);
  auto body = Request("GET", ref.CollectionPath(ns) + query);
  if (!body.ok()) return body.status();
  ObjectList list;
  const Json& json = body.value();
  if (!json.is_object() || !json.contains("items") ||
      !(json["items"].is_array() || json["items"].is_null())) {
    return Status(Code::kHttpError,
                  "list " + ref.CollectionPath(ns) + ": response has no 'items' array",
                  "invalid list");
  }
  if (json["items"].is_array()) {
    list.items.reserve(json["items"].size());
    for (const auto& item : json["items"]) list.items.push_back(item);
  }
  if (json.contains("metadata") && json["metadata"].is_object()) {
    list.resource_version = json["metadata"].value("resourceVersion", "");
    list.continue_token = json["metadata"].value("continue", "");
  }
  return list;
}

core::Result<ObjectList> Client::ListAll(const ResourceRef& ref, const std::string& ns,
                                         ListOptions options) {
  if (options.limit <= 0) options.limit = 500;
  ObjectList all;
  bool first = true;
  do {
    auto page = List(ref, ns, options);
    if (!page.ok()) return page.status();
    if (first) all.resource_version = page->resource_version;
    first = false;
    for (auto& item : page->items) all.items.push_back(std::move(item));
    options.continue_token = page->continue_token;
    options.resource_version.clear();  // not allowed together with continue
  } while (!options.continue_token.empty());
  return all;
}

core::Result<Json> Client::Create(const ResourceRef& ref, const std::string& ns,
                                  const Json& object) {
  if (Status s = CheckNamespace(ref, ns, "create"); !s.ok()) return s;
  return Request("POST", ref.CollectionPath(ns), "application/json", Serialize(object));
}

core::Result<Json> Client::Update(const ResourceRef& ref, const std::string& ns,
                                  const Json& object, const std::string& subresource) {
  if (Status s = CheckNamespace(ref, ns, "update"); !s.ok()) return s;
  std::string name;
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    name = object["metadata"].value("name", "");
  }
  if (name.empty()) {
    return Status(Code::kInvalidArgument,
                  "update " + ref.resource + ": the object has no metadata.name");
  }
  return Request("PUT", ObjectPath(ref, ns, name, subresource), "application/json",
                 Serialize(object));
}

core::Result<Json> Client::Patch(const ResourceRef& ref, const std::string& ns,
                                 const std::string& name, PatchType type, const Json& patch,
                                 const PatchOptions& options, const std::string& subresource) {
  if (Status s = CheckNamespace(ref, ns, "patch"); !s.ok()) return s;
  if (type == PatchType::kApply && options.field_manager.empty()) {
    return Status(Code::kInvalidArgument,
                  "server-side apply of " + ref.resource + "/" + name +
                      " needs PatchOptions.field_manager (e.g. \"schemaop\")");
  }
  if (type == PatchType::kJson && !patch.is_array()) {
    return Status(Code::kInvalidArgument, "a JSON patch must be an array of operations");
  }
  std::string query;
  AddParam(&query, "fieldManager", options.field_manager);
  if (type == PatchType::kApply && options.force) AddParam(&query, "force", "true");
  return Request("PATCH", ObjectPath(ref, ns, name, subresource) + query, ContentTypeOf(type),
                 Serialize(patch));
}

core::Status Client::Delete(const ResourceRef& ref, const std::string& ns,
                            const std::string& name, const DeleteOptions& options) {
  if (Status s = CheckNamespace(ref, ns, "delete"); !s.ok()) return s;
  Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.precondition_uid.empty()) {
    body["preconditions"]["uid"] = options.precondition_uid;
  }
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  auto result = Request("DELETE", ObjectPath(ref, ns, name, ""), "application/json", Serialize(body));
  return result.ok() ? Status::Ok() : result.status();
}

// A scale write lands only on the state it was decided on (design §6.3): the
// merge patch carries the resourceVersion of the Scale read just before it
// (optimistic concurrency, as controller-runtime's MergeFromWithOptimisticLock),
// so a write held up in transit (its controller killed after sending it, a
// slow API server) fails with 409 instead of undoing what happened since.
// A conflict from an ordinary change (a status update) is read again and
// retried; a Scale already at `replicas` is not written.
core::Result<Json> Client::SetReplicas(const ResourceRef& ref, const std::string& ns,
                                       const std::string& name, int32_t replicas) {
  constexpr int kAttempts = 5;
  Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto scale = GetScale(ref, ns, name);
    if (!scale.ok()) return scale.status();
    const Json& current = scale.value();
    const Json spec = current.value("spec", Json::object());
    if (spec.is_object() && spec.contains("replicas") && spec["replicas"].is_number_integer() &&
        spec["replicas"].get<std::int64_t>() == replicas) {
      return scale;
    }
    Json patch = {{"spec", {{"replicas", replicas}}}};
    const Json meta = current.value("metadata", Json::object());
    if (meta.is_object() && meta.contains("resourceVersion") && meta["resourceVersion"].is_string()) {
      patch["metadata"] = {{"resourceVersion", meta["resourceVersion"]}};
    }
    auto patched = PatchScale(ref, ns, name, PatchType::kMerge, patch);
    if (patched.ok() || !IsConflict(patched.status())) return patched;
    last = patched.status();
  }
  return Status(Code::kConflict,
                "scale " + ref.resource + " " + ns + "/" + name + " to " +
                    std::to_string(replicas) + ": still conflicting after " +
                    std::to_string(kAttempts) + " attempts: " + last.message());
}

core::Result<Json> Client::UpdateStatusWithRetry(
    const ResourceRef& ref, const std::string& ns, const std::string& name,
    const std::function<core::Status(Json& object)>& mutate, int max_attempts) {
  Status last;
  for (int attempt = 0; attempt < std::max(1, max_attempts); ++attempt) {
    auto current = Get(ref, ns, name);
    if (!current.ok()) return current.status();
    Json desired = current.value();
    if (Status s = mutate(desired); !s.ok()) return s;
    if (desired == current.value()) return desired;  // nothing to write
    auto updated = UpdateStatus(ref, ns, desired);
    if (updated.ok() || !IsConflict(updated.status())) return updated;
    last = updated.status();
    if (attempt + 1 < max_attempts) {
      ReportFault({FaultKind::kConflictRetry, 409, "update status of " + ref.resource + " " + ns +
                   "/" + name, last.message(), "re-reading and retrying"});
    }
  }
  return Status(Code::kConflict,
                "update status of " + ref.resource + " " + ns + "/" + name + ": still conflicting "
                "after " + std::to_string(max_attempts) + " attempts: " + last.message(),
                last.detail());
}

core::Result<Json> Client::ModifyFinalizers(const ResourceRef& ref, const std::string& ns,
                                            const std::string& name,
                                            const std::string& finalizer, bool add) {
  Status last;
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto current = Get(ref, ns, name);
    if (!current.ok()) return current.status();
    const Json& meta = current.value()["metadata"];
    std::vector<std::string> finalizers;
    if (meta.contains("finalizers") && meta["finalizers"].is_array()) {
      for (const auto& f : meta["finalizers"]) {
        if (f.is_string()) finalizers.push_back(f.get<std::string>());
      }
    }
    auto it = std::find(finalizers.begin(), finalizers.end(), finalizer);
    if ((it != finalizers.end()) == add) return current;  // already as desired
    if (add) {
      finalizers.push_back(finalizer);
    } else {
      finalizers.erase(it);
    }
    // resourceVersion in a merge patch is a precondition: 409 if it moved.
    Json patch = {{"metadata",
                   {{"finalizers", finalizers},
                    {"resourceVersion", meta.value("resourceVersion", "")}}}};
    auto patched = Patch(ref, ns, name, PatchType::kMerge, patch);
    if (patched.ok() || !IsConflict(patched.status())) return patched;
    last = patched.status();
    if (attempt + 1 < kAttempts) {
      ReportFault({FaultKind::kConflictRetry, 409, "finalizers of " + ref.resource + " " + ns + "/" +
                   name, last.message(), "re-reading and retrying"});
    }
  }
  return last;
}

core::Result<Json> Client::AddFinalizer(const ResourceRef& ref, const std::string& ns,
                                        const std::string& name, const std::string& finalizer) {
  return ModifyFinalizers(ref, ns, name, finalizer, true);
}

core::Result<Json> Client::RemoveFinalizer(const ResourceRef& ref, const std::string& ns,
                                           const std::string& name,
                                           const std::string& finalizer) {
  return ModifyFinalizers(ref, ns, name, finalizer, false);
}

core::Status Client::Watch(const ResourceRef& ref, const std::string& ns,
                           const WatchOptions& options,
                           const std::function<bool(const WatchEvent&)>& handler,
                           Cancellation& cancel) {
  std::string query = "?watch=true";
  if (options.allow_bookmarks) query += "&allowWatchBookmarks=true";
  if (options.timeout.count() > 0) {
    query += "&timeoutSeconds=" + std::to_string(options.timeout.count());
  }
  AddParam(&query, "resourceVersion", options.resource_version);
  AddParam(&query, "labelSelector", options.label_selector);
  AddParam(&query, "fieldSelector", options.field_selector);
  const std::string path = ref.CollectionPath(ns) + query;
  const std::string what = "watch " + ref.CollectionPath(ns);

  Status stream_status;
  std::string pending;
  auto on_line = [&](const std::string& line) -> bool {
    if (line.find_first_not_of(" \r\t") == std::string::npos) return true;
    Json event;
    try {
      event = Json::parse(line);
    } catch (const Json::parse_error&) {
      stream_status = Status(Code::kHttpError,
                             what + ": a watch event is not valid JSON (" +
                                 std::to_string(line.size()) + " bytes)",
                             "invalid JSON");
      return false;
    }
    if (!event.is_object() || !event.contains("type") || !event["type"].is_string() ||
        !event.contains("object") || !event["object"].is_object()) {
      stream_status = Status(Code::kHttpError, what + ": a watch event lacks type/object",
                             "invalid watch event");
      return false;
    }
    WatchEvent out;
    const std::string type = event["type"].get<std::string>();
    out.object = std::move(event["object"]);
    if (type == "ADDED") {
      out.type = WatchEventType::kAdded;
    } else if (type == "MODIFIED") {
      out.type = WatchEventType::kModified;
    } else if (type == "DELETED") {
      out.type = WatchEventType::kDeleted;
    } else if (type == "BOOKMARK") {
      out.type = WatchEventType::kBookmark;
    } else if (type == "ERROR") {
      int code = out.object.value("code", 0);
      stream_status = StatusFromHttp(code == 0 ? 500 : code, out.object.dump(), what);
      return false;
    } else {
      stream_status = Status(Code::kHttpError, what + ": unknown watch event type '" + type + "'",
                             "invalid watch event");
      return false;
    }
    return handler(out);
  };

  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpRequest request;
    request.method = "GET";
    request.path_and_query = path;
    request.headers.emplace_back("Accept", "application/json");
    std::string token = Token(attempt > 0);
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    pending.clear();
    auto response = transport_->Stream(
        request,
        [&](std::string_view data) {
          pending.append(data.data(), data.size());
          size_t start = 0;
          for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
            if (!on_line(pending.substr(start, nl - start))) return false;
          }
          pending.erase(0, start);
          return true;
        },
        cancel);
    if (cancel.cancelled()) return Status::Ok();
    if (!response.ok()) {
      ReportFault({FaultKind::kUnreachable, 0, what, response.status().message(),
                   "returned to the caller"});
      return Status(response.status().code(), what + ": " + response.status().message(),
                    response.status().detail());
    }
    if (response->status == 401 && attempt == 0 && !config_.token_file.empty()) continue;
    if (response->status < 200 || response->status >= 300) {
      stream_status = StatusFromHttp(response->status, response->body, what);
    }
    if (!stream_status.ok()) {
      ReportFault({FaultKind::kHttpError, HttpCodeOf(stream_status), what, stream_status.message(),
                   "returned to the caller"});
      return stream_status;
    }
    // A final event without a trailing newline.
    if (!cancel.cancelled() && !pending.empty() && !on_line(pending) && !stream_status.ok()) {
      return stream_status;
    }
    return Status::Ok();
  }
  return Status::Ok();
}

// ---- Cancellation ----------------------------------------------------------

void Cancellation::Cancel() {
  std::map<int, std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    hooks.swap(hooks_);
  }
  for (auto& [id, hook] : hooks) hook();
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

int Cancellation::Register(std::function<void()> hook) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled_) {
      hooks_[next_id_] = std::move(hook);
      return next_id_++;
    }
  }
  hook();
  return -1;
}

void Cancellation::Unregister(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_.erase(id);
}

}  // namespace schemaop::kube
