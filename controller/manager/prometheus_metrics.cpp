#include "manager/prometheus_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "core/conditions.h"

#include <map>
#include <mutex>
#include <sstream>
#include <utility>

namespace schemaop::manager {

namespace {
// Migrations and downtime range from sub-second (an empty seeding step) to
// tens of minutes (a large index build).
const prometheus::Histogram::BucketBoundaries kLongBuckets{0.1, 0.5, 1,   2.5, 5,   10,  30,
                                                           60,  120, 300, 600, 1800, 3600};
const prometheus::Histogram::BucketBoundaries kReconcileBuckets{
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}  // namespace

struct PrometheusMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& reconcile_total =
      prometheus::BuildCounter()
          .Name("schemaop_reconcile_total")
          .Help("Reconciles of SchemaMigrations by result (success, requeue, stalled, retry, "
                "error)")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& reconcile_duration =
      prometheus::BuildHistogram()
          .Name("schemaop_reconcile_duration_seconds")
          .Help("Wall time of one reconcile")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& workqueue_depth =
      prometheus::BuildGauge()
          .Name("schemaop_workqueue_depth")
          .Help("SchemaMigrations waiting in the work queue (ready and delayed)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& runs_total =
      prometheus::BuildCounter()
          .Name("schemaop_runs_total")
          .Help("Finished migration runs by outcome (Succeeded, RolledBack, Failed)")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& migration_seconds =
      prometheus::BuildHistogram()
          .Name("schemaop_migration_seconds")
          .Help("Time spent in migration SQL per run (for a plan with phases, the window's run; "
                "expand and contract are in schemaop_phase_seconds)")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& phase_seconds =
      prometheus::BuildHistogram()
          .Name("schemaop_phase_seconds")
          .Help("Time of each phase of a plan with phases (expand, window, contract), "
                "lock to unlock")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& downtime_seconds =
      prometheus::BuildHistogram()
          .Name("schemaop_downtime_seconds")
          .Help("Time the writer workloads were scaled to zero per run")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& revision_info =
      prometheus::BuildGauge()
          .Name("schemaop_current_revision_info")
          .Help("The database revision of each SchemaMigration (value 1)")
          .Register(*registry);

  prometheus::Family<prometheus::Counter>& apiserver_errors =
      prometheus::BuildCounter()
          .Name("schemaop_apiserver_errors_total")
          .Help("Kubernetes API calls answered with an error, by HTTP code (\"unreachable\": no "
                "answer)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& apiserver_retries =
      prometheus::BuildCounter()
          .Name("schemaop_apiserver_retries_total")
          .Help("Kubernetes API calls retried by the client, by reason (stale-connection, "
                "conflict)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& connection_lost =
      prometheus::BuildCounter()
          .Name("schemaop_database_connection_lost_total")
          .Help("Migration runs whose database session or lock PostgreSQL ended mid-run "
                "(recovered by the next attempt)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& watch_relists =
      prometheus::BuildCounter()
          .Name("schemaop_watch_relists_total")
          .Help("Watches whose history had expired (410 Gone), listed again")
          .Register(*registry);

  prometheus::Family<prometheus::Gauge>& phase =
      prometheus::BuildGauge()
          .Name("schemaop_phase")
          .Help("The phase of each SchemaMigration (value 1; status.phase)")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& condition =
      prometheus::BuildGauge()
          .Name("schemaop_condition")
          .Help("1 when the condition (Ready, Reconciling, Stalled) of a SchemaMigration is "
                "True, else 0")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& writers_down_since =
      prometheus::BuildGauge()
          .Name("schemaop_writers_down_since_seconds")
          .Help("Unix time at which the run in progress scaled the writers to zero; absent "
                "when no run holds them")
          .Register(*registry);

  prometheus::Histogram& reconcile_duration_series =
      reconcile_duration.Add({}, kReconcileBuckets);
  prometheus::Gauge& depth_series = workqueue_depth.Add({});
  prometheus::Counter& relist_series = watch_relists.Add({});
  prometheus::Counter& connection_lost_series = connection_lost.Add({});
  prometheus::Histogram& migration_series = migration_seconds.Add({}, kLongBuckets);
  prometheus::Histogram& downtime_series = downtime_seconds.Add({}, kLongBuckets);

  std::mutex revisions_mu;
  // "ns/name" -> its current revision series.
  std::map<std::string, std::pair<std::string, prometheus::Gauge*>> revisions;

  // The per-object state series (guarded by objects_mu).
  struct ObjectSeries {
    std::string phase_name;
    prometheus::Gauge* phase = nullptr;
    std::map<std::string, prometheus::Gauge*> conditions;
    prometheus::Gauge* writers_down_since = nullptr;
  };
  std::mutex objects_mu;
  std::map<std::string, ObjectSeries> objects;

  void Forget(ObjectSeries& series) {
    if (series.phase != nullptr) {
      phase.Remove(series.phase);
    }
    for (auto& entry : series.conditions) {
      condition.Remove(entry.second);
    }
    if (series.writers_down_since != nullptr) {
      writers_down_since.Remove(series.writers_down_since);
    }
    series = ObjectSeries{};
  }
};

PrometheusMetrics::PrometheusMetrics() : impl_(std::make_unique<Impl>()) {}
PrometheusMetrics::~PrometheusMetrics() = default;

void PrometheusMetrics::CountReconcile(const std::string& result) {
  impl_->reconcile_total.Add({{"result", result}}).Increment();
}

void PrometheusMetrics::CountRun(const std::string& outcome) {
  impl_->runs_total.Add({{"outcome", outcome}}).Increment();
}

void PrometheusMetrics::ObserveMigrationSeconds(double seconds) {
  impl_->migration_series.Observe(seconds);
}

void PrometheusMetrics::ObservePhaseSeconds(const std::string& phase, double seconds) {
  impl_->phase_seconds.Add({{"phase", phase}}, kLongBuckets).Observe(seconds);
}

void PrometheusMetrics::ObserveDowntimeSeconds(double seconds) {
  impl_->downtime_series.Observe(seconds);
}

void PrometheusMetrics::SetCurrentRevision(const std::string& ns, const std::string& name,
                                           const std::string& revision) {
  std::lock_guard<std::mutex> lock(impl_->revisions_mu);
  auto& entry = impl_->revisions[ns + "/" + name];
  if (entry.second != nullptr && entry.first == revision) {
    return;
  }
  if (entry.second != nullptr) {
    impl_->revision_info.Remove(entry.second);
  }
  entry.first = revision;
  entry.second =
      &impl_->revision_info.Add({{"namespace", ns}, {"name", name}, {"revision", revision}});
  entry.second->Set(1);
}

void PrometheusMetrics::ObserveObjectStatus(const std::string& ns, const std::string& name,
                                            const core::SchemaMigrationStatus& status) {
  const prometheus::Labels object{{"namespace", ns}, {"name", name}};
  auto with = [&object](const char* key, const std::string& value) {
    prometheus::Labels labels = object;
    labels.emplace(key, value);
    return labels;
  };
  std::lock_guard<std::mutex> lock(impl_->objects_mu);
  Impl::ObjectSeries& series = impl_->objects[ns + "/" + name];
  const std::string phase = core::PhaseName(status.phase);
  if (series.phase == nullptr || series.phase_name != phase) {
    if (series.phase != nullptr) {
      impl_->phase.Remove(series.phase);
    }
    series.phase_name = phase;
    series.phase = &impl_->phase.Add(with("phase", phase));
    series.phase->Set(1);
  }
  for (const char* type : {core::condition_types::kReady, core::condition_types::kReconciling,
                           core::condition_types::kStalled}) {
    prometheus::Gauge*& gauge = series.conditions[type];
    if (gauge == nullptr) {
      gauge = &impl_->condition.Add(with("condition", type));
    }
    gauge->Set(core::IsConditionTrue(status.conditions, type) ? 1 : 0);
  }
  const bool writers_down = status.run && status.run->scale_down_time.has_value();
  if (writers_down) {
    if (series.writers_down_since == nullptr) {
      series.writers_down_since = &impl_->writers_down_since.Add(object);
    }
    series.writers_down_since->Set(static_cast<double>(status.run->scale_down_time->unix_millis) /
                                   1000.0);
  } else if (series.writers_down_since != nullptr) {
    impl_->writers_down_since.Remove(series.writers_down_since);
    series.writers_down_since = nullptr;
  }
}

void PrometheusMetrics::ForgetObject(const std::string& ns, const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(impl_->objects_mu);
    auto it = impl_->objects.find(ns + "/" + name);
    if (it != impl_->objects.end()) {
      impl_->Forget(it->second);
      impl_->objects.erase(it);
    }
  }
  std::lock_guard<std::mutex> lock(impl_->revisions_mu);
  auto it = impl_->revisions.find(ns + "/" + name);
  if (it == impl_->revisions.end()) {
    return;
  }
  if (it->second.second != nullptr) {
    impl_->revision_info.Remove(it->second.second);
  }
  impl_->revisions.erase(it);
}

void PrometheusMetrics::ObserveReconcileSeconds(double seconds) {
  impl_->reconcile_duration_series.Observe(seconds);
}

void PrometheusMetrics::SetWorkQueueDepth(double depth) { impl_->depth_series.Set(depth); }

void PrometheusMetrics::CountApiServerError(const std::string& code) {
  impl_->apiserver_errors.Add({{"code", code}}).Increment();
}

void PrometheusMetrics::CountApiServerRetry(const std::string& reason) {
  impl_->apiserver_retries.Add({{"reason", reason}}).Increment();
}

void PrometheusMetrics::CountWatchRelist() { impl_->relist_series.Increment(); }

void PrometheusMetrics::CountDatabaseConnectionLost() { impl_->connection_lost_series.Increment(); }

std::string PrometheusMetrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer serializer;
  serializer.Serialize(out, impl_->registry->Collect());
  return out.str();
}

}  // namespace schemaop::manager
