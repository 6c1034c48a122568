// The Job executor's Job object and log excerpts (design §10.2, §10.3),
// checked as a user would read them from the cluster: no secret anywhere,
// one pod and no retry, the owner, the TTL.
#include "reconcile/job_manifest.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/database_url.h"
#include "reconcile/job_log.h"

namespace schemaop::reconcile {
namespace {

using nlohmann::json;

core::SchemaMigration JobObject() {
  core::SchemaMigration obj;
  obj.metadata.namespace_ = "drawing";
  obj.metadata.name = "drawing-db";
  obj.metadata.uid = "5b1c-uid";
  obj.spec.target_revision = "head";
  obj.spec.url_secret_ref = {"drawing-db", "DATABASE_URL"};
  obj.spec.executor = core::kExecutorJob;
  core::JobSpec& job = obj.spec.job.emplace();
  job.image = "registry.example/drawing:1.4.2";
  job.working_dir = "/app";
  job.service_account_name = "migrator";
  job.ttl_seconds_after_finished = 600;
  job.active_deadline_seconds = 900;
  return obj;
}

JobRequest Upgrade(const core::SchemaMigration& obj) {
  auto argv = core::ExpandCommand(core::CommandFor(*obj.spec.job, core::kVerbUpgrade),
                                  "9bc6a98f1c12", "seed_default_schemas");
  EXPECT_TRUE(argv.ok());
  return JobRequest{core::kVerbUpgrade, "5b1c-uid/3/9f86d0", *argv};
}

TEST(JobManifest, OwnedByTheSchemaMigrationWithADeterministicName) {
  const core::SchemaMigration obj = JobObject();
  const json job = BuildJob(obj, Upgrade(obj));
  EXPECT_EQ(job["apiVersion"], "batch/v1");
  EXPECT_EQ(job["kind"], "Job");
  EXPECT_EQ(job["metadata"]["namespace"], "drawing");
  EXPECT_EQ(job["metadata"]["name"],
            core::JobName("drawing-db", core::kVerbUpgrade, "5b1c-uid/3/9f86d0"));
  EXPECT_EQ(job["metadata"]["annotations"][kJobAnnotationRun], "5b1c-uid/3/9f86d0");
  EXPECT_EQ(job["metadata"]["labels"][kJobLabelOwner], "drawing-db");
  EXPECT_EQ(job["metadata"]["labels"][kJobLabelVerb], "upgrade");
  const json& owner = job["metadata"]["ownerReferences"].at(0);
  EXPECT_EQ(owner["apiVersion"], "schemaop.dev/v1alpha1");
  EXPECT_EQ(owner["kind"], "SchemaMigration");
  EXPECT_EQ(owner["name"], "drawing-db");
  EXPECT_EQ(owner["uid"], "5b1c-uid");
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(job["metadata"]["ownerReferences"].size(), 1u);
}

// Invariant (design §10.2): the tool commits on its own, so a failed or
// killed pod is a failed migration; Kubernetes never starts a second pod.
TEST(JobManifest, OnePodNoRetryDeadlineAndTtl) {
  const core::SchemaMigration obj = JobObject();
  const json spec = BuildJob(obj, Upgrade(obj))["spec"];
  EXPECT_EQ(spec["backoffLimit"], 0);
  EXPECT_EQ(spec["template"]["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(spec["activeDeadlineSeconds"], 900);
  EXPECT_EQ(spec["ttlSecondsAfterFinished"], 600);
  EXPECT_EQ(spec["template"]["spec"]["serviceAccountName"], "migrator");
  const json& container = spec["template"]["spec"]["containers"].at(0);
  EXPECT_EQ(container["image"], "registry.example/drawing:1.4.2");
  EXPECT_EQ(container["workingDir"], "/app");
  EXPECT_EQ(container["command"], json::array({"alembic", "upgrade", "seed_default_schemas"}));
}

// Invariant (design §10.2): the URL reaches the container only through
// valueFrom.secretKeyRef; no "value" holds it, so the Job object (what
// `kubectl get job -o yaml` shows) cannot hold it.
TEST(JobManifest, TheUrlComesOnlyFromTheSecret) {
  core::SchemaMigration obj = JobObject();
  obj.spec.job->url_env = "DB_URL";
  const json job = BuildJob(obj, Upgrade(obj));
  const json& env = job["spec"]["template"]["spec"]["containers"][0]["env"];
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[0]["name"], "DB_URL");
  EXPECT_FALSE(env[0].contains("value"));
  EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"],
            (json{{"name", "drawing-db"}, {"key", "DATABASE_URL"}}));
  // The only plain value: the Job's name as libpq's application_name, by
  // which the operator ends the tool's sessions after the Job (§10.4).
  EXPECT_EQ(env[1], (json{{"name", "PGAPPNAME"}, {"value", job["metadata"]["name"]}}));
  EXPECT_EQ(job.dump().find("postgres"), std::string::npos);
  EXPECT_EQ(job["spec"]["template"]["spec"]["containers"][0].count("args"), 0u);
}

// A rehearsal Job (design §10.9): the same env, from the operator's Secret
// of the scratch copy's URL, which holds that URL alone under the spec's
// key and goes with the object.
TEST(JobManifest, ARehearsalJobReadsTheCopysSecretOnly) {
  const core::SchemaMigration obj = JobObject();
  JobRequest request = Upgrade(obj);
  request.url_secret_name = "drawing-db-scratch-url-0123456789";
  const json job = BuildJob(obj, request);
  EXPECT_EQ(job["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"],
            (json{{"name", "drawing-db-scratch-url-0123456789"}, {"key", "DATABASE_URL"}}));
  const std::string url = "postgresql://app:pw@db/schemaop_rehearsal_0123456789abcdef";
  const json secret = BuildScratchSecret(obj, "drawing-db-scratch-url-0123456789", url);
  EXPECT_EQ(secret["metadata"]["namespace"], "drawing");
  EXPECT_EQ(secret["stringData"], (json{{"DATABASE_URL", url}}));
  EXPECT_EQ(secret.count("data"), 0u);
  const json& owner = secret["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["uid"], "5b1c-uid");
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(secret["metadata"]["labels"]["app.kubernetes.io/managed-by"], "schemaop");
}

// spec.job.env, envFrom and resources reach the container as given, after
// the operator's two variables, in every Job (a rehearsal's too).
TEST(JobManifest, TheApplicationsSettingsAndResourcesReachTheContainer) {
  core::SchemaMigration obj = JobObject();
  obj.spec.job->env = {{"APP_SETTINGS", "production", "", "", ""},
                       {"SENTRY_DSN", "", "drawing-sentry", "", "dsn"},
                       {"FLAGS", "", "", "drawing-flags", "flags.json"}};
  obj.spec.job->env_from = {{"drawing-config", ""}, {"", "drawing-app-secrets"}};
  obj.spec.job->resource_requests = {{"cpu", "250m"}};
  obj.spec.job->resource_limits = {{"memory", "1Gi"}};
  JobRequest request = Upgrade(obj);
  request.url_secret_name = "drawing-db-scratch-url-0123456789";
  const json container = BuildJob(obj, request)["spec"]["template"]["spec"]["containers"][0];
  const json& env = container["env"];
  ASSERT_EQ(env.size(), 5u);
  EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"]["name"], "drawing-db-scratch-url-0123456789");
  EXPECT_EQ(env[1]["name"], "PGAPPNAME");
  EXPECT_EQ(env[2], (json{{"name", "APP_SETTINGS"}, {"value", "production"}}));
  EXPECT_EQ(env[3]["valueFrom"]["secretKeyRef"], (json{{"name", "drawing-sentry"}, {"key", "dsn"}}));
  EXPECT_EQ(env[4]["valueFrom"]["configMapKeyRef"],
            (json{{"name", "drawing-flags"}, {"key", "flags.json"}}));
  EXPECT_EQ(container["envFrom"],
            (json{{{"configMapRef", {{"name", "drawing-config"}}}},
                  {{"secretRef", {{"name", "drawing-app-secrets"}}}}}));
  EXPECT_EQ(container["resources"],
            (json{{"requests", {{"cpu", "250m"}}}, {"limits", {{"memory", "1Gi"}}}}));
  // Without them, the container has none of the three fields.
  const json plain = BuildJob(JobObject(), Upgrade(obj))["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(plain.count("envFrom"), 0u);
  EXPECT_EQ(plain.count("resources"), 0u);
  EXPECT_EQ(plain["env"].size(), 2u);
}

core::SecretScrubber ScrubberFor(const std::string& url) {
  core::SecretScrubber scrubber;
  scrubber.AddDatabaseUrl(url);
  return scrubber;
}

TEST(JobLog, SecretsAreScrubbedKnownOrNot) {
  const std::string url = "postgresql://app:s3cr3t-pw@db:5432/drawing";
  const std::string log =
      "INFO  [alembic.runtime.migration] Running upgrade  -> 9bc6a98f1c12\n"
      "sqlalchemy.exc.OperationalError: connection to " +
      url +
      " failed\n"
      "retrying with postgresql://other:hunter22@replica/db\n"
      "password was s3cr3t-pw\n";
  const std::string excerpt = JobLogExcerpt(log, ScrubberFor(url));
  EXPECT_EQ(excerpt.find("s3cr3t-pw"), std::string::npos) << excerpt;
  EXPECT_EQ(excerpt.find("hunter22"), std::string::npos) << excerpt;
  EXPECT_NE(excerpt.find("Running upgrade  -> 9bc6a98f1c12"), std::string::npos);
}

// A secret across the cut must not leave a part of itself behind: the log
// is scrubbed before it is cut.
TEST(JobLog, BoundedToTheTailScrubbedBeforeTheCut) {
  const std::string secret = "0123456789abcdefghij";
  std::string log(5000, 'x');
  log += "\n" + secret + " tail line\nlast line\n";
  core::SecretScrubber scrubber;
  scrubber.AddSecret(secret);
  const std::string excerpt = JobLogExcerpt(log, scrubber, 40);
  EXPECT_LE(excerpt.size(), 40u + 6u);
  EXPECT_EQ(excerpt.rfind("[...]\n", 0), 0u) << excerpt;
  EXPECT_NE(excerpt.find("last line"), std::string::npos) << excerpt;
  for (std::size_t n = 4; n < secret.size(); ++n) {
    EXPECT_EQ(excerpt.find(secret.substr(secret.size() - n)), std::string::npos) << excerpt;
  }
}

TEST(JobLog, ControlCharactersAndBrokenUtf8AtTheCut) {
  const std::string log = "\x1b[2J\x1b[Hfake: Migrated\rok\ttab\n";
  const std::string excerpt = JobLogExcerpt(log, core::SecretScrubber{});
  EXPECT_EQ(excerpt, "?[2J?[Hfake: Migrated?ok\ttab\n");
  // "é" is two bytes; a cut inside it starts after it.
  std::string accents;
  for (int i = 0; i < 100; ++i) {
    accents += "\xc3\xa9";
  }
  const std::string cut = JobLogExcerpt(accents, core::SecretScrubber{}, 21);
  EXPECT_EQ(cut.substr(6).size() % 2, 0u);
  EXPECT_NE(static_cast<unsigned char>(cut[6]) & 0xC0, 0x80) << "starts mid-character";
}

}  // namespace
}  // namespace schemaop::reconcile
