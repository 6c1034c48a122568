// KubePortImpl (with kube::EventRecorder and kube::Informer caches behind
// NamespacedCache) against the in-process test API server (kube tier):
// optimistic concurrency on status and finalizers, Secret decoding, scale
// subresource, event aggregation, cache-served reads, reads that follow our
// own writes while a cache lags.
#include "manager/kube_port_impl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "kube/client.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "manager/manager.h"
#include "manager/object_cache.h"
#include "test_api_server.h"
#include "test_crd.h"
#include "workload_objects.h"

namespace schemaop::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

const kube::ResourceRef kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};

Json SchemaMigrationObject(const std::string& name) {
  return {{"apiVersion", "schemaop.dev/v1alpha1"},
          {"kind", "SchemaMigration"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"targetRevision", "head"},
            {"database", {{"urlSecretRef", {{"name", "db"}, {"key", "DATABASE_URL"}}}}},
            {"migrations", {{"configMapRef", {{"name", "migrations"}}}}},
            {"workloads", {{{"kind", "Deployment"}, {"name", "backend"}}}}}}};
}

Json DeploymentObject(const std::string& name, int replicas) {
  return testing::WorkloadObject("apps/v1", "Deployment", name, replicas);
}

using testing::WaitFor;

class KubePortImplTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::Options options;
    options.deployment_delay_ms = 50;
    std::string error;
    ASSERT_TRUE(server_.Start(options, &error)) << error;
    // The server authenticates tokens: this one is an admin.
    server_.AddToken("test", "kube-port-test", {"system:masters"});
    kube::Config config;
    config.server = server_.url();
    config.bearer_token = "test";
    auto client = kube::Client::Create(config);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    ASSERT_TRUE(client_->Create(kCrds, "", apiserver::SchemaMigrationTestCrd()).ok());
    ASSERT_TRUE(WaitFor([&] {
      return client_->List(kube::resources::kSchemaMigrations, "default").ok();
    }));
    auto created = client_->Create(kube::resources::kSchemaMigrations, "default",
                                   SchemaMigrationObject("drawing-db"));
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    events_ = std::make_unique<kube::EventRecorder>(*client_, "schemaop-controller", "test");
  }

  apiserver::TestApiServer server_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<kube::EventRecorder> events_;
};

TEST_F(KubePortImplTest, StatusUpdatesAreGuardedByResourceVersion) {
  KubePortImpl port(*client_, events_.get());
  auto obj = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(obj->spec.target_revision, "head");
  core::SchemaMigration stale = obj.value();

  obj->status.current_revision = "base";
  obj->status.phase = core::Phase::kPlanning;
  auto rv = port.UpdateStatus(obj.value());
  ASSERT_TRUE(rv.ok()) << rv.status().ToString();
  EXPECT_NE(rv.value(), stale.metadata.resource_version);
  auto reread = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->status.current_revision, "base");
  EXPECT_EQ(reread->status.phase, core::Phase::kPlanning);
  EXPECT_EQ(reread->spec, stale.spec);  // the status subresource leaves the spec alone

  stale.status.current_revision = "other";
  auto conflict = port.UpdateStatus(stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().code(), core::Code::kConflict);

  auto missing = port.GetSchemaMigration("default", "nope");
  EXPECT_EQ(missing.status().code(), core::Code::kNotFound);
}

TEST_F(KubePortImplTest, FinalizersAreGuardedByResourceVersion) {
  KubePortImpl port(*client_, events_.get());
  auto obj = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(obj.ok());
  core::SchemaMigration original = obj.value();
  auto added = port.AddFinalizer(original, core::kFinalizer);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  auto with = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(with.ok());
  EXPECT_TRUE(with->metadata.HasFinalizer(core::kFinalizer));
  EXPECT_EQ(with->metadata.resource_version, added.value());

  // The object changed since `original` was read: the write must not win.
  auto stale = port.RemoveFinalizer(
      [&] {
        core::SchemaMigration o = original;
        o.metadata.finalizers.push_back(core::kFinalizer);
        return o;
      }(),
      core::kFinalizer);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), core::Code::kConflict);

  auto removed = port.RemoveFinalizer(with.value(), core::kFinalizer);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  auto without = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->metadata.HasFinalizer(core::kFinalizer));
}

TEST_F(KubePortImplTest, SecretsAreDecodedAndNeverQuoted) {
  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "db"}, {"namespace", "default"}}},
                 // "postgresql://app:s3cret-pw@db:5432/app"
                 {"data", {{"DATABASE_URL", "cG9zdGdyZXNxbDovL2FwcDpzM2NyZXQtcHdAZGI6NTQzMi9hcHA="}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kSecrets, "default", secret).ok());
  KubePortImpl port(*client_, events_.get());
  auto value = port.GetSecretValue("default", "db", "DATABASE_URL");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(value.value(), "postgresql://app:s3cret-pw@db:5432/app");
  auto no_key = port.GetSecretValue("default", "db", "URL");
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.status().code(), core::Code::kNotFound);
  EXPECT_THAT(no_key.status().message(), HasSubstr("has no key 'URL'"));
  EXPECT_THAT(no_key.status().ToString(), Not(HasSubstr("s3cret")));
  auto no_secret = port.GetSecretValue("default", "absent", "DATABASE_URL");
  EXPECT_EQ(no_secret.status().code(), core::Code::kNotFound);
  EXPECT_THAT(no_secret.status().message(), HasSubstr("Secret default/absent not found"));
}

TEST_F(KubePortImplTest, ConfigMapDataAndScale) {
  Json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "migrations"}, {"namespace", "default"}}},
                     {"data", {{"a.sql", "-- revision: a\n"}, {"b.sql", "-- revision: b\n"}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kConfigMaps, "default", config_map).ok());
  ASSERT_TRUE(
      client_->Create(kube::resources::kDeployments, "default", DeploymentObject("backend", 3))
          .ok());
  KubePortImpl port(*client_, events_.get());
  auto data = port.GetConfigMapData("default", "migrations");
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->size(), 2u);
  EXPECT_EQ(data->at("b.sql"), "-- revision: b\n");
  EXPECT_EQ(port.GetConfigMapData("default", "absent").status().code(), core::Code::kNotFound);

  ASSERT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", {"Deployment", "backend"});
    return s.ok() && s->spec_replicas == 3 && s->status_replicas == 3;
  }));
  ASSERT_TRUE(port.SetReplicas("default", {"Deployment", "backend"}, 0).ok());
  auto scale = port.GetScale("default", {"Deployment", "backend"});
  ASSERT_TRUE(scale.ok());
  EXPECT_EQ(scale->spec_replicas, 0);
  EXPECT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", {"Deployment", "backend"});
    return s.ok() && s->status_replicas == 0;
  }));
  EXPECT_EQ(port.GetScale("default", {"Deployment", "absent"}).status().code(),
            core::Code::kNotFound);
  EXPECT_EQ(port.GetScale("default", {"DaemonSet", "backend"}).status().code(),
            core::Code::kInvalidArgument);
}

TEST_F(KubePortImplTest, DrainSeesTerminatingPodsAndUnobservedScaleDowns) {
  ASSERT_TRUE(
      client_->Create(kube::resources::kDeployments, "default", DeploymentObject("worker", 2))
          .ok());
  KubePortImpl port(*client_, events_.get());
  ASSERT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", {"Deployment", "worker"});
    return s.ok() && s->status_replicas == 2;
  }));

  // The workload controller has not observed the scale-down yet: its status
  // still describes the old spec, so nothing says the writers are gone.
  server_.SetControllersPaused(true);
  ASSERT_TRUE(port.SetReplicas("default", {"Deployment", "worker"}, 0).ok());
  auto unobserved = port.GetScale("default", {"Deployment", "worker"});
  ASSERT_TRUE(unobserved.ok());
  EXPECT_EQ(unobserved->spec_replicas, 0);
  EXPECT_GT(unobserved->status_replicas, 0);
  server_.SetControllersPaused(false);
  ASSERT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", {"Deployment", "worker"});
    return s.ok() && s->status_replicas == 0;
  }));

  // A writer in its termination grace period still writes: a pod of the
  // workload that is being deleted (held by a finalizer) keeps it not drained.
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", "worker-terminating"},
                {"namespace", "default"},
                {"labels", {{"app", "worker"}}},
                {"finalizers", {"example.com/grace-period"}}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kPods, "default", pod).ok());
  ASSERT_TRUE(client_->Delete(kube::resources::kPods, "default", "worker-terminating").ok());
  auto terminating = port.GetScale("default", {"Deployment", "worker"});
  ASSERT_TRUE(terminating.ok());
  EXPECT_EQ(terminating->status_replicas, 1);

  ASSERT_TRUE(client_
                  ->Patch(kube::resources::kPods, "default", "worker-terminating",
                          kube::PatchType::kMerge, Json{{"metadata", {{"finalizers", nullptr}}}})
                  .ok());
  auto gone = port.GetScale("default", {"Deployment", "worker"});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status_replicas, 0);
}

TEST_F(KubePortImplTest, RepeatedEventsAreAggregated) {
  KubePortImpl port(*client_, events_.get());
  auto obj = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(obj.ok());
  port.RecordEvent(obj.value(), reconcile::EventType::kWarning, "DatabaseUnreachable", "down");
  port.RecordEvent(obj.value(), reconcile::EventType::kWarning, "DatabaseUnreachable", "down");
  port.RecordEvent(obj.value(), reconcile::EventType::kNormal, "Planning", "planned");
  auto events = client_->List(kube::resources::kEvents, "default");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->items.size(), 2u);
  std::map<std::string, Json> by_reason;
  for (const Json& e : events->items) {
    by_reason[e.value("reason", "")] = e;
  }
  EXPECT_EQ(by_reason["DatabaseUnreachable"].value("count", 0), 2);
  EXPECT_EQ(by_reason["DatabaseUnreachable"].value("type", ""), "Warning");
  EXPECT_EQ(by_reason["DatabaseUnreachable"]["involvedObject"].value("name", ""), "drawing-db");
  EXPECT_EQ(by_reason["Planning"].value("count", 0), 1);
}

TEST_F(KubePortImplTest, SyncedInformerServesReadsWithoutRequests) {
  kube::Informer informer(*client_, kube::resources::kSchemaMigrations);
  NamespacedCache cache;
  cache.Add("", &informer);
  EXPECT_FALSE(cache.Get("default", "drawing-db").has_value());  // not synced: cannot answer
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  KubePortImpl port(*client_, events_.get(), {/*schema_migrations=*/&cache});

  server_.ResetCounters();
  auto obj = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(obj.ok());
  auto list = port.ListSchemaMigrations("default");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
  auto absent = port.GetSchemaMigration("default", "absent");
  EXPECT_EQ(absent.status().code(), core::Code::kNotFound);
  EXPECT_EQ(server_.RequestCount("get schemamigrations"), 0);
  EXPECT_EQ(server_.RequestCount("list schemamigrations"), 0);

  // A namespace-scoped cache cannot answer for other namespaces.
  NamespacedCache scoped;
  scoped.Add("drawing", &informer);
  EXPECT_FALSE(scoped.Get("default", "drawing-db").has_value());
  informer.Stop();
}

// A cache that never catches up (a watch that lags forever): the port must
// notice that the cached version is one its own writes superseded and read
// from the API server, or every second status write would conflict.
class FrozenCache final : public ObjectCache {
 public:
  explicit FrozenCache(Json object) : object_(std::move(object)) {}
  std::optional<Json> Get(const std::string&, const std::string&) const override {
    return object_;
  }
  std::optional<std::vector<Json>> List(const std::string&) const override {
    return std::vector<Json>{object_};
  }

 private:
  Json object_;
};

// A ConfigMap whose payload the informer dropped (not referenced by any
// SchemaMigration when it was cached) is read from the API server, never
// reported as "no such key".
TEST_F(KubePortImplTest, TrimmedCachedObjectsAreReadFromTheApiServer) {
  Json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "migrations"}, {"namespace", "default"}}},
                     {"data", {{"0001_a.sql", "-- revision: a"}}}};
  ASSERT_TRUE(client_->Create(kube::resources::kConfigMaps, "default", config_map).ok());
  Json trimmed_config_map = config_map;
  TrimForCache("ConfigMap", trimmed_config_map, false);
  FrozenCache config_maps(trimmed_config_map);
  KubePortImpl port(*client_, events_.get(),
                    {/*schema_migrations=*/nullptr, /*config_maps=*/&config_maps});
  server_.ResetCounters();
  auto files = port.GetConfigMapData("default", "migrations");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(files.value().at("0001_a.sql"), "-- revision: a");
  EXPECT_EQ(server_.RequestCount("get configmaps"), 1);
}

// Secrets are never cached (issue 8): every read is one GET of the named
// Secret, nothing is listed or watched, and a changed value is seen by the
// next read.
TEST_F(KubePortImplTest, SecretsAreReadWithOneGetEveryTime) {
  Json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "db"}, {"namespace", "default"}}},
                 {"data", {{"DATABASE_URL", "YQ=="}}}};  // "a"
  ASSERT_TRUE(client_->Create(kube::resources::kSecrets, "default", secret).ok());
  KubePortImpl port(*client_, events_.get(), KubePortCaches{});
  server_.ResetCounters();
  for (int i = 0; i < 3; ++i) {
    auto value = port.GetSecretValue("default", "db", "DATABASE_URL");
    ASSERT_TRUE(value.ok()) << value.status().ToString();
    EXPECT_EQ(value.value(), "a");
  }
  ASSERT_TRUE(client_
                  ->Patch(kube::resources::kSecrets, "default", "db", kube::PatchType::kMerge,
                          Json{{"data", {{"DATABASE_URL", "Yg=="}}}})
                  .ok());
  auto changed = port.GetSecretValue("default", "db", "DATABASE_URL");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed.value(), "b");
  EXPECT_EQ(server_.RequestCount("get secrets"), 4);
  EXPECT_EQ(server_.RequestCount("list secrets"), 0);
  EXPECT_EQ(server_.RequestCount("watch secrets"), 0);
}

// A ConfigMap created before the SchemaMigration that references it is
// cached trimmed and stays so while it does not change (the usual order of
// one kubectl apply). Reading it on every reconcile would cost a GET per
// object and resync; the fetched copy serves while the cache shows the same
// resourceVersion, and a change is fetched again.
TEST_F(KubePortImplTest, FetchedCopyOfATrimmedObjectServesUntilItsVersionChanges) {
  Json config_map = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "migrations"}, {"namespace", "default"}}},
                     {"data", {{"0001_a.sql", "a"}}}};
  auto created = client_->Create(kube::resources::kConfigMaps, "default", config_map);
  ASSERT_TRUE(created.ok());
  // What the informer shows: the trimmed object at its current version.
  class InformerView final : public ObjectCache {
   public:
    std::optional<Json> Get(const std::string&, const std::string&) const override {
      return object;
    }
    std::optional<std::vector<Json>> List(const std::string&) const override {
      return std::vector<Json>{object};
    }
    Json object;
  } view;
  view.object = created.value();
  TrimForCache("ConfigMap", view.object, false);
  KubePortImpl port(*client_, events_.get(),
                    {/*schema_migrations=*/nullptr, /*config_maps=*/&view});
  server_.ResetCounters();
  for (int i = 0; i < 3; ++i) {
    auto files = port.GetConfigMapData("default", "migrations");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    EXPECT_EQ(files.value().at("0001_a.sql"), "a");
  }
  EXPECT_EQ(server_.RequestCount("get configmaps"), 1);

  // Changed on the server; once the informer shows the new version, the
  // fetched copy is stale and the data is read again (once).
  auto patched = client_->Patch(kube::resources::kConfigMaps, "default", "migrations",
                                kube::PatchType::kMerge, Json{{"data", {{"0001_a.sql", "b"}}}});
  ASSERT_TRUE(patched.ok());
  view.object = patched.value();
  TrimForCache("ConfigMap", view.object, false);
  for (int i = 0; i < 2; ++i) {
    auto files = port.GetConfigMapData("default", "migrations");
    ASSERT_TRUE(files.ok());
    EXPECT_EQ(files.value().at("0001_a.sql"), "b");
  }
  EXPECT_EQ(server_.RequestCount("get configmaps"), 2);
}

// The controller's SchemaMigration cache and reference index over an
// informer of `ns` ("" = every namespace), started here; the informer is
// declared last so that it stops before what its handler writes to goes.
struct IndexedInformer {
  IndexedInformer(kube::Client& client, const std::string& ns)
      : informer(client, kube::resources::kSchemaMigrations, InNamespace(ns)) {
    kube::ResourceEventHandlers handlers;
    handlers.on_add = [this](const Json& o) { index.Set(o); };
    informer.AddHandlers(handlers);
    informer.Start();
    cache.Add(ns, &informer);
    caches.schema_migrations = &cache;
    caches.references = &index;
  }
  static kube::InformerOptions InNamespace(const std::string& ns) {
    kube::InformerOptions options;
    options.namespace_name = ns;
    return options;
  }

  ReferenceIndex index;
  NamespacedCache cache;
  KubePortCaches caches;
  kube::Informer informer;
};

// The narrow list the reconciler calls on every reconcile comes from the
// index and the cache: no list of the namespace, no request.
TEST_F(KubePortImplTest, ReferencingListUsesTheIndexAndTheCache) {
  auto other = SchemaMigrationObject("analytics-db");
  other["spec"]["database"]["urlSecretRef"]["name"] = "analytics";
  ASSERT_TRUE(client_->Create(kube::resources::kSchemaMigrations, "default", other).ok());
  IndexedInformer indexed(*client_, "default");
  ASSERT_TRUE(indexed.informer.WaitForSync(std::chrono::seconds(20)));
  KubePortImpl port(*client_, events_.get(), indexed.caches);
  server_.ResetCounters();
  auto by_secret = port.ListSchemaMigrationsReferencing("default", "Secret", "db");
  ASSERT_TRUE(by_secret.ok()) << by_secret.status().ToString();
  ASSERT_EQ(by_secret->size(), 1u);
  EXPECT_EQ((*by_secret)[0].metadata.name, "drawing-db");
  auto by_workload = port.ListSchemaMigrationsReferencing("default", "Deployment", "backend");
  ASSERT_TRUE(by_workload.ok());
  EXPECT_EQ(by_workload->size(), 2u);
  EXPECT_TRUE(port.ListSchemaMigrationsReferencing("default", "Secret", "none")->empty());
  EXPECT_EQ(server_.RequestCount("list schemamigrations"), 0);
  EXPECT_EQ(server_.RequestCount("get schemamigrations"), 0);
  indexed.informer.Stop();

  // Without an index: list and filter, same answer.
  KubePortImpl plain(*client_, events_.get());
  auto listed = plain.ListSchemaMigrationsReferencing("default", "Secret", "analytics");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].metadata.name, "analytics-db");
}

// One database, one owner: the objects that recorded one database identity
// are found in every watched namespace, from the index and the cache (no
// request), and without them by listing every namespace.
TEST_F(KubePortImplTest, DatabaseIdentityListSpansNamespacesFromTheIndexAndTheCache) {
  auto set_identity = [&](const std::string& ns, const std::string& name,
                          const std::string& identity) {
    auto got = client_->Get(kube::resources::kSchemaMigrations, ns, name);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    Json object = got.value();
    object["status"] = {{"databaseIdentity", identity}};
    auto updated = client_->UpdateStatus(kube::resources::kSchemaMigrations, ns, object);
    ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  };
  ASSERT_TRUE(client_
                  ->Create(kube::resources::kNamespaces, "",
                           {{"apiVersion", "v1"},
                            {"kind", "Namespace"},
                            {"metadata", {{"name", "analytics"}}}})
                  .ok());
  auto other = SchemaMigrationObject("reporting-db");
  other["metadata"]["namespace"] = "analytics";
  other["spec"]["database"]["urlSecretRef"]["name"] = "reporting";
  ASSERT_TRUE(client_->Create(kube::resources::kSchemaMigrations, "analytics", other).ok());
  auto unrelated = SchemaMigrationObject("unrelated-db");
  ASSERT_TRUE(client_->Create(kube::resources::kSchemaMigrations, "default", unrelated).ok());
  set_identity("default", "drawing-db", "id-1");
  set_identity("analytics", "reporting-db", "id-1");
  set_identity("default", "unrelated-db", "id-2");

  IndexedInformer indexed(*client_, "");  // all namespaces
  ASSERT_TRUE(indexed.informer.WaitForSync(std::chrono::seconds(20)));
  KubePortImpl port(*client_, events_.get(), indexed.caches);
  server_.ResetCounters();
  auto names = [](const std::vector<core::SchemaMigration>& list) {
    std::set<std::string> out;
    for (const auto& obj : list) {
      out.insert(obj.metadata.namespace_ + "/" + obj.metadata.name);
    }
    return out;
  };
  auto same = port.ListSchemaMigrationsByDatabaseIdentity("id-1");
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(names(*same), (std::set<std::string>{"analytics/reporting-db", "default/drawing-db"}));
  EXPECT_TRUE(port.ListSchemaMigrationsByDatabaseIdentity("id-3")->empty());
  EXPECT_EQ(server_.RequestCount("list schemamigrations"), 0);
  EXPECT_EQ(server_.RequestCount("get schemamigrations"), 0);
  indexed.informer.Stop();

  KubePortImpl plain(*client_, events_.get());
  auto listed = plain.ListSchemaMigrationsByDatabaseIdentity("id-1");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(names(*listed),
            (std::set<std::string>{"analytics/reporting-db", "default/drawing-db"}));
}

TEST_F(KubePortImplTest, ReadsFollowOurOwnWritesWhileTheCacheLags) {
  auto snapshot = client_->Get(kube::resources::kSchemaMigrations, "default", "drawing-db");
  ASSERT_TRUE(snapshot.ok());
  FrozenCache frozen(snapshot.value());
  KubePortImpl port(*client_, events_.get(), {/*schema_migrations=*/&frozen});

  server_.ResetCounters();
  ASSERT_TRUE(port.GetSchemaMigration("default", "drawing-db").ok());
  EXPECT_EQ(server_.RequestCount("get schemamigrations"), 0);  // served by the cache

  for (int i = 0; i < 5; ++i) {
    auto current = port.GetSchemaMigration("default", "drawing-db");
    ASSERT_TRUE(current.ok());
    current->status.current_revision = "rev" + std::to_string(i);
    auto rv = port.UpdateStatus(current.value());
    ASSERT_TRUE(rv.ok()) << "write " << i << ": " << rv.status().ToString();
  }
  auto latest = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->status.current_revision, "rev4");
}

TEST_F(KubePortImplTest, AConflictForcesOneLiveRead) {
  auto snapshot = client_->Get(kube::resources::kSchemaMigrations, "default", "drawing-db");
  ASSERT_TRUE(snapshot.ok());
  FrozenCache frozen(snapshot.value());
  KubePortImpl port(*client_, events_.get(), {/*schema_migrations=*/&frozen});
  // Someone else writes: the cache does not know.
  Json other = snapshot.value();
  other["status"] = {{"currentRevision", "theirs"}};
  ASSERT_TRUE(client_->UpdateStatus(kube::resources::kSchemaMigrations, "default", other).ok());

  auto stale = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(stale.ok());
  auto conflict = port.UpdateStatus(stale.value());
  ASSERT_EQ(conflict.status().code(), core::Code::kConflict);
  auto fresh = port.GetSchemaMigration("default", "drawing-db");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->status.current_revision, "theirs");
  fresh->status.current_revision = "ours";
  auto rv = port.UpdateStatus(fresh.value());
  EXPECT_TRUE(rv.ok()) << rv.status().ToString();
}

}  // namespace
}  // namespace schemaop::manager
