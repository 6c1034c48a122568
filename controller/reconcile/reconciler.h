#pragma once
// The SchemaMigration state machine (design §6). Pure of I/O: everything goes
// through the ports, so the whole contract is unit-tested with fakes. The
// implementation starts at state_machine.cpp (phase -> handler); pass.h
// lists the file of each phase.
//
// Phases: Pending → Planning → ScalingDown → Draining → BackingUp → Migrating
// → (RollingBack) → ScalingUp → Succeeded | Failed. Verification runs inside
// the engine's migration transaction (design §4), so its result is recorded
// by the Verified condition as Migrating ends; phase Verifying is never
// written by this reconciler (it is resumed like Migrating if found).
//
// Every transition is written to status BEFORE its side effect, so a new
// Reconciler that only sees the object's status and a fresh database read
// resumes any interrupted run: workloads always return to the replicas
// recorded in status.workloads (recorded once per run, before the first
// scale-down), and a run interrupted in Migrating calls Migrate again with
// the same RunIdentity (uid, generation, plan digest recorded at planning):
// the engine recovers, and a run whose record already ended is replayed,
// never executed twice.
//
// Data safety (issue 7):
// - A relative target is resolved once (status.resolvedTarget) and never
//   again while spec.targetRevision keeps its text.
// - The run executes the plan recorded at planning; if the files (or the
//   database) changed meanwhile the engine refuses, the run ends with
//   MigrationsChanged (workloads restored) and the next pass plans again.
// - One database, one owner: objects whose database reports the same
//   identity (status.databaseIdentity), in any watched namespace, yield to
//   the oldest (DatabaseInUse; a wait, not Stalled).
// - Intent before action: a scale-down, a backup and a restore happen only
//   after a status write recording them (status.run.intent) succeeded
//   against the current resourceVersion, so a stale read gets a conflict
//   and touches nothing.
//
// failurePolicy Halt: the engine leaves the database where the failure
// happened (each segment is transactional, so it is at a consistent
// revision); the workloads are restored all the same (the runbook restarts
// them after any rollback) and the object is Stalled for a human.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/time_zone.h"
#include "reconcile/ports.h"
#include "reconcile/retry_backoff.h"

namespace schemaop::reconcile {

struct ReconcilerOptions {
  // How often Draining re-checks that the workloads' pods are gone.
  std::chrono::milliseconds drain_poll{std::chrono::seconds(1)};
  // Transient failures (database unreachable, lock held, API errors) are
  // retried with exponential backoff between these bounds.
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
  // Stalled objects whose cause may be fixed outside the spec (a Secret or
  // ConfigMap created later) are re-checked this often; such a re-check
  // writes nothing when nothing changed.
  std::chrono::milliseconds stalled_recheck{std::chrono::minutes(1)};
  // Status-write conflicts are retried (re-read, recompute) this many times
  // within one Reconcile call before it gives up and requeues.
  int max_conflict_retries = 5;
  // How often a run in progress on a run thread is looked at (its end
  // reconciles the object at once; this is the safety net).
  std::chrono::milliseconds run_poll{std::chrono::seconds(5)};
  std::string actor_prefix = "schemaop-controller";
  // The IANA time zone of spec.maintenanceWindow.timeZone by name: kNotFound
  // for an unknown zone. The controller reads its tzdata
  // (manager::LoadSystemTimeZone); unset, only "UTC" is known.
  std::function<core::Result<core::TimeZone>(const std::string&)> time_zones;
};

struct ReconcileResult {
  // Reconcile this object again after this delay (0 = as soon as possible).
  // Unset: nothing pending; the next watch event or resync triggers it.
  std::optional<std::chrono::milliseconds> requeue_after;
  // Why the reconcile could not make progress (for the log); OK otherwise.
  // Never contains a secret.
  core::Status error;
  // Status writes that conflicted (409: the object changed meanwhile) and
  // were retried on a fresh read within this call (for the log and metrics).
  int conflict_retries = 0;
};

class Reconciler {
 public:
  // The ports must outlive the Reconciler.
  Reconciler(KubePort& kube, DatabasePort& db, Clock& clock, MetricsSink& metrics,
             ReconcilerOptions options = {});

  // One reconcile of SchemaMigration ns/name: fetch, handle deletion, then
  // advance the run as far as it can without waiting. Requeue is a result,
  // not an error. Exceptions thrown by a port propagate unchanged.
  ReconcileResult Reconcile(const std::string& ns, const std::string& name);

 private:
  // One attempt with one snapshot of the object (reconcile/pass.h); the
  // state machine it runs is reconcile/state_machine.cpp.
  class Pass;

  KubePort& kube_;
  DatabasePort& db_;
  Clock& clock_;
  MetricsSink& metrics_;
  ReconcilerOptions options_;
  RetryBackoff backoff_;
};

}  // namespace schemaop::reconcile
