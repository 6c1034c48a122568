#include "manager/scale_targets.h"

#include "core/schema_migration.h"
#include "kube/client.h"

namespace schemaop::manager {

using core::Code;
using core::Status;
using Json = nlohmann::json;

namespace {

std::string KindName(const std::string& api_version, const std::string& kind) {
  return "kind " + kind + " (apiVersion " + api_version + ")";
}

}  // namespace

bool IsBuiltinWorkload(const kube::ResourceRef& ref) {
  return ref.group == "apps" && ref.version == "v1" &&
         (ref.resource == "deployments" || ref.resource == "statefulsets");
}

core::Result<kube::ResourceRef> FindScalableResource(const Json& resource_list,
                                                     const std::string& api_version,
                                                     const std::string& kind) {
  const Json empty = Json::array();
  const Json& resources =
      resource_list.is_object() && resource_list.contains("resources") &&
              resource_list["resources"].is_array()
          ? resource_list["resources"]
          : empty;
  const Json* main = nullptr;
  for (const Json& r : resources) {
    const std::string name = r.is_object() ? r.value("name", "") : "";
    if (r.is_object() && r.value("kind", "") == kind && !name.empty() &&
        name.find('/') == std::string::npos) {
      main = &r;
      break;
    }
  }
  if (main == nullptr) {
    return Status(Code::kInvalidArgument,
                  "the API server serves no " + KindName(api_version, kind) +
                      ": check spec.workloads[].apiVersion and kind (the kind is CamelCase, as "
                      "in the resource's own manifest) and that its CRD is installed");
  }
  const std::string plural = (*main)["name"].get<std::string>();
  if (!main->value("namespaced", false)) {
    return Status(Code::kInvalidArgument,
                  KindName(api_version, kind) +
                      " is cluster-scoped: a workload must live in the SchemaMigration's "
                      "namespace; remove it from spec.workloads");
  }
  bool has_scale = false;
  for (const Json& r : resources) {
    if (r.is_object() && r.value("name", "") == plural + "/scale") {
      has_scale = true;
    }
  }
  if (!has_scale) {
    return Status(Code::kInvalidArgument,
                  KindName(api_version, kind) + " has no scale subresource (" + plural +
                      "/scale), so it cannot be scaled to 0: list only kinds with one (a "
                      "CustomResourceDefinition declares it in spec.versions[].subresources.scale) "
                      "or remove it from spec.workloads");
  }
  const std::size_t slash = api_version.find('/');
  kube::ResourceRef ref;
  ref.group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  ref.version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
  ref.resource = plural;
  ref.namespaced = true;
  return ref;
}

core::Result<kube::ResourceRef> ScaleTargets::Resolve(const std::string& api_version,
                                                      const std::string& kind) {
  const std::string served_as = core::WorkloadApiVersion(api_version, kind);
  if (served_as == "apps/v1" && kind == core::kKindDeployment) {
    return kube::resources::kDeployments;
  }
  if (served_as == "apps/v1" && kind == core::kKindStatefulSet) {
    return kube::resources::kStatefulSets;
  }
  if (served_as.empty() || !core::IsValidWorkloadApiVersion(served_as)) {
    return Status(Code::kInvalidArgument,
                  "kind " + kind + " needs a valid apiVersion (group/version, e.g. "
                  "argoproj.io/v1alpha1 for an Argo Rollout) in spec.workloads");
  }
  const std::string key = served_as + " " + kind;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = found_.find(key);
    if (it != found_.end()) {
      return it->second;
    }
  }
  const std::string path =
      served_as.find('/') == std::string::npos ? "/api/" + served_as : "/apis/" + served_as;
  core::Result<Json> list = client_.Request("GET", path);
  if (!list.ok()) {
    if (list.status().code() == Code::kNotFound) {
      return Status(Code::kInvalidArgument,
                    "the API server serves no apiVersion " + served_as + " (discovery " + path +
                        " answered 404), so " + KindName(served_as, kind) +
                        " cannot be scaled: correct spec.workloads[].apiVersion or install the "
                        "CustomResourceDefinition that serves it");
    }
    return list.status();
  }
  core::Result<kube::ResourceRef> ref = FindScalableResource(list.value(), served_as, kind);
  if (ref.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    found_[key] = ref.value();
  }
  return ref;
}

void ScaleTargets::Forget(const std::string& api_version, const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  found_.erase(core::WorkloadApiVersion(api_version, kind) + " " + kind);
}

}  // namespace schemaop::manager
