#include "reconcile/job_manifest.h"

#include <cassert>
#include <nlohmann/json.hpp>

#include "reconcile/schema_migration_json.h"

namespace schemaop::reconcile {

namespace {

nlohmann::json ControllerOwner(const core::SchemaMigration& obj) {
  return nlohmann::json::array({{{"apiVersion", kApiVersion},
                                 {"kind", kKind},
                                 {"name", obj.metadata.name},
                                 {"uid", obj.metadata.uid},
                                 {"controller", true},
                                 {"blockOwnerDeletion", true}}});
}

}  // namespace

nlohmann::json JobEnvJson(const core::JobSpec& job) {
  nlohmann::json env = nlohmann::json::array();
  for (const core::JobEnvVar& var : job.env) {
    nlohmann::json item = {{"name", var.name}};
    if (!var.secret_name.empty()) {
      item["valueFrom"] = {{"secretKeyRef", {{"name", var.secret_name}, {"key", var.key}}}};
    } else if (!var.config_map_name.empty()) {
      item["valueFrom"] = {{"configMapKeyRef", {{"name", var.config_map_name}, {"key", var.key}}}};
    } else {
      item["value"] = var.value;
    }
    env.push_back(std::move(item));
  }
  return env;
}

nlohmann::json JobEnvFromJson(const core::JobSpec& job) {
  nlohmann::json env_from = nlohmann::json::array();
  for (const core::JobEnvFrom& from : job.env_from) {
    env_from.push_back(from.secret_name.empty()
                           ? nlohmann::json{{"configMapRef", {{"name", from.config_map_name}}}}
                           : nlohmann::json{{"secretRef", {{"name", from.secret_name}}}});
  }
  return env_from;
}

nlohmann::json JobResourcesJson(const core::JobSpec& job) {
  nlohmann::json resources;
  if (!job.resource_requests.empty()) {
    resources["requests"] = job.resource_requests;
  }
  if (!job.resource_limits.empty()) {
    resources["limits"] = job.resource_limits;
  }
  return resources;
}

nlohmann::json BuildJob(const core::SchemaMigration& obj, const JobRequest& request) {
  using nlohmann::json;
  assert(obj.spec.job.has_value());
  const core::JobSpec& job = *obj.spec.job;
  const std::string name = core::JobName(obj.metadata.name, request.verb, request.run_key);
  const json labels = {{"app.kubernetes.io/managed-by", "schemaop"},
                       {kJobLabelOwner, obj.metadata.name},
                       {kJobLabelVerb, request.verb}};
  json container = {
      {"name", kJobContainerName},
      {"image", job.image},
      {"command", request.argv},
      {"env",
       json::array({{{"name", job.url_env},
                     {"valueFrom",
                      {{"secretKeyRef",
                        {{"name", request.url_secret_name.empty() ? obj.spec.url_secret_ref.name
                                                                  : request.url_secret_name},
                         {"key", obj.spec.url_secret_ref.key}}}}}},
                    // libpq's application_name: the operator finds
                    // (and ends) the tool's sessions by it after
                    // the Job (design §10.4).
                    {{"name", kJobApplicationNameEnv}, {"value", name}}})}};
  if (!job.working_dir.empty()) {
    container["workingDir"] = job.working_dir;
  }
  // The user's env after the operator's two (validation refuses their names).
  for (json& item : JobEnvJson(job)) {
    container["env"].push_back(std::move(item));
  }
  if (json from = JobEnvFromJson(job); !from.empty()) {
    container["envFrom"] = std::move(from);
  }
  if (json resources = JobResourcesJson(job); !resources.is_null()) {
    container["resources"] = std::move(resources);
  }
  json pod_spec = {{"restartPolicy", "Never"}, {"containers", json::array({container})}};
  if (!job.service_account_name.empty()) {
    pod_spec["serviceAccountName"] = job.service_account_name;
  }
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", name},
            {"namespace", obj.metadata.namespace_},
            {"labels", labels},
            {"annotations", {{kJobAnnotationRun, request.run_key}}},
            {"ownerReferences", ControllerOwner(obj)}}},
          {"spec",
           {{"backoffLimit", 0},
            {"activeDeadlineSeconds", job.active_deadline_seconds},
            {"ttlSecondsAfterFinished", job.ttl_seconds_after_finished},
            {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}}}};
}

nlohmann::json BuildScratchSecret(const core::SchemaMigration& obj, const std::string& name,
                                  const std::string& url) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "Opaque"},
          {"metadata",
           {{"name", name},
            {"namespace", obj.metadata.namespace_},
            {"labels",
             {{"app.kubernetes.io/managed-by", "schemaop"}, {kJobLabelOwner, obj.metadata.name}}},
            {"ownerReferences", ControllerOwner(obj)}}},
          {"stringData", {{obj.spec.url_secret_ref.key, url}}}};
}

}  // namespace schemaop::reconcile
