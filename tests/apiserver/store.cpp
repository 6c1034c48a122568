// Object store, resource semantics and watch fan-out of the test API server.

#include "store.h"

#include <algorithm>
#include <random>

namespace schemaop::apiserver {

namespace {

constexpr char kModified[] =
    "the object has been modified; please apply your changes to the latest version and try "
    "again";

// Deployments, StatefulSets and custom resources with a scale subresource:
// the kinds whose pods the simulated controllers manage.
bool IsWorkload(const ResourceType& type) {
  return type.bucket() == "apps/deployments" || type.bucket() == "apps/statefulsets" ||
         (type.is_custom && type.has_scale);
}

const Json& Meta(const Json& object) {
  static const Json kEmpty = Json::object();
  return object.is_object() && object.contains("metadata") && object["metadata"].is_object()
             ? object["metadata"]
             : kEmpty;
}

std::string MetaString(const Json& object, const char* field) {
  const Json& meta = Meta(object);
  return meta.contains(field) && meta[field].is_string() ? meta[field].get<std::string>() : "";
}

std::string KeyOf(const std::string& ns, const std::string& name) { return ns + "/" + name; }

Json SuccessStatus(const ResourceType& type, const Json& object) {
  Json details = {{"name", MetaString(object, "name")},
                  {"kind", type.plural},
                  {"uid", MetaString(object, "uid")}};
  if (!type.group.empty()) details["group"] = type.group;
  return {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
          {"status", "Success"}, {"details", details}};
}

bool HasFinalizers(const Json& object) {
  const Json& meta = Meta(object);
  return meta.contains("finalizers") && meta["finalizers"].is_array() &&
         !meta["finalizers"].empty();
}

std::string SelectorString(const Json& workload) {
  std::string out;
  const Json spec = workload.value("spec", Json::object());
  const Json match = spec.value("selector", Json::object()).value("matchLabels", Json::object());
  for (auto it = match.begin(); it != match.end(); ++it) {
    out += (out.empty() ? "" : ",") + it.key() + "=" +
           (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  return out;
}

Json ScaleOf(const ResourceType& type, const Json& obj) {
  Json spec = {{"replicas", obj.value("spec", Json::object()).value("replicas", 1)}};
  Json status = {{"replicas", obj.value("status", Json::object()).value("replicas", 0)},
                 {"selector", SelectorString(obj)}};
  if (type.is_custom) {  // the CRD's subresources.scale paths
    spec = {{"replicas", CustomSpecReplicas(type, obj)}};
    status = CustomScaleStatus(type, obj);
  }
  return {{"kind", "Scale"},
          {"apiVersion", "autoscaling/v1"},
          {"metadata",
           {{"name", MetaString(obj, "name")},
            {"namespace", MetaString(obj, "namespace")},
            {"uid", MetaString(obj, "uid")},
            {"resourceVersion", MetaString(obj, "resourceVersion")},
            {"creationTimestamp", MetaString(obj, "creationTimestamp")}}},
          {"spec", spec},
          {"status", status}};
}

std::string StableHash(const std::string& text, std::size_t length) {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  std::string out;
  for (std::size_t i = 0; i < length; ++i) {
    out += kAlphabet[h % (sizeof(kAlphabet) - 1)];
    h /= (sizeof(kAlphabet) - 1);
    if (h == 0) h = 0x9E3779B97F4A7C15ULL + i;
  }
  return out;
}

std::mt19937_64& Rng() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace

std::string RandomSuffix(std::size_t length) {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(kAlphabet) - 2);
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += kAlphabet[pick(Rng())];
  return out;
}

std::string NewUid() {
  std::uniform_int_distribution<int> nibble(0, 15);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
    int v = nibble(Rng());
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    out += kHex[v];
  }
  return out;
}

Store::Store(std::size_t history_size) : history_size_(history_size == 0 ? 1 : history_size) {
  RegisterBuiltins();
  auto ns_type = FindTypeLocked("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    CreateLocked(*ns_type, "", {{"metadata", {{"name", name}}}}, false);
  }
}

void Store::SetWorkloadHook(std::function<void(const std::string&, const std::string&)> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  workload_hook_ = std::move(hook);
}

void Store::RegisterBuiltins() {
  auto add = [this](std::string group, std::string plural, std::string singular,
                    std::string kind, bool namespaced, std::vector<std::string> short_names,
                    std::vector<std::string> categories, bool status, bool scale,
                    bool generation) {
    ResourceType t;
    t.group = std::move(group);
    t.version = "v1";
    t.plural = std::move(plural);
    t.singular = std::move(singular);
    t.kind = std::move(kind);
    t.namespaced = namespaced;
    t.short_names = std::move(short_names);
    t.categories = std::move(categories);
    t.has_status = status;
    t.has_scale = scale;
    t.tracks_generation = generation;
    types_.push_back(std::move(t));
  };
  add("", "namespaces", "namespace", "Namespace", false, {"ns"}, {}, true, false, false);
  add("", "configmaps", "configmap", "ConfigMap", true, {"cm"}, {}, false, false, false);
  add("", "secrets", "secret", "Secret", true, {}, {}, false, false, false);
  add("", "events", "event", "Event", true, {"ev"}, {}, false, false, false);
  add("", "pods", "pod", "Pod", true, {"po"}, {"all"}, true, false, false);
  add("", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {}, false, false,
      false);
  // Stored only (no endpoints, no volume binding): enough to apply an
  // install (the Helm chart's metrics Service and backup claim).
  add("", "services", "service", "Service", true, {"svc"}, {"all"}, true, false, false);
  add("", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true,
      {"pvc"}, {}, true, false, false);
  add("apps", "deployments", "deployment", "Deployment", true, {"deploy"}, {"all"}, true, true,
      true);
  add("apps", "statefulsets", "statefulset", "StatefulSet", true, {"sts"}, {"all"}, true, true,
      true);
  // Stored only (no controllers run them): a CronJob's Jobs and their
  // status are created by the tests, an HPA never scales (tests play it).
  add("batch", "cronjobs", "cronjob", "CronJob", true, {"cj"}, {"all"}, true, false, true);
  add("batch", "jobs", "job", "Job", true, {}, {"all"}, true, false, true);
  add("autoscaling", "horizontalpodautoscalers", "horizontalpodautoscaler",
      "HorizontalPodAutoscaler", true, {"hpa"}, {"all"}, true, false, true);
  types_.back().version = "v2";
  add("coordination.k8s.io", "leases", "lease", "Lease", true, {}, {}, false, false, false);
  add("rbac.authorization.k8s.io", "roles", "role", "Role", true, {}, {}, false, false, false);
  add("rbac.authorization.k8s.io", "rolebindings", "rolebinding", "RoleBinding", true, {}, {},
      false, false, false);
  add("rbac.authorization.k8s.io", "clusterroles", "clusterrole", "ClusterRole", false, {}, {},
      false, false, false);
  add("rbac.authorization.k8s.io", "clusterrolebindings", "clusterrolebinding",
      "ClusterRoleBinding", false, {}, {}, false, false, false);
  add("apiextensions.k8s.io", "customresourcedefinitions", "customresourcedefinition",
      "CustomResourceDefinition", false, {"crd", "crds"}, {"api-extensions"}, true, false, true);
}

std::optional<ResourceType> Store::FindType(const std::string& group, const std::string& version,
                                            const std::string& plural) const {
  std::lock_guard<std::mutex> lock(mu_);
  return FindTypeLocked(group, version, plural);
}

std::optional<ResourceType> Store::FindTypeLocked(const std::string& group,
                                                  const std::string& version,
                                                  const std::string& plural) const {
  for (const ResourceType& t : types_) {
    if (t.group == group && t.version == version && t.plural == plural) return t;
  }
  return std::nullopt;
}

std::vector<ResourceType> Store::TypesOf(const std::string& group,
                                         const std::string& version) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ResourceType> out;
  for (const ResourceType& t : types_) {
    if (t.group == group && t.version == version) out.push_back(t);
  }
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> Store::GroupVersions() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const ResourceType& t : types_) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == t.group; });
    if (it == out.end()) {
      out.push_back({t.group, {t.version}});
    } else if (std::find(it->second.begin(), it->second.end(), t.version) == it->second.end()) {
      it->second.push_back(t.version);
    }
  }
  return out;
}

void Store::RegisterCrdLocked(const Json& crd) {
  const Json spec = crd.value("spec", Json::object());
  const Json names = spec.value("names", Json::object());
  const std::string group = spec.value("group", "");
  const std::string plural = names.value("plural", "");
  types_.erase(std::remove_if(types_.begin(), types_.end(),
                              [&](const ResourceType& t) {
                                return t.is_custom && t.group == group && t.plural == plural;
                              }),
               types_.end());
  for (const Json& v : spec.value("versions", Json::array())) {
    if (!v.value("served", true)) continue;
    ResourceType t;
    t.group = group;
    t.version = v.value("name", "");
    t.plural = plural;
    t.kind = names.value("kind", "");
    t.singular = names.value("singular", "");
    t.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    t.short_names = names.value("shortNames", std::vector<std::string>{});
    t.categories = names.value("categories", std::vector<std::string>{});
    const Json sub = v.value("subresources", Json::object());
    t.has_status = sub.contains("status");
    SetCustomScalePaths(t, sub);
    t.tracks_generation = true;
    t.is_custom = true;
    t.schema = v.value("schema", Json::object()).value("openAPIV3Schema", Json());
    t.printer_columns = v.value("additionalPrinterColumns", Json::array());
    types_.push_back(std::move(t));
  }
}

void Store::UnregisterCrdLocked(const Json& crd) {
  const Json spec = crd.value("spec", Json::object());
  const std::string group = spec.value("group", "");
  const std::string plural = spec.value("names", Json::object()).value("plural", "");
  const std::string bucket_key = group + "/" + plural;
  // Custom resources go with their definition; watchers see them deleted.
  auto type = std::find_if(types_.begin(), types_.end(), [&](const ResourceType& t) {
    return t.is_custom && t.bucket() == bucket_key;
  });
  if (type != types_.end()) {
    ResourceType copy = *type;
    auto& objects = buckets_[bucket_key].objects;
    while (!objects.empty()) {
      auto it = objects.begin();
      RemoveLocked(copy, it->first, it->second);
    }
  }
  types_.erase(std::remove_if(types_.begin(), types_.end(),
                              [&](const ResourceType& t) {
                                return t.is_custom && t.bucket() == bucket_key;
                              }),
               types_.end());
  for (auto& w : watchers_[bucket_key]) w->closed = true;
  cv_.notify_all();
}

bool Store::NamespaceExistsLocked(const std::string& ns) const {
  auto it = buckets_.find("/namespaces");
  return it != buckets_.end() && it->second.objects.count(KeyOf("", ns)) > 0;
}

Json Store::RenderFor(const ResourceType& type, const Json& object) const {
  Json out = object;
  out["apiVersion"] = type.api_version();
  out["kind"] = type.kind;
  return out;
}

std::optional<ApiError> Store::Admit(const ResourceType& type, Json& object, const Json* old) {
  const std::string name = MetaString(object, "name");
  std::vector<FieldError> errors;
  if (type.is_custom) {
    if (type.schema.is_object()) {
      PruneAndDefault(type.schema, object);
      errors = ValidateAgainstSchema(type.schema, object);
    }
  } else if (type.bucket() == "apps/deployments" || type.bucket() == "apps/statefulsets") {
    Json& spec = object["spec"];
    if (!spec.is_object()) spec = Json::object();
    if (!spec.contains("replicas")) spec["replicas"] = 1;
    if (!spec["replicas"].is_number_integer()) {
      errors.push_back({"FieldValueTypeInvalid", "spec.replicas",
                        "Invalid value: " + spec["replicas"].dump() + ": must be an integer"});
    } else if (spec["replicas"].get<std::int64_t>() < 0) {
      errors.push_back({"FieldValueInvalid", "spec.replicas",
                        "Invalid value: " + spec["replicas"].dump() +
                            ": must be greater than or equal to 0"});
    }
    if (!spec.contains("selector")) {
      errors.push_back({"FieldValueRequired", "spec.selector", "Required value"});
    }
    if (type.plural == "deployments") {
      if (!spec.contains("revisionHistoryLimit")) spec["revisionHistoryLimit"] = 10;
      if (!spec.contains("progressDeadlineSeconds")) spec["progressDeadlineSeconds"] = 600;
      if (!spec.contains("strategy")) {
        spec["strategy"] = {{"type", "RollingUpdate"},
                            {"rollingUpdate", {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}}}};
      }
    }
  } else if (type.bucket() == "/secrets") {
    if (object.contains("stringData") && object["stringData"].is_object()) {
      for (auto it = object["stringData"].begin(); it != object["stringData"].end(); ++it) {
        if (it.value().is_string()) {
          object["data"][it.key()] = Base64Encode(it.value().get<std::string>());
        }
      }
      object.erase("stringData");
    }
    if (!object.contains("type")) object["type"] = "Opaque";
    if (object.contains("data") && object["data"].is_object()) {
      for (auto it = object["data"].begin(); it != object["data"].end(); ++it) {
        if (!it.value().is_string() || !Base64Decode(it.value().get<std::string>())) {
          errors.push_back({"FieldValueInvalid", "data[" + it.key() + "]",
                            "Invalid value: \"<secret contents redacted>\": illegal base64 data"});
        }
      }
    }
  } else if (type.bucket() == "/namespaces") {
    if (!object.contains("status") || !object["status"].is_object()) {
      object["status"] = {{"phase", "Active"}};
    }
    if (!object.contains("spec")) object["spec"] = {{"finalizers", {"kubernetes"}}};
  } else if (type.bucket() == "apiextensions.k8s.io/customresourcedefinitions") {
    Json& spec = object["spec"];
    if (!spec.is_object()) spec = Json::object();
    Json& names = spec["names"];
    if (!names.is_object()) names = Json::object();
    const std::string group = spec.value("group", "");
    const std::string plural = names.value("plural", "");
    const std::string kind = names.value("kind", "");
    if (group.empty()) errors.push_back({"FieldValueRequired", "spec.group", "Required value"});
    if (plural.empty()) {
      errors.push_back({"FieldValueRequired", "spec.names.plural", "Required value"});
    }
    if (kind.empty()) errors.push_back({"FieldValueRequired", "spec.names.kind", "Required value"});
    const std::string scope = spec.value("scope", "");
    if (scope != "Namespaced" && scope != "Cluster") {
      errors.push_back({"FieldValueNotSupported", "spec.scope",
                        "Unsupported value: \"" + scope +
                            "\": supported values: \"Cluster\", \"Namespaced\""});
    }
    if (!plural.empty() && !group.empty() && name != plural + "." + group) {
      errors.push_back({"FieldValueInvalid", "metadata.name",
                        "Invalid value: \"" + name +
                            "\": must be spec.names.plural+\".\"+spec.group"});
    }
    const Json versions = spec.value("versions", Json::array());
    int storage = 0;
    for (const Json& v : versions) storage += v.value("storage", false) ? 1 : 0;
    if (versions.empty()) {
      errors.push_back({"FieldValueRequired", "spec.versions",
                        "Required value: must have exactly one version marked as storage version"});
    } else if (storage != 1) {
      errors.push_back({"FieldValueInvalid", "spec.versions",
                        "Invalid value: \"" + std::string(storage == 0 ? "[]" : "[...]") +
                            "\": must have exactly one version marked as storage version"});
    }
    if (!kind.empty() && !names.contains("singular")) {
      std::string singular = kind;
      std::transform(singular.begin(), singular.end(), singular.begin(), ::tolower);
      names["singular"] = singular;
    }
    if (!kind.empty() && !names.contains("listKind")) names["listKind"] = kind + "List";
    if (errors.empty()) {
      Json status = old != nullptr ? old->value("status", Json::object()) : Json::object();
      if (!status.contains("conditions")) {
        const std::string now = NowRfc3339();
        status["conditions"] = Json::array(
            {{{"type", "NamesAccepted"}, {"status", "True"}, {"reason", "NoConflicts"},
              {"message", "no conflicts found"}, {"lastTransitionTime", now}},
             {{"type", "Established"}, {"status", "True"}, {"reason", "InitialNamesAccepted"},
              {"message", "the initial names have been accepted"}, {"lastTransitionTime", now}}});
      }
      status["acceptedNames"] = names;
      Json stored = status.value("storedVersions", Json::array());
      for (const Json& v : versions) {
        if (v.value("storage", false) &&
            std::find(stored.begin(), stored.end(), v["name"]) == stored.end()) {
          stored.push_back(v["name"]);
        }
      }
      status["storedVersions"] = stored;
      object["status"] = status;
    }
  }
  if (!errors.empty()) {
    return Invalid(type.kind, type.group, name, errors);
  }
  return std::nullopt;
}

Outcome Store::Create(const ResourceType& type, const std::string& ns, Json object, bool dry_run) {
  std::lock_guard<std::mutex> lock(mu_);
  return CreateLocked(type, ns, std::move(object), dry_run);
}

Outcome Store::CreateLocked(const ResourceType& type, const std::string& ns, Json object,
                            bool dry_run) {
  if (!object.is_object()) {
    return Outcome::Fail(BadRequest("the body of the request was in an unknown format"));
  }
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    object["metadata"] = Json::object();
  }
  Json& meta = object["metadata"];
  object["apiVersion"] = type.api_version();
  object["kind"] = type.kind;
  if (type.namespaced) {
    const std::string body_ns = MetaString(object, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      return Outcome::Fail(BadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request"));
    }
    meta["namespace"] = ns;
    if (!NamespaceExistsLocked(ns)) {
      return Outcome::Fail(NotFound("", "namespaces", ns));
    }
  } else {
    meta.erase("namespace");
  }
  std::string name = MetaString(object, "name");
  Bucket& bucket = buckets_[type.bucket()];
  if (name.empty()) {
    const std::string prefix = MetaString(object, "generateName");
    if (prefix.empty()) {
      return Outcome::Fail(Invalid(type.kind, type.group, "",
                                   {{"FieldValueRequired", "metadata.name",
                                     "Required value: name or generateName is required"}}));
    }
    do {
      name = prefix + RandomSuffix(5);
    } while (bucket.objects.count(KeyOf(ns, name)) > 0);
    meta["name"] = name;
  }
  if (!IsDns1123Subdomain(name)) {
    return Outcome::Fail(Invalid(
        type.kind, type.group, name,
        {{"FieldValueInvalid", "metadata.name",
          "Invalid value: \"" + name +
              "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
              "characters, '-' or '.', and must start and end with an alphanumeric character "
              "(e.g. 'example.com', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"}}));
  }
  const std::string key = KeyOf(type.namespaced ? ns : "", name);
  if (bucket.objects.count(key) > 0) {
    return Outcome::Fail(AlreadyExists(type.group, type.plural, name));
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = NowRfc3339();
  for (const char* field : {"resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                            "selfLink"}) {
    meta.erase(field);
  }
  if (type.tracks_generation) {
    meta["generation"] = 1;
  } else {
    meta.erase("generation");
  }
  if (type.has_status && type.bucket() != "/pods" && type.bucket() != "/namespaces") {
    object.erase("status");
  }
  if (auto error = Admit(type, object, nullptr)) {
    return Outcome::Fail(*error);
  }
  if (dry_run) {
    return Outcome::Ok(object, 201);
  }
  CommitLocked(type, key, "ADDED", object, Json());
  return Outcome::Ok(RenderFor(type, buckets_[type.bucket()].objects[key]), 201);
}

Outcome Store::Get(const ResourceType& type, const std::string& ns, const std::string& name,
                   const std::string& subresource) {
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = buckets_[type.bucket()];
  auto it = bucket.objects.find(KeyOf(type.namespaced ? ns : "", name));
  if (it == bucket.objects.end()) {
    return Outcome::Fail(NotFound(type.group, type.plural, name));
  }
  if (subresource == "scale") return Outcome::Ok(ScaleOf(type, it->second));
  return Outcome::Ok(RenderFor(type, it->second));
}

Outcome Store::List(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  std::string error;
  auto labels = ParseLabelSelector(options.label_selector, &error);
  if (!labels) return Outcome::Fail(BadRequest(error));
  auto fields = ParseFieldSelector(options.field_selector, &error);
  if (!fields) return Outcome::Fail(BadRequest(error));
  std::string start_after;
  if (!options.continue_token.empty()) {
    auto decoded = Base64Decode(options.continue_token);
    Json token = decoded ? Json::parse(*decoded, nullptr, false) : Json();
    if (!token.is_object() || !token.contains("start")) {
      return Outcome::Fail(BadRequest("continue key is not valid: invalid continue token"));
    }
    start_after = token["start"].get<std::string>();
  }
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& bucket = buckets_[type.bucket()];
  Json items = Json::array();
  std::string last_key;
  std::int64_t remaining = 0;
  for (auto it = start_after.empty() ? bucket.objects.begin()
                                     : bucket.objects.upper_bound(start_after);
       it != bucket.objects.end(); ++it) {
    const Json& obj = it->second;
    if (type.namespaced && !ns.empty() && MetaString(obj, "namespace") != ns) continue;
    if (!labels->Matches(Meta(obj).value("labels", Json()))) continue;
    if (!fields->Matches(obj)) continue;
    if (options.limit > 0 && static_cast<std::int64_t>(items.size()) >= options.limit) {
      ++remaining;
      continue;
    }
    items.push_back(RenderFor(type, obj));
    last_key = it->first;
  }
  Json meta = {{"resourceVersion", std::to_string(rv_)}};
  if (remaining > 0) {
    meta["continue"] = Base64Encode(Json({{"start", last_key}, {"rv", rv_}}).dump());
    meta["remainingItemCount"] = remaining;
  }
  return Outcome::Ok({{"kind", type.list_kind()},
                      {"apiVersion", type.api_version()},
                      {"metadata", meta},
                      {"items", items}});
}

Outcome Store::Modify(const ResourceType& type, const std::string& ns, const std::string& name,
                      const std::string& subresource, const Mutation& mutate, bool dry_run,
                      bool create_if_missing, const std::string& update_manager) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string key = KeyOf(type.namespaced ? ns : "", name);
  Bucket& bucket = buckets_[type.bucket()];
  auto it = bucket.objects.find(key);
  if (it == bucket.objects.end()) {
    if (!create_if_missing || !subresource.empty()) {
      return Outcome::Fail(NotFound(type.group, type.plural, name));
    }
    Json created;
    if (auto error = mutate(Json(), created)) return Outcome::Fail(*error);
    if (!created.is_object()) return Outcome::Fail(BadRequest("the object must be a JSON object"));
    const std::string body_name = MetaString(created, "name");
    if (!body_name.empty() && body_name != name) {
      return Outcome::Fail(BadRequest("the name of the object (" + body_name +
                                      ") does not match the name on the URL (" + name + ")"));
    }
    created["metadata"]["name"] = name;
    return CreateLocked(type, ns, std::move(created), dry_run);
  }
  const Json current = it->second;
  Json representation;
  if (subresource == "scale") {
    representation = ScaleOf(type, current);
  } else {
    representation = RenderFor(type, current);
  }
  Json updated;
  if (auto error = mutate(representation, updated)) return Outcome::Fail(*error);
  if (!updated.is_object()) {
    return Outcome::Fail(BadRequest("the body of the request was in an unknown format"));
  }
  const std::string want_rv = MetaString(updated, "resourceVersion");
  const std::string have_rv = MetaString(current, "resourceVersion");
  if (!want_rv.empty() && want_rv != have_rv) {
    return Outcome::Fail(Conflict(type.group, type.plural, name, kModified));
  }
  const std::string body_name = MetaString(updated, "name");
  if (!body_name.empty() && body_name != name) {
    return Outcome::Fail(BadRequest("the name of the object (" + body_name +
                                    ") does not match the name on the URL (" + name + ")"));
  }
  if (type.namespaced) {
    const std::string body_ns = MetaString(updated, "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      return Outcome::Fail(BadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request"));
    }
  }
  Json next;
  if (subresource == "scale") {
    next = current;
    const Json replicas = updated.value("spec", Json::object()).value("replicas", Json());
    if (!replicas.is_number_integer() || replicas.get<std::int64_t>() < 0) {
      return Outcome::Fail(Invalid("Scale", "autoscaling", name,
                                   {{"FieldValueInvalid", "spec.replicas",
                                     "Invalid value: " + replicas.dump() +
                                         ": must be greater than or equal to 0"}}));
    }
    if (type.is_custom) {
      SetCustomSpecReplicas(type, next, replicas.get<std::int64_t>());
    } else {
      next["spec"]["replicas"] = replicas;
    }
  } else if (subresource == "status") {
    next = current;
    if (updated.contains("status")) {
      next["status"] = updated["status"];
    } else {
      next.erase("status");
    }
  } else {
    next = updated;
    if (!next.contains("metadata") || !next["metadata"].is_object()) {
      next["metadata"] = Json::object();
    }
    Json& meta = next["metadata"];
    const Json& old_meta = Meta(current);
    for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "generation", "name", "namespace"}) {
      if (old_meta.contains(field)) {
        meta[field] = old_meta[field];
      } else {
        meta.erase(field);
      }
    }
    if (!meta.contains("managedFields") && old_meta.contains("managedFields")) {
      meta["managedFields"] = old_meta["managedFields"];
    }
    if (type.has_status) {
      if (current.contains("status")) {
        next["status"] = current["status"];
      } else {
        next.erase("status");
      }
    }
  }
  next["apiVersion"] = current["apiVersion"];
  next["kind"] = type.kind;
  next["metadata"]["resourceVersion"] = have_rv;
  RecordUpdateFields(current, next, update_manager, type.api_version(), subresource);
  if (auto error = Admit(type, next, &current)) {
    return Outcome::Fail(*error);
  }
  if (type.tracks_generation) {
    auto strip = [&](Json o) {
      o.erase("metadata");
      o.erase("apiVersion");
      o.erase("kind");
      if (type.has_status) o.erase("status");
      return o;
    };
    if (strip(current) != strip(next)) {
      next["metadata"]["generation"] = Meta(current).value("generation", 0) + 1;
    }
  }
  if (next == current) {
    return Outcome::Ok(subresource == "scale" ? representation : RenderFor(type, current));
  }
  if (dry_run) {
    return Outcome::Ok(RenderFor(type, next));
  }
  if (Meta(next).contains("deletionTimestamp") && !HasFinalizers(next)) {
    RemoveLocked(type, key, next);
    return Outcome::Ok(RenderFor(type, next));
  }
  CommitLocked(type, key, "MODIFIED", next, current);
  const Json& stored = buckets_[type.bucket()].objects[key];
  if (subresource == "scale") return Outcome::Ok(ScaleOf(type, stored));
  return Outcome::Ok(RenderFor(type, stored));
}

Outcome Store::Delete(const ResourceType& type, const std::string& ns, const std::string& name,
                      const Json& delete_options, bool dry_run) {
  std::lock_guard<std::mutex> lock(mu_);
  return DeleteLocked(type, ns, name, delete_options, dry_run);
}

Outcome Store::DeleteLocked(const ResourceType& type, const std::string& ns,
                            const std::string& name, const Json& delete_options, bool dry_run) {
  const std::string key = KeyOf(type.namespaced ? ns : "", name);
  Bucket& bucket = buckets_[type.bucket()];
  auto it = bucket.objects.find(key);
  if (it == bucket.objects.end()) {
    return Outcome::Fail(NotFound(type.group, type.plural, name));
  }
  const Json current = it->second;
  const Json preconditions =
      delete_options.is_object() ? delete_options.value("preconditions", Json::object())
                                 : Json::object();
  if (preconditions.contains("uid") && preconditions["uid"].is_string() &&
      preconditions["uid"] != MetaString(current, "uid")) {
    return Outcome::Fail(Conflict(type.group, type.plural, name,
                                  "Precondition failed: UID in precondition: " +
                                      preconditions["uid"].get<std::string>() +
                                      ", UID in object meta: " + MetaString(current, "uid")));
  }
  if (preconditions.contains("resourceVersion") && preconditions["resourceVersion"].is_string() &&
      preconditions["resourceVersion"] != MetaString(current, "resourceVersion")) {
    return Outcome::Fail(
        Conflict(type.group, type.plural, name,
                 "Precondition failed: ResourceVersion in precondition: " +
                     preconditions["resourceVersion"].get<std::string>() +
                     ", ResourceVersion in object meta: " +
                     MetaString(current, "resourceVersion")));
  }
  if (dry_run) {
    return Outcome::Ok(HasFinalizers(current) ? RenderFor(type, current)
                                              : SuccessStatus(type, current));
  }
  bool keep = HasFinalizers(current);
  if (type.bucket() == "/namespaces") {
    // Namespace deletion removes its contents; the namespace itself stays
    // (Terminating) while objects with finalizers remain.
    std::vector<std::pair<ResourceType, std::string>> victims;
    for (auto& [bucket_key, other] : buckets_) {
      auto t = std::find_if(types_.begin(), types_.end(),
                            // Captured by name: clang 14 (the sanitizer tier)
                            // cannot capture a structured binding in C++17.
                            [&key = bucket_key](const ResourceType& r) { return r.bucket() == key; });
      if (t == types_.end() || !t->namespaced) continue;
      for (auto& [object_key, object] : other.objects) {
        if (MetaString(object, "namespace") == name) {
          victims.push_back({*t, MetaString(object, "name")});
        }
      }
    }
    for (auto& [t, victim] : victims) {
      DeleteLocked(t, name, victim, Json::object(), false);
    }
    for (auto& [bucket_key, other] : buckets_) {
      for (auto& [object_key, object] : other.objects) {
        if (bucket_key != "/namespaces" && MetaString(object, "namespace") == name) keep = true;
      }
    }
  }
  if (keep) {
    if (Meta(current).contains("deletionTimestamp")) {
      return Outcome::Ok(RenderFor(type, current));
    }
    Json next = current;
    next["metadata"]["deletionTimestamp"] = NowRfc3339();
    next["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (type.tracks_generation) {
      next["metadata"]["generation"] = Meta(current).value("generation", 0) + 1;
    }
    if (type.bucket() == "/namespaces") next["status"]["phase"] = "Terminating";
    CommitLocked(type, key, "MODIFIED", next, current);
    return Outcome::Ok(RenderFor(type, buckets_[type.bucket()].objects[key]));
  }
  RemoveLocked(type, key, current);
  return Outcome::Ok(SuccessStatus(type, current));
}

Outcome Store::DeleteCollection(const ResourceType& type, const std::string& ns,
                                const ListOptions& options, bool dry_run) {
  Outcome listed = List(type, ns, options);
  if (listed.error) return listed;
  std::lock_guard<std::mutex> lock(mu_);
  Json items = Json::array();
  for (const Json& item : listed.object["items"]) {
    Outcome one = DeleteLocked(type, MetaString(item, "namespace"), MetaString(item, "name"),
                               Json::object(), dry_run);
    if (!one.error) items.push_back(item);
  }
  listed.object["items"] = items;
  listed.object["metadata"]["resourceVersion"] = std::to_string(rv_);
  return listed;
}

void Store::CommitLocked(const ResourceType& type, const std::string& key,
                         const std::string& event, Json object, const Json& previous) {
  ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  Bucket& bucket = buckets_[type.bucket()];
  bucket.objects[key] = object;
  bucket.history.push_back({rv_, {{"type", event}, {"object", object}, {"previous", previous}}});
  while (bucket.history.size() > history_size_) {
    bucket.compacted_rv = bucket.history.front().first;
    bucket.history.pop_front();
  }
  Dispatch(type.bucket(), event, object, previous);
  if (type.bucket() == "apiextensions.k8s.io/customresourcedefinitions") {
    RegisterCrdLocked(object);
  }
  if (IsWorkload(type) && workload_hook_) {
    workload_hook_(type.bucket(), key);
  }
}

void Store::RemoveLocked(const ResourceType& type, const std::string& key, Json final_object) {
  Bucket& bucket = buckets_[type.bucket()];
  bucket.objects.erase(key);
  ++rv_;
  final_object["metadata"]["resourceVersion"] = std::to_string(rv_);
  bucket.history.push_back(
      {rv_, {{"type", "DELETED"}, {"object", final_object}, {"previous", Json()}}});
  while (bucket.history.size() > history_size_) {
    bucket.compacted_rv = bucket.history.front().first;
    bucket.history.pop_front();
  }
  Dispatch(type.bucket(), "DELETED", final_object, Json());
  if (type.bucket() == "apiextensions.k8s.io/customresourcedefinitions") {
    UnregisterCrdLocked(final_object);
  }
  if (IsWorkload(type) || type.bucket() == "batch/jobs") {
    // Stands in for the garbage collector: the workload's pods go with it.
    const std::string uid = MetaString(final_object, "uid");
    auto pod_type = FindTypeLocked("", "v1", "pods");
    std::vector<std::string> pods;
    for (auto& [pod_key, pod] : buckets_["/pods"].objects) {
      for (const Json& ref : Meta(pod).value("ownerReferences", Json::array())) {
        if (ref.value("uid", "") == uid) pods.push_back(pod_key);
      }
    }
    for (const std::string& pod_key : pods) {
      RemoveLocked(*pod_type, pod_key, buckets_["/pods"].objects[pod_key]);
    }
  }
  const std::string ns = MetaString(final_object, "namespace");
  if (type.namespaced && !ns.empty()) {
    auto& namespaces = buckets_["/namespaces"].objects;
    auto it = namespaces.find(KeyOf("", ns));
    if (it != namespaces.end() && Meta(it->second).contains("deletionTimestamp")) {
      bool empty = true;
      for (auto& [bucket_key, other] : buckets_) {
        for (auto& [object_key, object] : other.objects) {
          if (bucket_key != "/namespaces" && MetaString(object, "namespace") == ns) empty = false;
        }
      }
      if (empty) {
        auto ns_type = FindTypeLocked("", "v1", "namespaces");
        RemoveLocked(*ns_type, it->first, it->second);
      }
    }
  }
}

void Store::Dispatch(const std::string& bucket, const std::string& event, const Json& object,
                     const Json& previous) {
  auto it = watchers_.find(bucket);
  if (it == watchers_.end()) return;
  for (const auto& w : it->second) {
    DeliverLocked(*w, event, object, previous);
  }
  cv_.notify_all();
}

void Store::DeliverLocked(Watcher& w, const std::string& event, const Json& object,
                          const Json& previous) {
  if (w.closed) return;
  auto matches = [&](const Json& o) {
    if (!o.is_object()) return false;
    if (!w.namespace_.empty() && MetaString(o, "namespace") != w.namespace_) return false;
    return w.labels.Matches(Meta(o).value("labels", Json())) && w.fields.Matches(o);
  };
  const bool now = matches(object);
  const bool before = event == "MODIFIED" && matches(previous);
  std::string type = event;
  if (event == "MODIFIED") {
    if (now && before) {
      type = "MODIFIED";
    } else if (now) {
      type = "ADDED";
    } else if (before) {
      type = "DELETED";
    } else {
      return;
    }
  } else if (!now) {
    return;
  }
  w.pending.push_back({{"type", type}, {"object", RenderFor(w.type, object)}});
}

WatchStart Store::StartWatch(const ResourceType& type, const std::string& ns,
                             const std::string& label_selector,
                             const std::string& field_selector,
                             const std::string& resource_version, bool send_initial_events) {
  WatchStart start;
  std::string error;
  auto labels = ParseLabelSelector(label_selector, &error);
  if (!labels) {
    start.error = BadRequest(error);
    return start;
  }
  auto fields = ParseFieldSelector(field_selector, &error);
  if (!fields) {
    start.error = BadRequest(error);
    return start;
  }
  std::int64_t from = -1;
  if (!resource_version.empty() && resource_version != "0") {
    try {
      std::size_t used = 0;
      from = std::stoll(resource_version, &used);
      if (used != resource_version.size() || from < 0) throw std::invalid_argument("rv");
    } catch (...) {
      start.error = BadRequest("invalid resource version: " + resource_version);
      return start;
    }
  }
  auto watcher = std::make_shared<Watcher>();
  watcher->type = type;
  watcher->namespace_ = type.namespaced ? ns : "";
  watcher->labels = *labels;
  watcher->fields = *fields;
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) {
    start.error = ApiError{503, "ServiceUnavailable", "the server is shutting down", Json::object()};
    return start;
  }
  Bucket& bucket = buckets_[type.bucket()];
  auto& list = watchers_[type.bucket()];
  list.push_back(watcher);
  if (from < 0) {
    // Synthetic ADDED events for the current state, as a real server does
    // for resourceVersion unset or "0".
    for (auto& [key, object] : bucket.objects) {
      const bool match =
          (watcher->namespace_.empty() || MetaString(object, "namespace") == watcher->namespace_) &&
          watcher->labels.Matches(Meta(object).value("labels", Json())) &&
          watcher->fields.Matches(object);
      if (match) watcher->pending.push_back({{"type", "ADDED"}, {"object", RenderFor(type, object)}});
    }
    if (send_initial_events) {
      watcher->pending.push_back(
          {{"type", "BOOKMARK"},
           {"object",
            {{"kind", type.kind},
             {"apiVersion", type.api_version()},
             {"metadata",
              {{"resourceVersion", std::to_string(rv_)},
               {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}}}});
    }
    start.watcher = watcher;
    return start;
  }
  if (from < bucket.compacted_rv) {
    list.pop_back();
    start.expired = Expired("too old resource version: " + std::to_string(from) + " (" +
                            std::to_string(bucket.compacted_rv) + ")");
    return start;
  }
  // Replay what happened after `from`, through the same filter as live events.
  for (const auto& [rv, entry] : bucket.history) {
    if (rv > from) DeliverLocked(*watcher, entry["type"], entry["object"], entry["previous"]);
  }
  start.watcher = watcher;
  return start;
}

void Store::StopWatch(const std::shared_ptr<Watcher>& watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& list = watchers_[watcher->type.bucket()];
  list.remove(watcher);
}

bool Store::WaitForEvents(const std::shared_ptr<Watcher>& watcher,
                          std::chrono::steady_clock::time_point deadline,
                          std::vector<Json>* out) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return !watcher->pending.empty() || watcher->closed; });
  while (!watcher->pending.empty()) {
    out->push_back(std::move(watcher->pending.front()));
    watcher->pending.pop_front();
  }
  return !watcher->closed;
}

void Store::CloseAllWatches() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [bucket, list] : watchers_) {
    for (auto& w : list) w->closed = true;
  }
  cv_.notify_all();
}

void Store::ExpireHistory() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, bucket] : buckets_) {
    bucket.history.clear();
    bucket.compacted_rv = rv_;
  }
  // Also for types that have no bucket yet.
  for (const ResourceType& t : types_) {
    Bucket& bucket = buckets_[t.bucket()];
    bucket.history.clear();
    bucket.compacted_rv = rv_;
  }
}

void Store::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  for (auto& [bucket, list] : watchers_) {
    for (auto& w : list) w->closed = true;
  }
  cv_.notify_all();
}

std::int64_t Store::CurrentResourceVersion() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rv_;
}

void Store::ReconcileWorkload(const std::string& bucket_key, const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto type_it = std::find_if(types_.begin(), types_.end(),
                              [&](const ResourceType& t) { return t.bucket() == bucket_key; });
  if (type_it == types_.end()) return;
  const ResourceType type = *type_it;
  auto& objects = buckets_[bucket_key].objects;
  auto it = objects.find(key);
  if (it == objects.end() || Meta(it->second).contains("deletionTimestamp")) return;
  const Json current = it->second;
  const std::string ns = MetaString(current, "namespace");
  const std::string name = MetaString(current, "name");
  const std::string uid = MetaString(current, "uid");
  const bool stateful = type.plural == "statefulsets";
  const std::int64_t replicas =
      type.is_custom ? CustomSpecReplicasOr(type, current, 1) : current["spec"].value("replicas", 1);

  // Pods owned by the workload, created or removed to match spec.replicas.
  auto pod_type = *FindTypeLocked("", "v1", "pods");
  std::vector<std::string> owned;
  for (auto& [pod_key, pod] : buckets_["/pods"].objects) {
    for (const Json& ref : Meta(pod).value("ownerReferences", Json::array())) {
      if (ref.value("uid", "") == uid) owned.push_back(pod_key);
    }
  }
  std::sort(owned.begin(), owned.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  while (static_cast<std::int64_t>(owned.size()) > replicas) {
    RemoveLocked(pod_type, owned.back(), buckets_["/pods"].objects[owned.back()]);
    owned.pop_back();
  }
  const Json tmpl = current["spec"].value("template", Json::object());
  const std::string template_hash = StableHash(tmpl.dump(), 10);
  for (std::int64_t i = static_cast<std::int64_t>(owned.size()); i < replicas; ++i) {
    Json labels = tmpl.value("metadata", Json::object()).value("labels", Json::object());
    std::string pod_name;
    if (stateful) {
      pod_name = name + "-" + std::to_string(i);
      labels["statefulset.kubernetes.io/pod-name"] = pod_name;
      labels["controller-revision-hash"] = name + "-" + template_hash;
    } else {
      pod_name = name + "-" + template_hash + "-" + RandomSuffix(5);
      labels["pod-template-hash"] = template_hash;
    }
    Json pod = {
        {"metadata",
         {{"name", pod_name},
          {"labels", labels},
          {"ownerReferences",
           {{{"apiVersion", type.api_version()},
             {"kind", type.kind},
             {"name", name},
             {"uid", uid},
             {"controller", true},
             {"blockOwnerDeletion", true}}}}}},
        {"spec", tmpl.value("spec", Json::object())},
        {"status",
         {{"phase", "Running"},
          {"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
          {"podIP", "10.0.0." + std::to_string(1 + (i % 250))},
          {"startTime", NowRfc3339()}}}};
    CreateLocked(pod_type, ns, pod, false);
  }

  if (type.is_custom) {  // e.g. an Argo Rollout: its scale's status paths
    Json next = current;
    next["status"] = CustomWorkloadStatus(type, current, replicas, SelectorString(current));
    if (next != current) CommitLocked(type, key, "MODIFIED", next, current);
    return;
  }
  Json status = current.value("status", Json::object());
  status["observedGeneration"] = Meta(current).value("generation", 1);
  for (const char* field : {"replicas", "readyReplicas", "availableReplicas", "updatedReplicas",
                            "currentReplicas"}) {
    if (replicas > 0 && (std::string(field) != "currentReplicas" || stateful)) {
      status[field] = replicas;
    } else {
      status.erase(field);
    }
  }
  if (stateful) {
    status["currentRevision"] = name + "-" + template_hash;
    status["updateRevision"] = name + "-" + template_hash;
    status["collisionCount"] = 0;
  } else if (!status.contains("conditions")) {
    const std::string now = NowRfc3339();
    status["conditions"] = Json::array(
        {{{"type", "Available"}, {"status", "True"}, {"reason", "MinimumReplicasAvailable"},
          {"message", "Deployment has minimum availability."}, {"lastUpdateTime", now},
          {"lastTransitionTime", now}},
         {{"type", "Progressing"}, {"status", "True"}, {"reason", "NewReplicaSetAvailable"},
          {"message", "ReplicaSet \"" + name + "-" + template_hash + "\" has successfully progressed."},
          {"lastUpdateTime", now}, {"lastTransitionTime", now}}});
  }
  if (status == current.value("status", Json::object())) return;
  Json next = current;
  next["status"] = status;
  CommitLocked(type, key, "MODIFIED", next, current);
}

}  // namespace schemaop::apiserver
