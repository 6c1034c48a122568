#include "manager/kube_port_impl.h"

#include <algorithm>
#include <utility>

#include "manager/manager.h"
#include "reconcile/schema_migration_json.h"

namespace schemaop::manager {

using core::Code;
using core::Status;

namespace {
constexpr std::size_t kMaxSuperseded = 8;

std::string ResourceVersionOf(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  return object["metadata"].value("resourceVersion", "");
}

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

// See kTrimmedCacheField (object_cache.h): a cached object without its payload.
bool IsTrimmed(const std::optional<Json>& cached) {
  return cached && cached->is_object() && cached->contains(kTrimmedCacheField);
}

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::optional<std::string> DecodeBase64(const std::string& text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned int buffer = 0;
  int bits = 0;
  bool padding = false;
  for (unsigned char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    }
    if (c == '=') {
      padding = true;
      continue;
    }
    if (padding) {
      return std::nullopt;  // data after padding
    }
    const int value = Base64Value(c);
    if (value < 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<unsigned int>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (bits >= 6) {
    return std::nullopt;  // a lone trailing character carries no whole byte
  }
  return out;
}

KubePortImpl::KubePortImpl(kube::Client& client, kube::EventRecorder* events,
                           KubePortCaches caches)
    : client_(client), events_(events), caches_(caches), scale_targets_(client) {}

core::Result<Json> KubePortImpl::ReadSchemaMigration(const std::string& ns,
                                                     const std::string& name) {
  const std::string key = Key(ns, name);
  if (caches_.schema_migrations != nullptr) {
    std::optional<Json> cached = caches_.schema_migrations->Get(ns, name);
    if (cached) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = superseded_.find(key);
      bool stale = false;
      if (it != superseded_.end()) {
        const std::string rv = ResourceVersionOf(*cached);
        stale = it->second.empty() ||
                std::find(it->second.begin(), it->second.end(), rv) != it->second.end();
        // Forgotten when the cache caught up, or after the one live read a
        // conflict asked for.
        if (!stale || it->second.empty()) {
          superseded_.erase(it);
        }
      }
      if (!stale) {
        if (cached->is_null()) {
          return Status(Code::kNotFound, "SchemaMigration " + key + " not found",
                        "HTTP 404 NotFound");
        }
        return std::move(*cached);
      }
    }
  }
  return client_.Get(kube::resources::kSchemaMigrations, ns, name);
}

core::Result<core::SchemaMigration> KubePortImpl::GetSchemaMigration(const std::string& ns,
                                                                     const std::string& name) {
  auto json = ReadSchemaMigration(ns, name);
  if (!json.ok()) {
    return json.status();
  }
  return reconcile::SchemaMigrationFromJson(json.value());
}

core::Result<std::vector<core::SchemaMigration>> KubePortImpl::ListSchemaMigrations(
    const std::string& ns) {
  std::vector<Json> items;
  std::optional<std::vector<Json>> cached;
  if (caches_.schema_migrations != nullptr) {
    cached = caches_.schema_migrations->List(ns);
  }
  if (cached) {
    items = std::move(*cached);
  } else {
    auto list = client_.ListAll(kube::resources::kSchemaMigrations, ns);
    if (!list.ok()) {
      return list.status();
    }
    items = std::move(list->items);
  }
  std::vector<core::SchemaMigration> out;
  for (const Json& item : items) {
    auto obj = reconcile::SchemaMigrationFromJson(item);
    if (obj.ok()) {
      out.push_back(std::move(obj).value());
    }
    // An undecodable neighbour cannot claim a database; its own reconcile
    // reports why it is invalid.
  }
  return out;
}

core::Result<std::vector<core::SchemaMigration>> KubePortImpl::ListSchemaMigrationsReferencing(
    const std::string& ns, const std::string& kind, const std::string& name) {
  if (caches_.references == nullptr || caches_.schema_migrations == nullptr) {
    auto all = ListSchemaMigrations(ns);
    if (!all.ok()) {
      return all.status();
    }
    std::vector<core::SchemaMigration> out;
    for (core::SchemaMigration& obj : all.value()) {
      if (reconcile::ReferencesObject(obj, kind, name)) {
        out.push_back(std::move(obj));
      }
    }
    return out;
  }
  std::vector<core::SchemaMigration> out;
  for (const std::string& key : caches_.references->Referencing(kind, ns, name)) {
    const auto [object_ns, object_name] = kube::SplitKey(key);
    auto obj = GetSchemaMigration(object_ns, object_name);
    if (!obj.ok()) {
      if (obj.status().code() == Code::kNotFound) {
        continue;  // deleted since the index saw it
      }
      if (obj.status().code() == Code::kInvalidArgument) {
        continue;  // undecodable: its own reconcile reports why
      }
      return obj.status();
    }
    // The index may lag behind the object: apply the rule to what we read.
    if (reconcile::ReferencesObject(obj.value(), kind, name)) {
      out.push_back(std::move(obj).value());
    }
  }
  return out;
}

core::Result<std::vector<core::SchemaMigration>>
KubePortImpl::ListSchemaMigrationsByDatabaseIdentity(const std::string& identity) {
  std::vector<core::SchemaMigration> out;
  if (identity.empty()) {
    return out;
  }
  if (caches_.references == nullptr || caches_.schema_migrations == nullptr) {
    auto all = ListSchemaMigrations("");  // every watched namespace
    if (!all.ok()) {
      return all.status();
    }
    for (core::SchemaMigration& obj : all.value()) {
      if (obj.status.database_identity == identity) {
        out.push_back(std::move(obj));
      }
    }
    return out;
  }
  for (const std::string& key : caches_.references->Referencing(kDatabaseIdentityKind, "", identity)) {
    const auto [object_ns, object_name] = kube::SplitKey(key);
    auto obj = GetSchemaMigration(object_ns, object_name);
    if (!obj.ok()) {
      if (obj.status().code() == Code::kNotFound || obj.status().code() == Code::kInvalidArgument) {
        continue;  // deleted since the index saw it, or undecodable (it reports that itself)
      }
      return obj.status();
    }
    // The index may lag behind the object: apply the rule to what we read.
    if (obj.value().status.database_identity == identity) {
      out.push_back(std::move(obj).value());
    }
  }
  return out;
}

void KubePortImpl::NoteWrite(const core::SchemaMigration& obj,
                             const core::Result<std::string>& result) {
  const std::string key = Key(obj.metadata.namespace_, obj.metadata.name);
  std::lock_guard<std::mutex> lock(mu_);
  if (result.ok()) {
    auto& list = superseded_[key];
    list.push_back(obj.metadata.resource_version);
    if (list.size() > kMaxSuperseded) {
      list.erase(list.begin());
    }
  } else if (result.status().code() == Code::kConflict) {
    superseded_[key].clear();
  }
}

core::Result<std::string> KubePortImpl::UpdateStatus(const core::SchemaMigration& obj) {
  Json body = {
      {"apiVersion", reconcile::kApiVersion},
      {"kind", reconcile::kKind},
      {"metadata",
       {{"name", obj.metadata.name},
        {"namespace", obj.metadata.namespace_},
        {"resourceVersion", obj.metadata.resource_version}}},
      {"spec", reconcile::SpecToJson(obj.spec)},
      {"status", reconcile::StatusToJson(obj.status)},
  };
  if (!obj.metadata.uid.empty()) {
    body["metadata"]["uid"] = obj.metadata.uid;
  }
  auto updated = client_.UpdateStatus(kube::resources::kSchemaMigrations,
                                      obj.metadata.namespace_, body);
  core::Result<std::string> result =
      updated.ok() ? core::Result<std::string>(ResourceVersionOf(updated.value()))
                   : core::Result<std::string>(updated.status());
  NoteWrite(obj, result);
  return result;
}

core::Result<std::string> KubePortImpl::WriteFinalizers(
    const core::SchemaMigration& obj, const std::vector<std::string>& finalizers) {
  // A merge patch carrying metadata.resourceVersion is an optimistic-lock
  // update: the API server answers 409 when the object changed since.
  Json patch = {{"metadata",
                 {{"resourceVersion", obj.metadata.resource_version},
                  {"finalizers", finalizers}}}};
  auto patched = client_.Patch(kube::resources::kSchemaMigrations, obj.metadata.namespace_,
                               obj.metadata.name, kube::PatchType::kMerge, patch);
  core::Result<std::string> result =
      patched.ok() ? core::Result<std::string>(ResourceVersionOf(patched.value()))
                   : core::Result<std::string>(patched.status());
  NoteWrite(obj, result);
  return result;
}

core::Result<std::string> KubePortImpl::AddFinalizer(const core::SchemaMigration& obj,
                                                     const std::string& finalizer) {
  std::vector<std::string> finalizers = obj.metadata.finalizers;
  if (std::find(finalizers.begin(), finalizers.end(), finalizer) != finalizers.end()) {
    return obj.metadata.resource_version;
  }
  finalizers.push_back(finalizer);
  return WriteFinalizers(obj, finalizers);
}

core::Result<std::string> KubePortImpl::RemoveFinalizer(const core::SchemaMigration& obj,
                                                        const std::string& finalizer) {
  std::vector<std::string> finalizers = obj.metadata.finalizers;
  auto it = std::remove(finalizers.begin(), finalizers.end(), finalizer);
  if (it == finalizers.end()) {
    return obj.metadata.resource_version;
  }
  finalizers.erase(it, finalizers.end());
  auto result = WriteFinalizers(obj, finalizers);
  if (!result.ok() && result.status().code() == Code::kNotFound) {
    return std::string();  // already gone: the finalizer is no more
  }
  return result;
}

core::Result<Json> KubePortImpl::ReadObject(const kube::ResourceRef& ref, const char* kind,
                                            const ObjectCache* cache, const std::string& ns,
                                            const std::string& name) {
  std::optional<Json> cached;
  if (cache != nullptr) {
    cached = cache->Get(ns, name);
  }
  const std::string key = std::string(kind) + "/" + ns + "/" + name;
  std::string trimmed_version;
  if (IsTrimmed(cached)) {
    // The informer keeps only its metadata. A copy we fetched is good while
    // the informer still shows the resourceVersion we fetched.
    trimmed_version = ResourceVersionOf(*cached);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fetched_.find(key);
    if (it != fetched_.end() && !trimmed_version.empty() &&
        it->second.resource_version == trimmed_version) {
      return it->second.object;
    }
    cached.reset();
  }
  if (cached) {
    if (cached->is_null()) {
      std::lock_guard<std::mutex> lock(mu_);
      fetched_.erase(key);
    }
    return std::move(*cached);  // null: the synced cache knows it is absent
  }
  auto fetched = client_.Get(ref, ns, name);
  if (!fetched.ok()) {
    if (fetched.status().code() == Code::kNotFound) {
      return Json(nullptr);
    }
    return fetched.status();
  }
  if (!trimmed_version.empty()) {
    Json kept = {{"metadata", {{"resourceVersion", ResourceVersionOf(fetched.value())}}}};
    if (fetched->contains("data")) {
      kept["data"] = (*fetched)["data"];
    }
    std::lock_guard<std::mutex> lock(mu_);
    fetched_[key] = Fetched{ResourceVersionOf(fetched.value()), std::move(kept)};
  }
  return fetched;
}

core::Result<bool> KubePortImpl::SecretExists(const std::string& ns, const std::string& name) {
  auto read = client_.Get(kube::resources::kSecrets, ns, name);
  if (read.ok()) {
    return true;
  }
  if (read.status().code() == Code::kNotFound) {
    return false;
  }
  return read.status();
}

core::Result<std::string> KubePortImpl::GetSecretValue(const std::string& ns,
                                                       const std::string& name,
                                                       const std::string& key) {
  auto read = client_.Get(kube::resources::kSecrets, ns, name);
  if (!read.ok()) {
    if (read.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, "Secret " + ns + "/" + name + " not found");
    }
    return read.status();
  }
  const Json& secret = read.value();
  const Json* data = nullptr;
  if (secret.contains("data") && secret["data"].is_object()) {
    data = &secret["data"];
  }
  if (data == nullptr || !data->contains(key) || !(*data)[key].is_string()) {
    return Status(Code::kNotFound, "Secret " + ns + "/" + name + " has no key '" + key + "'");
  }
  auto decoded = DecodeBase64((*data)[key].get<std::string>());
  if (!decoded) {
    return Status(Code::kInvalidArgument,
                  "Secret " + ns + "/" + name + " key '" + key + "' is not valid base64");
  }
  return std::move(*decoded);
}

core::Result<std::map<std::string, std::string>> KubePortImpl::GetConfigMapData(
    const std::string& ns, const std::string& name) {
  auto read = ReadObject(kube::resources::kConfigMaps, "ConfigMap", caches_.config_maps, ns, name);
  if (!read.ok()) {
    return read.status();
  }
  const Json& config_map = read.value();
  if (config_map.is_null()) {
    return Status(Code::kNotFound, "ConfigMap " + ns + "/" + name + " not found");
  }
  std::map<std::string, std::string> out;
  if (config_map.contains("data") && config_map["data"].is_object()) {
    for (const auto& [k, v] : config_map["data"].items()) {
      if (v.is_string()) {
        out[k] = v.get<std::string>();
      }
    }
  }
  return out;
}

core::Status KubePortImpl::ScaleNotFound(const core::WorkloadRef& w, const Status& not_found) {
  scale_targets_.Forget(w.api_version, w.kind);
  auto ref = scale_targets_.Resolve(w.api_version, w.kind);
  return ref.ok() ? not_found : ref.status();
}

core::Result<reconcile::WorkloadScale> KubePortImpl::GetScale(const std::string& ns,
                                                              const core::WorkloadRef& w) {
  if (w.kind == core::kKindCronJob) {
    return CronJobScale(ns, w.name);
  }
  auto ref = scale_targets_.Resolve(w.api_version, w.kind);
  if (!ref.ok()) {
    return ref.status();
  }
  auto scale = client_.GetScale(ref.value(), ns, w.name);
  if (!scale.ok()) {
    return scale.status().code() == Code::kNotFound ? ScaleNotFound(w, scale.status())
                                                    : scale.status();
  }
  reconcile::WorkloadScale out;
  const Json& s = scale.value();
  std::string selector;
  if (s.contains("spec") && s["spec"].is_object()) {
    out.spec_replicas = s["spec"].value("replicas", 0);
  }
  if (s.contains("status") && s["status"].is_object()) {
    out.status_replicas = s["status"].value("replicas", 0);
    selector = s["status"].value("selector", "");
  }
  // status_replicas must mean "pods of this workload that still exist", the
  // drain's condition for "no writer is left". The scale's status.replicas
  // alone falls short twice: it does not count terminating pods (a writer in
  // its grace period still writes), and it lags the spec until the workload
  // controller observes it (right after a restore, 0 pods may be reported
  // while the new ones are being created). So count the pods matching the
  // scale's status.selector (for every kind: the HPA's way to find a scale
  // target's pods), terminating ones included, and treat a Deployment or
  // StatefulSet whose controller has not observed its latest generation as
  // not drained. Other kinds are read only through their scale subresource
  // (their observedGeneration, if any, has no common meaning: an Argo
  // Rollout's is a string), so RBAC needs only <plural>/scale for them.
  if (!selector.empty()) {
    kube::ListOptions options;
    options.label_selector = selector;
    auto pods = client_.List(kube::resources::kPods, ns, options);
    if (!pods.ok()) {
      return pods.status();
    }
    out.status_replicas =
        std::max<std::int32_t>(out.status_replicas, static_cast<std::int32_t>(pods->items.size()));
  }
  if (!IsBuiltinWorkload(ref.value())) {
    return out;
  }
  auto workload = client_.Get(ref.value(), ns, w.name);
  if (!workload.ok()) {
    return workload.status();
  }
  const Json& object = workload.value();
  const std::int64_t generation =
      object.contains("metadata") ? object["metadata"].value("generation", std::int64_t{0}) : 0;
  const std::int64_t observed =
      object.contains("status") && object["status"].is_object()
          ? object["status"].value("observedGeneration", std::int64_t{0})
          : 0;
  if (observed < generation) {
    out.status_replicas = std::max<std::int32_t>(out.status_replicas, 1);
  }
  return out;
}

core::Status KubePortImpl::SetReplicas(const std::string& ns, const core::WorkloadRef& w,
                                       std::int32_t replicas) {
  if (w.kind == core::kKindCronJob) {
    return SetCronJobSuspend(ns, w.name, replicas == 0);
  }
  auto ref = scale_targets_.Resolve(w.api_version, w.kind);
  if (!ref.ok()) {
    return ref.status();
  }
  auto scaled = client_.SetReplicas(ref.value(), ns, w.name, replicas);
  if (scaled.ok()) {
    return Status::Ok();
  }
  return scaled.status().code() == Code::kNotFound ? ScaleNotFound(w, scaled.status())
                                                   : scaled.status();
}

void KubePortImpl::RecordEvent(const core::SchemaMigration& obj, reconcile::EventType type,
                               const std::string& reason, const std::string& message) {
  if (events_ == nullptr) {
    return;
  }
  Json involved = {{"apiVersion", reconcile::kApiVersion},
                   {"kind", reconcile::kKind},
                   {"metadata",
                    {{"name", obj.metadata.name},
                     {"namespace", obj.metadata.namespace_},
                     {"uid", obj.metadata.uid},
                     {"resourceVersion", obj.metadata.resource_version}}}};
  // Best effort by contract: an Event that cannot be written is not an
  // error of the run.
  (void)events_->Record(involved,
                        type == reconcile::EventType::kWarning ? kube::EventType::kWarning
                                                               : kube::EventType::kNormal,
                        reason, message);
}

}  // namespace schemaop::manager
