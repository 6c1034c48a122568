#include "reconcile/schema_migration_json.h"

#include "reconcile/progress_json.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <utility>

namespace schemaop::reconcile {
namespace {

using core::Code;
using core::Status;
using nlohmann::json;

// Reads typed fields with a path for messages; the first problem wins.
class Reader {
 public:
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  const json* Object(const json& parent, const char* key, const std::string& path) {
    return Typed(parent, key, path, &json::is_object, "expected an object");
  }

  const json* Array(const json& parent, const char* key, const std::string& path) {
    return Typed(parent, key, path, &json::is_array, "expected an array");
  }

  void String(const json& parent, const char* key, const std::string& path, std::string& out) {
    Scalar(parent, key, path, &json::is_string, "expected a string", out);
  }

  template <typename Int>
  void Integer(const json& parent, const char* key, const std::string& path, Int& out) {
    Scalar(parent, key, path, &json::is_number_integer, "expected an integer", out);
  }

  void Number(const json& parent, const char* key, const std::string& path, double& out) {
    Scalar(parent, key, path, &json::is_number, "expected a number", out);
  }

  void Bool(const json& parent, const char* key, const std::string& path, bool& out) {
    Scalar(parent, key, path, &json::is_boolean, "expected a boolean", out);
  }

  void Time(const json& parent, const char* key, const std::string& path,
            std::optional<core::Timestamp>& out) {
    std::string text;
    String(parent, key, path, text);
    if (text.empty()) {
      return;
    }
    out = core::ParseRfc3339(text);
    if (!out) {
      Fail(path, "expected an RFC 3339 time, got '" + text + "'");
    }
  }

  void Strings(const json& parent, const char* key, const std::string& path,
               std::vector<std::string>& out) {
    const json* array = Array(parent, key, path);
    if (array == nullptr) {
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (!(*array)[i].is_string()) {
        Fail(path + "[" + std::to_string(i) + "]", "expected a string");
        return;
      }
      out.push_back((*array)[i].get<std::string>());
    }
  }

  // Calls each(item, item_path) for every element of the array parent[key];
  // the elements must be objects (the first one that is not fails).
  template <typename Each>
  void Objects(const json& parent, const char* key, const std::string& path, Each each) {
    const json* array = Array(parent, key, path);
    if (array == nullptr) {
      return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!(*array)[i].is_object()) {
        Fail(item_path, "expected an object");
        return;
      }
      each((*array)[i], item_path);
    }
  }

  void Fail(const std::string& path, const std::string& message) {
    if (status_.ok()) {
      status_ = Status(Code::kInvalidArgument, path + ": " + message);
    }
  }

 private:
  using TypeCheck = bool (json::*)() const noexcept;

  // parent[key] when present and of the type `is_type` checks; null when
  // absent, and when of another type (then with `expected` recorded).
  const json* Typed(const json& parent, const char* key, const std::string& path,
                    TypeCheck is_type, const char* expected) {
    const json* value = Find(parent, key);
    if (value != nullptr && !(value->*is_type)()) {
      Fail(path, expected);
      return nullptr;
    }
    return value;
  }

  template <typename T>
  void Scalar(const json& parent, const char* key, const std::string& path, TypeCheck is_type,
              const char* expected, T& out) {
    if (const json* value = Typed(parent, key, path, is_type, expected)) {
      out = value->get<T>();
    }
  }

  static const json* Find(const json& parent, const char* key) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }

  Status status_;
};

void ReadCondition(Reader& r, const json& j, const std::string& path, core::Condition& c) {
  r.String(j, "type", path + ".type", c.type);
  std::string status;
  r.String(j, "status", path + ".status", status);
  if (auto parsed = core::ParseConditionStatus(status)) {
    c.status = *parsed;
  } else if (!status.empty()) {
    r.Fail(path + ".status", "expected True, False or Unknown");
  }
  r.Integer(j, "observedGeneration", path + ".observedGeneration", c.observed_generation);
  std::optional<core::Timestamp> time;
  r.Time(j, "lastTransitionTime", path + ".lastTransitionTime", time);
  c.last_transition_time = time.value_or(core::Timestamp{});
  r.String(j, "reason", path + ".reason", c.reason);
  r.String(j, "message", path + ".message", c.message);
}

// `out` starts empty (a fresh spec or run).
void ReadWorkloadRefs(Reader& r, const json& parent, const std::string& path,
                      std::vector<core::WorkloadRef>& out) {
  r.Objects(parent, "workloads", path, [&](const json& item, const std::string& item_path) {
    core::WorkloadRef ref;
    r.String(item, "kind", item_path + ".kind", ref.kind);
    r.String(item, "name", item_path + ".name", ref.name);
    r.String(item, "apiVersion", item_path + ".apiVersion", ref.api_version);
    r.String(item, "jobs", item_path + ".jobs", ref.jobs);
    out.push_back(std::move(ref));
  });
}

void PutTime(json& j, const char* key, const std::optional<core::Timestamp>& time) {
  if (time) {
    j[key] = core::FormatRfc3339(*time);
  }
}

json WorkloadRefsToJson(const std::vector<core::WorkloadRef>& refs) {
  json list = json::array();
  for (const core::WorkloadRef& w : refs) {
    json item = {{"kind", w.kind}, {"name", w.name}};
    if (!w.api_version.empty()) {
      item["apiVersion"] = w.api_version;  // left out for built-in kinds without one
    }
    if (!w.jobs.empty()) {
      item["jobs"] = w.jobs;
    }
    list.push_back(std::move(item));
  }
  return list;
}

json RunToJson(const core::RunStatus& run) {
  json j;
  j["generation"] = run.generation;
  j["targetRevision"] = run.target_revision;
  j["targetVersions"] = run.target_versions;
  j["fromVersions"] = run.from_versions;
  j["workloads"] = WorkloadRefsToJson(run.workloads);
  j["backupRequired"] = run.backup_required;
  if (!run.migrations_digest.empty()) {
    j["migrationsDigest"] = run.migrations_digest;
  }
  if (!run.plan_digest.empty()) {
    j["planDigest"] = run.plan_digest;
  }
  PutTime(j, "startTime", run.start_time);
  PutTime(j, "scaleDownTime", run.scale_down_time);
  PutTime(j, "drainStartTime", run.drain_start_time);
  if (!run.outcome.empty()) {
    j["outcome"] = run.outcome;
  }
  if (!run.reason.empty()) {
    j["reason"] = run.reason;
  }
  if (!run.message.empty()) {
    j["message"] = run.message;
  }
  if (run.migration_seconds != 0) {
    j["migrationSeconds"] = run.migration_seconds;
  }
  if (!run.intent.empty()) {
    j["intent"] = run.intent;
  }
  PutTime(j, "intentTime", run.intent_time);
  if (!run.retry.empty()) {
    j["retry"] = run.retry;
  }
  if (!run.cancel_reason.empty()) {
    j["cancelReason"] = run.cancel_reason;
    j["cancelMessage"] = run.cancel_message;
  }
  return j;
}

void ReadRun(Reader& r, const json& j, core::RunStatus& run) {
  const std::string p = "status.run";
  r.Integer(j, "generation", p + ".generation", run.generation);
  r.String(j, "targetRevision", p + ".targetRevision", run.target_revision);
  r.Strings(j, "targetVersions", p + ".targetVersions", run.target_versions);
  r.Strings(j, "fromVersions", p + ".fromVersions", run.from_versions);
  ReadWorkloadRefs(r, j, p + ".workloads", run.workloads);
  r.Bool(j, "backupRequired", p + ".backupRequired", run.backup_required);
  r.String(j, "migrationsDigest", p + ".migrationsDigest", run.migrations_digest);
  r.String(j, "planDigest", p + ".planDigest", run.plan_digest);
  r.Time(j, "startTime", p + ".startTime", run.start_time);
  r.Time(j, "scaleDownTime", p + ".scaleDownTime", run.scale_down_time);
  r.Time(j, "drainStartTime", p + ".drainStartTime", run.drain_start_time);
  r.String(j, "outcome", p + ".outcome", run.outcome);
  r.String(j, "reason", p + ".reason", run.reason);
  r.String(j, "message", p + ".message", run.message);
  r.Number(j, "migrationSeconds", p + ".migrationSeconds", run.migration_seconds);
  r.String(j, "intent", p + ".intent", run.intent);
  r.Time(j, "intentTime", p + ".intentTime", run.intent_time);
  r.String(j, "retry", p + ".retry", run.retry);
  r.String(j, "cancelReason", p + ".cancelReason", run.cancel_reason);
  r.String(j, "cancelMessage", p + ".cancelMessage", run.cancel_message);
}

void ReadPlan(Reader& r, const json& j, core::SchemaMigrationStatus& status) {
  if (const json* plan = r.Object(j, "plan", "status.plan")) {
    core::PlanStatus p;
    r.String(*plan, "direction", "status.plan.direction", p.direction);
    r.String(*plan, "planHash", "status.plan.planHash", p.plan_hash);
    if (const json* steps = r.Array(*plan, "steps", "status.plan.steps")) {
      for (std::size_t i = 0; i < steps->size(); ++i) {
        const std::string path = "status.plan.steps[" + std::to_string(i) + "]";
        core::PlanStepStatus step;
        std::string direction;
        r.String((*steps)[i], "revision", path + ".revision", step.revision);
        r.String((*steps)[i], "direction", path + ".direction", direction);
        if (auto d = core::ParseMigrationDirection(direction)) {
          step.direction = *d;
        } else {
          r.Fail(path + ".direction", "expected upgrade or downgrade");
        }
        p.steps.push_back(std::move(step));
      }
    }
    status.plan = std::move(p);
  }
}

void ReadWorkloadStatuses(Reader& r, const json& j, core::SchemaMigrationStatus& status) {
  if (const json* list = r.Array(j, "workloads", "status.workloads")) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string path = "status.workloads[" + std::to_string(i) + "]";
      core::WorkloadStatus w;
      r.String((*list)[i], "kind", path + ".kind", w.kind);
      r.String((*list)[i], "name", path + ".name", w.name);
      if (w.kind == core::kKindCronJob) {
        bool suspended = false;
        r.Bool((*list)[i], "originalSuspend", path + ".originalSuspend", suspended);
        w.original_replicas = suspended ? 0 : 1;
      } else {
        r.Integer((*list)[i], "originalReplicas", path + ".originalReplicas", w.original_replicas);
      }
      r.String((*list)[i], "apiVersion", path + ".apiVersion", w.api_version);
      status.workloads.push_back(std::move(w));
    }
  }
  if (const json* list = r.Array(j, "autoscalers", "status.autoscalers")) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string path = "status.autoscalers[" + std::to_string(i) + "]";
      const json& item = (*list)[i];
      core::AutoscalerStatus a;
      r.String(item, "kind", path + ".kind", a.kind);
      r.String(item, "name", path + ".name", a.name);
      r.String(item, "workload", path + ".workload", a.workload);
      if (item.is_object() && item.contains("originalPausedReplicas")) {
        std::string value;
        r.String(item, "originalPausedReplicas", path + ".originalPausedReplicas", value);
        a.original_paused_replicas = value;
      }
      status.autoscalers.push_back(std::move(a));
    }
  }
}

void ReadBackup(Reader& r, const json& j, core::SchemaMigrationStatus& status) {
  if (const json* backup = r.Object(j, "backup", "status.backup")) {
    core::BackupStatus b;
    r.String(*backup, "file", "status.backup.file", b.file);
    r.Integer(*backup, "bytes", "status.backup.bytes", b.bytes);
    r.String(*backup, "sha256", "status.backup.sha256", b.sha256);
    r.Time(*backup, "time", "status.backup.time", b.time);
    status.backup = std::move(b);
  }
}

void ReadLastRun(Reader& r, const json& j, core::SchemaMigrationStatus& status) {
  if (const json* last = r.Object(j, "lastRun", "status.lastRun")) {
    core::LastRunStatus l;
    r.String(*last, "from", "status.lastRun.from", l.from);
    r.String(*last, "to", "status.lastRun.to", l.to);
    r.Time(*last, "startTime", "status.lastRun.startTime", l.start_time);
    r.Time(*last, "finishTime", "status.lastRun.finishTime", l.finish_time);
    r.Number(*last, "downtimeSeconds", "status.lastRun.downtimeSeconds", l.downtime_seconds);
    r.String(*last, "outcome", "status.lastRun.outcome", l.outcome);
    r.String(*last, "reason", "status.lastRun.reason", l.reason);
    r.String(*last, "message", "status.lastRun.message", l.message);
    r.Integer(*last, "generation", "status.lastRun.generation", l.generation);
    r.String(*last, "migrationsDigest", "status.lastRun.migrationsDigest", l.migrations_digest);
    r.String(*last, "retry", "status.lastRun.retry", l.retry);
    status.last_run = std::move(l);
  }
}

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

// status.rehearsal (design §6.7).
void ReadRehearsal(Reader& r, const json& j, core::SchemaMigrationStatus& status) {
  if (const json* rh = r.Object(j, "rehearsal", "status.rehearsal")) {
    core::RehearsalStatus s;
    const std::string p = "status.rehearsal.";
    r.String(*rh, "outcome", p + "outcome", s.outcome);
    r.String(*rh, "planDigest", p + "planDigest", s.plan_digest);
    r.Integer(*rh, "generation", p + "generation", s.generation);
    r.String(*rh, "from", p + "from", s.from);
    r.String(*rh, "to", p + "to", s.to);
    r.Number(*rh, "sqlSeconds", p + "sqlSeconds", s.sql_seconds);
    r.Number(*rh, "predictedDowntimeSeconds", p + "predictedDowntimeSeconds",
             s.predicted_downtime_seconds);
    r.Time(*rh, "finishTime", p + "finishTime", s.finish_time);
    r.String(*rh, "reason", p + "reason", s.reason);
    r.String(*rh, "message", p + "message", s.message);
    status.rehearsal = std::move(s);
  }
}

json RehearsalToJson(const core::RehearsalStatus& s) {
  json j = {{"outcome", s.outcome}, {"planDigest", s.plan_digest}, {"generation", s.generation},
            {"from", s.from},       {"to", s.to},
            {"sqlSeconds", s.sql_seconds}, {"predictedDowntimeSeconds", s.predicted_downtime_seconds},
            {"message", s.message}};
  PutTime(j, "finishTime", s.finish_time);
  if (!s.reason.empty()) {
    j["reason"] = s.reason;
  }
  return j;
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
                   {"versionTable", spec.version_table}};
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

core::Result<core::SchemaMigrationStatus> StatusFromJson(const json& j) {
  core::SchemaMigrationStatus status;
  if (j.is_null()) {
    return status;
  }
  if (!j.is_object()) {
    return Status(Code::kInvalidArgument, "status: expected an object");
  }
  Reader r;
  r.Integer(j, "observedGeneration", "status.observedGeneration", status.observed_generation);
  r.String(j, "currentRevision", "status.currentRevision", status.current_revision);
  r.String(j, "targetRevision", "status.targetRevision", status.target_revision);
  std::string phase;
  r.String(j, "phase", "status.phase", phase);
  if (!phase.empty()) {
    if (auto parsed = core::ParsePhase(phase)) {
      status.phase = *parsed;
    } else {
      r.Fail("status.phase", "unknown phase '" + phase + "'");
    }
  }
  ReadPlan(r, j, status);
  ReadWorkloadStatuses(r, j, status);
  ReadBackup(r, j, status);
  ReadLastRun(r, j, status);
  ReadRehearsal(r, j, status);
  if (const json* progress = r.Object(j, "progress", "status.progress")) {
    core::RunProgress p;
    if (auto bad = ProgressFromJson(*progress, p)) {
      r.Fail("status.progress." + bad->path, bad->message);
    }
    status.progress = std::move(p);
  }
  if (const json* run = r.Object(j, "run", "status.run")) {
    core::RunStatus run_status;
    ReadRun(r, *run, run_status);
    status.run = std::move(run_status);
  }
  if (const json* resolved = r.Object(j, "resolvedTarget", "status.resolvedTarget")) {
    core::ResolvedTargetStatus t;
    const std::string p = "status.resolvedTarget";
    r.String(*resolved, "targetRevision", p + ".targetRevision", t.target_revision);
    r.String(*resolved, "revision", p + ".revision", t.revision);
    r.Integer(*resolved, "generation", p + ".generation", t.generation);
    r.String(*resolved, "migrationsDigest", p + ".migrationsDigest", t.migrations_digest);
    status.resolved_target = std::move(t);
  }
  r.String(j, "databaseIdentity", "status.databaseIdentity", status.database_identity);
  r.String(j, "lastHandledRetry", "status.lastHandledRetry", status.last_handled_retry);
  r.String(j, "handledAbort", "status.handledAbort", status.handled_abort);
  r.Time(j, "nextWindow", "status.nextWindow", status.next_window);
  if (const json* conditions = r.Array(j, "conditions", "status.conditions")) {
    for (std::size_t i = 0; i < conditions->size(); ++i) {
      core::Condition c;
      ReadCondition(r, (*conditions)[i], "status.conditions[" + std::to_string(i) + "]", c);
      status.conditions.push_back(std::move(c));
    }
  }
  if (!r.ok()) {
    return r.status();
  }
  return status;
}

json StatusToJson(const core::SchemaMigrationStatus& status) {
  json j = json::object();
  j["observedGeneration"] = status.observed_generation;
  if (!status.current_revision.empty()) {
    j["currentRevision"] = status.current_revision;
  }
  if (!status.target_revision.empty()) {
    j["targetRevision"] = status.target_revision;
  }
  j["phase"] = core::PhaseName(status.phase);
  if (status.plan) {
    json steps = json::array();
    for (const core::PlanStepStatus& s : status.plan->steps) {
      steps.push_back(
          {{"revision", s.revision}, {"direction", core::MigrationDirectionName(s.direction)}});
    }
    j["plan"] = {{"direction", status.plan->direction}, {"steps", steps}};
    if (!status.plan->plan_hash.empty()) {
      j["plan"]["planHash"] = status.plan->plan_hash;
    }
  }
  if (!status.workloads.empty()) {
    json list = json::array();
    for (const core::WorkloadStatus& w : status.workloads) {
      json item = {{"kind", w.kind}, {"name", w.name}};
      if (w.kind == core::kKindCronJob) {
        item["originalSuspend"] = w.original_replicas == 0;
      } else {
        item["originalReplicas"] = w.original_replicas;
      }
      if (!w.api_version.empty()) {
        item["apiVersion"] = w.api_version;
      }
      list.push_back(std::move(item));
    }
    j["workloads"] = list;
  }
  if (!status.autoscalers.empty()) {
    json list = json::array();
    for (const core::AutoscalerStatus& a : status.autoscalers) {
      json item = {{"kind", a.kind}, {"name", a.name}, {"workload", a.workload}};
      if (a.original_paused_replicas) {
        item["originalPausedReplicas"] = *a.original_paused_replicas;
      }
      list.push_back(std::move(item));
    }
    j["autoscalers"] = list;
  }
  if (status.backup) {
    json b = {{"file", status.backup->file},
              {"bytes", status.backup->bytes},
              {"sha256", status.backup->sha256}};
    PutTime(b, "time", status.backup->time);
    j["backup"] = b;
  }
  if (status.last_run) {
    const core::LastRunStatus& l = *status.last_run;
    json last = {{"from", l.from},
                 {"to", l.to},
                 {"downtimeSeconds", l.downtime_seconds},
                 {"outcome", l.outcome},
                 {"message", l.message},
                 {"generation", l.generation}};
    PutTime(last, "startTime", l.start_time);
    PutTime(last, "finishTime", l.finish_time);
    if (!l.migrations_digest.empty()) {
      last["migrationsDigest"] = l.migrations_digest;
    }
    if (!l.reason.empty()) {
      last["reason"] = l.reason;
    }
    if (!l.retry.empty()) {
      last["retry"] = l.retry;
    }
    j["lastRun"] = last;
  }
  if (status.rehearsal) {
    j["rehearsal"] = RehearsalToJson(*status.rehearsal);
  }
  if (status.run) {
    j["run"] = RunToJson(*status.run);
  }
  if (status.progress) {
    j["progress"] = ProgressToJson(*status.progress);
  }
  if (status.resolved_target) {
    const core::ResolvedTargetStatus& t = *status.resolved_target;
    json resolved = {{"targetRevision", t.target_revision},
                     {"revision", t.revision},
                     {"generation", t.generation}};
    if (!t.migrations_digest.empty()) {
      resolved["migrationsDigest"] = t.migrations_digest;
    }
    j["resolvedTarget"] = resolved;
  }
  if (!status.database_identity.empty()) {
    j["databaseIdentity"] = status.database_identity;
  }
  if (!status.last_handled_retry.empty()) {
    j["lastHandledRetry"] = status.last_handled_retry;
  }
  if (!status.handled_abort.empty()) {
    j["handledAbort"] = status.handled_abort;
  }
  PutTime(j, "nextWindow", status.next_window);
  json conditions = json::array();
  for (const core::Condition& c : status.conditions) {
    json cj = {{"type", c.type},
               {"status", core::ConditionStatusName(c.status)},
               {"observedGeneration", c.observed_generation},
               {"lastTransitionTime", core::FormatRfc3339(c.last_transition_time)},
               {"reason", c.reason},
               {"message", c.message}};
    conditions.push_back(std::move(cj));
  }
  j["conditions"] = conditions;
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
