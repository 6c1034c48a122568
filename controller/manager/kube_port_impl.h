#pragma once
// reconcile::KubePort over the kube client, with reads served from informer
// caches where one covers the object (a no-op reconcile then costs no API
// request apart from the workloads' scale reads and the Secret read, and
// writes nothing).
//
// Secrets are never cached (issue 8): GetSecretValue GETs the one named
// Secret from the API server on every call and keeps no copy, so the
// controller needs only `get` on Secrets, holds no Secret it is not using
// right now, and always sees the current value.
//
// Cache staleness: a cache may lag behind our own writes. The port remembers
// the resourceVersion each of its status/finalizer writes superseded and
// reads the object from the API server while the cache still shows that
// version, and after a conflict; otherwise the reconciler would spin through
// its conflict retries on a cache that has not caught up.
//
// Scale reads always go to the API server: draining decides "the pods are
// gone" from status.replicas, and a lagging cache must never make that
// decision early.
//
// Thread-safe: one instance is shared by all workers.
#include <map>
#include <mutex>
#include <string>

#include "kube/client.h"
#include "kube/events.h"
#include "manager/object_cache.h"
#include "manager/scale_targets.h"
#include "reconcile/ports.h"

namespace schemaop::manager {

class ReferenceIndex;  // references.h

struct KubePortCaches {
  const ObjectCache* schema_migrations = nullptr;  // null: always the API server
  const ObjectCache* config_maps = nullptr;
  // Answers ListSchemaMigrationsReferencing and
  // ListSchemaMigrationsByDatabaseIdentity without listing (null: list and
  // filter). Kept by the SchemaMigration informer.
  const ReferenceIndex* references = nullptr;
};

// Standard base64 (RFC 4648, padding optional, whitespace ignored), as in a
// Secret's data. nullopt when `text` is not valid base64.
std::optional<std::string> DecodeBase64(const std::string& text);

class KubePortImpl final : public reconcile::KubePort {
 public:
  // `client` and `events` (may be null: events dropped) must outlive the port.
  KubePortImpl(kube::Client& client, kube::EventRecorder* events, KubePortCaches caches = {});

  core::Result<core::SchemaMigration> GetSchemaMigration(const std::string& ns,
                                                         const std::string& name) override;
  core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrationsReferencing(
      const std::string& ns, const std::string& kind, const std::string& name) override;
  // From the reference index (kDatabaseIdentityKind) and the cache; without
  // them, every watched namespace is listed and filtered.
  core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrationsByDatabaseIdentity(
      const std::string& identity) override;
  core::Result<std::string> UpdateStatus(const core::SchemaMigration& obj) override;
  core::Result<std::string> AddFinalizer(const core::SchemaMigration& obj,
                                         const std::string& finalizer) override;
  core::Result<std::string> RemoveFinalizer(const core::SchemaMigration& obj,
                                            const std::string& finalizer) override;
  core::Result<std::string> GetSecretValue(const std::string& ns, const std::string& name,
                                           const std::string& key) override;
  core::Result<bool> SecretExists(const std::string& ns, const std::string& name) override;
  core::Result<std::map<std::string, std::string>> GetConfigMapData(
      const std::string& ns, const std::string& name) override;
  // Any scalable kind (ScaleTargets, scale_targets.h). Pods are the ones
  // matching the scale's status.selector.
  core::Result<reconcile::WorkloadScale> GetScale(const std::string& ns,
                                                  const core::WorkloadRef& w) override;
  [[nodiscard]] core::Status SetReplicas(const std::string& ns, const core::WorkloadRef& w,
                                         std::int32_t replicas) override;
  using reconcile::KubePort::GetScale;
  using reconcile::KubePort::SetReplicas;
  void RecordEvent(const core::SchemaMigration& obj, reconcile::EventType type,
                   const std::string& reason, const std::string& message) override;
  // CronJobs, Jobs, autoscalers, managedFields: kube_port_writers.cpp.
  core::Result<std::vector<reconcile::AutoscalerInfo>> ListAutoscalersOf(
      const std::string& ns, const std::string& kind, const std::string& name) override;
  [[nodiscard]] core::Status SetScaledObjectPausedReplicas(
      const std::string& ns, const std::string& name,
      const std::optional<std::string>& value) override;
  [[nodiscard]] core::Status DeleteRunningJobsOf(const std::string& ns,
                                                 const std::string& name) override;
  core::Result<std::string> ReplicasWriterOf(const std::string& ns,
                                             const core::WorkloadRef& w) override;
  // The Job executor's Jobs and pod logs: kube_port_jobs.cpp.
  [[nodiscard]] core::Status CreateJob(const std::string& ns, const std::string& manifest) override;
  core::Result<reconcile::JobState> GetJob(const std::string& ns, const std::string& name) override;
  [[nodiscard]] core::Status DeleteJob(const std::string& ns, const std::string& name) override;
  [[nodiscard]] core::Status ApplySecret(const std::string& ns,
                                         const std::string& manifest) override;
  [[nodiscard]] core::Status DeleteSecret(const std::string& ns, const std::string& name,
                                          const std::string& owner_uid) override;
  core::Result<std::string> ReadJobLog(const std::string& ns, const std::string& job,
                                       const reconcile::JobLogRequest& request) override;

  // The SchemaMigrations of namespace `ns` ("": every watched namespace),
  // from the cache when it can answer; undecodable ones are skipped. Not
  // part of KubePort (the reconciler never lists a namespace): what
  // ListSchemaMigrationsReferencing and ListSchemaMigrationsByDatabaseIdentity
  // filter when no reference index is given.
  core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrations(const std::string& ns);

 private:
  // A CronJob as a writer of at most one replica (reconcile::KubePort::SetReplicas).
  core::Result<reconcile::WorkloadScale> CronJobScale(const std::string& ns,
                                                      const std::string& name);
  [[nodiscard]] core::Status SetCronJobSuspend(const std::string& ns, const std::string& name,
                                               bool suspend);
  // The object from the cache unless it may be stale (see above).
  core::Result<Json> ReadSchemaMigration(const std::string& ns, const std::string& name);
  // A ConfigMap (null Json when absent): from the cache, from our
  // fetched copy when the cache holds it trimmed and unchanged, else from the
  // API server.
  core::Result<Json> ReadObject(const kube::ResourceRef& ref, const char* kind,
                                const ObjectCache* cache, const std::string& ns,
                                const std::string& name);
  core::Result<std::string> WriteFinalizers(const core::SchemaMigration& obj,
                                            const std::vector<std::string>& finalizers);
  void NoteWrite(const core::SchemaMigration& obj, const core::Result<std::string>& result);
  // A 404 from the scale subresource of a discovered kind: the object is
  // gone (kept), or its kind lost the subresource (the kind's error instead).
  core::Status ScaleNotFound(const core::WorkloadRef& w, const core::Status& not_found);

  kube::Client& client_;
  kube::EventRecorder* events_;
  KubePortCaches caches_;
  ScaleTargets scale_targets_;
  std::mutex mu_;
  // "ns/name" -> resourceVersions our recent writes superseded; an empty
  // entry means "read from the API server once" (after a conflict).
  std::map<std::string, std::vector<std::string>> superseded_;
  // "Kind/ns/name" -> the data of a ConfigMap the cache holds trimmed,
  // as fetched at resource_version (only objects we read: the referenced ones).
  struct Fetched {
    std::string resource_version;
    Json object;
  };
  std::map<std::string, Fetched> fetched_;
};

}  // namespace schemaop::manager
