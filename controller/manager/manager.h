#pragma once
// The controller loop behind `schemaop controller` (design §2): informers
// for SchemaMigrations and for the ConfigMaps, Deployments and StatefulSets
// they reference, a rate-limited work queue, N workers calling
// reconcile::Reconciler, optional Lease leader election, /metrics, /healthz
// and /readyz.
//
// Secrets are not watched (issue 8: the controller may `get` a Secret, never
// list or watch them). A run reads its Secret when it needs it, so a changed
// Secret is seen by the next reconcile of its SchemaMigration, which comes
// from: the stalled re-check (ReconcilerOptions::stalled_recheck, 1 min) for
// an object Stalled by a missing Secret or key; the back-off retries (up to
// max_backoff) of a transient failure such as a wrong password; the resync
// (resync_period, 10 min) otherwise; or any edit of the SchemaMigration.
//
// Lifecycle (client-go / controller-runtime behaviour):
//  - caches start at once, also on a standby replica, so a new leader starts
//    warm; /readyz is OK when every cache has synced and the process is
//    either leading or standing by (able to serve);
//  - workers run only while leading (always, without --leader-elect);
//  - Stop() (SIGTERM): no new work is taken, reconciles in progress finish,
//    the Lease is released, Run() returns 0;
//  - leadership lost: no new work is taken and Run() returns 1 so the
//    process exits and restarts clean (reconciles still in progress after a
//    grace period are abandoned by exiting; the reconciler's design makes a
//    stop at any point safe).
//
// Queue policy: a reconcile that reports an error is re-queued rate-limited
// (per-object exponential back-off from ReconcilerOptions::initial_backoff
// to max_backoff, plus an overall token bucket); otherwise the back-off is
// forgotten and requeue_after, if any, is honoured with AddAfter.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "manager/database_port_impl.h"
#include "manager/http_server.h"
#include "manager/object_cache.h"
#include "reconcile/reconciler.h"

namespace schemaop::manager {

// Where the Lease lives and how it is timed (kube::LeaderElector semantics:
// lease_duration > renew_deadline > 1.2 * retry_period).
struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name = "schemaop-leader";
  std::string identity;
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
};

struct ManagerOptions {
  std::vector<std::string> namespaces;  // empty: all namespaces
  int workers = 2;
  bool leader_elect = false;
  LeaderElectionConfig leader_election;  // identity also names us in Events
  std::string identity;
  std::optional<BindAddress> metrics_address;  // unset: no /metrics
  std::optional<BindAddress> probe_address;    // unset: no /healthz /readyz
  DatabasePortOptions database;
  // Every SchemaMigration is reconciled at least this often (0: never).
  std::chrono::milliseconds resync_period{std::chrono::minutes(10)};
  reconcile::ReconcilerOptions reconciler;
  // After leadership is lost, how long reconciles in progress may take to
  // finish before the process exits without them.
  std::chrono::milliseconds lost_leadership_grace{std::chrono::seconds(5)};
};

class PrometheusMetrics;
class KubePortImpl;

class Manager {
 public:
  // The client must outlive the manager.
  Manager(kube::Client& client, ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Blocks until Stop() (returns 0) or leadership is lost / start-up fails
  // (returns 1).
  int Run();
  // Thread-safe; may be called before or during Run().
  void Stop();

  // "" when ready, else why not (the /readyz body).
  std::string Readiness() const;
  PrometheusMetrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- Pure helpers (unit-tested) ---------------------------------------------

// Keys ("ns/name") of the SchemaMigrations among `objects` (all in the
// namespace of the changed object) that reference the object of `kind`
// ("Secret" | "ConfigMap" | "Deployment" | "StatefulSet") named `name`,
// through the spec or through the workloads recorded in status: the rule
// ReferenceIndex files references by, applied to a list.
std::vector<std::string> SchemaMigrationsReferencing(const std::vector<Json>& objects,
                                                     const std::string& kind,
                                                     const std::string& name);

// True when `before` and `after` differ only in status, resourceVersion and
// managedFields (our own status writes): such an update needs no reconcile.
bool IsStatusOnlyChange(const Json& before, const Json& after);

// The pseudo-kind under which ReferenceIndex files a SchemaMigration's
// status.databaseIdentity (namespace "": an identity is cluster-wide), so
// Referencing(kDatabaseIdentityKind, "", identity) lists the objects that
// manage one database, whatever namespace or Secret they reach it through.
inline constexpr char kDatabaseIdentityKind[] = "DatabaseIdentity";

// Which SchemaMigrations reference which Secrets, ConfigMaps and workloads
// (the same references as SchemaMigrationsReferencing), and which database
// identity they recorded, kept up to date by the SchemaMigration informer's
// handlers. A change of any Secret,
// ConfigMap or Deployment in the cluster is looked up here in O(log n)
// instead of copying every SchemaMigration of its namespace. Thread-safe.
class ReferenceIndex {
 public:
  // Replaces the references of SchemaMigration `sm`.
  void Set(const Json& sm);
  void Remove(const std::string& sm_key);
  // Keys ("ns/name") of the SchemaMigrations referencing `kind` ns/name.
  std::vector<std::string> Referencing(const std::string& kind, const std::string& ns,
                                       const std::string& name) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> refs_by_sm_;
  std::map<std::string, std::set<std::string>> sms_by_ref_;
};

// The informer transform of the controller's caches (kube::InformerOptions::
// transform). Never kept: metadata.managedFields and the
// kubectl last-applied-configuration annotation. Deployments and
// StatefulSets keep only apiVersion, kind and metadata identity (their
// handlers need namespace/name; the scale is always read from the API).
// ConfigMaps (and Secrets, which the controller no longer caches) keep their
// data only when `referenced` by a SchemaMigration; otherwise
// data/binaryData/stringData are dropped and kTrimmedCacheField
// (object_cache.h) is set. Watching all namespaces then costs a few hundred
// bytes per unrelated object.
void TrimForCache(const std::string& kind, Json& object, bool referenced);

}  // namespace schemaop::manager
