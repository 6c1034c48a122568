// Pure helpers for CronJobs, Jobs, autoscalers and managedFields (writers.h).
#include "manager/writers.h"

namespace schemaop::manager {

using Json = nlohmann::json;

namespace {

bool Finished(const Json& job) {
  const Json status = job.value("status", Json::object());
  for (const Json& c : status.value("conditions", Json::array())) {
    const std::string type = c.value("type", "");
    if ((type == "Complete" || type == "Failed") && c.value("status", "") == "True") {
      return true;
    }
  }
  return false;
}

bool OwnedBy(const Json& object, const std::string& uid) {
  const Json meta = object.value("metadata", Json::object());
  for (const Json& ref : meta.value("ownerReferences", Json::array())) {
    if (ref.value("uid", "") == uid) {
      return true;
    }
  }
  return false;
}

bool Targets(const Json& object, const std::string& default_kind, const std::string& kind,
             const std::string& name) {
  const Json target = object.value("spec", Json::object()).value("scaleTargetRef", Json::object());
  return target.value("name", "") == name && target.value("kind", default_kind) == kind;
}

bool Holds(const Json& fields, const std::vector<std::string>& field) {
  const Json* node = &fields;
  for (const std::string& key : field) {
    if (!node->is_object() || !node->contains("f:" + key)) {
      return false;
    }
    node = &(*node)["f:" + key];
  }
  return true;
}

}  // namespace

std::vector<std::string> RunningJobsOf(const Json& jobs, const std::string& owner_uid) {
  std::vector<std::string> out;
  if (!jobs.is_array() || owner_uid.empty()) {
    return out;
  }
  for (const Json& job : jobs) {
    if (OwnedBy(job, owner_uid) && !Finished(job)) {
      out.push_back(job.value("metadata", Json::object()).value("name", ""));
    }
  }
  return out;
}

std::vector<reconcile::AutoscalerInfo> AutoscalersTargeting(const Json& hpas,
                                                            const Json& scaled_objects,
                                                            const std::string& kind,
                                                            const std::string& name) {
  std::vector<reconcile::AutoscalerInfo> out;
  for (const Json& hpa : hpas.is_array() ? hpas : Json::array()) {
    if (Targets(hpa, "", kind, name)) {
      reconcile::AutoscalerInfo info;
      info.kind = core::kKindHorizontalPodAutoscaler;
      info.name = hpa.value("metadata", Json::object()).value("name", "");
      const Json spec = hpa.value("spec", Json::object());
      info.min_replicas = spec.contains("minReplicas") && spec["minReplicas"].is_number_integer()
                              ? spec["minReplicas"].get<std::int32_t>()
                              : 1;
      out.push_back(std::move(info));
    }
  }
  for (const Json& so : scaled_objects.is_array() ? scaled_objects : Json::array()) {
    if (Targets(so, core::kKindDeployment, kind, name)) {
      reconcile::AutoscalerInfo info;
      info.kind = core::kKindScaledObject;
      const Json meta = so.value("metadata", Json::object());
      info.name = meta.value("name", "");
      const Json annotations = meta.value("annotations", Json::object());
      auto it = annotations.find(core::kKedaPausedReplicasAnnotation);
      if (it != annotations.end() && it->is_string()) {
        info.paused_replicas = it->get<std::string>();
      }
      out.push_back(std::move(info));
    }
  }
  return out;
}

std::string DescribeFieldOwner(const Json& object, const std::vector<std::string>& field) {
  std::string path;
  for (const std::string& key : field) {
    path += (path.empty() ? "" : ".") + key;
  }
  const Json* owner = nullptr;
  const Json managed =
      object.value("metadata", Json::object()).value("managedFields", Json::array());
  for (const Json& entry : managed) {
    // RFC 3339 UTC times of one format compare as strings; the later wins.
    if (Holds(entry.value("fieldsV1", Json::object()), field) &&
        (owner == nullptr || entry.value("time", "") >= owner->value("time", ""))) {
      owner = &entry;
    }
  }
  if (owner == nullptr) {
    return "an unknown writer (no metadata.managedFields entry owns " + path + ")";
  }
  std::string out = "manager \"" + owner->value("manager", "") + "\" (operation " +
                    owner->value("operation", "?");
  if (!owner->value("subresource", "").empty()) {
    out += ", subresource " + owner->value("subresource", "");
  }
  if (!owner->value("time", "").empty()) {
    out += ", at " + owner->value("time", "");
  }
  return out + ")";
}

}  // namespace schemaop::manager
