#pragma once
// Where the scale subresource of a spec.workloads[] kind is served (design
// §6.3, "any scalable kind"), found through API discovery as the
// HorizontalPodAutoscaler finds its scaleTargetRef: GET /apis/<group>/<version>
// (/api/v1 for the core group), the resource whose kind is the workload's,
// and its "<plural>/scale" subresource. Deployment and StatefulSet without an
// apiVersion (or with apps/v1) need no discovery.
//
// Thread-safe: found resources are cached (a kind's resource does not move);
// a miss is never cached, so a CRD installed later is found on the next call.
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "kube/resource.h"

namespace schemaop::kube {
class Client;
}

namespace schemaop::manager {

// Pure: the namespaced resource of `kind` with a scale subresource in the
// discovery document (APIResourceList) of `api_version`. kInvalidArgument,
// naming the kind and the fix, when the document has no such kind, the kind
// is cluster-scoped, or it has no scale subresource.
core::Result<kube::ResourceRef> FindScalableResource(const nlohmann::json& resource_list,
                                                     const std::string& api_version,
                                                     const std::string& kind);

// True for the resources of Deployment and StatefulSet (apps/v1), whose
// workload objects the controller may also read (observedGeneration).
bool IsBuiltinWorkload(const kube::ResourceRef& ref);

class ScaleTargets {
 public:
  explicit ScaleTargets(kube::Client& client) : client_(client) {}

  // kInvalidArgument (kind not served under api_version, no scale
  // subresource, apiVersion missing for a kind other than Deployment or
  // StatefulSet); an API failure of the discovery request as it came.
  core::Result<kube::ResourceRef> Resolve(const std::string& api_version,
                                          const std::string& kind);
  // Drops what is cached for the kind (its scale subresource answered 404:
  // the CRD may have changed), so the next Resolve asks discovery again.
  void Forget(const std::string& api_version, const std::string& kind);

 private:
  kube::Client& client_;
  std::mutex mu_;
  std::map<std::string, kube::ResourceRef> found_;  // "apiVersion Kind" -> resource
};

}  // namespace schemaop::manager
