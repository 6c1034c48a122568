// The pure helpers of references.h: the reference rule
// (reconcile::ReferencesOf) over SchemaMigration JSON for the caches, the
// index over it, and the cache transform.
#include "manager/references.h"

#include <algorithm>
#include <utility>

#include "kube/informer.h"
#include "reconcile/ports.h"
#include "reconcile/schema_migration_json.h"

namespace schemaop::manager {

std::string StringAt(const Json& object, std::initializer_list<const char*> path) {
  const Json* at = &object;
  for (const char* part : path) {
    if (!at->is_object()) {
      return "";
    }
    auto it = at->find(part);
    if (it == at->end()) {
      return "";
    }
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : "";
}

bool IsStatusOnlyChange(const Json& before, const Json& after) {
  auto strip = [](Json object) {
    if (object.is_object()) {
      object.erase("status");
      if (object.contains("metadata") && object["metadata"].is_object()) {
        object["metadata"].erase("resourceVersion");
        object["metadata"].erase("managedFields");
      }
    }
    return object;
  };
  return strip(before) == strip(after);
}

namespace {

// "Kind/ns/name" of everything SchemaMigration `sm` references (the rule
// is reconcile::ReferencesOf), plus its database identity under
// kDatabaseIdentityKind. An object that does not decode references nothing:
// only an edit of it can fix it, and that edit reconciles it.
std::vector<std::string> ReferencesOf(const Json& sm) {
  std::vector<std::string> refs;
  auto decoded = reconcile::SchemaMigrationFromJson(sm);
  if (!decoded.ok()) {
    return refs;
  }
  const std::string& ns = decoded->metadata.namespace_;
  for (const reconcile::ObjectRef& ref : reconcile::ReferencesOf(decoded.value())) {
    refs.push_back(ref.kind + "/" + ns + "/" + ref.name);
  }
  if (!decoded->status.database_identity.empty()) {
    refs.push_back(std::string(kDatabaseIdentityKind) + "//" + decoded->status.database_identity);
  }
  std::sort(refs.begin(), refs.end());
  refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  return refs;
}

}  // namespace

std::vector<std::string> SchemaMigrationsReferencing(const std::vector<Json>& objects,
                                                     const std::string& kind,
                                                     const std::string& name) {
  std::vector<std::string> keys;
  for (const Json& sm : objects) {
    const std::vector<std::string> refs = ReferencesOf(sm);
    const std::string ref = kind + "/" + StringAt(sm, {"metadata", "namespace"}) + "/" + name;
    if (std::binary_search(refs.begin(), refs.end(), ref)) {
      keys.push_back(kube::KeyOf(sm));
    }
  }
  return keys;
}

void ReferenceIndex::Set(const Json& sm) {
  const std::string key = kube::KeyOf(sm);
  std::vector<std::string> refs = ReferencesOf(sm);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_by_sm_.find(key);
  if (it != refs_by_sm_.end()) {
    if (it->second == refs) {
      return;
    }
    Unfile(key, it->second);
  }
  for (const std::string& ref : refs) {
    sms_by_ref_[ref].insert(key);
  }
  refs_by_sm_[key] = std::move(refs);
}

void ReferenceIndex::Remove(const std::string& sm_key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = refs_by_sm_.find(sm_key);
  if (it == refs_by_sm_.end()) {
    return;
  }
  Unfile(sm_key, it->second);
  refs_by_sm_.erase(it);
}

void ReferenceIndex::Unfile(const std::string& sm_key, const std::vector<std::string>& refs) {
  for (const std::string& ref : refs) {
    auto& sms = sms_by_ref_[ref];
    sms.erase(sm_key);
    if (sms.empty()) {
      sms_by_ref_.erase(ref);
    }
  }
}

std::vector<std::string> ReferenceIndex::Referencing(const std::string& kind, const std::string& ns,
                                                     const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sms_by_ref_.find(kind + "/" + ns + "/" + name);
  if (it == sms_by_ref_.end()) {
    return {};
  }
  return {it->second.begin(), it->second.end()};
}

void TrimForCache(const std::string& kind, Json& object, bool referenced) {
  if (!object.is_object()) {
    return;
  }
  if (object.contains("metadata") && object["metadata"].is_object()) {
    Json& metadata = object["metadata"];
    metadata.erase("managedFields");
    if (metadata.contains("annotations") && metadata["annotations"].is_object()) {
      metadata["annotations"].erase("kubectl.kubernetes.io/last-applied-configuration");
      if (metadata["annotations"].empty()) {
        metadata.erase("annotations");
      }
    }
  }
  if (kind == "Deployment" || kind == "StatefulSet") {
    Json identity = Json::object();
    for (const char* field : {"apiVersion", "kind"}) {
      if (object.contains(field)) {
        identity[field] = std::move(object[field]);
      }
    }
    if (object.contains("metadata") && object["metadata"].is_object()) {
      Json& metadata = object["metadata"];
      Json kept = Json::object();
      for (const char* field : {"name", "namespace", "uid", "resourceVersion", "generation"}) {
        if (metadata.contains(field)) {
          kept[field] = std::move(metadata[field]);
        }
      }
      identity["metadata"] = std::move(kept);
    }
    object = std::move(identity);
    return;
  }
  if ((kind == "Secret" || kind == "ConfigMap") && !referenced) {
    object.erase("data");
    object.erase("binaryData");
    object.erase("stringData");
    object[kTrimmedCacheField] = true;
  }
}

}  // namespace schemaop::manager
