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
