#pragma once
// reconcile::MetricsSink over prometheus-cpp, plus the controller loop's own
// series (reconcile duration, work queue depth). prometheus-cpp stays behind
// a pimpl so that including this header costs nothing.
//
// Series (all prefixed schemaop_):
//   reconcile_total{result}                  counter
//   reconcile_duration_seconds               histogram
//   workqueue_depth                          gauge
//   runs_total{outcome}                      counter
//   migration_seconds                        histogram (SQL time of a run)
//   phase_seconds{phase}                     histogram (each phase of a plan with phases)
//   downtime_seconds                         histogram (writers at zero)
//   current_revision_info{namespace,name,revision}  gauge = 1
//   apiserver_errors_total{code}             counter (HTTP code, "unreachable")
//   apiserver_retries_total{reason}          counter (stale-connection, conflict)
//   watch_relists_total                      counter (watch history expired: 410)
//   database_connection_lost_total           counter (runs PostgreSQL ended mid-run)
//   phase{namespace,name,phase}              gauge = 1 (the object's status.phase)
//   condition{namespace,name,condition}      gauge 1/0 (Ready, Reconciling, Stalled True?)
//   writers_down_since_seconds{namespace,name}  gauge: Unix time the run in progress
//                                            scaled the writers to 0; absent otherwise
//
// The alerting rules and the Grafana dashboard of manifests/monitoring/ use
// only these names (tests/e2e/monitoring_test.sh scrapes a real controller).
// Label values are bounded: results/outcomes are reconciler constants and
// revisions/names come from the cluster, never from a Secret.
//
// Thread-safe: every method may be called from any worker thread and from
// the HTTP server's threads at the same time.
#include <memory>
#include <string>

#include "reconcile/ports.h"

namespace schemaop::manager {

class PrometheusMetrics final : public reconcile::MetricsSink {
 public:
  PrometheusMetrics();
  ~PrometheusMetrics() override;
  PrometheusMetrics(const PrometheusMetrics&) = delete;
  PrometheusMetrics& operator=(const PrometheusMetrics&) = delete;

  // reconcile::MetricsSink
  void CountReconcile(const std::string& result) override;
  void CountRun(const std::string& outcome) override;
  void ObserveMigrationSeconds(double seconds) override;
  void ObservePhaseSeconds(const std::string& phase, double seconds) override;
  void ObserveDowntimeSeconds(double seconds) override;
  void SetCurrentRevision(const std::string& ns, const std::string& name,
                          const std::string& revision) override;
  void CountDatabaseConnectionLost() override;
  void ObserveObjectStatus(const std::string& ns, const std::string& name,
                           const core::SchemaMigrationStatus& status) override;

  // The controller loop's series.
  void ObserveReconcileSeconds(double seconds);
  void SetWorkQueueDepth(double depth);
  // Faults met by the Kubernetes client (manager/fault_log.h).
  void CountApiServerError(const std::string& code);
  void CountApiServerRetry(const std::string& reason);
  void CountWatchRelist();
  // Drops every series of an object that was deleted.
  void ForgetObject(const std::string& ns, const std::string& name);

  // The Prometheus text exposition format (version 0.0.4) of every series.
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace schemaop::manager
