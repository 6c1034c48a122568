#include "manager/manager.h"

#include <malloc.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <utility>

#include "core/server_version.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/leader_election.h"
#include "kube/work_queue.h"
#include "manager/kube_port_impl.h"
#include "manager/fault_log.h"
#include "manager/logging.h"
#include "manager/prometheus_metrics.h"
#include "manager/system_clock.h"
#include "manager/time_zones.h"

namespace schemaop::manager {

struct Manager::Impl {
  Impl(kube::Client& c, ManagerOptions o) : client(c), options(std::move(o)) {}

  kube::Client& client;
  ManagerOptions options;
  PrometheusMetrics metrics;
  // The client's faults as counters and log lines (after `metrics`, which
  // it counts into).
  FaultLog fault_log{&metrics};
  SystemClock reconcile_clock;
  std::unique_ptr<kube::EventRecorder> events;
  std::unique_ptr<kube::WorkQueue> queue;

  // Informers by resource; one per watched namespace ("" = all).
  // No Secret informer (issue 8): Secrets are read one by one when a run
  // needs them (KubePortImpl::GetSecretValue), never listed or watched.
  std::vector<std::unique_ptr<kube::Informer>> sm_informers, config_map_informers,
      deployment_informers, statefulset_informers;
  NamespacedCache sm_cache, config_map_cache;
  ReferenceIndex references;
  // "deployments in namespace drawing", for /readyz and logs.
  std::map<kube::Informer*, std::string> informer_names;
  std::unique_ptr<KubePortImpl> kube_port;
  std::unique_ptr<DatabasePortImpl> database_port;
  std::unique_ptr<kube::KubeLeaseStore> lease_store;
  std::unique_ptr<kube::LeaderElector> elector;

  HttpServer metrics_server, probe_server;
  bool probes_on_metrics_server = false;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool lost_leadership = false;
  std::atomic<bool> stopping{false};  // workers take no new work
  std::atomic<bool> synced{false};
  std::atomic<bool> leading{false};
  std::atomic<bool> standing_by{false};
  bool became_leader = false;  // guarded by mu
  std::vector<std::thread> workers;
  int active_workers = 0;  // guarded by mu

  std::vector<kube::Informer*> AllInformers() {
    std::vector<kube::Informer*> all;
    for (auto* list : {&sm_informers, &config_map_informers, &deployment_informers,
                       &statefulset_informers}) {
      for (auto& informer : *list) {
        all.push_back(informer.get());
      }
    }
    return all;
  }

  void Enqueue(const std::string& key) {
    if (key.empty() || key == "/") {
      return;
    }
    queue->Add(key);
  }

  void EnqueueReferencing(const std::string& kind, const Json& object) {
    const std::string ns = StringAt(object, {"metadata", "namespace"});
    const std::string name = StringAt(object, {"metadata", "name"});
    for (const std::string& key : references.Referencing(kind, ns, name)) {
      spdlog::debug("{} {}/{} changed: reconciling SchemaMigration {}", kind, ns, name, key);
      Enqueue(key);
    }
  }

  void MakeInformers() {
    std::vector<std::string> namespaces = options.namespaces;
    if (namespaces.empty()) {
      namespaces.push_back("");
    }
    auto make = [this](const kube::ResourceRef& ref, const std::string& ns, const char* kind,
                       const std::function<void(const Json&)>& changed) {
      kube::InformerOptions informer_options;
      informer_options.namespace_name = ns;
      informer_options.compact = true;
      informer_options.transform = [this, kind = std::string(kind)](Json& object) {
        const bool referenced = !references
                                     .Referencing(kind, StringAt(object, {"metadata", "namespace"}),
                                                  StringAt(object, {"metadata", "name"}))
                                     .empty();
        TrimForCache(kind, object, referenced);
      };
      auto informer = std::make_unique<kube::Informer>(client, ref, informer_options);
      kube::ResourceEventHandlers handlers;
      handlers.on_add = changed;
      handlers.on_update = [changed](const Json&, const Json& object) { changed(object); };
      handlers.on_delete = changed;
      informer->AddHandlers(handlers);
      return informer;
    };
    for (const std::string& ns : namespaces) {
      auto sm = std::make_unique<kube::Informer>(
          client, kube::resources::kSchemaMigrations, [&] {
            kube::InformerOptions o;
            o.namespace_name = ns;
            o.compact = true;
            o.transform = [](Json& object) { TrimForCache("SchemaMigration", object, true); };
            return o;
          }());
      kube::ResourceEventHandlers sm_handlers;
      sm_handlers.on_add = [this](const Json& object) {
        references.Set(object);
        Enqueue(kube::KeyOf(object));
      };
      sm_handlers.on_update = [this](const Json& old_object, const Json& object) {
        references.Set(object);
        if (!IsStatusOnlyChange(old_object, object)) {
          Enqueue(kube::KeyOf(object));
        }
      };
      sm_handlers.on_delete = [this](const Json& object) {
        references.Remove(kube::KeyOf(object));
        // Whoever waits for this one (DatabaseInUse) may run now.
        const std::string identity = StringAt(object, {"status", "databaseIdentity"});
        if (!identity.empty()) {
          for (const std::string& key : references.Referencing(kDatabaseIdentityKind, "", identity)) {
            Enqueue(key);
          }
        }
        metrics.ForgetObject(StringAt(object, {"metadata", "namespace"}),
                             StringAt(object, {"metadata", "name"}));
        Enqueue(kube::KeyOf(object));
      };
      sm->AddHandlers(sm_handlers);
      sm_cache.Add(ns, sm.get());
      sm_informers.push_back(std::move(sm));

      config_map_informers.push_back(
          make(kube::resources::kConfigMaps, ns, "ConfigMap",
               [this](const Json& o) { EnqueueReferencing("ConfigMap", o); }));
      config_map_cache.Add(ns, config_map_informers.back().get());
      deployment_informers.push_back(
          make(kube::resources::kDeployments, ns, "Deployment",
               [this](const Json& o) { EnqueueReferencing("Deployment", o); }));
      statefulset_informers.push_back(
          make(kube::resources::kStatefulSets, ns, "StatefulSet",
               [this](const Json& o) { EnqueueReferencing("StatefulSet", o); }));
    }
  }

  std::string Readiness() {
    if (!synced.load()) {
      std::string why = "caches not synced:";
      for (kube::Informer* informer : AllInformers()) {
        if (!informer->HasSynced()) {
          const core::Status error = informer->last_error();
          why += " " + informer_names[informer] +
                 (error.ok() ? "" : " (" + error.message() + ")") + ";";
        }
      }
      return why;
    }
    if (stopping.load()) {
      return "shutting down";
    }
    if (options.leader_elect && !leading.load() && !standing_by.load()) {
      return "leader election not started";
    }
    return "";
  }

  // True while this process may act as the leader. Leadership ends when the
  // Lease was last renewed renewDeadline ago, even while a renew call still
  // hangs and the elector has not yet called on_stopped_leading (design
  // §4.2): a leader never acts after a successor could hold the Lease.
  bool StillLeading() const {
    return leading.load() && (!options.leader_elect || (elector && elector->IsLeader()));
  }

  // Waits up to `delay`; false when a stop was requested meanwhile.
  bool SleepUnlessStopped(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, delay, [this] { return stop_requested || lost_leadership; });
    return !(stop_requested || lost_leadership);
  }

  // A resync pass over many objects frees most of what it allocated (database
  // sessions, JSON copies), but glibc keeps freed heap pages mapped, so the
  // process's RSS stays at the pass's peak. Once the queue is idle, hand them
  // back to the kernel, at most once per interval.
  void ReleaseFreedMemoryWhenIdle() {
    constexpr auto kInterval = std::chrono::seconds(5);
    if (queue->Len() != 0) {
      return;
    }
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_trim_.load();
    const auto interval =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(kInterval).count();
    if (now - last < interval || !last_trim_.compare_exchange_strong(last, now)) {
      return;
    }
    malloc_trim(0);
  }

  std::atomic<std::chrono::steady_clock::rep> last_trim_{0};

  void Worker(int index) {
    reconcile::ReconcilerOptions reconciler_options = options.reconciler;
    if (!reconciler_options.time_zones) {
      reconciler_options.time_zones = LoadSystemTimeZone;
    }
    reconcile::Reconciler reconciler(*kube_port, *database_port, reconcile_clock, metrics,
                                     reconciler_options);
    while (auto key = queue->Get()) {
      if (stopping.load()) {
        queue->Done(*key);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        ++active_workers;
      }
      const auto [ns, name] = kube::SplitKey(*key);
      {
        LogObjectScope scope(ns, name);
        const auto started = std::chrono::steady_clock::now();
        reconcile::ReconcileResult result;
        bool crashed = false;
        try {
          result = reconciler.Reconcile(ns, name);
        } catch (const std::exception& e) {
          // The ports return errors as values; an exception is a bug. The
          // object's status stays consistent (any stop is safe), so retry.
          crashed = true;
          spdlog::error("reconcile raised an exception (worker {}): {}", index, e.what());
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        metrics.ObserveReconcileSeconds(seconds);
        for (int i = 0; i < result.conflict_retries; ++i) {
          // Logged (rate-limited) and counted like the client's own retries.
          fault_log.Report({kube::FaultKind::kConflictRetry, 409,
                                "status of SchemaMigration " + *key,
                                "the object changed meanwhile", "re-read and recomputed"});
        }
        if (crashed || !result.error.ok()) {
          if (!crashed) {
            spdlog::warn("reconcile failed, retrying with back-off: {}", result.error.ToString());
          }
          queue->AddRateLimited(*key);
        } else {
          queue->Forget(*key);
          if (result.requeue_after) {
            queue->AddAfter(*key, *result.requeue_after);
            spdlog::debug("reconciled in {:.3f}s; again in {} ms", seconds,
                          result.requeue_after->count());
          } else {
            spdlog::debug("reconciled in {:.3f}s", seconds);
          }
        }
      }
      queue->Done(*key);
      metrics.SetWorkQueueDepth(static_cast<double>(queue->Len() + queue->NumWaiting()));
      ReleaseFreedMemoryWhenIdle();
      {
        std::lock_guard<std::mutex> lock(mu);
        --active_workers;
      }
      cv.notify_all();
    }
  }

  void StartWorkers() {
    spdlog::info("starting {} worker(s)", options.workers);
    for (int i = 0; i < options.workers; ++i) {
      workers.emplace_back([this, i] { Worker(i); });
    }
  }

  // Re-queues every cached SchemaMigration each resync period and keeps
  // the queue depth gauge current. Runs on the thread that called Run().
  void WaitLeading(std::chrono::steady_clock::time_point& next_resync) {
    const auto now = std::chrono::steady_clock::now();
    if (options.resync_period.count() > 0 && now >= next_resync) {
      next_resync = now + options.resync_period;
      auto all = sm_cache.List("");
      std::vector<Json> objects;
      if (all) {
        objects = std::move(*all);
      } else {
        for (const auto& ns : options.namespaces) {
          auto some = sm_cache.List(ns);
          if (some) {
            objects.insert(objects.end(), some->begin(), some->end());
          }
        }
      }
      for (const Json& object : objects) {
        Enqueue(kube::KeyOf(object));
      }
    }
    metrics.SetWorkQueueDepth(static_cast<double>(queue->Len() + queue->NumWaiting()));
  }

  int Run() {
    if (!StartEndpoints()) {
      return 1;
    }
    CheckServerVersion();
    if (!StartCaches()) {
      return Shutdown(0);
    }
    if (options.leader_elect) {
      if (std::optional<int> code = AcquireLeadership()) {
        return Shutdown(*code);
      }
    }
    leading.store(true);
    standing_by.store(false);
    return Work();
  }

  // Says once when the API server is too old to enforce the CRD's validation
  // rules (core/server_version.h). Informational only: an unreadable
  // /version is logged and start-up goes on.
  void CheckServerVersion() {
    core::Result<Json> version = client.Request("GET", "/version");
    if (!version.ok()) {
      spdlog::warn("could not read the API server's /version ({}); supported are Kubernetes 1.{}+",
                   version.status().message(), core::kMinKubernetesMinor);
      return;
    }
    const std::optional<core::ServerVersion> parsed = core::ParseServerVersion(
        StringAt(*version, {"major"}), StringAt(*version, {"minor"}),
        StringAt(*version, {"gitVersion"}));
    if (!parsed) {
      spdlog::warn("the API server's /version has no numeric major/minor; supported are "
                   "Kubernetes 1.{}+",
                   core::kMinKubernetesMinor);
      return;
    }
    if (std::optional<std::string> warning = core::OldServerWarning(*parsed)) {
      spdlog::warn("{}", *warning);
      return;
    }
    spdlog::info("API server: Kubernetes {}.{} ({})", parsed->major, parsed->minor,
                 parsed->git_version);
  }

  // 1. Endpoints: /metrics, /healthz and /readyz (on one server when both
  // addresses are the same). False when a server could not start.
  bool StartEndpoints() {
    auto readyz = [this] { return Readiness(); };
    auto healthz = [] { return std::string(); };
    auto metrics_text = [this] { return metrics.Serialize(); };
    const bool same_address =
        options.metrics_address && options.probe_address &&
        options.metrics_address->host == options.probe_address->host &&
        options.metrics_address->port == options.probe_address->port &&
        options.metrics_address->port != 0;
    if (options.metrics_address) {
      Endpoints endpoints;
      endpoints.metrics = metrics_text;
      if (same_address) {
        endpoints.healthz = healthz;
        endpoints.readyz = readyz;
      }
      if (core::Status s = metrics_server.Start(*options.metrics_address, endpoints); !s.ok()) {
        spdlog::error("metrics server: {}", s.message());
        return false;
      }
      spdlog::info("serving metrics on {}:{}/metrics", options.metrics_address->host,
                   metrics_server.port());
    }
    if (options.probe_address && !same_address) {
      Endpoints endpoints;
      endpoints.healthz = healthz;
      endpoints.readyz = readyz;
      if (core::Status s = probe_server.Start(*options.probe_address, endpoints); !s.ok()) {
        spdlog::error("health probe server: {}", s.message());
        return false;
      }
      spdlog::info("serving health probes on {}:{} (/healthz, /readyz)",
                   options.probe_address->host, probe_server.port());
    }
    return true;
  }

  // 2. Caches (also on a standby, so a new leader starts warm). The
  // SchemaMigrations first: the other caches keep the payload only of
  // the objects they reference (TrimForCache), so those must be known.
  // False when a stop was requested before every cache synced.
  bool StartCaches() {
    for (auto& informer : sm_informers) {
      informer->Start();
    }
    auto last_report = std::chrono::steady_clock::now();
    std::vector<kube::Informer*> schema_migrations(sm_informers.size());
    std::transform(sm_informers.begin(), sm_informers.end(), schema_migrations.begin(),
                   [](const std::unique_ptr<kube::Informer>& informer) { return informer.get(); });
    if (!WaitForSync(schema_migrations, last_report)) {
      return false;
    }
    for (auto* list : {&config_map_informers, &deployment_informers, &statefulset_informers}) {
      for (auto& informer : *list) {
        informer->Start();
      }
    }
    std::string watched = "all namespaces";
    if (!options.namespaces.empty()) {
      watched = "namespaces ";
      for (std::size_t i = 0; i < options.namespaces.size(); ++i) {
        watched += (i == 0 ? "" : ",") + options.namespaces[i];
      }
    }
    spdlog::info("watching {}", watched);
    if (!WaitForSync(AllInformers(), last_report)) {
      return false;
    }
    synced.store(true);
    spdlog::info("caches synced");
    return true;
  }

  // Waits until every one of `informers` has synced, saying what it waits
  // for every 10 s; false when a stop was requested meanwhile.
  bool WaitForSync(const std::vector<kube::Informer*>& informers,
                   std::chrono::steady_clock::time_point& last_report) {
    for (;;) {
      const bool all = std::all_of(informers.begin(), informers.end(),
                                   [](kube::Informer* informer) { return informer->HasSynced(); });
      if (all) {
        return true;
      }
      if (!SleepUnlessStopped(std::chrono::milliseconds(50))) {
        return false;
      }
      if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
        last_report = std::chrono::steady_clock::now();
        spdlog::warn("waiting for caches to sync: {}", Readiness());
      }
    }
  }

  // 3. Leadership (kube::LeaderElector on its own thread; we only wait).
  // nullopt once leading; otherwise the exit code (a stop before leading: 0).
  std::optional<int> AcquireLeadership() {
    const LeaderElectionConfig& le = options.leader_election;
    lease_store =
        std::make_unique<kube::KubeLeaseStore>(client, le.lease_namespace, le.lease_name);
    auto elector_or = kube::LeaderElector::Create(*lease_store, ElectionConfig());
    if (!elector_or.ok()) {
      spdlog::error("leader election: {}", elector_or.status().message());
      return 1;
    }
    elector = std::move(elector_or).value();
    standing_by.store(true);
    spdlog::info("leader election: trying to acquire Lease {}/{} as {}", le.lease_namespace,
                 le.lease_name, le.identity);
    elector->Start();
    {
      // A standby that cannot reach or may not read the Lease (RBAC,
      // network) says so instead of waiting silently.
      std::string reported;
      std::unique_lock<std::mutex> lock(mu);
      while (!cv.wait_for(lock, std::chrono::seconds(5), [this] {
        return became_leader || stop_requested || lost_leadership;
      })) {
        lock.unlock();
        const core::Status error = elector->last_error();
        if (!error.ok() && error.code() != core::Code::kConflict && error.message() != reported) {
          spdlog::warn("{} (retrying)", error.message());
          reported = error.message();
        } else if (error.ok()) {
          reported.clear();
        }
        lock.lock();
      }
      if (!became_leader) {
        return 0;
      }
    }
    spdlog::info("leader election: acquired Lease {}/{}", le.lease_namespace, le.lease_name);
    return std::nullopt;
  }

  kube::LeaderElectionConfig ElectionConfig() {
    const LeaderElectionConfig& le = options.leader_election;
    kube::LeaderElectionConfig config;
    config.identity = le.identity;
    config.lease_duration = le.lease_duration;
    config.renew_deadline = le.renew_deadline;
    config.retry_period = le.retry_period;
    config.release_on_cancel = true;
    config.on_started_leading = [this] {
      {
        std::lock_guard<std::mutex> lock(mu);
        became_leader = true;
      }
      cv.notify_all();
    };
    config.on_stopped_leading = [this] {
      NoteLeadershipLost();
      cv.notify_all();
    };
    config.on_new_leader = [identity = le.identity](const std::string& holder) {
      if (holder != identity && !holder.empty()) {
        spdlog::info("leader election: Lease held by {}; standing by", holder);
      }
    };
    return config;
  }

  // 4. Work, until a stop or the loss of leadership.
  int Work() {
    StartWorkers();
    auto next_resync = std::chrono::steady_clock::now() + options.resync_period;
    // A leader checks its Lease often enough to stop well inside the gap
    // between renewDeadline and leaseDuration.
    const auto tick =
        std::clamp<std::chrono::milliseconds>(options.leader_election.retry_period / 2,
                                              std::chrono::milliseconds(50),
                                              std::chrono::milliseconds(1000));
    for (;;) {
      if (!SleepUnlessStopped(options.leader_elect ? tick : std::chrono::milliseconds(1000))) {
        break;
      }
      if (options.leader_elect && !StillLeading()) {
        NoteLeadershipLost();
        break;
      }
      WaitLeading(next_resync);
    }
    bool lost;
    {
      std::lock_guard<std::mutex> lock(mu);
      lost = lost_leadership;
    }
    if (lost) {
      LogLeadershipLost();
    }
    return Shutdown(lost ? 1 : 0);
  }

  void NoteLeadershipLost() {
    leading.store(false);
    std::lock_guard<std::mutex> lock(mu);
    lost_leadership = true;
  }

  // Names why: another holder took the Lease, or this process could not renew
  // it in time (then the last observed holder is still itself).
  void LogLeadershipLost() {
    const LeaderElectionConfig& le = options.leader_election;
    const core::Status why = elector ? elector->last_error() : core::Status::Ok();
    const std::string holder = elector ? elector->LeaderIdentity() : std::string();
    const std::string error = why.ok() ? std::string() : "; last renew error: " + why.message();
    if (holder.empty() || holder == le.identity) {
      spdlog::error(
          "leader election: lost the Lease {}/{} (not renewed within the renew deadline of "
          "{}s{}); stopping",
          le.lease_namespace, le.lease_name,
          std::chrono::duration_cast<std::chrono::seconds>(le.renew_deadline).count(), error);
    } else {
      spdlog::error("leader election: lost the Lease {}/{} (now held by '{}'{}); stopping",
                    le.lease_namespace, le.lease_name, holder, error);
    }
  }

  int Shutdown(int code) {
    stopping.store(true);
    queue->ShutDown();
    if (code != 0) {
      // Leadership lost: another replica may already be working. Give the
      // reconciles in progress a short grace, then exit without them.
      std::unique_lock<std::mutex> lock(mu);
      const bool idle = cv.wait_for(lock, options.lost_leadership_grace,
                                    [this] { return active_workers == 0; });
      if (!idle) {
        spdlog::error("exiting with {} reconcile(s) in progress (they resume after restart)",
                      active_workers);
        spdlog::default_logger()->flush();
        std::_Exit(1);
      }
    } else if (!workers.empty()) {
      spdlog::info("shutting down: waiting for reconciles in progress to finish");
    }
    for (auto& worker : workers) {
      worker.join();
    }
    workers.clear();
    // Runs in progress: their end within the grace, else cancelled and
    // rolled back (design §6.5). After leadership loss the process exits
    // above instead; the runs are left to the next leader's recovery.
    database_port->ShutdownRuns(code != 0 ? options.lost_leadership_grace : options.shutdown_grace);
    if (elector) {
      const bool was_leader = elector->IsLeader();
      elector->Stop();  // releases the Lease if we still hold it
      if (was_leader) {
        spdlog::info("leader election: released the Lease");
      }
    }
    leading.store(false);
    for (kube::Informer* informer : AllInformers()) {
      informer->Stop();
    }
    metrics_server.Stop();
    probe_server.Stop();
    spdlog::info("stopped");
    return code;
  }
};

Manager::Manager(kube::Client& client, ManagerOptions options)
    : impl_(std::make_unique<Impl>(client, std::move(options))) {
  Impl& m = *impl_;
  if (m.options.workers < 1) {
    m.options.workers = 1;
  }
  const std::string identity =
      m.options.identity.empty() ? m.options.leader_election.identity : m.options.identity;
  client.SetFaultObserver(m.fault_log.Observer());
  m.events = std::make_unique<kube::EventRecorder>(client, "schemaop-controller", identity);
  std::vector<std::unique_ptr<kube::RateLimiter>> limiters;
  limiters.push_back(std::make_unique<kube::ExponentialFailureRateLimiter>(
      std::chrono::duration_cast<kube::Clock::Duration>(m.options.reconciler.initial_backoff),
      std::chrono::duration_cast<kube::Clock::Duration>(m.options.reconciler.max_backoff)));
  limiters.push_back(
      std::make_unique<kube::BucketRateLimiter>(10.0, 100, kube::SystemClock::Instance()));
  m.queue = std::make_unique<kube::WorkQueue>(
      std::make_unique<kube::MaxOfRateLimiter>(std::move(limiters)),
      kube::SystemClock::Instance());
  m.MakeInformers();
  for (auto* list : {&m.sm_informers, &m.config_map_informers, &m.deployment_informers,
                     &m.statefulset_informers}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string ns =
          m.options.namespaces.empty() ? std::string() : m.options.namespaces[i];
      const char* resource = list == &m.sm_informers           ? "schemamigrations"
                             : list == &m.config_map_informers  ? "configmaps"
                             : list == &m.deployment_informers  ? "deployments"
                                                                : "statefulsets";
      m.informer_names[(*list)[i].get()] =
          std::string(resource) + (ns.empty() ? " in all namespaces" : " in namespace " + ns);
    }
  }
  KubePortCaches caches;
  caches.schema_migrations = &m.sm_cache;
  caches.config_maps = &m.config_map_cache;
  caches.references = &m.references;
  m.kube_port = std::make_unique<KubePortImpl>(client, m.events.get(), caches);
  // Fencing is decided when it happens, not when the reconcile started: a
  // reconcile still running after the Lease was lost must not fence the new
  // leader (design §4.2).
  m.options.database.still_leading = [&m] { return m.StillLeading(); };
  m.database_port = std::make_unique<DatabasePortImpl>(m.options.database);
  // A run's end reconciles its object at once (design §6.5).
  m.database_port->EnableRunThreads(m.options.max_concurrent_runs,
                                    [&m](const std::string& key) { m.Enqueue(key); });
}

Manager::~Manager() {
  Stop();
  for (kube::Informer* informer : impl_->AllInformers()) {
    informer->Stop();
  }
  impl_->client.SetFaultObserver(nullptr);  // the client outlives the log
}

int Manager::Run() { return impl_->Run(); }

void Manager::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

std::string Manager::Readiness() const { return impl_->Readiness(); }
PrometheusMetrics& Manager::metrics() { return impl_->metrics; }

}  // namespace schemaop::manager
