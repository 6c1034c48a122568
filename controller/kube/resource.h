#pragma once
// Names a Kubernetes resource type for the REST verbs: any group/version and
// plural resource, namespaced or cluster-scoped.
#include <string>

namespace schemaop::kube {

struct ResourceRef {
  std::string group;     // "" for the core group, "apps", "schemaop.dev"
  std::string version;   // "v1", "v1alpha1"
  std::string resource;  // plural, lower case: "deployments"
  bool namespaced = true;

  // "/api/v1" or "/apis/apps/v1".
  std::string GroupVersionPath() const {
    return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  }
  // Collection path; `ns` is ignored for cluster-scoped resources and may be
  // empty for namespaced ones (all namespaces, list/watch only).
  std::string CollectionPath(const std::string& ns) const {
    std::string path = GroupVersionPath();
    if (namespaced && !ns.empty()) path += "/namespaces/" + ns;
    return path + "/" + resource;
  }
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
};

namespace resources {
inline const ResourceRef kSecrets{"", "v1", "secrets", true};
inline const ResourceRef kConfigMaps{"", "v1", "configmaps", true};
inline const ResourceRef kPods{"", "v1", "pods", true};
inline const ResourceRef kEvents{"", "v1", "events", true};
inline const ResourceRef kNamespaces{"", "v1", "namespaces", false};
inline const ResourceRef kDeployments{"apps", "v1", "deployments", true};
inline const ResourceRef kStatefulSets{"apps", "v1", "statefulsets", true};
inline const ResourceRef kLeases{"coordination.k8s.io", "v1", "leases", true};
inline const ResourceRef kSchemaMigrations{"schemaop.dev", "v1alpha1", "schemamigrations", true};
}  // namespace resources

}  // namespace schemaop::kube
