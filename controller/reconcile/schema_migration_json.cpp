// SchemaMigration object and spec <-> JSON (design §5.1); the status is in
// status_json.cpp, the shared reader in json_reader.h.
#include "reconcile/schema_migration_json.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>

#include "reconcile/job_manifest.h"
#include "reconcile/json_reader.h"

namespace schemaop::reconcile {
using namespace json_internal;  // NOLINT(google-build-using-namespace): this file's helpers
namespace {

// metadata.annotations: string values only, as the API server guarantees.
void ReadAnnotations(Reader& r, const json& meta, std::map<std::string, std::string>& out) {
  if (const json* annotations = r.Object(meta, "annotations", "metadata.annotations")) {
    for (auto it = annotations->begin(); it != annotations->end(); ++it) {
      if (!it->is_string()) {
        r.Fail("metadata.annotations." + it.key(), "expected a string");
        return;
      }
      out[it.key()] = it->get<std::string>();
    }
  }
}

// read(item, path) for each element of the array at `key`, each an object.
template <typename Read>
void EachObject(Reader& r, const json& parent, const char* key, const std::string& path,
                Read read) {
  const json* array = r.Array(parent, key, path);
  for (std::size_t i = 0; array != nullptr && i < array->size() && r.ok(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!(*array)[i].is_object()) {
      r.Fail(at, "expected an object");
      return;
    }
    read((*array)[i], at);
  }
}

// spec.job (core/job_spec.h); commands is an object of verb -> argv.
void ReadJobSpec(Reader& r, const json& j, core::JobSpec& job) {
  r.String(j, "preset", "spec.job.preset", job.preset);
  r.String(j, "image", "spec.job.image", job.image);
  r.String(j, "urlEnv", "spec.job.urlEnv", job.url_env);
  r.String(j, "workingDir", "spec.job.workingDir", job.working_dir);
  r.String(j, "serviceAccountName", "spec.job.serviceAccountName", job.service_account_name);
  r.Integer(j, "ttlSecondsAfterFinished", "spec.job.ttlSecondsAfterFinished",
            job.ttl_seconds_after_finished);
  r.Integer(j, "activeDeadlineSeconds", "spec.job.activeDeadlineSeconds",
            job.active_deadline_seconds);
  if (const json* commands = r.Object(j, "commands", "spec.job.commands")) {
    for (auto it = commands->begin(); it != commands->end(); ++it) {
      r.Strings(*commands, it.key().c_str(), "spec.job.commands." + it.key(),
                job.commands[it.key()]);
    }
  }
  EachObject(r, j, "env", "spec.job.env", [&](const json& item, const std::string& path) {
    core::JobEnvVar var;
    r.String(item, "name", path + ".name", var.name);
    r.String(item, "value", path + ".value", var.value);
    if (const json* from = r.Object(item, "valueFrom", path + ".valueFrom")) {
      if (!from->contains("secretKeyRef") && !from->contains("configMapKeyRef")) {
        r.Fail(path + ".valueFrom",
               "set secretKeyRef or configMapKeyRef (fieldRef and resourceFieldRef are not "
               "supported)");
        return;
      }
      for (const char* kind : {"secretKeyRef", "configMapKeyRef"}) {
        if (const json* ref = r.Object(*from, kind, path + ".valueFrom." + kind)) {
          std::string& name =
              std::string(kind) == "secretKeyRef" ? var.secret_name : var.config_map_name;
          r.String(*ref, "name", path + ".valueFrom." + kind + ".name", name);
          r.String(*ref, "key", path + ".valueFrom." + kind + ".key", var.key);
        }
      }
    }
    job.env.push_back(std::move(var));
  });
  EachObject(r, j, "envFrom", "spec.job.envFrom", [&](const json& item, const std::string& path) {
    core::JobEnvFrom from;
    if (const json* ref = r.Object(item, "configMapRef", path + ".configMapRef")) {
      r.String(*ref, "name", path + ".configMapRef.name", from.config_map_name);
    }
    if (const json* ref = r.Object(item, "secretRef", path + ".secretRef")) {
      r.String(*ref, "name", path + ".secretRef.name", from.secret_name);
    }
    job.env_from.push_back(std::move(from));
  });
  if (const json* resources = r.Object(j, "resources", "spec.job.resources")) {
    for (const char* kind : {"requests", "limits"}) {
      const std::string path = std::string("spec.job.resources.") + kind;
      auto& out = std::string(kind) == "requests" ? job.resource_requests : job.resource_limits;
      if (const json* values = r.Object(*resources, kind, path)) {
        for (auto it = values->begin(); it != values->end(); ++it) {
          if (it->is_string()) {
            out[it.key()] = it->get<std::string>();
          } else if (it->is_number_integer()) {  // `cpu: 1`, as Kubernetes takes it
            out[it.key()] = std::to_string(it->get<std::int64_t>());
          } else {
            r.Fail(path + "." + it.key(), "expected a quantity such as 500m or 1Gi");
          }
        }
      }
    }
  }
}

json JobSpecToJson(const core::JobSpec& job) {
  json j = {{"preset", job.preset},
            {"image", job.image},
            {"urlEnv", job.url_env},
            {"ttlSecondsAfterFinished", job.ttl_seconds_after_finished},
            {"activeDeadlineSeconds", job.active_deadline_seconds}};
  if (!job.working_dir.empty()) {
    j["workingDir"] = job.working_dir;
  }
  if (!job.service_account_name.empty()) {
    j["serviceAccountName"] = job.service_account_name;
  }
  if (!job.commands.empty()) {
    j["commands"] = job.commands;
  }
  if (json env = JobEnvJson(job); !env.empty()) {
    j["env"] = std::move(env);
  }
  if (json from = JobEnvFromJson(job); !from.empty()) {
    j["envFrom"] = std::move(from);
  }
  if (json resources = JobResourcesJson(job); !resources.is_null()) {
    j["resources"] = std::move(resources);
  }
  return j;
}

}  // namespace

core::Result<core::SchemaMigrationSpec> SpecFromJson(const json& j) {
  core::SchemaMigrationSpec spec;
  if (!j.is_object()) {
    return Status(Code::kInvalidArgument, "spec: expected an object");
  }
  Reader r;
  r.String(j, "targetRevision", "spec.targetRevision", spec.target_revision);
  if (const json* db = r.Object(j, "database", "spec.database")) {
    if (const json* ref = r.Object(*db, "urlSecretRef", "spec.database.urlSecretRef")) {
      r.String(*ref, "name", "spec.database.urlSecretRef.name", spec.url_secret_ref.name);
      r.String(*ref, "key", "spec.database.urlSecretRef.key", spec.url_secret_ref.key);
    }
    if (const json* ref = r.Object(*db, "caSecretRef", "spec.database.caSecretRef")) {
      r.String(*ref, "name", "spec.database.caSecretRef.name", spec.ca_secret_ref.name);
      r.String(*ref, "key", "spec.database.caSecretRef.key", spec.ca_secret_ref.key);
    }
    r.String(*db, "versionTable", "spec.database.versionTable", spec.version_table);
    r.String(*db, "versionLayout", "spec.database.versionLayout", spec.version_layout);
  }
  if (const json* m = r.Object(j, "migrations", "spec.migrations")) {
    if (const json* ref = r.Object(*m, "configMapRef", "spec.migrations.configMapRef")) {
      r.String(*ref, "name", "spec.migrations.configMapRef.name", spec.migrations_config_map);
    }
  }
  ReadWorkloadRefs(r, j, "spec.workloads", spec.workloads);
  r.Integer(j, "drainTimeoutSeconds", "spec.drainTimeoutSeconds", spec.drain_timeout_seconds);
  if (const json* backup = r.Object(j, "backup", "spec.backup")) {
    r.String(*backup, "when", "spec.backup.when", spec.backup_when);
  }
  if (const json* verify = r.Object(j, "verify", "spec.verify")) {
    r.String(*verify, "rowCounts", "spec.verify.rowCounts", spec.verify_row_counts);
    r.String(*verify, "schema", "spec.verify.schema", spec.verify_schema);
    r.Strings(*verify, "allowRowLoss", "spec.verify.allowRowLoss", spec.verify_allow_row_loss);
    r.Objects(*verify, "checks", "spec.verify.checks",
              [&](const json& item, const std::string& path) {
                core::VerifyCheck check;
                r.String(item, "name", path + ".name", check.name);
                r.String(item, "sql", path + ".sql", check.sql);
                spec.verify_checks.push_back(std::move(check));
              });
  }
  r.String(j, "failurePolicy", "spec.failurePolicy", spec.failure_policy);
  r.String(j, "lockTimeout", "spec.lockTimeout", spec.lock_timeout);
  r.String(j, "statementTimeout", "spec.statementTimeout", spec.statement_timeout);
  r.Bool(j, "suspend", "spec.suspend", spec.suspend);
  r.String(j, "approval", "spec.approval", spec.approval);
  r.String(j, "approvedPlanHash", "spec.approvedPlanHash", spec.approved_plan_hash);
  r.Integer(j, "maxDowntimeSeconds", "spec.maxDowntimeSeconds", spec.max_downtime_seconds);
  if (const json* w = r.Object(j, "maintenanceWindow", "spec.maintenanceWindow")) {
    core::MaintenanceWindowSpec window;
    r.String(*w, "schedule", "spec.maintenanceWindow.schedule", window.schedule);
    r.String(*w, "duration", "spec.maintenanceWindow.duration", window.duration);
    r.String(*w, "timeZone", "spec.maintenanceWindow.timeZone", window.time_zone);
    spec.maintenance_window = std::move(window);
  }
  r.Bool(j, "rehearse", "spec.rehearse", spec.rehearse);
  r.String(j, "executor", "spec.executor", spec.executor);
  if (const json* job = r.Object(j, "job", "spec.job")) {
    ReadJobSpec(r, *job, spec.job.emplace());
  }
  if (!r.ok()) {
    return r.status();
  }
  return spec;
}

json SpecToJson(const core::SchemaMigrationSpec& spec) {
  json j;
  j["targetRevision"] = spec.target_revision;
  j["database"] = {{"urlSecretRef",
                    {{"name", spec.url_secret_ref.name}, {"key", spec.url_secret_ref.key}}},
                   {"versionTable", spec.version_table},
                   {"versionLayout", spec.version_layout}};
  if (!spec.ca_secret_ref.name.empty() || !spec.ca_secret_ref.key.empty()) {
    j["database"]["caSecretRef"] = {{"name", spec.ca_secret_ref.name},
                                    {"key", spec.ca_secret_ref.key}};
  }
  if (!spec.migrations_config_map.empty() || spec.executor != core::kExecutorJob) {
    j["migrations"] = {{"configMapRef", {{"name", spec.migrations_config_map}}}};
  }
  j["workloads"] = WorkloadRefsToJson(spec.workloads);
  j["drainTimeoutSeconds"] = spec.drain_timeout_seconds;
  j["backup"] = {{"when", spec.backup_when}};
  json checks = json::array();
  for (const core::VerifyCheck& c : spec.verify_checks) {
    checks.push_back({{"name", c.name}, {"sql", c.sql}});
  }
  j["verify"] = {{"rowCounts", spec.verify_row_counts},
                 {"schema", spec.verify_schema},
                 {"allowRowLoss", spec.verify_allow_row_loss},
                 {"checks", checks}};
  j["failurePolicy"] = spec.failure_policy;
  if (!spec.lock_timeout.empty()) {
    j["lockTimeout"] = spec.lock_timeout;
  }
  if (!spec.statement_timeout.empty()) {
    j["statementTimeout"] = spec.statement_timeout;
  }
  j["suspend"] = spec.suspend;
  j["approval"] = spec.approval;
  if (!spec.approved_plan_hash.empty()) {
    j["approvedPlanHash"] = spec.approved_plan_hash;
  }
  if (spec.max_downtime_seconds != 0) {
    j["maxDowntimeSeconds"] = spec.max_downtime_seconds;
  }
  if (const auto& w = spec.maintenance_window) {
    j["maintenanceWindow"] = {
        {"schedule", w->schedule}, {"duration", w->duration}, {"timeZone", w->time_zone}};
  }
  if (spec.rehearse) {
    j["rehearse"] = true;
  }
  if (spec.executor != core::kExecutorFiles) {
    j["executor"] = spec.executor;
  }
  if (spec.job) {
    j["job"] = JobSpecToJson(*spec.job);
  }
  return j;
}

core::Result<core::SchemaMigration> SchemaMigrationFromJson(const json& j) {
  if (!j.is_object()) {
    return Status(Code::kInvalidArgument, "SchemaMigration: expected a JSON object");
  }
  core::SchemaMigration obj;
  Reader r;
  if (const json* meta = r.Object(j, "metadata", "metadata")) {
    r.String(*meta, "namespace", "metadata.namespace", obj.metadata.namespace_);
    r.String(*meta, "name", "metadata.name", obj.metadata.name);
    r.String(*meta, "uid", "metadata.uid", obj.metadata.uid);
    r.Integer(*meta, "generation", "metadata.generation", obj.metadata.generation);
    r.String(*meta, "resourceVersion", "metadata.resourceVersion", obj.metadata.resource_version);
    r.Time(*meta, "creationTimestamp", "metadata.creationTimestamp",
           obj.metadata.creation_timestamp);
    r.Time(*meta, "deletionTimestamp", "metadata.deletionTimestamp",
           obj.metadata.deletion_timestamp);
    r.Strings(*meta, "finalizers", "metadata.finalizers", obj.metadata.finalizers);
    ReadAnnotations(r, *meta, obj.metadata.annotations);
  }
  if (!r.ok()) {
    return r.status();
  }
  auto spec_it = j.find("spec");
  if (spec_it != j.end() && !spec_it->is_null()) {
    auto spec = SpecFromJson(*spec_it);
    if (!spec.ok()) {
      return spec.status();
    }
    obj.spec = std::move(spec).value();
  }
  auto status_it = j.find("status");
  if (status_it != j.end()) {
    auto status = StatusFromJson(*status_it);
    if (!status.ok()) {
      return status.status();
    }
    obj.status = std::move(status).value();
  }
  return obj;
}

json SchemaMigrationToJson(const core::SchemaMigration& obj) {
  json meta = {{"namespace", obj.metadata.namespace_}, {"name", obj.metadata.name}};
  if (!obj.metadata.uid.empty()) {
    meta["uid"] = obj.metadata.uid;
  }
  if (obj.metadata.generation != 0) {
    meta["generation"] = obj.metadata.generation;
  }
  if (!obj.metadata.resource_version.empty()) {
    meta["resourceVersion"] = obj.metadata.resource_version;
  }
  PutTime(meta, "creationTimestamp", obj.metadata.creation_timestamp);
  PutTime(meta, "deletionTimestamp", obj.metadata.deletion_timestamp);
  if (!obj.metadata.finalizers.empty()) {
    meta["finalizers"] = obj.metadata.finalizers;
  }
  if (!obj.metadata.annotations.empty()) {
    meta["annotations"] = obj.metadata.annotations;
  }
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata", meta},
          {"spec", SpecToJson(obj.spec)},
          {"status", StatusToJson(obj.status)}};
}

}  // namespace schemaop::reconcile
