// The scale subresource of custom resources whose CRD declares
// spec.versions[].subresources.scale, served as the real apiextensions server
// does (its scaleFromCustomResource): spec.replicas from specReplicasPath and
// status.replicas from statusReplicasPath (0 when absent), status.selector
// from labelSelectorPath (a string; "" when absent or undeclared); a write
// sets the value at specReplicasPath. Plus the simulated controller of such a
// resource: pods from spec.template, owned by the object, and its status at
// statusReplicasPath and labelSelectorPath.

#include <string>
#include <vector>

#include "store.h"

namespace schemaop::apiserver {
namespace {

// ".spec.replicas" -> {"spec", "replicas"} (JSON paths without array notation).
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : path) {
    if (c == '.') {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  if (!part.empty()) parts.push_back(part);
  return parts;
}

const Json* At(const Json& object, const std::string& path) {
  const Json* at = &object;
  for (const std::string& part : SplitPath(path)) {
    if (!at->is_object() || !at->contains(part)) return nullptr;
    at = &(*at)[part];
  }
  return at;
}

void SetAt(Json& object, const std::string& path, Json value) {
  Json* at = &object;
  for (const std::string& part : SplitPath(path)) {
    if (!at->is_object()) *at = Json::object();
    at = &(*at)[part];
  }
  *at = std::move(value);
}

std::int64_t IntAt(const Json& object, const std::string& path, std::int64_t absent = 0) {
  const Json* value = At(object, path);
  return value != nullptr && value->is_number_integer() ? value->get<std::int64_t>() : absent;
}

}  // namespace

void SetCustomScalePaths(ResourceType& type, const Json& subresources) {
  if (!subresources.is_object() || !subresources.contains("scale")) return;
  const Json& scale = subresources["scale"];
  type.has_scale = true;
  type.scale_spec_path = scale.value("specReplicasPath", ".spec.replicas");
  type.scale_status_path = scale.value("statusReplicasPath", ".status.replicas");
  type.scale_selector_path = scale.value("labelSelectorPath", "");
}

std::int64_t CustomSpecReplicas(const ResourceType& type, const Json& object) {
  return IntAt(object, type.scale_spec_path);
}

std::int64_t CustomSpecReplicasOr(const ResourceType& type, const Json& object,
                                  std::int64_t absent) {
  return IntAt(object, type.scale_spec_path, absent);
}

Json CustomScaleStatus(const ResourceType& type, const Json& object) {
  Json status = {{"replicas", IntAt(object, type.scale_status_path)}};
  const Json* selector =
      type.scale_selector_path.empty() ? nullptr : At(object, type.scale_selector_path);
  status["selector"] = selector != nullptr && selector->is_string() ? *selector : Json("");
  return status;
}

void SetCustomSpecReplicas(const ResourceType& type, Json& object, std::int64_t replicas) {
  SetAt(object, type.scale_spec_path, replicas);
}

Json CustomWorkloadStatus(const ResourceType& type, const Json& object, std::int64_t replicas,
                          const std::string& selector) {
  Json next = object;
  SetAt(next, type.scale_status_path, replicas);
  if (!type.scale_selector_path.empty()) SetAt(next, type.scale_selector_path, selector);
  return next.value("status", Json::object());
}

}  // namespace schemaop::apiserver
