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
//    runs in progress get shutdown_grace to end, then are cancelled and
//    rolled back by the engine (design §6.5), the Lease is released, Run()
//    returns 0;
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
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "manager/database_port_impl.h"
#include "manager/http_server.h"
#include "manager/object_cache.h"
#include "manager/references.h"
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
  // Migrations on run threads of their own (design §6.5).
  int max_concurrent_runs = 4;
  // Stop() (SIGTERM): how long runs in progress may take to end before they
  // are cancelled and rolled back.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(20)};
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

}  // namespace schemaop::manager
