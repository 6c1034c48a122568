// Reconciler::Reconcile, the thin outer loop (conventions §5, design §6.1):
// get the object, run one Pass on it (state_machine.cpp), and on kConflict
// start a new Pass on a fresh read.
#include "reconcile/reconciler.h"

#include <string>
#include <utility>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

Reconciler::Reconciler(KubePort& kube, DatabasePort& db, Clock& clock, MetricsSink& metrics,
                       ReconcilerOptions options)
    : kube_(kube),
      db_(db),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      backoff_(options_.initial_backoff, options_.max_backoff) {}

ReconcileResult Reconciler::Reconcile(const std::string& ns, const std::string& name) {
  const std::string key = ns + "/" + name;
  auto failed = [&](core::Status error) {
    metrics_.CountReconcile("error");
    ReconcileResult result;
    result.requeue_after = backoff_.Failed(key);
    result.error = std::move(error);
    return result;
  };
  int conflicts = 0;
  for (int attempt = 0; attempt <= options_.max_conflict_retries; ++attempt) {
    auto obj = kube_.GetSchemaMigration(ns, name);
    if (!obj.ok()) {
      if (obj.status().code() == core::Code::kNotFound) {
        backoff_.Reset(key);
        metrics_.CountReconcile("success");
        return ReconcileResult{};
      }
      return failed(obj.status());
    }
    Pass pass(*this, std::move(obj).value());
    auto result = pass.Run();
    if (!result.ok() && result.status().code() == core::Code::kConflict) {
      ++conflicts;
      continue;  // someone else wrote the object: re-read and recompute
    }
    if (!result.ok()) {
      ReconcileResult out = failed(result.status());
      out.conflict_retries = conflicts;
      return out;
    }
    metrics_.CountReconcile(pass.metric_result());
    metrics_.ObserveObjectStatus(ns, name, pass.status());
    ReconcileResult out = std::move(result).value();
    out.conflict_retries = conflicts;
    return out;
  }
  metrics_.CountReconcile("error");
  ReconcileResult result;
  result.requeue_after = options_.initial_backoff;
  result.error =
      core::Status(core::Code::kConflict, "status update conflicted " +
                                              std::to_string(options_.max_conflict_retries + 1) +
                                              " times; will retry");
  result.conflict_retries = conflicts;
  return result;
}

}  // namespace schemaop::reconcile
