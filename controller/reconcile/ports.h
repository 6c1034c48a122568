#pragma once
// The narrow interfaces through which the reconciler touches the outside
// world (conventions §6): the Kubernetes API, the migration engine, the clock
// and the metrics registry. Production implementations live with the
// integration code (over kube/ and database/Migrator); tests use the fakes in
// tests/reconcile/ that record every call and inject faults.
//
// Contract for every implementation:
// - Errors are values (core::Status codes); implementations catch their
//   library's exceptions. A test fake may throw to simulate a process crash;
//   the reconciler never catches exceptions, so such a throw leaves exactly
//   the state a crash would.
// - No secret ever appears in a returned message: implementations redact URLs
//   (core::RedactDatabaseUrl); the reconciler also scrubs the Secret value
//   from every text it writes, as a second line of defence.
// - Nothing here is thread-safe unless stated; one Reconciler per thread.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/conditions.h"
#include "core/migration_run.h"
#include "core/phase_schedule.h"
#include "core/schema_migration.h"
#include "core/status.h"

namespace schemaop::reconcile {

// ------------------------------------------------------------- Kubernetes

// The scale subresource of a workload (any scalable kind).
struct WorkloadScale {
  std::int32_t spec_replicas = 0;    // .spec.replicas (desired)
  std::int32_t status_replicas = 0;  // .status.replicas (pods that still exist)
};

// An autoscaler whose spec.scaleTargetRef names a listed workload (design §6.8).
struct AutoscalerInfo {
  std::string kind;  // core::kKindHorizontalPodAutoscaler | core::kKindScaledObject
  std::string name;
  // HPA: spec.minReplicas (the API's default 1 when unset); 0 means the
  // HPA keeps scaling a target at 0 replicas (HPAScaleToZero).
  std::int32_t min_replicas = 1;
  // ScaledObject: the core::kKedaPausedReplicasAnnotation value now (nullopt: absent).
  std::optional<std::string> paused_replicas;
};

enum class EventType { kNormal, kWarning };

// An object in the SchemaMigration's namespace, by kind and name.
struct ObjectRef {
  std::string kind;  // "Secret", "ConfigMap", "Deployment", "StatefulSet"
  std::string name;
};

// THE reference rule (KubePort::ListSchemaMigrationsReferencing, and the
// manager's ReferenceIndex, which applies it to every informer event): the
// objects whose change may change what a reconcile of `obj` does: its URL
// Secret, its migrations ConfigMap, and its workloads (in the spec, recorded
// in status, and those of the run in progress). Empty names are left out.
inline std::vector<ObjectRef> ReferencesOf(const core::SchemaMigration& obj) {
  std::vector<ObjectRef> refs;
  auto add = [&refs](const std::string& kind, const std::string& name) {
    if (!name.empty()) {
      refs.push_back({kind.empty() ? core::kKindDeployment : kind, name});
    }
  };
  add("Secret", obj.spec.url_secret_ref.name);
  add("ConfigMap", obj.spec.migrations_config_map);
  for (const auto& w : obj.spec.workloads) add(w.kind, w.name);
  for (const auto& w : obj.status.workloads) add(w.kind, w.name);
  if (obj.status.run) {
    for (const auto& w : obj.status.run->workloads) add(w.kind, w.name);
  }
  return refs;
}

inline bool ReferencesObject(const core::SchemaMigration& obj, const std::string& kind,
                             const std::string& name) {
  const std::vector<ObjectRef> refs = ReferencesOf(obj);
  return std::any_of(refs.begin(), refs.end(),
                     [&](const ObjectRef& r) { return r.kind == kind && r.name == name; });
}

// A batch/v1 Job of the Job executor (design §10), as the reconciler reads
// it: its status conditions, never its output, decide nothing about the
// database (design §10.4).
struct JobState {
  enum class Phase { kActive, kSucceeded, kFailed };
  Phase phase = Phase::kActive;
  // The condition that ended it (Complete / Failed): reason and message,
  // e.g. BackoffLimitExceeded, DeadlineExceeded.
  std::string reason;
  std::string message;
  std::string run_key;  // its schemaop.dev/run annotation
  // Ended: completionTime (or the condition's time) - startTime; -1 unknown.
  double seconds = -1;
};

// What ReadJobLog reads of a pod's log (GET pods/NAME/log): the last
// `tail_lines` lines (<0: all), at most `limit_bytes` of them.
struct JobLogRequest {
  std::int64_t tail_lines = -1;
  std::int64_t limit_bytes = 1 << 20;
};

class KubePort {
 public:
  virtual ~KubePort() = default;

  // ---- The Job executor (design §10). The defaults say the port has no
  // Job support (kInternal); KubePortImpl and the fakes implement them.
  // POST of the Job `manifest` (JSON text of reconcile::BuildJob) into
  // namespace `ns`. kConflict when a Job of that name exists (HTTP 409
  // AlreadyExists: the caller adopts it, design §10.3).
  [[nodiscard]] virtual core::Status CreateJob(const std::string& ns,
                                               const std::string& manifest) {
    (void)ns, (void)manifest;
    return NoJobSupport();
  }
  // kNotFound when the Job is gone.
  virtual core::Result<JobState> GetJob(const std::string& ns, const std::string& name) {
    (void)ns, (void)name;
    return NoJobSupport();
  }
  // DELETE with propagationPolicy Foreground: the Job stays (with its
  // deletionTimestamp) until its pods are gone, so GetJob says kNotFound
  // only once the tool's process is. A Job already gone is no error.
  [[nodiscard]] virtual core::Status DeleteJob(const std::string& ns, const std::string& name) {
    (void)ns, (void)name;
    return NoJobSupport();
  }
  // The log of the Job's newest pod (pods labelled
  // batch.kubernetes.io/job-name or job-name = `job`); empty when it has
  // none. UNTRUSTED text that may hold secrets: scrub it (JobLogExcerpt)
  // before it goes anywhere.
  virtual core::Result<std::string> ReadJobLog(const std::string& ns, const std::string& job,
                                               const JobLogRequest& request) {
    (void)ns, (void)job, (void)request;
    return NoJobSupport();
  }

  // The Secret of a rehearsal Job (design §10.9): the JSON text of a v1
  // Secret whose controller owner is the SchemaMigration, created in
  // namespace `ns`; one of that name left by an earlier attempt (same
  // controller owner) is replaced. Its data is SECRET. DeleteSecret deletes
  // the Secret only while its controller owner is the object with uid
  // `owner_uid` (and only that incarnation: a uid precondition); one
  // already gone is no error. Invariant: the operator deletes or replaces
  // no Secret it did not write; one of the name that is not its own is
  // kFailedPrecondition, named, and left as it is.
  [[nodiscard]] virtual core::Status ApplySecret(const std::string& ns,
                                                 const std::string& manifest) {
    (void)ns, (void)manifest;
    return NoJobSupport();
  }
  [[nodiscard]] virtual core::Status DeleteSecret(const std::string& ns, const std::string& name,
                                                  const std::string& owner_uid) {
    (void)ns, (void)name, (void)owner_uid;
    return NoJobSupport();
  }

  // The object with metadata, spec and status. kNotFound when it is gone.
  virtual core::Result<core::SchemaMigration> GetSchemaMigration(const std::string& ns,
                                                                 const std::string& name) = 0;
  // The SchemaMigrations of namespace `ns` that reference the object of
  // `kind` ("Secret", "ConfigMap", "Deployment", "StatefulSet") named
  // `name`: spec.database.urlSecretRef.name, spec.migrations.configMapRef.name,
  // spec.workloads, status.workloads or status.run.workloads. What the
  // duplicate-database and shared-workload checks need, called on every
  // reconcile: the manager answers it from an index instead of copying the
  // whole namespace (which made a resync quadratic in the object count).
  virtual core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrationsReferencing(
      const std::string& ns, const std::string& kind, const std::string& name) = 0;
  // The SchemaMigrations of every watched namespace whose
  // status.databaseIdentity is `identity` (one database, one owner: two
  // Secrets or namespaces can reach the same database). Called on every
  // reconcile outside a run: the manager answers it from an index over its
  // cache, never by listing the cluster.
  virtual core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrationsByDatabaseIdentity(
      const std::string& identity) = 0;

  // PUT .../status with obj.metadata.resource_version and obj.status (the
  // spec is ignored by the status subresource). Returns the new
  // resourceVersion; kConflict when resource_version is stale (the reconciler
  // then re-reads and retries), kNotFound when the object is gone.
  virtual core::Result<std::string> UpdateStatus(const core::SchemaMigration& obj) = 0;

  // Adds / removes `finalizer` in metadata.finalizers, guarded by
  // obj.metadata.resource_version (kConflict when stale). Returns the new
  // resourceVersion (RemoveFinalizer on an object being deleted may return
  // an empty string once the object is gone).
  virtual core::Result<std::string> AddFinalizer(const core::SchemaMigration& obj,
                                                 const std::string& finalizer) = 0;
  virtual core::Result<std::string> RemoveFinalizer(const core::SchemaMigration& obj,
                                                    const std::string& finalizer) = 0;

  // The decoded value of data[key] of Secret ns/name. kNotFound with a
  // message naming the Secret (or the missing key). The value is a secret:
  // never log it, never put it into a message.
  virtual core::Result<std::string> GetSecretValue(const std::string& ns, const std::string& name,
                                                   const std::string& key) = 0;

  // Whether Secret ns/name exists (its data is not read).
  virtual core::Result<bool> SecretExists(const std::string& ns, const std::string& name) {
    (void)ns, (void)name;
    return core::Status(core::Code::kInternal, "SecretExists is not supported here");
  }

  // data of ConfigMap ns/name (key -> text). kNotFound when missing.
  virtual core::Result<std::map<std::string, std::string>> GetConfigMapData(
      const std::string& ns, const std::string& name) = 0;

  // The scale subresource (autoscaling/v1 Scale) of a workload of any
  // scalable kind (design §6.3): w.api_version empty means apps/v1 for
  // Deployment/StatefulSet; any other kind is found through API discovery.
  // kNotFound when the workload does not exist; kInvalidArgument, with a
  // message naming the kind and the fix, when the kind is not served or has
  // no scale subresource (nothing was changed). status_replicas counts the
  // pods matching the scale's status.selector.
  // A CronJob (core::kKindCronJob) is read and written as a writer with at
  // most one replica (design §6.8): GetScale gives spec_replicas 0 when
  // spec.suspend is true, else 1, and status_replicas = its Jobs still
  // running (ownerReferences to it, not Complete or Failed); SetReplicas(0)
  // sets spec.suspend true, any other count sets it false.
  virtual core::Result<WorkloadScale> GetScale(const std::string& ns,
                                               const core::WorkloadRef& w) = 0;
  // Sets .spec.replicas through the scale subresource (same errors).
  [[nodiscard]] virtual core::Status SetReplicas(const std::string& ns, const core::WorkloadRef& w,
                                                 std::int32_t replicas) = 0;

  // ---- Other writers and their autoscalers (design §6.8)
  // The HorizontalPodAutoscalers (autoscaling/v2) and KEDA ScaledObjects
  // (keda.sh/v1alpha1; none when KEDA is not installed) of namespace `ns`
  // whose spec.scaleTargetRef is workload kind/name.
  virtual core::Result<std::vector<AutoscalerInfo>> ListAutoscalersOf(const std::string& ns,
                                                                      const std::string& kind,
                                                                      const std::string& name) = 0;
  // Sets (a value) or removes (nullopt) the core::kKedaPausedReplicasAnnotation
  // of ScaledObject ns/name. kNotFound when it is gone.
  [[nodiscard]] virtual core::Status SetScaledObjectPausedReplicas(
      const std::string& ns, const std::string& name, const std::optional<std::string>& value) = 0;
  // Deletes the running Jobs of CronJob ns/name with propagationPolicy
  // Background (their pods go with them). A Job already gone is no error.
  [[nodiscard]] virtual core::Status DeleteRunningJobsOf(const std::string& ns,
                                                         const std::string& name) = 0;
  // Who last set the workload's spec.replicas (a CronJob: spec.suspend), from
  // its metadata.managedFields: "manager \"M\" (operation Update,
  // subresource scale, at TIME)", or a text saying no entry owns the field.
  virtual core::Result<std::string> ReplicasWriterOf(const std::string& ns,
                                                     const core::WorkloadRef& w) = 0;

  // Best effort (an Event that cannot be written is not an error of the run).
  // `reason` is CamelCase (core::reasons), `message` one line.
  virtual void RecordEvent(const core::SchemaMigration& obj, EventType type,
                           const std::string& reason, const std::string& message) = 0;

 private:
  static core::Status NoJobSupport() {
    return core::Status(core::Code::kInternal, "this KubePort cannot run Jobs");
  }
};

// --------------------------------------------------------------- Database

// Everything the engine needs for one database, built by the reconciler from
// the spec, the Secret and the ConfigMap.
struct DatabaseTarget {
  std::string url;  // SECRET (contains the password). Never log or echo it.
  // CA certificate(s), PEM, from spec.database.caSecretRef (empty: none):
  // the engine's sslrootcert (database::MigratorOptions::ca_certificate_pem).
  std::string ca_certificate_pem;
  std::string version_table = core::kDefaultVersionTable;
  std::string version_layout = core::kVersionLayoutAlembic;  // spec.database.versionLayout
  // The ConfigMap's files, (key, text) sorted by key; parse with
  // database::ParseMigrationSources.
  std::vector<std::pair<std::string, std::string>> migration_files;
  // "schemaop-controller <namespace>/<name>", recorded in schemaop.run_log.
  std::string actor;
  // The SchemaMigration: backup files are named and kept per owner.
  std::string owner_namespace;
  std::string owner_name;

  // From the spec. The reconciler does the backup itself (BackingUp phase),
  // so Migrate must not back up again: map to database::BackupPolicy::kNever
  // there. `backup_when` is passed for information and for Backup().
  core::BackupWhen backup_when = core::BackupWhen::kDowngrade;
  bool verify_row_counts = true;  // verify.rowCounts == Preserve
  // verify.schema == Enforce: after a downgrade (and an upgrade to a revision
  // seen before) the live schema must equal the fingerprint recorded for the
  // revision reached, else the run is rolled back with kSchemaDrift.
  bool verify_schema = true;
  std::vector<std::string> allow_row_loss;
  std::vector<core::VerifyCheck> checks;
  core::FailurePolicy failure_policy = core::FailurePolicy::kRollback;
  std::optional<std::chrono::milliseconds> lock_timeout;       // unset: engine default
  std::optional<std::chrono::milliseconds> statement_timeout;  // unset: engine default
};

struct InspectResult {
  std::vector<std::string> current_versions;  // version-table rows, sorted; empty = base
  std::vector<std::string> target_versions;   // the resolved target, sorted; empty = base
  std::vector<core::PlanStepStatus> steps;    // empty when already at target
  bool has_downgrade = false;
  // Lowercase hex sha256 over the from/to versions and, for every step in
  // order, its revision, direction and the exact SQL of that direction's
  // sections (database::Migrator::PlanDigest). Recorded at planning; Migrate
  // refuses with kMigrationsChanged when the plan it would run now differs.
  std::string plan_digest;
  // At the target (no steps): the digest of the plan whose contract phase
  // is pending (its window committed; the contract failed or never ran,
  // design §3.1); empty when none. Never set with executor Job.
  std::string pending_contract;
  // The database as the server identifies it (a hash of the cluster's
  // system identifier, or of server address, port and database name when
  // that is not readable, plus the database OID): two URLs that reach the
  // same database yield the same value. Not a secret; never the URL.
  std::string database_identity;
};

// Identifies one run of one SchemaMigration (design: exactly once). Recorded
// in schemaop.run_log when the run starts; a run whose record has ended is
// never executed again, whatever the status says.
using core::kRecoveryDetail;  // "recovery", = database::kRecoveryDetail

struct RunIdentity {
  std::string owner_uid;     // metadata.uid of the SchemaMigration
  std::int64_t generation = 0;
  std::string plan_digest;   // InspectResult::plan_digest recorded at planning
  // A run started by a new schemaop.dev/retry value (design §9.3) is a new
  // run of the same generation and plan: its own key, so the engine runs it
  // instead of replaying the failed one. Empty for any other run.
  std::string retry;
  // The phase of the plan this call runs (design §3.1, §6.3): kAll for a
  // plan without expand or contract sections (one run, as before);
  // otherwise each phase is its own run, with its own key.
  core::RunPhase phase = core::RunPhase::kAll;
  std::string Key() const {
    return owner_uid + "/" + std::to_string(generation) + "/" + plan_digest +
           (retry.empty() ? "" : "/retry/" + retry) +
           (phase == core::RunPhase::kAll ? "" : "/phase/" + core::RunPhaseName(phase));
  }
};

// A verified backup: path, bytes, sha256, created_at (= database::BackupInfo).
using BackupResult = core::BackupInfo;

// kNothingToDo, kSucceeded, kRolledBack, kFailed (failed and not undone:
// failurePolicy Halt, or the undo failed) (= database::RunOutcome).
using MigrateOutcome = core::RunOutcome;

struct MigrateResult {
  MigrateOutcome outcome = MigrateOutcome::kNothingToDo;
  std::vector<std::string> final_versions;  // version-table rows at the end, sorted
  double sql_seconds = 0;                   // time spent in migration SQL
  double total_seconds = 0;                 // the engine's time, lock to unlock
  // Why it failed (kMigrationFailed or kVerificationFailed, message redacted);
  // OK for kNothingToDo / kSucceeded.
  core::Status failure;
  // Set when an interrupted earlier run was recovered first (one line).
  std::optional<std::string> recovered;
  // Set when a stale session owner holding the lock was fenced first (design
  // §4.2; one line naming it).
  std::optional<std::string> fenced;
  // True when the run of this identity had already ended before the call
  // (e.g. the status write after it was lost): nothing was executed, the
  // outcome, failure and final versions are read back from schemaop.run_log.
  bool replayed = false;
};

// Runs off the workers (design §6.5): how a run in progress may be cancelled.
struct RunControl {
  // The downtime budget: at this wall-clock time the run is cancelled with
  // `deadline_status` (kDowntimeExceeded) unless it ended. Unset: none.
  std::optional<core::Timestamp> deadline;
  core::Status deadline_status;
  // Cancel now (kAborted, kDowntimeExceeded), recorded in status.run first.
  std::optional<core::Status> cancel;
};

struct RunTicket {
  enum class State {
    kWaiting,   // queued for a run thread (--max-concurrent-runs reached)
    kRunning,   // on a run thread
    kFinished,  // `result` holds what Migrate returned; the run is forgotten
  };
  State state = State::kFinished;
  std::optional<core::Result<MigrateResult>> result;
  int runs_in_progress = 0;  // kWaiting: runs holding the threads
  int max_runs = 0;          // kWaiting: the limit
  // kRunning: the run's latest progress as sampled from the database
  // (design §6.8); unset before the first sample.
  std::optional<core::RunProgress> progress;
};

// A rehearsal of the plan on a scratch copy (database::Migrator::Rehearse).
struct RehearseResult {
  bool succeeded = false;
  std::string plan_digest;  // of the plan rehearsed
  double sql_seconds = 0;   // the forward run's SQL
  double predicted_downtime_seconds = 0;
  // Why it failed (stage and the engine's message, redacted); OK on success.
  core::Status failure;
  bool scratch_dropped = true;
};

// A rehearsal off the workers (design §6.7): like RunTicket, with the
// rehearsal's result.
struct RehearsalTicket {
  RunTicket::State state = RunTicket::State::kFinished;
  std::optional<core::Result<RehearseResult>> result;  // kFinished
  int runs_in_progress = 0;  // kWaiting: runs holding the threads
  int max_runs = 0;          // kWaiting: the limit
};

// The Job executor's checks (design §10.4): what the database holds before
// the migration Job, and what changed after a Job.
struct JobBaseline {
  std::vector<std::string> versions;  // the version table, sorted; empty = base
  std::string fingerprint_digest;     // the live schema's fingerprint
  std::int64_t relations = 0;         // relations counted
};
struct JobCheck {
  std::vector<std::string> versions;  // the version table now, read by the operator
  // One line per relation tree that lost rows since the baseline (names
  // and counts only, never row values).
  std::vector<std::string> row_loss;
  // With compare_schema: one line per object differing from the baseline's
  // schema (at most 10); empty when equal.
  std::vector<std::string> schema_drift;
};

class DatabasePort {
 public:
  virtual ~DatabasePort() = default;

  // ---- The Job executor (design §10.4). Defaults: kInternal (no support).
  // The versions and the identity of the database (Inspect without files):
  // InspectResult's current_versions and database_identity only.
  virtual core::Result<InspectResult> InspectVersions(const DatabaseTarget& target) {
    (void)target;
    return NoJobSupport();
  }
  // Records, once per `run_key`, the version rows, row counts by relation
  // identity and the schema fingerprint (in schemaop.job_baseline); a
  // second call returns the first record unchanged (a restarted controller
  // must never re-record after the Job ran).
  virtual core::Result<JobBaseline> RecordJobBaseline(const DatabaseTarget& target,
                                                      const std::string& run_key) {
    (void)target, (void)run_key;
    return NoJobSupport();
  }
  // The version table now, the rows lost since the baseline of `run_key`
  // (minus target.allow_row_loss), and, with `compare_schema`, the schema
  // against the baseline's; without it (and with target.verify_schema),
  // the schema against the one an earlier run recorded at the revision
  // reached, when the database was there before (design §10.4). kNotFound
  // when no baseline was recorded.
  virtual core::Result<JobCheck> CheckJobResult(const DatabaseTarget& target,
                                                const std::string& run_key, bool compare_schema) {
    (void)target, (void)run_key, (void)compare_schema;
    return NoJobSupport();
  }
  // Ends every session the Job's tool left in the database (those with
  // application_name `application_name`, which the Job's PGAPPNAME sets)
  // and returns once none is left: a killed pod's statement keeps running
  // in the server, and an autocommit statement commits on its own (design
  // §10.4). kTimeout when a session is still there after a bound.
  [[nodiscard]] virtual core::Status EndJobSessions(const DatabaseTarget& target,
                                                    const std::string& application_name) {
    (void)target, (void)application_name;
    return NoJobSupport();
  }
  // pg_restore of a backup file of this SchemaMigration (database::Migrator::Restore).
  [[nodiscard]] virtual core::Status RestoreBackup(const DatabaseTarget& target,
                                                   const std::string& path) {
    (void)target, (void)path;
    return NoJobSupport();
  }
  // The scratch copies of rehearsals run by Jobs (design §10.9), held by
  // this process under `key` until DropJobScratch (a restarted process
  // holds none: the rehearsal starts over). OpenJobScratch copies the
  // database of `target` into a scratch database on its own server and
  // returns the URL a Job reaches it with (target.url with only the
  // database name changed, core::WithDatabaseName): SECRET. Synchronous:
  // the copy takes as long as pg_dump | pg_restore. FindJobScratch: that
  // URL, or nullopt when this process holds no copy under `key`.
  virtual core::Result<std::string> OpenJobScratch(const DatabaseTarget& target,
                                                   const std::string& key) {
    (void)target, (void)key;
    return NoJobSupport();
  }
  virtual std::optional<std::string> FindJobScratch(const std::string& key) {
    (void)key;
    return std::nullopt;
  }
  // Drops the copy held under `key`; none held is no error.
  [[nodiscard]] virtual core::Status DropJobScratch(const std::string& key) {
    (void)key;
    return core::Status::Ok();
  }
  // The plan digest of a Job plan: sha256 hex over from, to and the plan
  // Job's output (the offline SQL), so approval pins exactly that SQL.
  virtual std::string JobPlanDigest(const std::vector<std::string>& from,
                                    const std::vector<std::string>& to,
                                    const std::string& plan_output) {
    (void)from, (void)to, (void)plan_output;
    return {};
  }

  // Asynchronous Rehearse (design §6.7), on the run threads of StartMigrate
  // and within the same limit. FindRehearsal: the rehearsal of `identity`
  // known to this process, or nullopt; StartRehearse starts (or queues) it.
  // A finished rehearsal is handed out once and forgotten. The defaults
  // rehearse on the caller's thread (tools, tests).
  virtual std::optional<RehearsalTicket> FindRehearsal(const RunIdentity& /*identity*/) {
    return std::nullopt;
  }
  virtual RehearsalTicket StartRehearse(const DatabaseTarget& target,
                                        const std::vector<std::string>& target_versions,
                                        const RunIdentity& identity, bool with_backup,
                                        const std::string& /*object_key*/) {
    RehearsalTicket ticket;
    ticket.result = Rehearse(target, target_versions, identity.plan_digest, with_backup);
    return ticket;
  }

  // Asynchronous Migrate (design §6.5). FindRun: the run of `identity`
  // already known to this process (applying `control` to it), or nullopt.
  // StartMigrate: starts Migrate on a run thread (or queues it). A finished
  // run is handed out once (kFinished with its result) and forgotten; asked
  // again, a new Migrate of the same identity replays the ended run (exactly
  // once is the engine's, design §4.4). The defaults run Migrate on the
  // caller's thread (tools, tests).
  virtual std::optional<RunTicket> FindRun(const RunIdentity& /*identity*/,
                                           const RunControl& /*control*/) {
    return std::nullopt;
  }
  virtual RunTicket StartMigrate(const DatabaseTarget& target,
                                 const std::vector<std::string>& target_versions,
                                 const RunIdentity& identity, const RunControl& control,
                                 const std::string& /*object_key*/) {
    (void)control;  // a synchronous run ends before anyone could cancel it
    RunTicket ticket;
    ticket.result = Migrate(target, target_versions, identity);
    return ticket;
  }

  // Reads the current versions, resolves `target_revision` (Alembic syntax:
  // id, prefix, head, heads, base, +N, -N) and plans. Read-only; takes no
  // lock. Errors: kUnreachable, kUnknownRevision / kAmbiguousRevision /
  // kMultipleHeads / kRangeError, kParseError / kCycleDetected /
  // kDuplicateRevision / kUnknownParent (broken files), kChecksumMismatch,
  // kInvalidArgument (e.g. version table name).
  virtual core::Result<InspectResult> Inspect(const DatabaseTarget& target,
                                              const std::string& target_revision) = 0;

  // pg_dump -Fc of the database. kBackupFailed, kUnreachable.
  virtual core::Result<BackupResult> Backup(const DatabaseTarget& target) = 0;

  // Under the migration lock: recovers an interrupted run; if the run of
  // `identity` already ended, returns its recorded outcome (replayed) without
  // executing anything; otherwise plans from the ACTUAL current versions to
  // `target_versions` (empty = base; absolute), refuses with
  // kMigrationsChanged when that plan's digest is not identity.plan_digest,
  // migrates and verifies (every committed segment), rolls back on failure
  // per failure_policy, and records the run under identity.Key().
  // A non-OK Result means nothing was migrated by this call: kUnreachable and
  // kLockHeld (retried), kChecksumMismatch, kMigrationsChanged,
  // kUnknownRevision, kParseError... A failure whose detail() is
  // kRecoveryDetail ("recovery") means an interrupted earlier run could not
  // be finished or undone: the database may be between revisions.
  // Once migration started the Result is OK and MigrateResult says how it ended.
  virtual core::Result<MigrateResult> Migrate(const DatabaseTarget& target,
                                              const std::vector<std::string>& target_versions,
                                              const RunIdentity& identity) = 0;

  // Rehearses the plan to `target_versions` on a scratch copy of the
  // database (design §4.10): the database is only read; the scratch
  // database is dropped on every path. The forward run is pinned to
  // `plan_digest`. `with_backup`: count a backup in the predicted downtime.
  // A non-OK Result means nothing was rehearsed (kUnreachable and kLockHeld
  // are transient; a missing CREATEDB is kMigrationFailed, detail 42501).
  virtual core::Result<RehearseResult> Rehearse(const DatabaseTarget& target,
                                                const std::vector<std::string>& target_versions,
                                                const std::string& plan_digest,
                                                bool with_backup) = 0;

 private:
  static core::Status NoJobSupport() {
    return core::Status(core::Code::kInternal, "this DatabasePort cannot check Job runs");
  }
};

// ------------------------------------------------------------------ Clock

class Clock {
 public:
  virtual ~Clock() = default;
  virtual core::Timestamp Now() = 0;
};

// ---------------------------------------------------------------- Metrics

// Hooks bound to prometheus-cpp by the integration code. Label values are
// bounded: results and outcomes are the constants below; revisions and
// object names come from the cluster, never from a Secret.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // schemaop_reconcile_total{result}: result is "success" (done, nothing
  // pending), "requeue" (progressing), "stalled", "retry" (transient error),
  // "error" (Kubernetes API failure).
  virtual void CountReconcile(const std::string& result) = 0;
  // schemaop_runs_total{outcome}: Succeeded | RolledBack | Failed.
  virtual void CountRun(const std::string& outcome) = 0;
  // schemaop_migration_seconds histogram (SQL time of a run).
  virtual void ObserveMigrationSeconds(double seconds) = 0;
  // schemaop_downtime_seconds histogram (writers at zero).
  virtual void ObserveDowntimeSeconds(double seconds) = 0;
  // schemaop_phase_seconds{phase} histogram: the engine's time of each
  // phase of a plan with phases (phase: expand | window | contract).
  virtual void ObservePhaseSeconds(const std::string& /*phase*/, double /*seconds*/) {}
  // schemaop_current_revision_info{namespace,name,revision} = 1 (the
  // implementation drops the previous revision's series of that object).
  virtual void SetCurrentRevision(const std::string& ns, const std::string& name,
                                  const std::string& revision) = 0;
  // schemaop_database_connection_lost_total: runs whose session or lock
  // PostgreSQL ended mid-run (reason ConnectionLost).
  virtual void CountDatabaseConnectionLost() {}
  // The object's state after each reconcile, for the gauges alerts and
  // dashboards read (manager/prometheus_metrics.h): its phase, its
  // Ready/Reconciling/Stalled conditions, and since when a run holds the
  // writers at zero.
  virtual void ObserveObjectStatus(const std::string& /*ns*/, const std::string& /*name*/,
                                   const core::SchemaMigrationStatus& /*status*/) {}
};

// A sink that drops everything (tools and tests that do not look at metrics).
class NullMetricsSink final : public MetricsSink {
 public:
  void CountReconcile(const std::string&) override {}
  void CountRun(const std::string&) override {}
  void ObserveMigrationSeconds(double) override {}
  void ObserveDowntimeSeconds(double) override {}
  void SetCurrentRevision(const std::string&, const std::string&, const std::string&) override {}
};

}  // namespace schemaop::reconcile
