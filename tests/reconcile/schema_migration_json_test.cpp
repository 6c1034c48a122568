#include "reconcile/schema_migration_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace schemaop::reconcile {
namespace {

using nlohmann::json;

const char* kObject = R"({
  "apiVersion": "schemaop.dev/v1alpha1",
  "kind": "SchemaMigration",
  "metadata": {"name": "drawing-db", "namespace": "drawing", "uid": "u-1", "generation": 3,
               "resourceVersion": "42", "creationTimestamp": "2024-05-01T12:00:00Z",
               "finalizers": ["schemaop.dev/finalizer"]},
  "spec": {
    "targetRevision": "seed_default_schemas",
    "database": {"urlSecretRef": {"name": "drawing-db", "key": "DATABASE_URL"}},
    "migrations": {"configMapRef": {"name": "drawing-migrations"}},
    "workloads": [{"kind": "Deployment", "name": "backend"}, {"name": "celery-worker"}],
    "verify": {"checks": [{"name": "c1", "sql": "SELECT true"}], "allowRowLoss": ["t"]},
    "lockTimeout": "10s",
    "suspend": false
  },
  "status": {
    "observedGeneration": 2, "currentRevision": "add_flexible_schemas",
    "targetRevision": "seed_default_schemas", "phase": "Draining",
    "plan": {"direction": "upgrade", "steps": [{"revision": "seed_default_schemas", "direction": "upgrade"}]},
    "workloads": [{"kind": "Deployment", "name": "backend", "originalReplicas": 2}],
    "backup": {"file": "/b/1.dump", "bytes": 10, "sha256": "ab", "time": "2024-05-01T12:00:01Z"},
    "lastRun": {"from": "base", "to": "add_flexible_schemas", "startTime": "2024-05-01T11:00:00Z",
                "finishTime": "2024-05-01T11:00:09.500Z", "downtimeSeconds": 9.5,
                "outcome": "Succeeded", "message": "ok"},
    "run": {"generation": 3, "targetRevision": "head", "targetVersions": ["seed_default_schemas"],
            "fromVersions": ["add_flexible_schemas"], "workloads": [{"kind": "Deployment", "name": "backend"}],
            "backupRequired": false, "planDigest": "9f86d0", "startTime": "2024-05-01T12:00:00Z",
            "scaleDownTime": "2024-05-01T12:00:00Z", "drainStartTime": "2024-05-01T12:00:00Z",
            "intent": "ScaleDown", "intentTime": "2024-05-01T12:00:00Z"},
    "resolvedTarget": {"targetRevision": "-1", "revision": "add_flexible_schemas",
                       "generation": 3, "migrationsDigest": "0011aabb"},
    "databaseIdentity": "5e1d",
    "conditions": [{"type": "Ready", "status": "False", "observedGeneration": 3,
                    "lastTransitionTime": "2024-05-01T12:00:00Z", "reason": "Progressing", "message": "m"}]
  }
})";

TEST(SchemaMigrationJson, DecodesEveryFieldAndAppliesDefaults) {
  auto obj = SchemaMigrationFromJson(json::parse(kObject));
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->metadata.namespace_, "drawing");
  EXPECT_EQ(obj->metadata.generation, 3);
  EXPECT_TRUE(obj->metadata.HasFinalizer(core::kFinalizer));
  EXPECT_EQ(obj->spec.workloads[1].kind, "Deployment") << "CRD default";
  EXPECT_EQ(obj->spec.version_table, "alembic_version");
  EXPECT_EQ(obj->spec.drain_timeout_seconds, 300);
  EXPECT_EQ(obj->spec.backup_when, "Downgrade");
  EXPECT_EQ(obj->spec.failure_policy, "Rollback");
  EXPECT_EQ(obj->spec.verify_row_counts, "Preserve");
  EXPECT_EQ(obj->spec.verify_schema, "Enforce");
  EXPECT_EQ(obj->spec.verify_checks.at(0).sql, "SELECT true");
  EXPECT_EQ(obj->status.phase, core::Phase::kDraining);
  EXPECT_EQ(obj->status.workloads.at(0).original_replicas, 2);
  ASSERT_TRUE(obj->status.run.has_value());
  EXPECT_EQ(obj->status.run->target_versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_EQ(obj->status.run->plan_digest, "9f86d0");
  EXPECT_EQ(obj->status.run->intent, core::kIntentScaleDown);
  EXPECT_TRUE(obj->status.run->intent_time.has_value());
  ASSERT_TRUE(obj->status.resolved_target.has_value());
  EXPECT_EQ(obj->status.resolved_target->target_revision, "-1");
  EXPECT_EQ(obj->status.resolved_target->revision, "add_flexible_schemas");
  EXPECT_EQ(obj->status.resolved_target->generation, 3);
  EXPECT_EQ(obj->status.resolved_target->migrations_digest, "0011aabb");
  EXPECT_EQ(obj->status.database_identity, "5e1d");
  EXPECT_DOUBLE_EQ(obj->status.last_run->downtime_seconds, 9.5);
  EXPECT_EQ(obj->status.conditions.at(0).status, core::ConditionStatus::kFalse);
  EXPECT_TRUE(core::ValidateSpec(obj->spec).empty());
}

// Any scalable kind (design §6.3): apiVersion is read and written for spec,
// status and run workloads, and left out where it was not given, so objects
// of built-in kinds keep their exact wire form.
TEST(SchemaMigrationJson, WorkloadApiVersionRoundTripsAndIsLeftOutWhenEmpty) {
  json object = json::parse(kObject);
  const json rollout = {{"apiVersion", "argoproj.io/v1alpha1"}, {"kind", "Rollout"},
                        {"name", "editor"}};
  object["spec"]["workloads"].push_back(rollout);
  object["status"]["run"]["workloads"].push_back(rollout);
  json recorded = rollout;
  recorded["originalReplicas"] = 4;
  object["status"]["workloads"].push_back(recorded);
  auto obj = SchemaMigrationFromJson(object);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->spec.workloads.at(2),
            (core::WorkloadRef{"Rollout", "editor", "argoproj.io/v1alpha1"}));
  EXPECT_EQ(obj->spec.workloads.at(0).api_version, "");
  EXPECT_EQ(obj->status.run->workloads.at(1).api_version, "argoproj.io/v1alpha1");
  EXPECT_EQ(obj->status.workloads.at(1),
            (core::WorkloadStatus{"Rollout", "editor", 4, "argoproj.io/v1alpha1"}));

  json encoded = SchemaMigrationToJson(*obj);
  EXPECT_EQ(encoded["spec"]["workloads"][2], rollout);
  EXPECT_EQ(encoded["status"]["workloads"][1], recorded);
  EXPECT_EQ(encoded["status"]["run"]["workloads"][1], rollout);
  EXPECT_FALSE(encoded["spec"]["workloads"][0].contains("apiVersion"));
  EXPECT_FALSE(encoded["status"]["workloads"][0].contains("apiVersion"));
}

TEST(SchemaMigrationJson, RoundTripsThroughJson) {
  auto obj = SchemaMigrationFromJson(json::parse(kObject));
  ASSERT_TRUE(obj.ok());
  json encoded = SchemaMigrationToJson(*obj);
  auto again = SchemaMigrationFromJson(encoded);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->metadata, obj->metadata);
  EXPECT_EQ(again->spec, obj->spec);
  EXPECT_EQ(again->status, obj->status);
  // Exact wire names.
  EXPECT_EQ(encoded["spec"]["database"]["urlSecretRef"]["key"], "DATABASE_URL");
  EXPECT_EQ(encoded["spec"]["migrations"]["configMapRef"]["name"], "drawing-migrations");
  EXPECT_EQ(encoded["status"]["workloads"][0]["originalReplicas"], 2);
  EXPECT_EQ(encoded["status"]["lastRun"]["finishTime"], "2024-05-01T11:00:09.500Z");
  EXPECT_EQ(encoded["status"]["conditions"][0]["lastTransitionTime"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(encoded["status"]["plan"]["steps"][0]["direction"], "upgrade");
  EXPECT_EQ(encoded["spec"]["verify"]["schema"], "Enforce");
  EXPECT_EQ(encoded["status"]["resolvedTarget"]["revision"], "add_flexible_schemas");
  EXPECT_EQ(encoded["status"]["databaseIdentity"], "5e1d");
  EXPECT_EQ(encoded["status"]["run"]["planDigest"], "9f86d0");
  EXPECT_EQ(encoded["status"]["run"]["intent"], "ScaleDown");
}

TEST(SchemaMigrationJson, WrongTypesNameTheField) {
  json j = json::parse(kObject);
  j["spec"]["drainTimeoutSeconds"] = "300";
  auto obj = SchemaMigrationFromJson(j);
  ASSERT_FALSE(obj.ok());
  EXPECT_EQ(obj.status().code(), core::Code::kInvalidArgument);
  EXPECT_NE(obj.status().message().find("spec.drainTimeoutSeconds"), std::string::npos);

  j = json::parse(kObject);
  j["status"]["conditions"][0]["lastTransitionTime"] = "yesterday";
  obj = SchemaMigrationFromJson(j);
  ASSERT_FALSE(obj.ok());
  EXPECT_NE(obj.status().message().find("status.conditions[0].lastTransitionTime"),
            std::string::npos);
}

TEST(SchemaMigrationJson, MissingStatusDecodesAsEmpty) {
  json j = json::parse(kObject);
  j.erase("status");
  auto obj = SchemaMigrationFromJson(j);
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(obj->status, core::SchemaMigrationStatus{});
}

// design §6.8: a CronJob's recorded spec.suspend is written as
// originalSuspend, the autoscalers with the annotation value they had.
TEST(SchemaMigrationJson, CronJobsJobsAndAutoscalersRoundTripWithTheirWireNames) {
  json j = json::parse(kObject);
  j["spec"]["workloads"] = {{{"kind", "CronJob"}, {"name", "report"}, {"jobs", "Delete"}}};
  j["status"]["workloads"] = {{{"kind", "CronJob"}, {"name", "report"}, {"originalSuspend", true}},
                              {{"kind", "Deployment"}, {"name", "web"}, {"originalReplicas", 3}}};
  j["status"]["autoscalers"] = {
      {{"kind", "ScaledObject"}, {"name", "q"}, {"workload", "Deployment/web"},
       {"originalPausedReplicas", "2"}},
      {{"kind", "HorizontalPodAutoscaler"}, {"name", "web"}, {"workload", "Deployment/web"}}};
  auto obj = SchemaMigrationFromJson(j);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->spec.workloads[0].jobs, "Delete");
  EXPECT_EQ(obj->status.workloads[0].original_replicas, 0);  // suspended before the run
  ASSERT_EQ(obj->status.autoscalers.size(), 2u);
  EXPECT_EQ(obj->status.autoscalers[0].original_paused_replicas, std::optional<std::string>("2"));
  EXPECT_FALSE(obj->status.autoscalers[1].original_paused_replicas.has_value());
  json encoded = SchemaMigrationToJson(*obj);
  EXPECT_EQ(encoded["spec"]["workloads"], j["spec"]["workloads"]);
  EXPECT_EQ(encoded["status"]["workloads"], j["status"]["workloads"]);
  EXPECT_EQ(encoded["status"]["autoscalers"], j["status"]["autoscalers"]);
}

}  // namespace
}  // namespace schemaop::reconcile

namespace schemaop::reconcile {
namespace {

// Invariant: spec.database.caSecretRef maps both ways, and is absent from
// the encoding when unset (so objects without it do not change).
TEST(SchemaMigrationJson, CaSecretRefRoundTripsAndIsOmittedWhenUnset) {
  json object = json::parse(kObject);
  auto without = SchemaMigrationFromJson(object);
  ASSERT_TRUE(without.ok());
  EXPECT_TRUE(without->spec.ca_secret_ref.name.empty());
  EXPECT_FALSE(SchemaMigrationToJson(*without)["spec"]["database"].contains("caSecretRef"));

  object["spec"]["database"]["caSecretRef"] = {{"name", "db-ca"}, {"key", "ca.crt"}};
  auto with = SchemaMigrationFromJson(object);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_EQ(with->spec.ca_secret_ref.name, "db-ca");
  EXPECT_EQ(with->spec.ca_secret_ref.key, "ca.crt");
  json encoded = SchemaMigrationToJson(*with);
  EXPECT_EQ(encoded["spec"]["database"]["caSecretRef"]["key"], "ca.crt");
  auto again = SchemaMigrationFromJson(encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->spec, with->spec);
  EXPECT_NE(again->spec, without->spec);

  object["spec"]["database"]["caSecretRef"] = {{"name", 3}};
  auto wrong = SchemaMigrationFromJson(object);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("spec.database.caSecretRef.name"), std::string::npos)
      << wrong.status().ToString();
}

}  // namespace
}  // namespace schemaop::reconcile

namespace schemaop::reconcile {
namespace {

// spec.approval, spec.approvedPlanHash, status.plan.planHash, the retry
// annotation and its status fields (design §9) map both ways under their
// wire names; approval defaults to Automatic.
TEST(SchemaMigrationJson, ApprovalAndRetryFieldsRoundTrip) {
  json object = json::parse(kObject);
  auto plain = SchemaMigrationFromJson(object);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->spec.approval, "Automatic");
  EXPECT_EQ(core::ApprovalOf(plain->spec), core::Approval::kAutomatic);

  const std::string hash(64, 'c');
  object["metadata"]["annotations"] = {{"schemaop.dev/retry", "2024-05-01"}, {"other", "x"}};
  object["spec"]["approval"] = "Manual";
  object["spec"]["approvedPlanHash"] = hash;
  object["status"]["plan"]["planHash"] = hash;
  object["status"]["lastHandledRetry"] = "1";
  object["status"]["lastRun"]["retry"] = "1";
  object["status"]["run"]["retry"] = "2024-05-01";
  auto obj = SchemaMigrationFromJson(object);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(core::ApprovalOf(obj->spec), core::Approval::kManual);
  EXPECT_EQ(obj->metadata.annotations.at(core::kRetryAnnotation), "2024-05-01");
  EXPECT_EQ(obj->status.plan->plan_hash, hash);
  EXPECT_EQ(obj->status.last_run->retry, "1");
  EXPECT_EQ(obj->status.run->retry, "2024-05-01");
  EXPECT_TRUE(core::ValidateSpec(obj->spec).empty());

  json encoded = SchemaMigrationToJson(*obj);
  EXPECT_EQ(encoded["spec"]["approvedPlanHash"], hash);
  EXPECT_EQ(encoded["status"]["plan"]["planHash"], hash);
  EXPECT_EQ(encoded["status"]["lastHandledRetry"], "1");
  auto again = SchemaMigrationFromJson(encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->metadata, obj->metadata);
  EXPECT_EQ(again->spec, obj->spec);
  EXPECT_EQ(again->status, obj->status);

  object["metadata"]["annotations"]["schemaop.dev/retry"] = 7;
  auto wrong = SchemaMigrationFromJson(object);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("metadata.annotations.schemaop.dev/retry"),
            std::string::npos);
}

TEST(SchemaMigrationJson, RehearseAndRehearsalRoundTripWithTheirWireNames) {
  json j = json::parse(kObject);
  j["spec"]["rehearse"] = true;
  j["status"]["phase"] = "Rehearsing";
  j["status"]["rehearsal"] = {{"outcome", "Failed"},
                              {"planDigest", "9f86d0"},
                              {"generation", 3},
                              {"from", "9bc6a98f1c12"},
                              {"to", "seed_default_schemas"},
                              {"sqlSeconds", 1.25},
                              {"predictedDowntimeSeconds", 2.5},
                              {"finishTime", "2024-05-01T11:00:09Z"},
                              {"reason", "RehearsalFailed"},
                              {"message", "the rehearsal failed (reverse): drift"}};
  auto obj = SchemaMigrationFromJson(j);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_TRUE(obj->spec.rehearse);
  EXPECT_EQ(obj->status.phase, core::Phase::kRehearsing);
  ASSERT_TRUE(obj->status.rehearsal.has_value());
  EXPECT_EQ(obj->status.rehearsal->generation, 3);
  EXPECT_DOUBLE_EQ(obj->status.rehearsal->predicted_downtime_seconds, 2.5);
  json encoded = SchemaMigrationToJson(*obj);
  EXPECT_EQ(encoded["spec"]["rehearse"], true);
  EXPECT_EQ(encoded["status"]["rehearsal"], j["status"]["rehearsal"]);
  auto again = SchemaMigrationFromJson(encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, obj->status);
  // Off is the default and is not written.
  j = json::parse(kObject);
  obj = SchemaMigrationFromJson(j);
  ASSERT_TRUE(obj.ok());
  EXPECT_FALSE(obj->spec.rehearse);
  EXPECT_FALSE(SchemaMigrationToJson(*obj)["spec"].contains("rehearse"));
  j["spec"]["rehearse"] = "yes";
  obj = SchemaMigrationFromJson(j);
  ASSERT_FALSE(obj.ok());
  EXPECT_NE(obj.status().message().find("spec.rehearse"), std::string::npos);
}

// spec.executor / spec.job (design §10) with their wire names; Files is the
// default and is not written; with Job, spec.migrations may be absent.
TEST(SchemaMigrationJson, ExecutorAndJobRoundTripWithTheirWireNames) {
  json j = json::parse(kObject);
  j["spec"].erase("migrations");
  j["spec"]["executor"] = "Job";
  j["spec"]["job"] = {{"preset", "Generic"},
                      {"image", "registry.example/drawing:1.4.2"},
                      {"urlEnv", "DB_URL"},
                      {"workingDir", "/app"},
                      {"serviceAccountName", "migrator"},
                      {"ttlSecondsAfterFinished", 600},
                      {"activeDeadlineSeconds", 900},
                      {"env",
                       {{{"name", "APP_SETTINGS"}, {"value", "production"}},
                        {{"name", "SENTRY_DSN"},
                         {"valueFrom", {{"secretKeyRef", {{"name", "sentry"}, {"key", "dsn"}}}}}},
                        {{"name", "FLAGS"},
                         {"valueFrom",
                          {{"configMapKeyRef", {{"name", "flags"}, {"key", "f.json"}}}}}}}},
                      {"envFrom",
                       {{{"configMapRef", {{"name", "drawing-config"}}}},
                        {{"secretRef", {{"name", "drawing-app-secrets"}}}}}},
                      {"resources", {{"requests", {{"cpu", "250m"}}}, {"limits", {{"memory", "1Gi"}}}}},
                      {"commands",
                       {{"upgrade", {"migrate", "-path", "/m", "goto", "$TARGET"}},
                        {"downgrade", {"migrate", "-path", "/m", "goto", "$TARGET"}}}}};
  auto obj = SchemaMigrationFromJson(j);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->spec.executor, core::kExecutorJob);
  ASSERT_TRUE(obj->spec.job.has_value());
  EXPECT_EQ(obj->spec.job->preset, core::kPresetGeneric);
  EXPECT_EQ(obj->spec.job->ttl_seconds_after_finished, 600);
  EXPECT_EQ(obj->spec.job->commands.at("upgrade").back(), "$TARGET");
  ASSERT_EQ(obj->spec.job->env.size(), 3u);
  EXPECT_EQ(obj->spec.job->env[1].secret_name, "sentry");
  EXPECT_EQ(obj->spec.job->env[2].config_map_name, "flags");
  EXPECT_EQ(obj->spec.job->env_from.size(), 2u);
  EXPECT_EQ(obj->spec.job->resource_limits.at("memory"), "1Gi");
  EXPECT_TRUE(obj->spec.migrations_config_map.empty());
  EXPECT_TRUE(core::ValidateSpec(obj->spec).empty());
  json encoded = SchemaMigrationToJson(*obj);
  EXPECT_EQ(encoded["spec"]["job"], j["spec"]["job"]);
  EXPECT_EQ(encoded["spec"]["executor"], "Job");
  EXPECT_FALSE(encoded["spec"].contains("migrations"));
  auto again = SchemaMigrationFromJson(encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->spec, obj->spec);
  // The defaults: Files, no job, not written.
  obj = SchemaMigrationFromJson(json::parse(kObject));
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(obj->spec.executor, core::kExecutorFiles);
  EXPECT_FALSE(obj->spec.job.has_value());
  EXPECT_FALSE(SchemaMigrationToJson(*obj)["spec"].contains("executor"));
  EXPECT_FALSE(SchemaMigrationToJson(*obj)["spec"].contains("job"));
  // A wrong type names the field.
  j["spec"]["job"]["commands"]["upgrade"] = "alembic upgrade head";
  obj = SchemaMigrationFromJson(j);
  ASSERT_FALSE(obj.ok());
  EXPECT_NE(obj.status().message().find("spec.job.commands.upgrade"), std::string::npos)
      << obj.status().message();
}

TEST(SchemaMigrationJson, ProgressRoundTripsWithItsWireNames) {
  json j = json::parse(kObject);
  j["status"]["phase"] = "Migrating";
  j["status"]["progress"] = {{"phase", "forward"},
                             {"step", 2},
                             {"steps", 3},
                             {"revision", "add_flexible_schemas"},
                             {"direction", "upgrade"},
                             {"section", 2},
                             {"sections", 2},
                             {"statement", 4},
                             {"statements", 7},
                             {"statementWork",
                              {{"command", "CREATE INDEX CONCURRENTLY"},
                               {"phase", "building index: scanning table"},
                               {"done", 10},
                               {"total", 40},
                               {"unit", "blocks"}}},
                             {"elapsedSeconds", 12},
                             {"updateTime", "2024-05-01T12:00:12Z"},
                             {"summary", "2/3 add_flexible_schemas stmt 4/7 blocks 10/40"}};
  auto obj = SchemaMigrationFromJson(j);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  ASSERT_TRUE(obj->status.progress.has_value());
  EXPECT_EQ(obj->status.progress->statement, 4);
  ASSERT_TRUE(obj->status.progress->work.has_value());
  EXPECT_EQ(obj->status.progress->work->total, 40);
  EXPECT_EQ(SchemaMigrationToJson(*obj)["status"]["progress"], j["status"]["progress"]);
  // Absent when there is none.
  obj->status.progress.reset();
  EXPECT_FALSE(SchemaMigrationToJson(*obj)["status"].contains("progress"));
  j["status"]["progress"]["statementWork"]["done"] = "ten";
  obj = SchemaMigrationFromJson(j);
  ASSERT_FALSE(obj.ok());
  EXPECT_NE(obj.status().message().find("status.progress.statementWork.done"), std::string::npos)
      << obj.status().message();
}

}  // namespace
}  // namespace schemaop::reconcile
