#include "core/schema_migration.h"

#include <gtest/gtest.h>

namespace schemaop::core {
namespace {

SchemaMigrationSpec ValidSpec() {
  SchemaMigrationSpec spec;
  spec.target_revision = "seed_default_schemas";
  spec.url_secret_ref = {"drawing-db", "DATABASE_URL"};
  spec.migrations_config_map = "drawing-migrations";
  spec.workloads = {{"Deployment", "backend", ""}, {"StatefulSet", "celery-worker", ""}};
  spec.verify_checks = {{"components-kept", "SELECT count(*) > 0 FROM components"}};
  spec.verify_allow_row_loss = {"public.audit_log"};
  spec.lock_timeout = "10s";
  spec.statement_timeout = "1m30s";
  return spec;
}

std::vector<std::string> Errors(const SchemaMigrationSpec& spec) {
  std::vector<std::string> out;
  for (const FieldError& e : ValidateSpec(spec)) {
    out.push_back(e.ToString());
  }
  return out;
}

TEST(ValidateSpec, AcceptsAValidSpecAndAllTargetForms) {
  EXPECT_TRUE(Errors(ValidSpec()).empty());
  for (const char* target : {"head", "heads", "base", "+1", "-2", "9bc6a98f1c12", "add_flex+1",
                             "9bc6"}) {
    SchemaMigrationSpec spec = ValidSpec();
    spec.target_revision = target;
    EXPECT_TRUE(Errors(spec).empty()) << target;
  }
}

TEST(ValidateSpec, DuplicateWorkloadNamesTheSecondEntry) {
  SchemaMigrationSpec spec = ValidSpec();
  spec.workloads.push_back({"Deployment", "backend", ""});
  auto errors = ValidateSpec(spec);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "spec.workloads[2].name");
  EXPECT_EQ(errors[0].message.rfind("duplicate", 0), 0u) << errors[0].message;
  // Same name, other kind: not a duplicate.
  spec.workloads.back().kind = "StatefulSet";
  spec.workloads.back().name = "backend";
  EXPECT_TRUE(Errors(spec).empty());
}

TEST(ValidateSpec, ReportsEveryBadFieldWithItsPath) {
  SchemaMigrationSpec spec;
  spec.target_revision = "bad revision!";
  spec.url_secret_ref = {"Bad_Name", ""};
  spec.version_table = "1table";
  spec.migrations_config_map = "";
  spec.workloads = {{"daemonset", "x", ""}, {"Deployment", "", ""}};
  spec.drain_timeout_seconds = 0;
  spec.backup_when = "Sometimes";
  spec.verify_row_counts = "Maybe";
  spec.verify_schema = "Sometimes";
  spec.verify_allow_row_loss = {"a b"};
  spec.verify_checks = {{"ok", ""}, {"ok", "SELECT true"}, {"-bad", "SELECT true"}};
  spec.failure_policy = "Ignore";
  spec.lock_timeout = "10 seconds";
  spec.statement_timeout = "5d";
  std::vector<std::string> paths;
  for (const FieldError& e : ValidateSpec(spec)) {
    paths.push_back(e.path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "spec.targetRevision", "spec.database.urlSecretRef.name",
                       "spec.database.urlSecretRef.key", "spec.database.versionTable",
                       "spec.migrations.configMapRef.name", "spec.workloads[0].kind",
                       "spec.workloads[1].name", "spec.drainTimeoutSeconds", "spec.backup.when",
                       "spec.verify.rowCounts", "spec.verify.schema",
                       "spec.verify.allowRowLoss[0]",
                       "spec.verify.checks[0].sql", "spec.verify.checks[1].name",
                       "spec.verify.checks[2].name", "spec.failurePolicy", "spec.lockTimeout",
                       "spec.statementTimeout"}));
}

// design §6.8: a CronJob is a workload; jobs only on a CronJob, Wait or Delete.
TEST(ValidateSpec, CronJobWorkloadsAndTheirJobsPolicy) {
  SchemaMigrationSpec spec;
  spec.target_revision = "head";
  spec.url_secret_ref = {"db", "url"};
  spec.migrations_config_map = "migrations";
  spec.workloads = {{"CronJob", "report", "", "Delete"}, {"CronJob", "nightly"}, {"Deployment", "web"}};
  EXPECT_TRUE(ValidateSpec(spec).empty());
  spec.workloads = {{"CronJob", "report", "", "Sometimes"}, {"Deployment", "web", "", "Wait"}};
  const std::vector<FieldError> errors = ValidateSpec(spec);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].ToString(),
            "spec.workloads[0].jobs: unsupported value 'Sometimes': use Wait or Delete");
  EXPECT_EQ(errors[1].ToString(),
            "spec.workloads[1].jobs: only a CronJob has Jobs: remove jobs from this Deployment");
  // The same name under another kind is another workload.
  spec.workloads = {{"CronJob", "web"}, {"Deployment", "web"}};
  EXPECT_TRUE(ValidateSpec(spec).empty());
}

// Any scalable kind (design §6.3): apiVersion + kind + name; only
// Deployment and StatefulSet may leave apiVersion out (the CRD's CEL rule,
// repeated here for API servers that drop it).
TEST(ValidateSpec, WorkloadsOfAnyKindNeedAnApiVersion) {
  SchemaMigrationSpec spec = ValidSpec();
  spec.workloads = {{"Deployment", "backend", "apps/v1"},
                    {"Rollout", "editor", "argoproj.io/v1alpha1"},
                    {"ReplicationController", "legacy", "v1"},
                    {"Scaler", "x", "example.com/v2beta3"}};
  EXPECT_TRUE(Errors(spec).empty());

  spec.workloads = {{"Rollout", "editor", ""}};
  ASSERT_EQ(Errors(spec).size(), 1u);
  EXPECT_EQ(ValidateSpec(spec)[0].path, "spec.workloads[0].apiVersion");
  EXPECT_NE(Errors(spec)[0].find("required for kind \"Rollout\""), std::string::npos);
  EXPECT_NE(Errors(spec)[0].find("argoproj.io/v1alpha1"), std::string::npos);

  for (const char* bad : {"argoproj.io", "argoproj.io/", "/v1", "Apps/v1", "apps/v1/x",
                          "apps/version1", "apps/v1gamma1", "apps/v1alpha", "a..b/v1"}) {
    spec.workloads = {{"Rollout", "editor", bad}};
    ASSERT_EQ(Errors(spec).size(), 1u) << bad;
    EXPECT_EQ(ValidateSpec(spec)[0].path, "spec.workloads[0].apiVersion") << bad;
  }
  for (const char* bad : {"rollout", "Roll-out", "", "Roll out"}) {
    spec.workloads = {{bad, "editor", "argoproj.io/v1alpha1"}};
    ASSERT_FALSE(Errors(spec).empty()) << bad;
    EXPECT_EQ(ValidateSpec(spec)[0].path, "spec.workloads[0].kind") << bad;
  }
  // Unique by kind and name, as the CRD's rule (whatever the apiVersion).
  spec.workloads = {{"Rollout", "editor", "argoproj.io/v1alpha1"},
                    {"Rollout", "editor", "example.com/v1"}};
  ASSERT_EQ(Errors(spec).size(), 1u);
  EXPECT_EQ(ValidateSpec(spec)[0].path, "spec.workloads[1].name");
}

TEST(WorkloadApiVersion, BuiltinKindsDefaultToAppsV1) {
  EXPECT_EQ(WorkloadApiVersion("", "Deployment"), "apps/v1");
  EXPECT_EQ(WorkloadApiVersion("", "StatefulSet"), "apps/v1");
  EXPECT_EQ(WorkloadApiVersion("", "CronJob"), "batch/v1");
  EXPECT_EQ(WorkloadApiVersion("", "Rollout"), "");
  EXPECT_EQ(WorkloadApiVersion("argoproj.io/v1alpha1", "Rollout"), "argoproj.io/v1alpha1");
  WorkloadStatus recorded{"Rollout", "editor", 2, "argoproj.io/v1alpha1"};
  EXPECT_EQ(recorded.Ref(), (WorkloadRef{"Rollout", "editor", "argoproj.io/v1alpha1"}));
}

TEST(ValidateSpec, RejectsTooLongRevisionIds) {
  SchemaMigrationSpec spec = ValidSpec();
  spec.target_revision = std::string(33, 'a');
  EXPECT_EQ(Errors(spec).size(), 1u);
  spec.target_revision = std::string(32, 'a') + "+1234567";
  EXPECT_EQ(Errors(spec).size(), 1u);
}

TEST(ParseDuration, AcceptsGoStyleDurations) {
  EXPECT_EQ(ParseDuration("0").value(), std::chrono::milliseconds(0));
  EXPECT_EQ(ParseDuration("10s").value(), std::chrono::seconds(10));
  EXPECT_EQ(ParseDuration("5m").value(), std::chrono::minutes(5));
  EXPECT_EQ(ParseDuration("1h").value(), std::chrono::hours(1));
  EXPECT_EQ(ParseDuration("500ms").value(), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("1m30s").value(), std::chrono::seconds(90));
  for (const char* bad : {"", "10", "s", "1.5s", "10 s", "5d", "-1s", "1m30"}) {
    auto parsed = ParseDuration(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    }
  }
}

TEST(FormatVersions, SortsJoinsAndNamesBase) {
  EXPECT_EQ(FormatVersions({}), "base");
  EXPECT_EQ(FormatVersions({"b", "a"}), "a,b");
}

TEST(DigestOf, IsStableAndSensitiveToContentAndBoundaries) {
  const std::string d = DigestOf({{"a.sql", "x"}, {"b.sql", "y"}});
  EXPECT_EQ(d.size(), 16u);
  EXPECT_EQ(d, DigestOf({{"a.sql", "x"}, {"b.sql", "y"}}));
  EXPECT_NE(d, DigestOf({{"a.sql", "x"}, {"b.sql", "z"}}));
  EXPECT_NE(DigestOf({{"ab", "c"}}), DigestOf({{"a", "bc"}}));
}

TEST(Phase, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Phase::kFailed); ++i) {
    const Phase p = static_cast<Phase>(i);
    EXPECT_EQ(ParsePhase(PhaseName(p)), p);
  }
  EXPECT_FALSE(ParsePhase("Done").has_value());
}

TEST(PlanDirectionOf, SummarizesSteps) {
  using D = MigrationDirection;
  EXPECT_EQ(PlanDirectionOf({}), "none");
  EXPECT_EQ(PlanDirectionOf({{"a", D::kUpgrade}, {"b", D::kUpgrade}}), "upgrade");
  EXPECT_EQ(PlanDirectionOf({{"a", D::kDowngrade}}), "downgrade");
  EXPECT_EQ(PlanDirectionOf({{"a", D::kDowngrade}, {"b", D::kUpgrade}}), "mixed");
}

TEST(TypedAccessors, FallBackToDefaults) {
  SchemaMigrationSpec spec;
  EXPECT_EQ(BackupWhenOf(spec), BackupWhen::kDowngrade);
  EXPECT_EQ(FailurePolicyOf(spec), FailurePolicy::kRollback);
  EXPECT_TRUE(PreserveRowCountsOf(spec));
  EXPECT_TRUE(EnforceSchemaOf(spec));
  spec.backup_when = "Always";
  spec.failure_policy = "Halt";
  spec.verify_row_counts = "Off";
  spec.verify_schema = "Ignore";
  EXPECT_EQ(BackupWhenOf(spec), BackupWhen::kAlways);
  EXPECT_EQ(FailurePolicyOf(spec), FailurePolicy::kHalt);
  EXPECT_FALSE(PreserveRowCountsOf(spec));
  EXPECT_FALSE(EnforceSchemaOf(spec));
}

TEST(IsRelativeTarget, OnlyTargetsWithASignedStep) {
  for (const char* relative : {"-1", "+2", "abc+1", "abc-3", "head-1", "base+1"}) {
    EXPECT_TRUE(IsRelativeTarget(relative)) << relative;
  }
  for (const char* absolute : {"head", "heads", "base", "9bc6a98f1c12", "seed_default"}) {
    EXPECT_FALSE(IsRelativeTarget(absolute)) << absolute;
  }
}

}  // namespace
}  // namespace schemaop::core

namespace schemaop::core {
namespace {

// Invariant: caSecretRef is optional; when given, name and key are both
// required and checked like urlSecretRef's.
TEST(ValidateSpec, CaSecretRefIsOptionalButComplete) {
  SchemaMigrationSpec spec = ValidSpec();
  spec.ca_secret_ref = {"drawing-db-ca", "ca.crt"};
  EXPECT_TRUE(Errors(spec).empty());
  spec.ca_secret_ref = {"", "ca.crt"};
  EXPECT_EQ(Errors(spec).size(), 1u);
  EXPECT_EQ(ValidateSpec(spec).at(0).path, "spec.database.caSecretRef.name");
  spec.ca_secret_ref = {"drawing-db-ca", ""};
  EXPECT_EQ(ValidateSpec(spec).at(0).path, "spec.database.caSecretRef.key");
  spec.ca_secret_ref = {"Bad_Name", "bad key"};
  auto errors = ValidateSpec(spec);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "spec.database.caSecretRef.name");
  EXPECT_EQ(errors[1].path, "spec.database.caSecretRef.key");
}

}  // namespace
}  // namespace schemaop::core

namespace schemaop::core {
namespace {

// spec.approval and spec.approvedPlanHash are refused with the field named,
// as the CRD's enum and pattern would (design §9).
TEST(ValidateSpec, ApprovalAndPlanHash) {
  SchemaMigrationSpec spec = ValidSpec();
  spec.approval = "Manual";
  spec.approved_plan_hash = std::string(64, 'f');
  EXPECT_TRUE(ValidateSpec(spec).empty());

  spec.approval = "manual";
  spec.approved_plan_hash = std::string(64, 'F');
  const std::vector<FieldError> errors = ValidateSpec(spec);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].path, "spec.approval");
  EXPECT_NE(errors[0].message.find("Automatic or Manual"), std::string::npos);
  EXPECT_EQ(errors[1].path, "spec.approvedPlanHash");
  EXPECT_NE(errors[1].message.find("64 lowercase hex digits"), std::string::npos);
  for (const std::string& bad :
       {std::string(63, 'a'), std::string(65, 'a'), "sha256:" + std::string(64, 'a')}) {
    EXPECT_FALSE(IsPlanHash(bad)) << bad;
  }
  EXPECT_TRUE(IsPlanHash("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
}

// The retry annotation is recorded as itself when short, else as a digest
// that still tells two values apart.
TEST(RetryToken, ShortValuesAsIsLongOnesDigested) {
  EXPECT_EQ(RetryToken("2024-05-01T10:00"), "2024-05-01T10:00");
  const std::string long_a(4096, 'a');
  std::string long_b = long_a;
  long_b.back() = 'b';
  EXPECT_EQ(RetryToken(long_a).rfind("digest:", 0), 0u);
  EXPECT_LE(RetryToken(long_a).size(), 128u);
  EXPECT_NE(RetryToken(long_a), RetryToken(long_b));
  EXPECT_EQ(RetryToken(long_a), RetryToken(long_a));
}

}  // namespace
}  // namespace schemaop::core
