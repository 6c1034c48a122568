#pragma once
// In-memory fakes of the reconcile ports with fault injection (conventions
// §6, leveldb's SpecialEnv): every mutating call is a numbered side effect in
// one shared log, and a test can make the N-th side effect "crash" the
// process, before or after it took effect, by throwing SimulatedCrash (which
// the reconciler does not catch, exactly like a crash it cannot see).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reconcile/ports.h"

namespace schemaop::reconcile::testing {

// Deliberately not a std::exception: nothing in the code under test may catch it.
struct SimulatedCrash {
  std::string op;
};

// The ordered log of side effects shared by FakeKube and FakeDatabase.
class SideEffects {
 public:
  // Records `op`, running `apply` (the effect) unless the configured crash
  // says to die before it. Returns the op's index.
  int Hit(const std::string& op, const std::function<void()>& apply);

  void CrashAt(int index, bool after_effect) {
    crash_at_ = index;
    crash_after_ = after_effect;
  }
  // Crashes at the first op (from now on) that starts with `prefix`.
  void CrashOn(const std::string& prefix, bool after_effect) {
    crash_on_ = prefix;
    crash_after_ = after_effect;
  }
  void ClearCrash() {
    crash_at_ = -1;
    crash_on_.clear();
  }

  const std::vector<std::string>& ops() const { return ops_; }
  int count() const { return static_cast<int>(ops_.size()); }
  void Clear() { ops_.clear(); }
  // Index of the first op starting with `prefix`, or -1.
  int IndexOf(const std::string& prefix, int from = 0) const;
  int Count(const std::string& prefix) const;

 private:
  std::vector<std::string> ops_;
  int crash_at_ = -1;
  std::string crash_on_;
  bool crash_after_ = false;
};

struct FakeWorkload {
  std::int32_t spec_replicas = 0;
  std::int32_t status_replicas = 0;
};

struct RecordedEvent {
  std::string object;  // ns/name
  EventType type;
  std::string reason;
  std::string message;
};

class FakeKube final : public KubePort {
 public:
  explicit FakeKube(SideEffects& effects) : effects_(effects) {}

  // ---- state (tests set and inspect it directly)
  std::map<std::string, core::SchemaMigration> objects;                   // "ns/name"
  std::map<std::string, std::map<std::string, std::string>> secrets;      // "ns/name" -> data
  std::map<std::string, std::map<std::string, std::string>> config_maps;  // "ns/name" -> data
  std::map<std::string, FakeWorkload> workloads;                          // "ns/Kind/name"
  // "ns/Kind/name" -> the apiVersion its kind is served under (absent:
  // apps/v1); a reference with another apiVersion gets kInvalidArgument,
  // like discovery's answer.
  std::map<std::string, std::string> served_api_versions;
  std::vector<RecordedEvent> events;
  // Autoscalers by the target they scale, "ns/Kind/name"; a ScaledObject's
  // paused_replicas is its annotation (SetScaledObjectPausedReplicas writes it).
  std::map<std::string, std::vector<AutoscalerInfo>> autoscalers;
  // What ReplicasWriterOf answers (the managedFields owner of spec.replicas),
  // by "ns/Kind/name"; unset: the controller's own scale write.
  std::map<std::string, std::string> writers;
  // When true, pods follow spec.replicas at once; else only on Settle().
  bool auto_drain = true;
  // The next N status writes fail with kConflict after bumping the object's
  // resourceVersion (as if someone else had written it).
  int conflicts_to_inject = 0;
  // When set, every status write fails with it (an API server that is down).
  std::optional<core::Status> update_status_error;
  // Errors to return (instead of the value) from the named read.
  std::optional<core::Status> get_scale_error;
  std::optional<core::Status> set_replicas_error;
  // A lagging cache (e.g. right after a failover): while set, reads of the
  // object with this key return this copy instead of the stored object.
  // Writes still go to the stored object, so one based on the copy's
  // resourceVersion gets kConflict, as from the API server.
  std::map<std::string, core::SchemaMigration> stale;  // "ns/name"

  // ---- helpers
  core::SchemaMigration& Object(const std::string& ns, const std::string& name);
  // Applies `edit` to the spec as an API update would: generation and resourceVersion bump.
  void EditSpec(const std::string& ns, const std::string& name,
                const std::function<void(core::SchemaMigrationSpec&)>& edit);
  // A user's `kubectl delete`: sets deletionTimestamp (the object stays while finalizers remain).
  void MarkDeleted(const std::string& ns, const std::string& name, core::Timestamp when);
  void Settle();  // every workload's pods converge to spec.replicas
  FakeWorkload& Workload(const std::string& ns, const std::string& kind, const std::string& name);
  int status_writes() const { return status_writes_; }
  int scale_calls() const { return scale_calls_; }
  int finalizer_writes() const { return finalizer_writes_; }
  // Every text the operator wrote to the API (status JSON and events).
  std::string AllWrittenText() const;
  // Status writes that break the kstatus invariant (docs/gitops.md): a
  // status with conditions is Ready=True for its generation (and neither
  // Reconciling nor Stalled), or Reconciling=True, or Stalled=True; kstatus
  // would otherwise call a migration that is not Ready "Current". One line
  // per offending write; ReconcilerTest::TearDown expects none.
  const std::vector<std::string>& kstatus_violations() const { return kstatus_violations_; }

  // ---- KubePort
  core::Result<core::SchemaMigration> GetSchemaMigration(const std::string& ns,
                                                         const std::string& name) override;
  core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrationsReferencing(
      const std::string& ns, const std::string& kind, const std::string& name) override;
  core::Result<std::vector<core::SchemaMigration>> ListSchemaMigrationsByDatabaseIdentity(
      const std::string& identity) override;
  core::Result<std::string> UpdateStatus(const core::SchemaMigration& obj) override;
  core::Result<std::string> AddFinalizer(const core::SchemaMigration& obj,
                                         const std::string& finalizer) override;
  core::Result<std::string> RemoveFinalizer(const core::SchemaMigration& obj,
                                            const std::string& finalizer) override;
  core::Result<std::string> GetSecretValue(const std::string& ns, const std::string& name,
                                           const std::string& key) override;
  core::Result<bool> SecretExists(const std::string& ns, const std::string& name) override {
    return secrets.count(ns + "/" + name) != 0;
  }
  core::Result<std::map<std::string, std::string>> GetConfigMapData(
      const std::string& ns, const std::string& name) override;
  core::Result<WorkloadScale> GetScale(const std::string& ns, const core::WorkloadRef& w) override;
  core::Status SetReplicas(const std::string& ns, const core::WorkloadRef& w,
                           std::int32_t replicas) override;
  core::Result<std::vector<AutoscalerInfo>> ListAutoscalersOf(const std::string& ns,
                                                              const std::string& kind,
                                                              const std::string& name) override;
  core::Status SetScaledObjectPausedReplicas(const std::string& ns, const std::string& name,
                                             const std::optional<std::string>& value) override;
  // Effect "delete-jobs:CronJob/NAME": its running Jobs (status_replicas) go.
  core::Status DeleteRunningJobsOf(const std::string& ns, const std::string& name) override;
  core::Result<std::string> ReplicasWriterOf(const std::string& ns,
                                             const core::WorkloadRef& w) override;
  // The ScaledObject's annotation now (nullopt: absent or no such object).
  std::optional<std::string> PausedReplicasOf(const std::string& ns, const std::string& name) const;
  void RecordEvent(const core::SchemaMigration& obj, EventType type, const std::string& reason,
                   const std::string& message) override;

  // ---- The Job executor (fake_jobs.cpp). Effects "create-job:NAME" and
  // "delete-job:NAME"; a create of an existing name is kConflict (409).
  struct FakeJob {
    std::string manifest;  // JSON text as created
    JobState state;        // kActive until the test finishes it
    std::string log;
  };
  std::map<std::string, FakeJob> jobs;  // "ns/name"
  int job_creates = 0;                  // CreateJob calls that created a Job
  // As a real API server with a pod to stop: a deleted Job stays (GetJob
  // finds it) until the next Settle() (effect "job-gone:NAME").
  bool job_deletion_lingers = false;
  std::set<std::string> deleting_jobs;  // "ns/name"
  // Secrets ("ns/name") another object owns: DeleteSecret is kConflict.
  std::set<std::string> foreign_secrets;
  // Called after a Job was created (e.g. to "run" it against FakeDatabase).
  std::function<void(const std::string& name, FakeJob& job)> on_job_created;
  core::Status CreateJob(const std::string& ns, const std::string& manifest) override;
  core::Result<JobState> GetJob(const std::string& ns, const std::string& name) override;
  core::Status DeleteJob(const std::string& ns, const std::string& name) override;
  core::Result<std::string> ReadJobLog(const std::string& ns, const std::string& job,
                                       const JobLogRequest& request) override;
  // Rehearsal Secrets (design §10.9) go into `secrets` (stringData);
  // effects "apply-secret:NAME" and "delete-secret:NAME".
  core::Status ApplySecret(const std::string& ns, const std::string& manifest) override;
  core::Status DeleteSecret(const std::string& ns, const std::string& name,
                            const std::string& owner_uid) override;

 private:
  std::string NextResourceVersion() { return std::to_string(++resource_version_); }

  SideEffects& effects_;
  std::int64_t resource_version_ = 100;
  int status_writes_ = 0;
  int scale_calls_ = 0;
  int finalizer_writes_ = 0;
  std::vector<std::string> written_texts_;
  std::vector<std::string> kstatus_violations_;
};

// A linear revision chain with Alembic-like target resolution (relative
// targets against the current version, like the engine) and the engine's
// all-or-nothing semantics (one transaction per run), its exactly-once run
// log (a run whose identity already ended is replayed, not executed) and its
// pinned plan (kMigrationsChanged when the plan's digest differs from the
// one in the identity). The fake's plan digest covers every file, a coarser
// rule than the engine's (only the SQL of the planned steps).
class FakeDatabase final : public DatabasePort {
 public:
  explicit FakeDatabase(SideEffects& effects) : effects_(&effects) {}

  std::vector<std::string> chain = {"9bc6a98f1c12", "add_flexible_schemas",
                                    "seed_default_schemas"};
  std::vector<std::string> versions = {"9bc6a98f1c12"};
  // What InspectResult::database_identity reports (every URL reaches this
  // one database).
  std::string database_identity = "3f1c0d-sysid-7312-db-16384";
  // schemaop.run_log: the outcome of every run that ended, by RunIdentity::Key().
  std::map<std::string, MigrateResult> ended_runs;

  // ---- faults
  std::optional<core::Status> inspect_error;
  std::optional<core::Status> backup_error;
  std::optional<core::Status> migrate_error;  // non-OK Result: nothing migrated
  // Migrate fails verification after running the steps: RolledBack.
  std::optional<core::Status> verification_failure;
  // Step k (0-based) fails; Rollback: back to the start; Halt: left after step k-1.
  std::optional<int> fail_at_step;
  // Run at the start of Backup / Migrate (e.g. a user scaling a writer up
  // meanwhile, or a test observing the workloads when the SQL runs).
  std::function<void()> on_backup;
  std::function<void()> on_migrate;
  // Rehearse: a non-OK Result (nothing rehearsed), or a failed rehearsal.
  std::optional<core::Status> rehearse_error;
  std::optional<core::Status> rehearsal_failure;
  int rehearse_calls = 0;
  std::function<void()> on_rehearse;  // e.g. observing the workloads meanwhile

  // A plan with phases (design §3.1): every step Inspect reports carries
  // these phases, and Migrate honours RunIdentity::phase: expand and
  // contract leave the version rows as they are (crash points
  // "db:expand", "db:contract"), the window moves them. `phases_run`:
  // the phase of every Migrate that executed, in order.
  core::StepPhases step_phases;
  std::optional<core::Status> expand_failure;    // the expand ends kFailed
  std::optional<core::Status> contract_failure;  // the contract ends kFailed
  // The plan digest of a failed contract, reported by Inspect at the
  // target (InspectResult::pending_contract) until a contract succeeds.
  std::string pending_contract;
  std::vector<std::string> phases_run;

  int inspect_calls = 0;
  int backup_calls = 0;
  int migrate_calls = 0;
  // Migrate calls that executed migration steps (not replayed, not refused,
  // not already at the target).
  int executions = 0;
  std::vector<DatabaseTarget> targets_seen;
  std::vector<std::string> inspected_targets;  // target_revision of each Inspect
  std::vector<RunIdentity> identities_seen;     // of each Migrate

  // The plan digest Inspect reports for a plan from `from` to `to` with `files`.
  static std::string PlanDigest(const std::vector<std::pair<std::string, std::string>>& files,
                                const std::vector<std::string>& from,
                                const std::vector<std::string>& to);

  core::Result<InspectResult> Inspect(const DatabaseTarget& target,
                                      const std::string& target_revision) override;
  core::Result<BackupResult> Backup(const DatabaseTarget& target) override;
  core::Result<MigrateResult> Migrate(const DatabaseTarget& target,
                                      const std::vector<std::string>& target_versions,
                                      const RunIdentity& identity) override;
  // Touches nothing: the versions stay; "db:rehearse" is a side effect
  // (a crash point) like the others.
  core::Result<RehearseResult> Rehearse(const DatabaseTarget& target,
                                        const std::vector<std::string>& target_versions,
                                        const std::string& plan_digest,
                                        bool with_backup) override;

  // ---- runs off the workers (design §6.5). With `hold_runs`, StartMigrate
  // only records the run (kRunning, or kWaiting with `slots_full`) and every
  // pass observes it; a cancel in the control ends it (rolled back with the
  // cancel's status) at the pass after the one that asked; finish_held runs
  // the held runs' Migrate as the run thread would.
  bool hold_runs = false;
  bool slots_full = false;
  // The progress a held run's kRunning tickets carry (design §6.8).
  std::optional<core::RunProgress> held_progress;
  struct HeldRun {
    DatabaseTarget target;
    std::vector<std::string> target_versions;
    RunIdentity identity;
    RunControl control;  // the latest one a pass gave
    bool cancel_seen = false;
    std::optional<core::Result<MigrateResult>> result;
  };
  std::map<std::string, HeldRun> held;
  void FinishHeld();
  // Rehearsals off the workers (design §6.7): with `hold_rehearsals`,
  // StartRehearse only records the rehearsal (kRunning) until
  // FinishHeldRehearsals runs Rehearse as the run thread would.
  bool hold_rehearsals = false;
  struct HeldRehearsal {
    DatabaseTarget target;
    std::vector<std::string> target_versions;
    std::string plan_digest;
    bool with_backup = false;
    std::optional<core::Result<RehearseResult>> result;
  };
  std::map<std::string, HeldRehearsal> held_rehearsals;
  void FinishHeldRehearsals();
  std::optional<RehearsalTicket> FindRehearsal(const RunIdentity& identity) override;
  RehearsalTicket StartRehearse(const DatabaseTarget& target,
                                const std::vector<std::string>& target_versions,
                                const RunIdentity& identity, bool with_backup,
                                const std::string& object_key) override;
  std::optional<RunTicket> FindRun(const RunIdentity& identity, const RunControl& control) override;

  // ---- The Job executor (fake_jobs.cpp): rows are one counter; the
  // baseline is kept per run key (and survives RestoreBackup, as it is in
  // the dump).
  std::int64_t rows = 5000;
  struct Baseline {
    std::vector<std::string> versions;
    std::int64_t rows = 0;
  };
  std::map<std::string, Baseline> baselines;
  int restores = 0;
  bool schema_drift = false;  // CheckJobResult(compare_schema) reports drift
  core::Result<InspectResult> InspectVersions(const DatabaseTarget& target) override;
  core::Result<JobBaseline> RecordJobBaseline(const DatabaseTarget& target,
                                              const std::string& run_key) override;
  core::Result<JobCheck> CheckJobResult(const DatabaseTarget& target, const std::string& run_key,
                                        bool compare_schema) override;
  // Scratch copies of Job rehearsals (design §10.9), by key: a copy of
  // versions and rows taken by OpenJobScratch (effect "db:scratch-copy"),
  // reached by the Job methods through the copy's URL, which is
  // kScratchUrlPrefix + a number.
  static constexpr char kScratchUrlPrefix[] = "postgresql://app:scratchpw@fake/scratch_";
  struct Scratch {
    std::string url;
    std::vector<std::string> versions;
    std::int64_t rows = 0;
    std::map<std::string, Baseline> baselines;
    bool schema_drift = false;
  };
  std::map<std::string, Scratch> scratches;
  int scratch_copies = 0;
  int scratch_drops = 0;
  std::optional<core::Status> scratch_error;  // OpenJobScratch fails with it
  Scratch* ScratchOf(const DatabaseTarget& target);
  core::Result<std::string> OpenJobScratch(const DatabaseTarget& target,
                                           const std::string& key) override;
  std::optional<std::string> FindJobScratch(const std::string& key) override;
  core::Status DropJobScratch(const std::string& key) override;
  // The application names EndJobSessions was called with, in order.
  std::vector<std::string> ended_sessions;
  std::vector<std::string> ended_session_urls;  // the database each was ended in
  // Revisions (FormatVersions) whose schema, reached by a Job, differs from
  // the one an earlier run recorded there (CheckJobResult without
  // compare_schema, with target.verify_schema).
  std::set<std::string> seen_before_drift;
  core::Status EndJobSessions(const DatabaseTarget& target,
                              const std::string& application_name) override;
  core::Status RestoreBackup(const DatabaseTarget& target, const std::string& path) override;
  std::string JobPlanDigest(const std::vector<std::string>& from,
                            const std::vector<std::string>& to,
                            const std::string& plan_output) override;
  RunTicket StartMigrate(const DatabaseTarget& target,
                         const std::vector<std::string>& target_versions,
                         const RunIdentity& identity, const RunControl& control,
                         const std::string& object_key) override;

 private:
  int IndexOf(const std::vector<std::string>& v) const;  // -1 = base
  core::Result<std::vector<std::string>> Resolve(const std::string& target) const;
  std::vector<core::PlanStepStatus> Steps(int from, int to) const;

  SideEffects* effects_;  // a pointer so tests can reset a FakeDatabase by assignment
  int backups_ = 0;
};

class FakeClock final : public Clock {
 public:
  core::Timestamp now{1'700'000'000'000};
  core::Timestamp Now() override { return now; }
  void Advance(std::chrono::milliseconds d) { now.unix_millis += d.count(); }
};

// Records what the reconciler reported.
class FakeMetrics final : public MetricsSink {
 public:
  std::vector<std::string> reconciles;
  std::vector<std::string> runs;
  std::vector<double> migration_seconds;
  std::vector<double> downtime_seconds;
  std::map<std::string, std::string> revisions;
  int connections_lost = 0;
  std::vector<std::pair<std::string, double>> phase_seconds;  // (phase, seconds)

  void ObservePhaseSeconds(const std::string& phase, double seconds) override {
    phase_seconds.emplace_back(phase, seconds);
  }

  void CountDatabaseConnectionLost() override { ++connections_lost; }

  void CountReconcile(const std::string& result) override { reconciles.push_back(result); }
  void CountRun(const std::string& outcome) override { runs.push_back(outcome); }
  void ObserveMigrationSeconds(double s) override { migration_seconds.push_back(s); }
  void ObserveDowntimeSeconds(double s) override { downtime_seconds.push_back(s); }
  void SetCurrentRevision(const std::string& ns, const std::string& name,
                          const std::string& revision) override {
    revisions[ns + "/" + name] = revision;
  }
};

}  // namespace schemaop::reconcile::testing
