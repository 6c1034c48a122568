#include "manager/manager.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <set>
#include <utility>

#include "kube/work_queue.h"
#include "manager/event_recorder.h"
#include "manager/kube_port_impl.h"
#include "manager/logging.h"
#include "manager/prometheus_metrics.h"
#include "manager/system_clock.h"

namespace schemaop::manager {

namespace {

std::string StringAt(const Json& object, std::initializer_list<const char*> path) {
  const Json* at = &object;
  for (const char* part : path) {
    if (!at->is_object()) {
      return "";
    }
    auto it = at->find(part);
    if (it == at->end()) {
      return "";
    }
    at = &*it;
  }
  return at->is_string() ? at->get<std::string>() : "";
}

bool ListsWorkload(const Json& list, const std::string& kind, const std::string& name) {
  if (!list.is_array()) {
    return false;
  }
  for (const Json& w : list) {
    if (!w.is_object()) {
      continue;
    }
    // The CRD defaults kind to Deployment.
    const std::string w_kind = w.value("kind", std::string("Deployment"));
    if (w_kind == kind && w.value("name", std::string()) == name) {
      return true;
    }
  }
  return false;
}

std::pair<std::string, std::string> SplitKey(const std::string& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) {
    return {"", key};
  }
  return {key.substr(0, slash), key.substr(slash + 1)};
}

}  // namespace

std::vector<std::string> SchemaMigrationsReferencing(const std::vector<Json>& objects,
                                                     const std::string& kind,
                                                     const std::string& name) {
  std::vector<std::string> keys;
  for (const Json& sm : objects) {
    bool refers = false;
    if (kind == "Secret") {
      refers = StringAt(sm, {"spec", "database", "urlSecretRef", "name"}) == name;
    } else if (kind == "ConfigMap") {
      refers = StringAt(sm, {"spec", "migrations", "configMapRef", "name"}) == name;
    } else if (kind == "Deployment" || kind == "StatefulSet") {
      const Json empty;
      const Json& spec = sm.is_object() && sm.contains("spec") ? sm["spec"] : empty;
      const Json& status = sm.is_object() && sm.contains("status") ? sm["status"] : empty;
      refers = (spec.is_object() && spec.contains("workloads") &&
                ListsWorkload(spec["workloads"], kind, name)) ||
               (status.is_object() && status.contains("workloads") &&
                ListsWorkload(status["workloads"], kind, name)) ||
               (status.is_object() && status.contains("run") && status["run"].is_object() &&
                status["run"].contains("workloads") &&
                ListsWorkload(status["run"]["workloads"], kind, name));
    }
    if (refers) {
      keys.push_back(KeyOf(sm));
    }
  }
  return keys;
}

bool IsStatusOnlyChange(const Json& before, const Json& after) {
  auto strip = [](Json object) {
    if (object.is_object()) {
      object.erase("status");
      if (object.contains("metadata") && object["metadata"].is_object()) {
        object["metadata"].erase("resourceVersion");
        object["metadata"].erase("managedFields");
      }
    }
    return object;
  };
  return strip(before) == strip(after);
}

struct Manager::Impl {
  Impl(kube::Client& c, ManagerOptions o) : client(c), options(std::move(o)) {}

  kube::Client& client;
  ManagerOptions options;
  PrometheusMetrics metrics;
  SystemClock reconcile_clock;
  std::unique_ptr<EventRecorder> events;
  std::unique_ptr<kube::WorkQueue> queue;

  // Informers by resource; one per watched namespace ("" = all).
  std::vector<std::unique_ptr<Informer>> sm_informers, secret_informers, config_map_informers,
      deployment_informers, statefulset_informers;
  NamespacedCache sm_cache, secret_cache, config_map_cache;
  std::unique_ptr<KubePortImpl> kube_port;
  std::unique_ptr<DatabasePortImpl> database_port;
  std::unique_ptr<LeaderElector> elector;

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
  std::vector<std::thread> workers;
  int active_workers = 0;  // guarded by mu

  std::vector<Informer*> AllInformers() {
    std::vector<Informer*> all;
    for (auto* list : {&sm_informers, &secret_informers, &config_map_informers,
                       &deployment_informers, &statefulset_informers}) {
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
    auto sms = sm_cache.List(ns);
    if (!sms) {
      return;
    }
    for (const std::string& key : SchemaMigrationsReferencing(*sms, kind, name)) {
      spdlog::debug("{} {}/{} changed: reconciling SchemaMigration {}", kind, ns, name, key);
      Enqueue(key);
    }
  }

  void MakeInformers() {
    std::vector<std::string> namespaces = options.namespaces;
    if (namespaces.empty()) {
      namespaces.push_back("");
    }
    for (const std::string& ns : namespaces) {
      auto sm = std::make_unique<Informer>(client, kube::resources::kSchemaMigrations, ns);
      sm->AddHandler([this](ChangeType type, const Json& object, const Json& old_object) {
        if (type == ChangeType::kUpdated && IsStatusOnlyChange(old_object, object)) {
          return;
        }
        if (type == ChangeType::kDeleted) {
          metrics.ForgetObject(StringAt(object, {"metadata", "namespace"}),
                               StringAt(object, {"metadata", "name"}));
        }
        Enqueue(KeyOf(object));
      });
      sm_cache.Add(ns, sm.get());
      sm_informers.push_back(std::move(sm));

      auto secret = std::make_unique<Informer>(client, kube::resources::kSecrets, ns);
      secret->AddHandler([this](ChangeType, const Json& object, const Json&) {
        EnqueueReferencing("Secret", object);
      });
      secret_cache.Add(ns, secret.get());
      secret_informers.push_back(std::move(secret));

      auto config_map = std::make_unique<Informer>(client, kube::resources::kConfigMaps, ns);
      config_map->AddHandler([this](ChangeType, const Json& object, const Json&) {
        EnqueueReferencing("ConfigMap", object);
      });
      config_map_cache.Add(ns, config_map.get());
      config_map_informers.push_back(std::move(config_map));

      auto deployment = std::make_unique<Informer>(client, kube::resources::kDeployments, ns);
      deployment->AddHandler([this](ChangeType, const Json& object, const Json&) {
        EnqueueReferencing("Deployment", object);
      });
      deployment_informers.push_back(std::move(deployment));

      auto statefulset = std::make_unique<Informer>(client, kube::resources::kStatefulSets, ns);
      statefulset->AddHandler([this](ChangeType, const Json& object, const Json&) {
        EnqueueReferencing("StatefulSet", object);
      });
      statefulset_informers.push_back(std::move(statefulset));
    }
  }

  std::string Readiness() {
    if (!synced.load()) {
      std::string why = "caches not synced:";
      for (Informer* informer : AllInformers()) {
        if (!informer->HasSynced()) {
          const std::string error = informer->LastError();
          why += " " + informer->Describe() + (error.empty() ? "" : " (" + error + ")") + ";";
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

  bool StopRequested() {
    std::lock_guard<std::mutex> lock(mu);
    return stop_requested || lost_leadership;
  }

  // Waits up to `delay`; false when a stop was requested meanwhile.
  bool SleepUnlessStopped(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, delay, [this] { return stop_requested || lost_leadership; });
    return !(stop_requested || lost_leadership);
  }

  void Worker(int index) {
    reconcile::Reconciler reconciler(*kube_port, *database_port, reconcile_clock, metrics,
                                     options.reconciler);
    while (auto key = queue->Get()) {
      if (stopping.load()) {
        queue->Done(*key);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        ++active_workers;
      }
      const auto [ns, name] = SplitKey(*key);
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
        Enqueue(KeyOf(object));
      }
    }
    metrics.SetWorkQueueDepth(static_cast<double>(queue->Len() + queue->NumWaiting()));
  }

  int Run() {
    // 1. Endpoints.
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
        return 1;
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
        return 1;
      }
      spdlog::info("serving health probes on {}:{} (/healthz, /readyz)",
                   options.probe_address->host, probe_server.port());
    }

    // 2. Caches (also on a standby, so a new leader starts warm).
    for (Informer* informer : AllInformers()) {
      informer->Start();
    }
    spdlog::info("watching {}", options.namespaces.empty()
                                    ? std::string("all namespaces")
                                    : "namespaces " + [this] {
                                        std::string joined;
                                        for (const auto& ns : options.namespaces) {
                                          joined += (joined.empty() ? "" : ",") + ns;
                                        }
                                        return joined;
                                      }());
    auto last_report = std::chrono::steady_clock::now();
    for (;;) {
      bool all = true;
      for (Informer* informer : AllInformers()) {
        all = all && informer->HasSynced();
      }
      if (all) {
        break;
      }
      if (!SleepUnlessStopped(std::chrono::milliseconds(50))) {
        return Shutdown(0);
      }
      if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(10)) {
        last_report = std::chrono::steady_clock::now();
        spdlog::warn("waiting for caches to sync: {}", Readiness());
      }
    }
    synced.store(true);
    spdlog::info("caches synced");

    // 3. Leadership.
    if (options.leader_elect) {
      elector = std::make_unique<LeaderElector>(client, options.leader_election);
      standing_by.store(true);
      spdlog::info("leader election: trying to acquire Lease {}/{} as {}",
                   options.leader_election.lease_namespace, options.leader_election.lease_name,
                   options.leader_election.identity);
      std::string last_holder;
      for (;;) {
        auto acquired = elector->TryAcquireOrRenew();
        if (acquired.ok() && acquired.value()) {
          break;
        }
        if (!acquired.ok()) {
          spdlog::warn("leader election: {}", acquired.status().ToString());
        } else if (elector->observed_holder() != last_holder) {
          last_holder = elector->observed_holder();
          spdlog::info("leader election: Lease held by {}; standing by", last_holder);
        }
        if (!SleepUnlessStopped(options.leader_election.retry_period)) {
          return Shutdown(0);
        }
      }
      spdlog::info("leader election: acquired Lease {}/{}", options.leader_election.lease_namespace,
                   options.leader_election.lease_name);
    }
    leading.store(true);
    standing_by.store(false);

    // 4. Work.
    StartWorkers();
    auto next_resync = std::chrono::steady_clock::now() + options.resync_period;
    auto last_renew = std::chrono::steady_clock::now();
    const auto tick = options.leader_elect ? options.leader_election.retry_period
                                           : std::chrono::milliseconds(1000);
    for (;;) {
      if (!SleepUnlessStopped(tick)) {
        break;
      }
      WaitLeading(next_resync);
      if (options.leader_elect) {
        auto renewed = elector->TryAcquireOrRenew();
        const auto now = std::chrono::steady_clock::now();
        if (renewed.ok() && renewed.value()) {
          last_renew = now;
          continue;
        }
        if (!renewed.ok()) {
          spdlog::warn("leader election: renewing the Lease failed: {}",
                       renewed.status().ToString());
        }
        if ((renewed.ok() && !renewed.value()) ||
            now - last_renew > options.leader_election.renew_deadline) {
          elector->MarkLost();
          leading.store(false);
          spdlog::error("leader election: lost the Lease {}/{} (held by '{}'); stopping",
                        options.leader_election.lease_namespace,
                        options.leader_election.lease_name, elector->observed_holder());
          std::lock_guard<std::mutex> lock(mu);
          lost_leadership = true;
          break;
        }
      }
    }
    bool lost;
    {
      std::lock_guard<std::mutex> lock(mu);
      lost = lost_leadership;
    }
    return Shutdown(lost ? 1 : 0);
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
    if (elector && code == 0) {
      if (core::Status s = elector->Release(); !s.ok()) {
        spdlog::warn("leader election: releasing the Lease failed: {}", s.ToString());
      } else {
        spdlog::info("leader election: released the Lease");
      }
    }
    leading.store(false);
    for (Informer* informer : AllInformers()) {
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
  m.events = std::make_unique<EventRecorder>(client, "schemaop-controller", identity);
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
  KubePortCaches caches;
  caches.schema_migrations = &m.sm_cache;
  caches.secrets = &m.secret_cache;
  caches.config_maps = &m.config_map_cache;
  m.kube_port = std::make_unique<KubePortImpl>(client, m.events.get(), caches);
  m.database_port = std::make_unique<DatabasePortImpl>(m.options.database);
}

Manager::~Manager() {
  Stop();
  for (Informer* informer : impl_->AllInformers()) {
    informer->Stop();
  }
}

int Manager::Run() { return impl_->Run(); }

void Manager::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

int Manager::metrics_port() const { return impl_->metrics_server.port(); }
int Manager::probe_port() const { return impl_->probe_server.port(); }
std::string Manager::Readiness() const { return impl_->Readiness(); }
PrometheusMetrics& Manager::metrics() { return impl_->metrics; }

}  // namespace schemaop::manager
