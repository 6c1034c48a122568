#pragma once
// The SchemaMigration resource (design §5) as plain structs, plus the pure
// helpers the reconciler needs: spec validation with field paths, duration
// strings ("10s", "1m30s"), RFC 3339 timestamps, and revision formatting.
// No I/O and no JSON here: reconcile/schema_migration_json.h maps these
// structs to the exact camelCase wire format.
//
// Enum-like spec fields (workload kind, backup.when, verify.rowCounts,
// failurePolicy, timeouts) are kept as the strings the user wrote, so that a
// bad value reaches ValidateSpec and becomes a `Stalled/InvalidSpec`
// condition naming the field, instead of an undecodable object. Use the typed
// accessors (BackupWhenOf, ...) only on a spec that validated.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/conditions.h"
#include "core/duration.h"
#include "core/job_spec.h"
#include "core/maintenance_window.h"
#include "core/spec_enums.h"
#include "core/migration_run.h"
#include "core/rehearsal_status.h"
#include "core/run_progress.h"
#include "core/status.h"
#include "core/version_table.h"

namespace schemaop::core {

// ---------------------------------------------------------------- metadata

inline constexpr char kFinalizer[] = "schemaop.dev/finalizer";
// Annotation: a new non-empty value cancels the run in progress safely
// (reason Aborted; design §4.7, §6.3).
inline constexpr char kAnnotationAbort[] = "schemaop.dev/abort";
inline constexpr int kMaxDowntimeSecondsLimit = 604800;  // 7 days
inline constexpr char kKindDeployment[] = "Deployment";
inline constexpr char kKindStatefulSet[] = "StatefulSet";
// A CronJob writer is "scaled down" by spec.suspend (design §6.8).
inline constexpr char kKindCronJob[] = "CronJob";
// spec.workloads[].jobs of a CronJob: its running Jobs are waited for
// (Wait) or deleted with their pods (Delete) before the migration.
inline constexpr char kJobsWait[] = "Wait";
inline constexpr char kJobsDelete[] = "Delete";
inline constexpr int kDefaultDrainTimeoutSeconds = 300;
inline constexpr char kDefaultVersionTable[] = "alembic_version";
// A new value of this annotation retries a failed run once (design §9).
inline constexpr char kRetryAnnotation[] = "schemaop.dev/retry";

struct ObjectMeta {
  std::string namespace_;  // trailing underscore: `namespace` is a keyword
  std::string name;
  std::string uid;
  std::int64_t generation = 0;
  std::string resource_version;
  std::optional<Timestamp> creation_timestamp;
  std::optional<Timestamp> deletion_timestamp;
  std::vector<std::string> finalizers;
  // metadata.annotations (the controller reads kAnnotationAbort).
  std::map<std::string, std::string> annotations;

  bool HasFinalizer(std::string_view finalizer) const;
  bool operator==(const ObjectMeta& other) const;
  bool operator!=(const ObjectMeta& other) const { return !(*this == other); }
};

// -------------------------------------------------------------------- spec

struct SecretKeyRef {
  std::string name;
  std::string key;
  bool operator==(const SecretKeyRef& o) const { return name == o.name && key == o.key; }
};

// A writer of the database: any resource with a scale subresource (design
// §6.3, "any scalable kind"). `api_version` ("group/version", "v1" for the
// core group) may be left empty only for Deployment and StatefulSet, which
// then mean apps/v1; any other kind is found through API discovery.
struct WorkloadRef {
  WorkloadRef() = default;
  // {kind, name[, apiVersion[, jobs]]} (no -Wmissing-field-initializers).
  WorkloadRef(std::string k, std::string n, std::string api = "", std::string j = "")
      : kind(std::move(k)), name(std::move(n)), api_version(std::move(api)), jobs(std::move(j)) {}
  std::string kind = kKindDeployment;  // Deployment | StatefulSet | CronJob | any scalable Kind
  std::string name;
  std::string api_version;  // spec.workloads[].apiVersion; empty: the built-in kinds' own
  std::string jobs;         // CronJob only: kJobsWait (empty: the same) | kJobsDelete
  bool operator==(const WorkloadRef& o) const {
    return kind == o.kind && name == o.name && api_version == o.api_version && jobs == o.jobs;
  }
};

// The apiVersion a workload's kind is served under ("apps/v1" for a built-in
// kind without one).
std::string WorkloadApiVersion(const std::string& api_version, const std::string& kind);

// BackupWhen, FailurePolicy, VerifyRowCounts, VerifySchema and their
// spellings: core/spec_enums.h.
// VerifyCheck: core/migration_run.h (shared with the engine).

struct SchemaMigrationSpec {
  std::string target_revision;
  SecretKeyRef url_secret_ref;                      // database.urlSecretRef
  // database.caSecretRef: a Secret key holding the CA certificate(s), PEM,
  // that the server's TLS certificate must chain to (sslmode defaults to
  // verify-full then). Empty name: none (the URL alone decides TLS).
  SecretKeyRef ca_secret_ref;
  std::string version_table = kDefaultVersionTable;  // database.versionTable
  std::string version_layout = kVersionLayoutAlembic;  // database.versionLayout
  std::string migrations_config_map;                // migrations.configMapRef.name
  std::vector<WorkloadRef> workloads;
  int drain_timeout_seconds = kDefaultDrainTimeoutSeconds;
  // Spelled as in core/spec_enums.h; the first spelling is the default.
  std::string backup_when = kBackupWhenNames[0].name;             // Downgrade | Always | Never
  std::string verify_row_counts = kVerifyRowCountsNames[0].name;  // Preserve | Off
  std::string verify_schema = kVerifySchemaNames[0].name;         // Enforce | Ignore
  std::vector<std::string> verify_allow_row_loss;
  std::vector<VerifyCheck> verify_checks;
  std::string failure_policy = kFailurePolicyNames[0].name;  // Rollback | Halt
  std::string lock_timeout;       // empty: engine default
  std::string statement_timeout;  // empty: engine default
  bool suspend = false;
  // Manual: a run scales, backs up and migrates only a plan whose
  // status.plan.planHash equals approved_plan_hash (design §9).
  std::string approval = kApprovalNames[0].name;  // Automatic | Manual
  std::string approved_plan_hash;                 // 64 lowercase hex digits, or empty
  // spec.maxDowntimeSeconds (0: no budget): the writers are never at zero
  // longer than this plus the time to roll back (design §7, downtime budget).
  int max_downtime_seconds = 0;
  // spec.maintenanceWindow (core/maintenance_window.h); unset: any time.
  std::optional<MaintenanceWindowSpec> maintenance_window;
  // Rehearse each plan on a scratch copy before anything is scaled (design §6.7).
  bool rehearse = false;
  // spec.executor (core/job_spec.h): Files runs spec.migrations, Job runs
  // the tool of spec.job (design §10). With Job, spec.migrations is unused.
  std::string executor = kExecutorFiles;
  std::optional<JobSpec> job;

  bool operator==(const SchemaMigrationSpec& other) const;
  bool operator!=(const SchemaMigrationSpec& other) const { return !(*this == other); }
};

// Typed views of a spec that passed ValidateSpec (fall back to the default
// for anything else).
BackupWhen BackupWhenOf(const SchemaMigrationSpec& spec);
FailurePolicy FailurePolicyOf(const SchemaMigrationSpec& spec);
bool PreserveRowCountsOf(const SchemaMigrationSpec& spec);
bool EnforceSchemaOf(const SchemaMigrationSpec& spec);  // verify.schema != Ignore
Approval ApprovalOf(const SchemaMigrationSpec& spec);

// True for a relative target (+N, -N, REV+N, REV-N, head-N): its meaning
// depends on where the database is (or on the graph around REV), so the
// reconciler resolves it once and keeps the absolute result.
bool IsRelativeTarget(std::string_view target);

// ------------------------------------------------------------------ status

enum class Phase {
  kPending,
  kPlanning,
  kRehearsing,  // spec.rehearse: the plan on a scratch copy, nothing scaled yet
  kExpanding,   // the plan's expand phase, writers running (design §3.1, §6.3)
  kScalingDown,
  kDraining,
  kBackingUp,
  kMigrating,
  kVerifying,
  kRollingBack,
  kScalingUp,
  kContracting,  // the plan's contract phase, writers back (design §3.1, §6.3)
  kSucceeded,
  kFailed,
};
const char* PhaseName(Phase phase);  // "Pending", "ScalingDown", ...
std::optional<Phase> ParsePhase(std::string_view name);

enum class MigrationDirection { kUpgrade, kDowngrade };
const char* MigrationDirectionName(MigrationDirection direction);  // "upgrade" | "downgrade"
std::optional<MigrationDirection> ParseMigrationDirection(std::string_view name);

// Which of a step's sections (1-based, in file order) run in which phase
// (design §3.1, the schedule of the whole plan). All empty for a plan
// without expand or contract sections (status.plan shows no phases then).
struct StepPhases {
  std::vector<int> expand, window, contract;
  bool empty() const { return expand.empty() && window.empty() && contract.empty(); }
  bool operator==(const StepPhases& o) const {
    return expand == o.expand && window == o.window && contract == o.contract;
  }
};

struct PlanStepStatus {
  std::string revision;
  MigrationDirection direction = MigrationDirection::kUpgrade;
  StepPhases phases;
  bool operator==(const PlanStepStatus& o) const {
    return revision == o.revision && direction == o.direction && phases == o.phases;
  }
};

// Seconds each phase took (the engine's time, lock to unlock, of that
// phase's run), for a plan with expand or contract sections.
struct PhaseSeconds {
  double expand = 0;
  double window = 0;
  double contract = 0;
  bool operator==(const PhaseSeconds& o) const {
    return expand == o.expand && window == o.window && contract == o.contract;
  }
};

struct PlanStatus {
  std::string direction;  // "upgrade" | "downgrade" | "mixed" | "none"
  std::vector<PlanStepStatus> steps;
  // The plan digest (design §4.4, byte format in §9): what spec.approvedPlanHash
  // must equal for approval Manual, and what `schemaop plan` prints.
  std::string plan_hash;
  bool operator==(const PlanStatus& o) const {
    return direction == o.direction && steps == o.steps && plan_hash == o.plan_hash;
  }
};
// "none" for no steps, "upgrade"/"downgrade" when all agree, else "mixed".
std::string PlanDirectionOf(const std::vector<PlanStepStatus>& steps);
// Whether a step of `plan` has a section in the expand / contract phase.
bool PlanHasExpand(const PlanStatus& plan);
bool PlanHasContract(const PlanStatus& plan);

struct WorkloadStatus {
  std::string kind;
  std::string name;
  // spec.replicas before the scale-down. A CronJob's spec.suspend as a
  // replica count (design §6.8): 0 = it was suspended, 1 = it was not
  // (written as status.workloads[].originalSuspend).
  std::int32_t original_replicas = 0;
  std::string api_version;  // as in spec.workloads (empty: a built-in kind)
  bool operator==(const WorkloadStatus& o) const {
    return kind == o.kind && name == o.name && original_replicas == o.original_replicas &&
           api_version == o.api_version;
  }
  WorkloadRef Ref() const { return WorkloadRef{kind, name, api_version}; }
};

// An autoscaler of a listed workload, recorded in status.autoscalers before
// the run touches it, and set back to exactly this afterwards (design §6.8).
inline constexpr char kKindHorizontalPodAutoscaler[] = "HorizontalPodAutoscaler";
inline constexpr char kKindScaledObject[] = "ScaledObject";  // KEDA, keda.sh/v1alpha1
inline constexpr char kKedaPausedReplicasAnnotation[] = "autoscaling.keda.sh/paused-replicas";
struct AutoscalerStatus {
  std::string kind;           // kKindHorizontalPodAutoscaler | kKindScaledObject
  std::string name;
  std::string workload;       // the target, "Kind/name"
  // ScaledObject: the kKedaPausedReplicasAnnotation value before the run
  // (nullopt: absent). An HPA is never written: the workload at 0 replicas
  // disables it (design §6.8).
  std::optional<std::string> original_paused_replicas;
  bool operator==(const AutoscalerStatus& o) const {
    return kind == o.kind && name == o.name && workload == o.workload &&
           original_paused_replicas == o.original_paused_replicas;
  }
};

struct BackupStatus {
  std::string file;
  std::uint64_t bytes = 0;
  std::string sha256;
  std::optional<Timestamp> time;
  bool operator==(const BackupStatus& o) const {
    return file == o.file && bytes == o.bytes && sha256 == o.sha256 && time == o.time;
  }
};

// Outcomes recorded in lastRun.outcome and run.outcome.
inline constexpr char kOutcomeSucceeded[] = "Succeeded";
inline constexpr char kOutcomeRolledBack[] = "RolledBack";
inline constexpr char kOutcomeFailed[] = "Failed";

struct LastRunStatus {
  std::string from;  // FormatVersions of the start
  std::string to;    // FormatVersions of the resolved target
  std::optional<Timestamp> start_time;
  std::optional<Timestamp> finish_time;
  double downtime_seconds = 0;  // first scale-to-0 until all restored
  std::string outcome;          // Succeeded | RolledBack | Failed
  std::string reason;           // condition reason of a failure (e.g. VerificationFailed)
  std::string message;
  // Which input the run served, so a failed run is not retried in a loop:
  // a new run starts only when the generation or the migration files change.
  std::int64_t generation = 0;
  std::string migrations_digest;
  // The schemaop.dev/retry value that started the run (empty: not a retry).
  std::string retry;
  // The Job executor: the log excerpt of the run's last Job.
  std::string job_log;
  std::optional<PhaseSeconds> phase_seconds;  // a plan with phases only
  bool operator==(const LastRunStatus& o) const;
};

// What spec.targetRevision was resolved to (design: targets are resolved
// once). A relative target is never resolved again while spec.targetRevision
// keeps the same text: resyncs, restarts and failovers reuse `revision`.
struct ResolvedTargetStatus {
  std::string target_revision;  // spec.targetRevision as written when resolved
  std::string revision;         // FormatVersions of the resolution: an id, "base", or ids
  std::int64_t generation = 0;  // the generation it was resolved for
  std::string migrations_digest;  // the files it was resolved against
  bool operator==(const ResolvedTargetStatus& o) const;
};

// Actions a run records in status.run.intent (with a write that must reach
// the API server) before it performs them, so a controller reading a stale
// object gets a conflict instead of acting on it.
inline constexpr char kIntentScaleDown[] = "ScaleDown";
inline constexpr char kIntentBackup[] = "Backup";
inline constexpr char kIntentRestore[] = "Restore";

// The Job executor's run state (design §10.3): the Job this run created or
// is about to create, recorded in status BEFORE the Job is created, so a
// restarted controller adopts it instead of creating a second one.
struct JobRunStatus {
  std::string name;   // core::JobName(owner, verb, run key)
  std::string verb;   // one of core::kJobVerbs (job_spec.h)
  std::string phase;  // kJobPhase*: Creating | Running | Restoring
  std::string log;    // the last excerpt of its log (reconcile::JobLogExcerpt)
  bool operator==(const JobRunStatus& o) const {
    return name == o.name && verb == o.verb && phase == o.phase && log == o.log;
  }
};
inline constexpr char kJobPhaseCreating[] = "Creating";    // written before the create
inline constexpr char kJobPhaseRunning[] = "Running";      // created (or adopted)
inline constexpr char kJobPhaseRestoring[] = "Restoring";  // the backup is being restored

// Bookkeeping of the run in progress: everything a fresh reconciler needs to
// resume after a crash, besides a fresh read of the database.
struct RunStatus {
  std::int64_t generation = 0;          // the generation this run serves
  std::string target_revision;          // spec.targetRevision as written
  std::vector<std::string> target_versions;  // resolved; empty = base
  std::vector<std::string> from_versions;
  std::vector<WorkloadRef> workloads;   // the spec's workloads when the run started
  bool backup_required = false;
  std::string migrations_digest;
  // InspectResult::plan_digest at planning: part of the run's identity
  // (exactly once) and what the engine checks the plan it runs against.
  std::string plan_digest;
  std::optional<Timestamp> start_time;
  std::optional<Timestamp> scale_down_time;  // first scale-to-0 (downtime start)
  std::optional<Timestamp> drain_start_time;
  // Set once the run's fate is known (migration result or abort), before the
  // workloads are restored.
  std::string outcome;  // "" while undecided | Succeeded | RolledBack | Failed
  std::string reason;   // condition reason for a failure
  std::string message;
  double migration_seconds = 0;
  // The last action recorded before it was performed (kIntent*), and when.
  std::string intent;
  std::optional<Timestamp> intent_time;
  // The schemaop.dev/retry value that started this run (empty: not a retry).
  std::string retry;
  // A cancel decided for this run (DowntimeExceeded or Aborted) and why,
  // recorded before the engine is asked to cancel (design §4.7): every pass
  // and every controller after a restart asks again until the run ended.
  std::string cancel_reason;
  std::string cancel_message;
  // spec.executor when the run started (a run is never finished by the
  // other executor), and the Job executor's current Job.
  std::string executor;
  std::optional<JobRunStatus> job;
  // A Job run's direction, decided in Planning before the plan Job (design
  // §10.5): "" undecided | kVerbUpgrade | kVerbDowngrade.
  std::string job_direction;
  // A plan with phases (design §3.1): each phase's seconds as it ends, and
  // when the writers were back before the contract phase (the end of the
  // write-downtime, which the contract does not extend).
  std::optional<PhaseSeconds> phase_seconds;
  std::optional<Timestamp> scale_up_time;
  bool expanded = false;  // the expand phase is done (the gates come next)
  bool operator==(const RunStatus& o) const;
};

struct SchemaMigrationStatus {
  std::int64_t observed_generation = 0;
  std::string current_revision;
  std::string target_revision;
  Phase phase = Phase::kPending;
  std::optional<PlanStatus> plan;
  std::vector<WorkloadStatus> workloads;
  std::vector<AutoscalerStatus> autoscalers;  // paused for the run (design §6.8)
  std::optional<BackupStatus> backup;
  std::optional<LastRunStatus> last_run;
  std::optional<RunStatus> run;  // present while a run is in progress
  std::optional<ResolvedTargetStatus> resolved_target;
  std::optional<RehearsalStatus> rehearsal;  // the last rehearsal (spec.rehearse)
  // While the engine runs a migration (phase Migrating) only: where it
  // stands (design §6.8); never present otherwise.
  std::optional<RunProgress> progress;
  // InspectResult::database_identity: which database this object manages,
  // as the server identifies it (one database, one owner).
  std::string database_identity;
  // The value of the schemaop.dev/abort annotation last acted upon: a value
  // aborts at most one run, so an annotation left in place does not abort
  // the next one (set a new value to abort again).
  std::string handled_abort;
  // While a run waits for spec.maintenanceWindow (OutsideMaintenanceWindow):
  // when the next window long enough for it starts.
  std::optional<Timestamp> next_window;
  std::vector<Condition> conditions;
  // The last schemaop.dev/retry value acted on (RetryToken form): each new
  // value retries a failed run once (design §9).
  std::string last_handled_retry;

  bool operator==(const SchemaMigrationStatus& other) const;
  bool operator!=(const SchemaMigrationStatus& other) const { return !(*this == other); }
};

struct SchemaMigration {
  ObjectMeta metadata;
  SchemaMigrationSpec spec;
  SchemaMigrationStatus status;
};

// -------------------------------------------------------------- validation

struct FieldError {
  std::string path;     // e.g. "spec.workloads[1].name"
  std::string message;  // e.g. "duplicate"
  std::string ToString() const { return path + ": " + message; }
  bool operator==(const FieldError& o) const { return path == o.path && message == o.message; }
};

// Mirrors the CRD's structural schema and CEL rules, so an object that got
// past a cluster without the CRD validation (or an older CRD) is still caught.
std::vector<FieldError> ValidateSpec(const SchemaMigrationSpec& spec);
// spec.workloads (core/workload_ref.cpp): kind, apiVersion (required for
// kinds other than Deployment/StatefulSet), name, duplicates.
void ValidateWorkloadRefs(const std::vector<WorkloadRef>& workloads,
                          std::vector<FieldError>& errors);
// "group/version" or "v1" (the core group).
bool IsValidWorkloadApiVersion(std::string_view api_version);
// RFC 1123 DNS subdomain, as Kubernetes object names require.
bool IsDnsSubdomainName(std::string_view name);

// ------------------------------------------------------------------ values

// ParseDuration (spec.lockTimeout, spec.statementTimeout) is in core/duration.h.

// Alembic's display of version-table rows: sorted, comma-separated, "base"
// when empty.
std::string FormatVersions(const std::vector<std::string>& versions);

// The annotation value as recorded in status: itself when at most 128
// bytes, else "digest:" + DigestOf it (so a huge value is compared, not
// copied).
std::string RetryToken(const std::string& annotation_value);

// True for 64 lowercase hex digits (a plan hash).
bool IsPlanHash(std::string_view text);

// Stable 64-bit FNV-1a over (key, value) pairs in the given order, as 16 hex
// digits. Identifies a set of migration files; not a security hash.
std::string DigestOf(const std::vector<std::pair<std::string, std::string>>& key_values);

}  // namespace schemaop::core
