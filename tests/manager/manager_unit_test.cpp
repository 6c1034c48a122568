// Unit tests of the pure parts of the manager layer: metrics text, command
// flags and environment twins, bind addresses, reference lookup, base64,
// engine targets and the JSON log line. No I/O.
#include <CLI/CLI.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/revision_graph.h"
#include "kube/informer.h"
#include "manager/controller_config.h"
#include "manager/database_port_impl.h"
#include "manager/http_server.h"
#include "manager/kube_port_impl.h"
#include "manager/logging.h"
#include "manager/manager.h"
#include "manager/prometheus_metrics.h"
#include "reconcile/ports.h"
#include "reconcile/schema_migration_json.h"

namespace schemaop::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// ------------------------------------------------------------------ metrics

TEST(PrometheusMetricsTest, SerializesEverySeriesWithItsLabels) {
  PrometheusMetrics metrics;
  metrics.CountReconcile("success");
  metrics.CountReconcile("success");
  metrics.CountReconcile("retry");
  metrics.CountRun("Succeeded");
  metrics.ObserveMigrationSeconds(1.5);
  metrics.ObserveDowntimeSeconds(7);
  metrics.ObserveReconcileSeconds(0.02);
  metrics.SetWorkQueueDepth(3);
  metrics.SetCurrentRevision("drawing", "drawing-db", "seed_default_schemas");
  const std::string text = metrics.Serialize();
  EXPECT_THAT(text, HasSubstr("schemaop_reconcile_total{result=\"success\"} 2"));
  EXPECT_THAT(text, HasSubstr("schemaop_reconcile_total{result=\"retry\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_runs_total{outcome=\"Succeeded\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_migration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_migration_seconds_sum 1.5"));
  EXPECT_THAT(text, HasSubstr("schemaop_downtime_seconds_sum 7"));
  EXPECT_THAT(text, HasSubstr("schemaop_reconcile_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_workqueue_depth 3"));
  EXPECT_THAT(text, HasSubstr("schemaop_current_revision_info{name=\"drawing-db\",namespace="
                              "\"drawing\",revision=\"seed_default_schemas\"} 1"));
  EXPECT_THAT(text, HasSubstr("# TYPE schemaop_downtime_seconds histogram"));
}

TEST(PrometheusMetricsTest, RevisionChangeReplacesTheObjectsSeries) {
  PrometheusMetrics metrics;
  metrics.SetCurrentRevision("drawing", "drawing-db", "add_flexible_schemas");
  metrics.SetCurrentRevision("drawing", "drawing-db", "seed_default_schemas");
  metrics.SetCurrentRevision("other", "db", "base");
  std::string text = metrics.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("add_flexible_schemas")));
  EXPECT_THAT(text, HasSubstr("revision=\"seed_default_schemas\"} 1"));
  EXPECT_THAT(text, HasSubstr("namespace=\"other\",revision=\"base\"} 1"));
  metrics.ForgetObject("drawing", "drawing-db");
  text = metrics.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("seed_default_schemas")));
  EXPECT_THAT(text, HasSubstr("namespace=\"other\""));
}

// -------------------------------------------------------------- flags / env

class ControllerFlagsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* name : {"SCHEMAOP_WORKERS", "SCHEMAOP_NAMESPACES", "SCHEMAOP_LEADER_ELECT",
                             "SCHEMAOP_METRICS_BIND_ADDRESS", "KUBECONFIG"}) {
      unsetenv(name);
    }
  }
  // Parses `args` as `schemaop controller ARGS`.
  ControllerFlags Parse(std::vector<std::string> args) {
    CLI::App app;
    CLI::App* command = app.add_subcommand("controller");
    ControllerFlags flags;
    AddControllerFlags(*command, flags);
    args.insert(args.begin(), "controller");
    std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
    app.parse(args);
    return flags;
  }
  static std::string NoEnv(const std::string&) { return ""; }
};

TEST_F(ControllerFlagsTest, DefaultsMatchTheDocumentation) {
  auto config = ResolveControllerFlags(Parse({}), NoEnv, "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const ManagerOptions& m = config->manager;
  EXPECT_TRUE(m.namespaces.empty());
  EXPECT_EQ(m.workers, 2);
  EXPECT_FALSE(m.leader_elect);
  EXPECT_EQ(m.leader_election.lease_name, "schemaop-leader");
  EXPECT_EQ(m.leader_election.lease_namespace, "schemaop-system");
  ASSERT_TRUE(m.metrics_address.has_value());
  EXPECT_EQ(m.metrics_address->port, 8080);
  EXPECT_EQ(m.metrics_address->host, "0.0.0.0");
  ASSERT_TRUE(m.probe_address.has_value());
  EXPECT_EQ(m.probe_address->port, 8081);
  EXPECT_EQ(m.resync_period, std::chrono::minutes(10));
  EXPECT_EQ(m.database.backup_retention, 5);
  EXPECT_EQ(config->log_format, "text");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_THAT(m.identity, HasSubstr("_"));
  EXPECT_EQ(m.leader_election.identity, m.identity);
}

TEST_F(ControllerFlagsTest, FlagsAreParsed) {
  auto config = ResolveControllerFlags(
      Parse({"--namespaces", "drawing, billing,drawing", "--workers", "4", "--leader-elect",
             "--leader-election-id", "my-lease", "--leader-election-namespace", "ops",
             "--metrics-bind-address", "0", "--health-probe-bind-address", "127.0.0.1:9000",
             "--log-format", "json", "--log-level", "debug", "--resync-period", "1m30s",
             "--identity", "me", "--backup-dir", "/backups", "--pg-bin-dir", "/pg/bin",
             "--backup-retention", "2"}),
      NoEnv, "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const ManagerOptions& m = config->manager;
  EXPECT_EQ(m.namespaces, (std::vector<std::string>{"drawing", "billing"}));
  EXPECT_EQ(m.workers, 4);
  EXPECT_TRUE(m.leader_elect);
  EXPECT_EQ(m.leader_election.lease_name, "my-lease");
  EXPECT_EQ(m.leader_election.lease_namespace, "ops");
  EXPECT_FALSE(m.metrics_address.has_value());
  ASSERT_TRUE(m.probe_address.has_value());
  EXPECT_EQ(m.probe_address->host, "127.0.0.1");
  EXPECT_EQ(m.probe_address->port, 9000);
  EXPECT_EQ(config->log_format, "json");
  EXPECT_EQ(m.resync_period, std::chrono::seconds(90));
  EXPECT_EQ(m.identity, "me");
  EXPECT_EQ(m.database.backup_dir, "/backups");
  EXPECT_EQ(m.database.pg_bin_dir, "/pg/bin");
  EXPECT_EQ(m.database.backup_retention, 2);
}

TEST_F(ControllerFlagsTest, EnvironmentTwinsApplyAndFlagsWin) {
  setenv("SCHEMAOP_WORKERS", "7", 1);
  setenv("SCHEMAOP_NAMESPACES", "a,b", 1);
  setenv("SCHEMAOP_LEADER_ELECT", "true", 1);
  setenv("SCHEMAOP_METRICS_BIND_ADDRESS", ":9100", 1);
  auto from_env = ResolveControllerFlags(Parse({}), NoEnv, "/nonexistent");
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->manager.workers, 7);
  EXPECT_EQ(from_env->manager.namespaces, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(from_env->manager.leader_elect);
  EXPECT_EQ(from_env->manager.metrics_address->port, 9100);
  auto flag_wins = ResolveControllerFlags(Parse({"--workers", "3"}), NoEnv, "/nonexistent");
  ASSERT_TRUE(flag_wins.ok());
  EXPECT_EQ(flag_wins->manager.workers, 3);
}

TEST_F(ControllerFlagsTest, PodEnvironmentGivesLeaseNamespaceAndIdentity) {
  std::map<std::string, std::string> env{{"POD_NAMESPACE", "schemaop-prod"},
                                         {"POD_NAME", "schemaop-controller-abc"}};
  auto config = ResolveControllerFlags(
      Parse({}), [&](const std::string& name) { return env[name]; }, "/nonexistent");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->manager.leader_election.lease_namespace, "schemaop-prod");
  EXPECT_THAT(config->manager.identity, ::testing::StartsWith("schemaop-controller-abc_"));
}

TEST_F(ControllerFlagsTest, BadValuesNameTheFlagAndTheFix) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--workers", "0"}, "--workers (or SCHEMAOP_WORKERS)"},
      {{"--namespaces", "Drawing"}, "--namespaces (or SCHEMAOP_NAMESPACES): 'Drawing'"},
      {{"--log-format", "xml"}, "--log-format (or SCHEMAOP_LOG_FORMAT) must be text or json"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--metrics-bind-address", "localhost:http"}, "--metrics-bind-address"},
      {{"--resync-period", "ten minutes"}, "--resync-period (or SCHEMAOP_RESYNC_PERIOD)"},
      {{"--lease-duration", "5s", "--renew-deadline", "10s"}, "--lease-duration > --renew"},
      {{"--backup-dir", ""}, "--backup-dir"},
  };
  for (const Case& c : cases) {
    auto config = ResolveControllerFlags(Parse(c.args), NoEnv, "/nonexistent");
    ASSERT_FALSE(config.ok()) << c.args[0];
    EXPECT_EQ(config.status().code(), core::Code::kInvalidArgument);
    EXPECT_THAT(config.status().message(), HasSubstr(c.expected));
  }
}

// Issue 11: durations take a unit on every flag and its environment twin;
// a bare number is an error that names the flag, the value and an example.
TEST_F(ControllerFlagsTest, DurationsNeedAUnitOnFlagsAndEnvironmentTwins) {
  for (const char* flag : {"--lease-duration", "--renew-deadline", "--retry-period",
                           "--resync-period"}) {
    auto config = ResolveControllerFlags(Parse({flag, "15"}), NoEnv, "/nonexistent");
    ASSERT_FALSE(config.ok()) << flag;
    EXPECT_EQ(config.status().code(), core::Code::kInvalidArgument);
    EXPECT_THAT(config.status().message(), HasSubstr(std::string(flag) + " (or SCHEMAOP_"));
    EXPECT_THAT(config.status().message(), HasSubstr(": \"15\" needs a unit, e.g. 15s"));
  }
  for (const char* bad : {"-1s", "1e9s", "10sx", "", "1.5s", "99999999999999999999h"}) {
    auto config = ResolveControllerFlags(Parse({"--resync-period", bad}), NoEnv, "/nonexistent");
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_THAT(config.status().message(),
                HasSubstr("--resync-period (or SCHEMAOP_RESYNC_PERIOD): \"" + std::string(bad)));
  }
  setenv("SCHEMAOP_RESYNC_PERIOD", "600", 1);
  auto from_env = ResolveControllerFlags(Parse({}), NoEnv, "/nonexistent");
  unsetenv("SCHEMAOP_RESYNC_PERIOD");
  ASSERT_FALSE(from_env.ok());
  EXPECT_THAT(from_env.status().message(),
              HasSubstr("(or SCHEMAOP_RESYNC_PERIOD): \"600\" needs a unit, e.g. 600s"));
  auto combined = ResolveControllerFlags(
      Parse({"--resync-period", "1h30m", "--lease-duration", "1m", "--renew-deadline", "40s",
             "--retry-period", "500ms"}),
      NoEnv, "/nonexistent");
  ASSERT_TRUE(combined.ok()) << combined.status().ToString();
  EXPECT_EQ(combined->manager.resync_period, std::chrono::minutes(90));
  EXPECT_EQ(combined->manager.leader_election.lease_duration, std::chrono::minutes(1));
  EXPECT_EQ(combined->manager.leader_election.retry_period, std::chrono::milliseconds(500));
}

TEST_F(ControllerFlagsTest, LogFormatAndLevelTakeAnyCase) {
  auto config =
      ResolveControllerFlags(Parse({"--log-format", "JSON", "--log-level", "Debug"}), NoEnv,
                             "/nonexistent");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->log_format, "json");
  EXPECT_EQ(config->log_level, "debug");
}

TEST(RejectLocalModeFlagsTest, NamesTheFlagAndWhereTheOperatorTakesIt) {
  EXPECT_TRUE(RejectLocalModeFlags({}).ok());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--database", "spec.database.urlSecretRef"},
      {"--migrations", "spec.migrations.configMapRef"},
      {"--backup", "spec.backup.when"},
      {"--lock-timeout", "spec.lockTimeout"},
      {"--statement-timeout", "spec.statementTimeout"},
      {"--check", "spec.verify.checks"},
      {"--allow-schema-drift", "spec.verify.schema: Ignore"},
      {"--version-table", "spec.database.versionTable"},
      {"--backup-dir", "its own --backup-dir, given after \"controller\""},
      {"--lock-wait", "requeues"},
  };
  for (const auto& [flag, instead] : cases) {
    core::Status status = RejectLocalModeFlags({flag, "--quiet"});
    ASSERT_FALSE(status.ok()) << flag;
    EXPECT_EQ(status.code(), core::Code::kInvalidArgument);
    EXPECT_THAT(status.message(),
                ::testing::StartsWith(flag + " is an option of the local commands"));
    EXPECT_THAT(status.message(), HasSubstr("not of \"schemaop controller\""));
    EXPECT_THAT(status.message(), HasSubstr(instead));
  }
}

// --------------------------------------------------------- bind addresses

TEST(ParseBindAddressTest, AcceptsTheUsualForms) {
  auto any = ParseBindAddress(":8080");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 8080);
  auto local = ParseBindAddress("127.0.0.1:0");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->host, "127.0.0.1");
  EXPECT_EQ(local->port, 0);
  auto v6 = ParseBindAddress("[::1]:9090");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9090);
  for (const char* bad : {"", "host:", ":99999", "[::1]9090", "a:b", "0"}) {
    EXPECT_FALSE(ParseBindAddress(bad).ok()) << bad;
  }
}

// ------------------------------------------------------------- references

Json SchemaMigrationJson(const std::string& name, const std::string& secret,
                         const std::string& config_map, const Json& workloads) {
  return Json{{"metadata", {{"namespace", "drawing"}, {"name", name}}},
              {"spec",
               {{"database", {{"urlSecretRef", {{"name", secret}, {"key", "DATABASE_URL"}}}}},
                {"migrations", {{"configMapRef", {{"name", config_map}}}}},
                {"workloads", workloads}}}};
}

TEST(SchemaMigrationsReferencingTest, FindsReferencesThroughSpecAndStatus) {
  Json a = SchemaMigrationJson("a", "db-a", "migrations", Json::array({
      {{"kind", "Deployment"}, {"name", "backend"}},
      {{"name", "celery-worker"}}}));  // kind defaults to Deployment
  Json b = SchemaMigrationJson("b", "db-b", "migrations",
                               Json::array({{{"kind", "StatefulSet"}, {"name", "backend"}}}));
  // A workload removed from the spec during a run is still restored from status.
  b["status"]["workloads"] = Json::array({{{"kind", "Deployment"}, {"name", "old-writer"}}});
  const std::vector<Json> all{a, b};
  EXPECT_EQ(SchemaMigrationsReferencing(all, "Secret", "db-a"),
            (std::vector<std::string>{"drawing/a"}));
  EXPECT_EQ(SchemaMigrationsReferencing(all, "ConfigMap", "migrations"),
            (std::vector<std::string>{"drawing/a", "drawing/b"}));
  EXPECT_EQ(SchemaMigrationsReferencing(all, "Deployment", "backend"),
            (std::vector<std::string>{"drawing/a"}));
  EXPECT_EQ(SchemaMigrationsReferencing(all, "Deployment", "celery-worker"),
            (std::vector<std::string>{"drawing/a"}));
  EXPECT_EQ(SchemaMigrationsReferencing(all, "StatefulSet", "backend"),
            (std::vector<std::string>{"drawing/b"}));
  EXPECT_EQ(SchemaMigrationsReferencing(all, "Deployment", "old-writer"),
            (std::vector<std::string>{"drawing/b"}));
  EXPECT_TRUE(SchemaMigrationsReferencing(all, "Secret", "unrelated").empty());
  // One rule (issue 11): the caches' answer over JSON is the reconciler's
  // reconcile::ReferencesObject over the decoded object, probe by probe.
  for (const Json& sm : all) {
    auto decoded = reconcile::SchemaMigrationFromJson(sm);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    for (const auto& [kind, name] : std::vector<std::pair<std::string, std::string>>{
             {"Secret", "db-a"}, {"Secret", "db-b"}, {"ConfigMap", "migrations"},
             {"ConfigMap", "db-a"}, {"Deployment", "backend"}, {"StatefulSet", "backend"},
             {"Deployment", "celery-worker"}, {"StatefulSet", "celery-worker"},
             {"Deployment", "old-writer"}, {"Secret", "unrelated"}}) {
      const bool listed = !SchemaMigrationsReferencing({sm}, kind, name).empty();
      EXPECT_EQ(listed, reconcile::ReferencesObject(decoded.value(), kind, name))
          << kube::KeyOf(sm) << " " << kind << "/" << name;
    }
  }
  // An object that does not decode references nothing (its own edit
  // reconciles it).
  Json broken = a;
  broken["spec"]["workloads"] = "not a list";
  EXPECT_TRUE(SchemaMigrationsReferencing({broken}, "Secret", "db-a").empty());
}

// The index the watch handlers use instead of scanning every
// SchemaMigration of a namespace: same answers as SchemaMigrationsReferencing,
// and it follows spec changes and deletions.
TEST(ReferenceIndexTest, AgreesWithTheScanAndFollowsChanges) {
  Json a = SchemaMigrationJson(
      "a", "db-a", "migrations",
      Json::array({{{"kind", "Deployment"}, {"name", "backend"}}, {{"name", "celery-worker"}}}));
  Json b = SchemaMigrationJson("b", "db-b", "migrations",
                               Json::array({{{"kind", "StatefulSet"}, {"name", "backend"}}}));
  b["status"]["workloads"] = Json::array({{{"kind", "Deployment"}, {"name", "old-writer"}}});
  ReferenceIndex index;
  index.Set(a);
  index.Set(b);
  const std::vector<Json> all{a, b};
  for (const auto& [kind, name] :
       std::vector<std::pair<std::string, std::string>>{{"Secret", "db-a"},
                                                        {"Secret", "db-b"},
                                                        {"ConfigMap", "migrations"},
                                                        {"Deployment", "backend"},
                                                        {"Deployment", "celery-worker"},
                                                        {"StatefulSet", "backend"},
                                                        {"Deployment", "old-writer"},
                                                        {"Secret", "unrelated"}}) {
    EXPECT_EQ(index.Referencing(kind, "drawing", name),
              SchemaMigrationsReferencing(all, kind, name))
        << kind << " " << name;
  }
  EXPECT_TRUE(index.Referencing("Secret", "other-namespace", "db-a").empty());
  a["spec"]["database"]["urlSecretRef"]["name"] = "db-a2";  // a spec edit
  index.Set(a);
  EXPECT_TRUE(index.Referencing("Secret", "drawing", "db-a").empty());
  EXPECT_EQ(index.Referencing("Secret", "drawing", "db-a2"),
            (std::vector<std::string>{"drawing/a"}));
  index.Remove("drawing/b");
  EXPECT_EQ(index.Referencing("ConfigMap", "drawing", "migrations"),
            (std::vector<std::string>{"drawing/a"}));
  EXPECT_TRUE(index.Referencing("StatefulSet", "drawing", "backend").empty());
}

// One database, one owner: the index files status.databaseIdentity
// cluster-wide, so objects in different namespaces (and with different
// Secrets) that reach one database are found together.
TEST(ReferenceIndexTest, FindsObjectsOfOneDatabaseAcrossNamespaces) {
  Json a = SchemaMigrationJson("a", "db-a", "migrations", Json::array());
  Json b = SchemaMigrationJson("b", "db-b", "migrations", Json::array());
  b["metadata"]["namespace"] = "analytics";
  Json c = SchemaMigrationJson("c", "db-c", "migrations", Json::array());
  a["status"]["databaseIdentity"] = "id-1";
  b["status"]["databaseIdentity"] = "id-1";
  c["status"]["databaseIdentity"] = "id-2";
  ReferenceIndex index;
  index.Set(a);
  index.Set(b);
  index.Set(c);
  EXPECT_EQ(index.Referencing(kDatabaseIdentityKind, "", "id-1"),
            (std::vector<std::string>{"analytics/b", "drawing/a"}));
  EXPECT_EQ(index.Referencing(kDatabaseIdentityKind, "", "id-2"),
            (std::vector<std::string>{"drawing/c"}));
  b["status"]["databaseIdentity"] = "id-2";  // pointed at another database
  index.Set(b);
  EXPECT_EQ(index.Referencing(kDatabaseIdentityKind, "", "id-1"),
            (std::vector<std::string>{"drawing/a"}));
  index.Remove("drawing/c");
  EXPECT_EQ(index.Referencing(kDatabaseIdentityKind, "", "id-2"),
            (std::vector<std::string>{"analytics/b"}));
  EXPECT_TRUE(index.Referencing("Secret", "drawing", "id-1").empty());
}

TEST(TrimForCacheTest, KeepsOnlyWhatTheControllerReads) {
  const Json managed = Json::array({{{"manager", "kubectl"}, {"fieldsV1", {{"f:data", {}}}}}});
  Json secret = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", "helm-release"},
        {"namespace", "drawing"},
        {"resourceVersion", "7"},
        {"managedFields", managed},
        {"annotations", {{"kubectl.kubernetes.io/last-applied-configuration", "{...}"}}}}},
      {"data", {{"release", "aGVsbQ=="}}}};
  Json unrelated = secret;
  TrimForCache("Secret", unrelated, false);
  EXPECT_FALSE(unrelated.contains("data"));
  EXPECT_EQ(unrelated.value(kTrimmedCacheField, false), true);
  EXPECT_EQ(unrelated["metadata"]["resourceVersion"], "7");
  EXPECT_EQ(unrelated["metadata"]["name"], "helm-release");
  EXPECT_FALSE(unrelated["metadata"].contains("managedFields"));
  EXPECT_FALSE(unrelated["metadata"].contains("annotations"));

  Json referenced = secret;
  TrimForCache("Secret", referenced, true);
  EXPECT_EQ(referenced["data"]["release"], "aGVsbQ==");
  EXPECT_FALSE(referenced.contains(kTrimmedCacheField));
  EXPECT_FALSE(referenced["metadata"].contains("managedFields"));

  Json config_map = {{"metadata", {{"name", "m"}, {"namespace", "drawing"}}},
                     {"data", {{"0001.sql", "SELECT 1;"}}},
                     {"binaryData", {{"x", "AA=="}}}};
  TrimForCache("ConfigMap", config_map, false);
  EXPECT_FALSE(config_map.contains("data"));
  EXPECT_FALSE(config_map.contains("binaryData"));
  EXPECT_TRUE(config_map.contains(kTrimmedCacheField));

  Json deployment = {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata",
                      {{"name", "backend"},
                       {"namespace", "drawing"},
                       {"uid", "u1"},
                       {"resourceVersion", "9"},
                       {"labels", {{"app", "backend"}}},
                       {"managedFields", managed}}},
                     {"spec", {{"replicas", 3}, {"template", {{"spec", Json::object()}}}}},
                     {"status", {{"replicas", 3}}}};
  TrimForCache("Deployment", deployment, true);
  EXPECT_EQ(deployment, (Json{{"apiVersion", "apps/v1"},
                              {"kind", "Deployment"},
                              {"metadata",
                               {{"name", "backend"},
                                {"namespace", "drawing"},
                                {"uid", "u1"},
                                {"resourceVersion", "9"}}}}));

  Json sm = SchemaMigrationJson("a", "db-a", "migrations", Json::array());
  sm["metadata"]["managedFields"] = managed;
  sm["status"] = {{"phase", "Succeeded"}};
  Json expected = SchemaMigrationJson("a", "db-a", "migrations", Json::array());
  expected["status"] = {{"phase", "Succeeded"}};
  TrimForCache("SchemaMigration", sm, true);
  EXPECT_EQ(sm, expected);
}

TEST(IsStatusOnlyChangeTest, IgnoresOnlyStatusAndBookkeeping) {
  Json before = SchemaMigrationJson("a", "db", "m", Json::array());
  before["metadata"]["resourceVersion"] = "1";
  before["metadata"]["generation"] = 1;
  Json status_only = before;
  status_only["metadata"]["resourceVersion"] = "2";
  status_only["status"] = {{"phase", "Succeeded"}};
  EXPECT_TRUE(IsStatusOnlyChange(before, status_only));
  Json spec_change = status_only;
  spec_change["spec"]["targetRevision"] = "x";
  spec_change["metadata"]["generation"] = 2;
  EXPECT_FALSE(IsStatusOnlyChange(before, spec_change));
  Json deleting = before;
  deleting["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  EXPECT_FALSE(IsStatusOnlyChange(before, deleting));
}

// ----------------------------------------------------------------- base64

TEST(DecodeBase64Test, DecodesSecretData) {
  EXPECT_EQ(DecodeBase64("cG9zdGdyZXNxbDovL3U6cEBoL2Q=").value(), "postgresql://u:p@h/d");
  EXPECT_EQ(DecodeBase64("YQ==").value(), "a");
  EXPECT_EQ(DecodeBase64("YWI=").value(), "ab");
  EXPECT_EQ(DecodeBase64("YWJj").value(), "abc");
  EXPECT_EQ(DecodeBase64("YW\nJj").value(), "abc");
  EXPECT_EQ(DecodeBase64("").value(), "");
  EXPECT_FALSE(DecodeBase64("YW*j").has_value());
  EXPECT_FALSE(DecodeBase64("Y").has_value());
  EXPECT_FALSE(DecodeBase64("YQ==YQ").has_value());
}

// Discovery answers (design §6.3, any scalable kind): the resource of a kind
// with a scale subresource, or an error naming the kind and the fix.
TEST(FindScalableResourceTest, FindsTheKindsScaleSubresource) {
  const Json list = {
      {"kind", "APIResourceList"},
      {"groupVersion", "argoproj.io/v1alpha1"},
      {"resources",
       {{{"name", "rollouts"}, {"namespaced", true}, {"kind", "Rollout"}},
        {{"name", "rollouts/status"}, {"namespaced", true}, {"kind", "Rollout"}},
        {{"name", "rollouts/scale"}, {"namespaced", true}, {"kind", "Scale"},
         {"group", "autoscaling"}, {"version", "v1"}},
        {{"name", "analysisruns"}, {"namespaced", true}, {"kind", "AnalysisRun"}},
        {{"name", "clusteranalysistemplates"}, {"namespaced", false},
         {"kind", "ClusterAnalysisTemplate"}}}}};
  auto rollout = FindScalableResource(list, "argoproj.io/v1alpha1", "Rollout");
  ASSERT_TRUE(rollout.ok()) << rollout.status().message();
  EXPECT_EQ(rollout->group, "argoproj.io");
  EXPECT_EQ(rollout->version, "v1alpha1");
  EXPECT_EQ(rollout->resource, "rollouts");
  EXPECT_TRUE(rollout->namespaced);

  auto no_scale = FindScalableResource(list, "argoproj.io/v1alpha1", "AnalysisRun");
  EXPECT_EQ(no_scale.status().code(), core::Code::kInvalidArgument);
  EXPECT_NE(no_scale.status().message().find("AnalysisRun"), std::string::npos);
  EXPECT_NE(no_scale.status().message().find("no scale subresource"), std::string::npos);
  EXPECT_NE(no_scale.status().message().find("subresources.scale"), std::string::npos);

  auto unknown = FindScalableResource(list, "argoproj.io/v1alpha1", "Rolout");
  EXPECT_EQ(unknown.status().code(), core::Code::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("serves no kind Rolout"), std::string::npos);
  // "Scale" is the kind of the subresource entry, never a workload.
  EXPECT_EQ(FindScalableResource(list, "argoproj.io/v1alpha1", "Scale").status().code(),
            core::Code::kInvalidArgument);
  auto cluster = FindScalableResource(list, "argoproj.io/v1alpha1", "ClusterAnalysisTemplate");
  EXPECT_NE(cluster.status().message().find("cluster-scoped"), std::string::npos);
  EXPECT_EQ(FindScalableResource(Json::object(), "v1", "ReplicationController").status().code(),
            core::Code::kInvalidArgument);

  const Json core_v1 = {
      {"resources",
       {{{"name", "replicationcontrollers"}, {"namespaced", true},
         {"kind", "ReplicationController"}},
        {{"name", "replicationcontrollers/scale"}, {"namespaced", true}, {"kind", "Scale"}}}}};
  auto rc = FindScalableResource(core_v1, "v1", "ReplicationController");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->group, "");
  EXPECT_EQ(rc->GroupVersionPath(), "/api/v1");
}

TEST(FindScalableResourceTest, BuiltinWorkloadsAreDeploymentsAndStatefulSets) {
  EXPECT_TRUE(IsBuiltinWorkload(kube::resources::kDeployments));
  EXPECT_TRUE(IsBuiltinWorkload(kube::resources::kStatefulSets));
  EXPECT_FALSE(IsBuiltinWorkload(kube::ResourceRef{"argoproj.io", "v1alpha1", "rollouts", true}));
}

// ----------------------------------------------------------- engine target

TEST(TargetForVersionsTest, ExpressesAbsoluteVersionSets) {
  std::vector<core::RevisionNode> nodes(3);
  nodes[0].id = "base1";
  nodes[1].id = "left";
  nodes[1].parents = {"base1"};
  nodes[2].id = "right";
  nodes[2].parents = {"base1"};
  auto graph = core::RevisionGraph::Build(nodes);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ(TargetForVersions(*graph, {}).value(), "base");
  EXPECT_EQ(TargetForVersions(*graph, {"left"}).value(), "left");
  EXPECT_EQ(TargetForVersions(*graph, {"right", "left"}).value(), "heads");
  auto partial = TargetForVersions(*graph, {"base1", "left"});
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.status().code(), core::Code::kInvalidArgument);
}

// ---------------------------------------------------------------- logging

TEST(JsonLogLineTest, IsOneJsonObjectWithTheObjectsName) {
  const std::string line =
      FormatJsonLogLine("info", "said \"hi\"\n", "drawing", "drawing-db", "2024-01-01T00:00:00Z");
  const Json parsed = Json::parse(line);
  EXPECT_EQ(parsed["msg"], "said \"hi\"\n");
  EXPECT_EQ(parsed["namespace"], "drawing");
  EXPECT_EQ(parsed["name"], "drawing-db");
  EXPECT_EQ(parsed["level"], "info");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const Json no_object = Json::parse(FormatJsonLogLine("warn", "x", "", "", "t"));
  EXPECT_FALSE(no_object.contains("name"));
}

// Issue 8: every log line is scrubbed, also of what a caller forgot to
// redact: any URL's password structurally, and registered secrets anywhere.
TEST(LogScrubTest, EveryLineLosesUrlsPasswordsAndRegisteredSecrets) {
  EXPECT_EQ(ScrubLogMessage("connect to postgresql://app:hunter22@db/x failed"),
            "connect to postgresql://app:***@db/x failed");
  EXPECT_EQ(ScrubLogMessage("dsn host=db password='a b' dbname=x"), "dsn host=db password=*** dbname=x");
  const std::string before = ScrubLogMessage("exception: auth failed for k9 and Qx7-long-secret");
  EXPECT_NE(before.find("Qx7-long-secret"), std::string::npos);  // not registered yet
  RegisterLogSecrets("postgresql://app:Qx7-long-secret@db/x?sslpassword=k9");
  const std::string after = ScrubLogMessage("exception: auth failed for k9 and Qx7-long-secret");
  EXPECT_EQ(after.find("Qx7-long-secret"), std::string::npos) << after;
  EXPECT_EQ(after.find(" k9 "), std::string::npos) << after;
}

}  // namespace
}  // namespace schemaop::manager
