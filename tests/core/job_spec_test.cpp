// spec.executor / spec.job (core/job_spec.h, design §10): validation from
// the user's side, hostile commands and revisions, the presets, the
// deterministic Job names.
#include "core/job_spec.h"

#include <gtest/gtest.h>

#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "core/schema_migration.h"
#include "core/version_table.h"

namespace schemaop::core {
namespace {

using Args = std::vector<std::string>;

SchemaMigrationSpec JobExecutorSpec() {
  SchemaMigrationSpec spec;
  spec.target_revision = "seed_default_schemas";
  spec.url_secret_ref = {"drawing-db", "DATABASE_URL"};
  spec.executor = kExecutorJob;
  spec.job.emplace().image = "registry.example/drawing:1.4.2";
  return spec;
}

// The messages of ValidateSpec, "path: message" each.
std::string Errors(const SchemaMigrationSpec& spec) {
  std::string out;
  for (const FieldError& e : ValidateSpec(spec)) {
    out += e.ToString() + "\n";
  }
  return out;
}

void ExpectError(const SchemaMigrationSpec& spec, const std::string& path,
                 const std::string& words) {
  const std::string errors = Errors(spec);
  EXPECT_NE(errors.find(path + ": "), std::string::npos) << errors;
  EXPECT_NE(errors.find(words), std::string::npos) << errors;
}

TEST(JobSpec, AlembicPresetNeedsOnlyAnImageAndNoConfigMap) {
  EXPECT_EQ(Errors(JobExecutorSpec()), "");
}

// What the run path needs (design §10.4): head or one revision id, a
// backup, no rehearsal.
TEST(JobSpec, TheRunPathNeedsHeadOrARevisionIdABackupAndNoRehearsal) {
  for (const char* target : {"heads", "base", "+1", "seed-1"}) {
    SchemaMigrationSpec spec = JobExecutorSpec();
    spec.target_revision = target;
    ExpectError(spec, "spec.targetRevision", "head or one revision id of the tool");
  }
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.target_revision = "head";  // resolved by the heads Job (design §10.7)
  EXPECT_EQ(Errors(spec), "");
  spec = JobExecutorSpec();
  spec.backup_when = "Never";
  ExpectError(spec, "spec.backup.when", "Never is refused with executor Job");
  spec = JobExecutorSpec();
  spec.rehearse = true;  // the rehearsal Jobs run on a scratch copy (design §10.9)
  EXPECT_EQ(Errors(spec), "");
  spec = JobExecutorSpec();
  spec.executor = kExecutorFiles;
  spec.job.reset();
  spec.migrations_config_map = "m";
  spec.target_revision = "head";
  spec.backup_when = "Never";
  EXPECT_EQ(Errors(spec), "");  // Files: none of these apply
}

// spec.database.versionLayout (design §10.8): GolangMigrate is read for a
// Job only, and its targets are golang-migrate's numbers (or head).
TEST(JobSpec, TheGolangMigrateLayoutIsForAJobWithNumericTargets) {
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.version_layout = kVersionLayoutGolangMigrate;
  spec.version_table = "schema_migrations";
  spec.target_revision = "20240301120000";
  EXPECT_EQ(Errors(spec), "");
  spec.target_revision = "head";
  EXPECT_EQ(Errors(spec), "");
  // "0005" would read back as 5 from the bigint: a target never reached.
  for (const char* target : {"seed_default_schemas", "1234567890123456789", "0x10", "0005"}) {
    spec.target_revision = target;
    ExpectError(spec, "spec.targetRevision", "golang-migrate version");
  }
  spec.target_revision = "20240301120000";
  spec.version_table = kDefaultVersionTable;
  ExpectError(spec, "spec.database.versionTable", "golang-migrate's default is schema_migrations");
  spec = JobExecutorSpec();
  spec.executor = kExecutorFiles;
  spec.job.reset();
  spec.migrations_config_map = "m";
  spec.version_layout = kVersionLayoutGolangMigrate;
  ExpectError(spec, "spec.database.versionLayout", "only with executor Job");
  spec = JobExecutorSpec();
  spec.version_layout = "Flyway";
  ExpectError(spec, "spec.database.versionLayout", "use Alembic or GolangMigrate");
}

TEST(JobSpec, FilesStillNeedsTheConfigMap) {
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.executor = kExecutorFiles;
  spec.job.reset();
  ExpectError(spec, "spec.migrations.configMapRef.name", "required");
}

TEST(JobSpec, ExecutorAndJobMustAgree) {
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.job.reset();
  ExpectError(spec, "spec.job", "required with executor Job");
  spec = JobExecutorSpec();
  spec.executor = kExecutorFiles;
  spec.migrations_config_map = "drawing-migrations";
  ExpectError(spec, "spec.job", "only used with executor Job");
  spec.executor = "Pod";
  ExpectError(spec, "spec.executor", "use Files or Job");
}

struct BadField {
  std::function<void(JobSpec&)> break_it;
  std::string path;
  std::string words;
};

TEST(JobSpec, BadFieldsAreNamedWithTheFix) {
  const std::vector<BadField> cases = {
      {[](JobSpec& j) { j.image = ""; }, "spec.job.image", "required"},
      {[](JobSpec& j) { j.image = "drawing:1 --privileged"; }, "spec.job.image", "no spaces"},
      {[](JobSpec& j) { j.preset = "Django"; }, "spec.job.preset", "use Alembic or Generic"},
      {[](JobSpec& j) { j.url_env = "DATABASE-URL"; }, "spec.job.urlEnv", "[A-Za-z_][A-Za-z0-9_]*"},
      {[](JobSpec& j) { j.working_dir = "app"; }, "spec.job.workingDir", "absolute"},
      {[](JobSpec& j) { j.service_account_name = "Migrator"; }, "spec.job.serviceAccountName",
       "DNS subdomain"},
      {[](JobSpec& j) { j.ttl_seconds_after_finished = -1; }, "spec.job.ttlSecondsAfterFinished",
       "between 60 and 604800"},
      {[](JobSpec& j) { j.ttl_seconds_after_finished = 0; }, "spec.job.ttlSecondsAfterFinished",
       "reads a finished Job and its log"},
      {[](JobSpec& j) { j.active_deadline_seconds = 0; }, "spec.job.activeDeadlineSeconds",
       "between 1 and 86400"},
  };
  for (const BadField& c : cases) {
    SchemaMigrationSpec spec = JobExecutorSpec();
    c.break_it(*spec.job);
    ExpectError(spec, c.path, c.words);
  }
}

// The application's other settings reach the tool through env, envFrom
// and resources; the database URL only through urlEnv (design §10.2): a
// rehearsal that gives urlEnv the copy's URL must be the only URL the tool
// can find.
TEST(JobSpec, EnvEnvFromAndResourcesAreAcceptedAsKubernetesTakesThem) {
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.job->env = {{"APP_SETTINGS", "production", "", "", ""},
                   {"SENTRY_DSN", "", "drawing-sentry", "", "dsn"},
                   {"FEATURE_FLAGS", "", "", "drawing-flags", "flags.json"}};
  spec.job->env_from = {{"drawing-config", ""}, {"", "drawing-app-secrets"}};
  spec.job->resource_requests = {{"cpu", "250m"}, {"memory", "256Mi"}};
  spec.job->resource_limits = {{"cpu", "1"}, {"memory", "1.5Gi"}, {"ephemeral-storage", "2G"}};
  EXPECT_EQ(Errors(spec), "");
  spec.job->resource_limits = {{"cpu", ".5"}, {"memory", "1e9"}, {"ephemeral-storage", "1Ei"}};
  EXPECT_EQ(Errors(spec), "");
}

TEST(JobSpec, EnvThatCouldCarryTheDatabaseUrlIsRefusedNamingTheFix) {
  const std::vector<BadField> cases = {
      {[](JobSpec& j) { j.env = {{"OTHER_URL", "", "drawing-db", "", "DATABASE_URL"}}; },
       "spec.job.env[0].valueFrom.secretKeyRef.name",
       "may not reference the database URL's Secret"},
      {[](JobSpec& j) { j.env_from = {{"", "drawing-db"}}; }, "spec.job.envFrom[0].secretRef.name",
       "the operator gives the URL only as spec.job.urlEnv"},
      {[](JobSpec& j) { j.env = {{"DATABASE_URL", "postgresql://x/y", "", "", ""}}; },
       "spec.job.env[0].name", "set by the operator"},
      {[](JobSpec& j) { j.env = {{"PGAPPNAME", "mine", "", "", ""}}; }, "spec.job.env[0].name",
       "set by the operator"},
      {[](JobSpec& j) { j.env = {{"A-B", "x", "", "", ""}}; }, "spec.job.env[0].name",
       "[A-Za-z_][A-Za-z0-9_]*"},
      {[](JobSpec& j) { j.env = {{"A", "x", "", "", ""}, {"A", "y", "", "", ""}}; },
       "spec.job.env[1].name", "duplicate name"},
      {[](JobSpec& j) { j.env = {{"A", "x", "s", "", "k"}}; }, "spec.job.env[0]", "set one of"},
      {[](JobSpec& j) { j.env = {{"A", "", "s", "", ""}}; }, "spec.job.env[0].valueFrom",
       "needs the key"},
      {[](JobSpec& j) { j.env = {{"A", "", "Bad_Name", "", "k"}}; }, "spec.job.env[0].valueFrom",
       "DNS subdomain"},
      {[](JobSpec& j) { j.env_from = {{"a", "b"}}; }, "spec.job.envFrom[0]", "set one of"},
      {[](JobSpec& j) { j.env_from = {{"", ""}}; }, "spec.job.envFrom[0]", "set one of"},
      {[](JobSpec& j) { j.resource_limits = {{"memory", "lots"}}; },
       "spec.job.resources.limits.memory", "invalid quantity"},
      {[](JobSpec& j) { j.resource_requests = {{"cpu", "."}}; },
       "spec.job.resources.requests.cpu", "invalid quantity"},
      {[](JobSpec& j) { j.resource_requests = {{"cpu", "1e"}}; },
       "spec.job.resources.requests.cpu", "invalid quantity"},
      {[](JobSpec& j) { j.resource_requests = {{"nvidia.com/gpu", "1"}}; },
       "spec.job.resources.requests.nvidia.com/gpu", "use cpu, memory or ephemeral-storage"},
  };
  for (const BadField& c : cases) {
    SchemaMigrationSpec spec = JobExecutorSpec();
    c.break_it(*spec.job);
    ExpectError(spec, c.path, c.words);
  }
}

TEST(JobSpec, GenericNeedsUpgradeAndDowngrade) {
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.job->preset = kPresetGeneric;
  ExpectError(spec, "spec.job.commands.upgrade", "required with preset Generic");
  ExpectError(spec, "spec.job.commands.downgrade", "required with preset Generic");
  spec.job->commands[kVerbUpgrade] = {"migrate", "-database-env", "DATABASE_URL", "goto",
                                      "$TARGET"};
  spec.job->commands[kVerbDowngrade] = {"migrate", "goto", "$TARGET"};
  EXPECT_EQ(Errors(spec), "");
}

// Invariant (design §10.2): no argument can carry the database URL. "$("
// would make Kubernetes expand the container's environment into argv.
TEST(JobSpec, HostileCommandsAreRefused) {
  SchemaMigrationSpec spec = JobExecutorSpec();
  spec.job->commands[kVerbUpgrade] = {"alembic", "-x", "url=$(DATABASE_URL)", "upgrade", "$TARGET"};
  ExpectError(spec, "spec.job.commands.upgrade[2]", "Kubernetes would expand $(VAR)");
  spec.job->commands[kVerbUpgrade] = {"alembic", "upgrade", "$HEAD_REV"};
  ExpectError(spec, "spec.job.commands.upgrade[2]", "only $FROM and $TARGET");
  ExpectError(spec, "spec.job.commands.upgrade", "must contain $TARGET");
  spec.job->commands[kVerbUpgrade] = {"alembic", "upgrade", "${TARGET}"};
  ExpectError(spec, "spec.job.commands.upgrade[2]", "only $FROM and $TARGET");
  spec.job->commands[kVerbUpgrade] = {"alembic", "upgrade\n", "$TARGET"};
  ExpectError(spec, "spec.job.commands.upgrade[1]", "control character");
  spec.job->commands[kVerbUpgrade] = {};
  ExpectError(spec, "spec.job.commands.upgrade", "1 to 64 arguments");
  spec.job->commands[kVerbUpgrade] = {"alembic", std::string(2000, 'x'), "$TARGET"};
  ExpectError(spec, "spec.job.commands.upgrade[1]", "longer than 1024 bytes");
  spec.job->commands.clear();
  spec.job->url_env = "PGAPPNAME";
  ExpectError(spec, "spec.job.urlEnv", "set by the operator");
  spec.job->url_env = "DATABASE_URL";
  spec.job->commands["stamp"] = {"alembic", "stamp", "$TARGET"};
  ExpectError(spec, "spec.job.commands.stamp", "unknown command");
  spec.job->commands.clear();
  spec.job->commands[kVerbHeads] = {"alembic", "heads", "--resolve-dependencies"};
  EXPECT_EQ(Errors(spec), "") << "heads takes no $TARGET";
}

TEST(JobSpec, AlembicPresetCommandsAndOverrides) {
  JobSpec job;
  EXPECT_EQ(CommandFor(job, kVerbUpgrade), (Args{"alembic", "upgrade", "$TARGET"}));
  EXPECT_EQ(CommandFor(job, kVerbDowngrade), (Args{"alembic", "downgrade", "$TARGET"}));
  EXPECT_EQ(CommandFor(job, kVerbUpgradeSql),
            (Args{"alembic", "upgrade", "$FROM:$TARGET", "--sql"}));
  EXPECT_EQ(CommandFor(job, kVerbDowngradeSql),
            (Args{"alembic", "downgrade", "$FROM:$TARGET", "--sql"}));
  EXPECT_EQ(CommandFor(job, kVerbHeads), (Args{"alembic", "heads"}));
  // Succeeds only when $TARGET descends from $FROM (an upgrade).
  EXPECT_EQ(CommandFor(job, kVerbHistory), (Args{"alembic", "history", "-r", "$FROM:$TARGET"}));
  job.commands[kVerbUpgrade] = {"alembic", "-c", "/app/alembic.ini", "upgrade", "$TARGET"};
  EXPECT_EQ(CommandFor(job, kVerbUpgrade).at(2), "/app/alembic.ini");
  job.preset = kPresetGeneric;
  EXPECT_TRUE(CommandFor(job, kVerbDowngrade).empty());
}

TEST(JobSpec, ParseHeadsFindsTheOneHead) {
  EXPECT_EQ(ParseHeads("seed_default_schemas (head)\n").value(), "seed_default_schemas");
  EXPECT_EQ(ParseHeads("20240101120000\n").value(), "20240101120000");
  EXPECT_EQ(ParseHeads("Using config /app/alembic.ini\r\nabc123 (effective head)\r\n").value(),
            "abc123");
  // No head: nothing that looks like one revision id on its own line.
  for (const char* out : {"", "\n", "ERROR: no script directory\n", "a b c\n",
                          "x;rm -rf / (head)\n", "$(DATABASE_URL)\n"}) {
    auto heads = ParseHeads(out);
    ASSERT_FALSE(heads.ok()) << out;
    EXPECT_NE(heads.status().message().find("no head revision"), std::string::npos) << out;
  }
  auto several = ParseHeads("abc (head)\ndef (head)\n");
  ASSERT_FALSE(several.ok());
  EXPECT_NE(several.status().message().find("several heads (abc, def)"), std::string::npos);
}

TEST(JobSpec, ExpandReplacesOnlyThePlaceholders) {
  auto argv = ExpandCommand({"alembic", "upgrade", "$FROM:$TARGET", "--sql", "$$TARGET"},
                            "9bc6a98f1c12", "seed_default_schemas");
  ASSERT_TRUE(argv.ok()) << argv.status().ToString();
  EXPECT_EQ(*argv, (Args{"alembic", "upgrade", "9bc6a98f1c12:seed_default_schemas", "--sql",
                         "$seed_default_schemas"}));
  argv = ExpandCommand({"alembic", "upgrade", "$FROM:$TARGET"}, "base", "head");
  ASSERT_TRUE(argv.ok());
  EXPECT_EQ(argv->at(2), "base:head");
}

// The revisions come from the version table, which the tool (or anyone
// with write access) writes: nothing but one revision id is substituted.
TEST(JobSpec, ExpandRefusesHostileRevisions) {
  for (const std::string& rev :
       std::vector<std::string>{"", "a,b", "a b", "x;rm -rf /", "$(DATABASE_URL)", "--sql",
                                std::string(33, 'a'), "head\n"}) {
    auto argv = ExpandCommand({"alembic", "upgrade", "$TARGET"}, "base", rev);
    ASSERT_FALSE(argv.ok()) << rev;
    EXPECT_EQ(argv.status().code(), Code::kInvalidArgument);
    EXPECT_NE(argv.status().message().find("one revision id"), std::string::npos);
    EXPECT_FALSE(ExpandCommand({"alembic", "upgrade", "$TARGET"}, rev, "head").ok()) << rev;
  }
}

bool IsDnsLabel(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

// Invariant (design §10.3): one run and verb, one Job name, so a restarted
// controller finds its Job instead of creating a second one.
TEST(JobSpec, JobNamesAreDeterministicBoundedAndDistinct) {
  const std::string run = "uid-1/3/9f86d0";
  EXPECT_EQ(JobName("drawing-db", kVerbUpgrade, run), JobName("drawing-db", kVerbUpgrade, run));
  std::set<std::string> names;
  for (const char* verb : kJobVerbs) {
    const std::string name = JobName("drawing-db", verb, run);
    EXPECT_TRUE(IsDnsLabel(name)) << name;
    EXPECT_EQ(name.rfind("drawing-db-", 0), 0u) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), std::size(kJobVerbs));
  EXPECT_NE(JobName("drawing-db", kVerbUpgrade, run),
            JobName("drawing-db", kVerbUpgrade, run + "/retry/2"));
  const std::string long_owner(253, 'a');
  const std::string cut = JobName(long_owner + ".b", kVerbDowngradeSql, run);
  EXPECT_TRUE(IsDnsLabel(cut)) << cut;
  // A cut that ends on '-' does not leave "--" in the name.
  const std::string at_dash = JobName(std::string(48, 'x') + "-yyyy", kVerbUpgrade, run);
  EXPECT_EQ(at_dash.find("--"), std::string::npos) << at_dash;
  EXPECT_TRUE(IsDnsLabel(at_dash)) << at_dash;
}

}  // namespace
}  // namespace schemaop::core
