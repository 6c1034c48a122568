// The pure helpers of references.h: the reference rule over SchemaMigration
// JSON (ReferencesOf, the one place it is written for the caches; the
// reconciler applies reconcile::ReferencesObject to decoded objects), the
// index over it, and the cache transform.
#include "manager/references.h"

#include <algorithm>
#include <utility>

#include "kube/informer.h"

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

// "Kind/ns/name" of everything SchemaMigration `sm` references.
std::vector<std::string> ReferencesOf(const Json& sm) {
  std::vector<std::string> refs;
  const std::string ns = StringAt(sm, {"metadata", "namespace"});
  const std::string secret = StringAt(sm, {"spec", "database", "urlSecretRef", "name"});
  if (!secret.empty()) {
    refs.push_back("Secret/" + ns + "/" + secret);
  }
  const std::string config_map = StringAt(sm, {"spec", "migrations", "configMapRef", "name"});
  if (!config_map.empty()) {
    refs.push_back("ConfigMap/" + ns + "/" + config_map);
  }
  auto add_workloads = [&](const Json* list) {
    if (list == nullptr || !list->is_array()) {
      return;
    }
    for (const Json& w : *list) {
      if (w.is_object() && w.contains("name") && w["name"].is_string()) {
        const Json kind = w.value("kind", Json("Deployment"));
        refs.push_back((kind.is_string() ? kind.get<std::string>() : std::string("Deployment")) +
                       "/" + ns + "/" + w["name"].get<std::string>());
      }
    }
  };
  auto at = [&](std::initializer_list<const char*> path) -> const Json* {
    const Json* node = &sm;
    for (const char* part : path) {
      if (!node->is_object() || !node->contains(part)) {
        return nullptr;
      }
      node = &(*node)[part];
    }
    return node;
  };
  add_workloads(at({"spec", "workloads"}));
  add_workloads(at({"status", "workloads"}));
  add_workloads(at({"status", "run", "workloads"}));
  const std::string identity = StringAt(sm, {"status", "databaseIdentity"});
  if (!identity.empty()) {
    refs.push_back(std::string(kDatabaseIdentityKind) + "//" + identity);
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
