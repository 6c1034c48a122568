// SchemaMigration status <-> JSON (design §5.2), the wire names of the CRD's
// status schema. The object and its spec: schema_migration_json.cpp.
#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "reconcile/json_reader.h"
#include "reconcile/phase_json.h"
#include "reconcile/progress_json.h"
#include "reconcile/schema_migration_json.h"

namespace schemaop::reconcile {
using namespace json_internal;  // NOLINT(google-build-using-namespace): this file's helpers
namespace {

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
  if (!run.executor.empty()) {
    j["executor"] = run.executor;
  }
  if (run.job) {
    j["job"] = {{"name", run.job->name}, {"verb", run.job->verb}, {"phase", run.job->phase}};
    if (!run.job->log.empty()) {
      j["job"]["log"] = run.job->log;
    }
  }
  if (!run.job_direction.empty()) {
    j["jobDirection"] = run.job_direction;
  }
  if (run.phase_seconds) {
    j["phaseSeconds"] = PhaseSecondsToJson(*run.phase_seconds);
  }
  PutTime(j, "scaleUpTime", run.scale_up_time);
  if (run.expanded) {
    j["expanded"] = true;
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
  r.String(j, "executor", p + ".executor", run.executor);
  if (const json* job = r.Object(j, "job", p + ".job")) {
    core::JobRunStatus s;
    r.String(*job, "name", p + ".job.name", s.name);
    r.String(*job, "verb", p + ".job.verb", s.verb);
    r.String(*job, "phase", p + ".job.phase", s.phase);
    r.String(*job, "log", p + ".job.log", s.log);
    run.job = std::move(s);
  }
  r.String(j, "jobDirection", p + ".jobDirection", run.job_direction);
  ReadPhaseSeconds(r, j, p, run.phase_seconds);
  r.Time(j, "scaleUpTime", p + ".scaleUpTime", run.scale_up_time);
  r.Bool(j, "expanded", p + ".expanded", run.expanded);
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
        ReadStepPhases(r, (*steps)[i], path, step.phases);
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
    r.String(*last, "jobLog", "status.lastRun.jobLog", l.job_log);
    ReadPhaseSeconds(r, *last, "status.lastRun", l.phase_seconds);
    status.last_run = std::move(l);
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

}  // namespace

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
      json step = {{"revision", s.revision},
                   {"direction", core::MigrationDirectionName(s.direction)}};
      if (!s.phases.empty()) {
        step["phases"] = StepPhasesToJson(s.phases);
      }
      steps.push_back(std::move(step));
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
    if (!l.job_log.empty()) {
      last["jobLog"] = l.job_log;
    }
    if (l.phase_seconds) {
      last["phaseSeconds"] = PhaseSecondsToJson(*l.phase_seconds);
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

}  // namespace schemaop::reconcile
