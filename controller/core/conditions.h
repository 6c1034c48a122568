#pragma once
// Kubernetes-style status conditions (metav1.Condition) as pure functions,
// following kstatus: `Ready`, `Reconciling`, `Stalled` plus schemaop's own
// `WorkloadsScaledDown`, `BackupReady`, `Verified`. Conditions are computed in
// memory and written once (conventions §4); lastTransitionTime moves only
// when the status flips, so a re-computation that changes nothing compares
// equal and causes no API write.
//
// Time is a value (`Timestamp`), never read from a clock here: the reconciler
// injects "now".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace schemaop::core {

// Milliseconds since the Unix epoch, UTC.
struct Timestamp {
  std::int64_t unix_millis = 0;

  static Timestamp FromSeconds(std::int64_t seconds) { return Timestamp{seconds * 1000}; }
  // Whole seconds (Kubernetes metav1.Time has second resolution).
  Timestamp TruncatedToSeconds() const;
  bool operator==(const Timestamp& o) const { return unix_millis == o.unix_millis; }
  bool operator!=(const Timestamp& o) const { return unix_millis != o.unix_millis; }
  bool operator<(const Timestamp& o) const { return unix_millis < o.unix_millis; }
  bool operator<=(const Timestamp& o) const { return unix_millis <= o.unix_millis; }
};

// "2024-05-01T12:00:00Z"; with milliseconds ("...:00.250Z") only when non-zero.
std::string FormatRfc3339(Timestamp time);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"; nullopt otherwise.
std::optional<Timestamp> ParseRfc3339(std::string_view text);

enum class ConditionStatus { kTrue, kFalse, kUnknown };
const char* ConditionStatusName(ConditionStatus status);  // "True" | "False" | "Unknown"
std::optional<ConditionStatus> ParseConditionStatus(std::string_view text);

struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::int64_t observed_generation = 0;
  Timestamp last_transition_time;
  std::string reason;  // CamelCase, from namespace reasons
  std::string message;

  bool operator==(const Condition& o) const;
  bool operator!=(const Condition& o) const { return !(*this == o); }
};

namespace condition_types {
inline constexpr char kReady[] = "Ready";
inline constexpr char kReconciling[] = "Reconciling";
inline constexpr char kStalled[] = "Stalled";
inline constexpr char kWorkloadsScaledDown[] = "WorkloadsScaledDown";
inline constexpr char kBackupReady[] = "BackupReady";
inline constexpr char kVerified[] = "Verified";
}  // namespace condition_types

// Condition reasons and Event reasons (CamelCase, stable: tools match on them).
namespace reasons {
inline constexpr char kSucceeded[] = "Succeeded";
inline constexpr char kProgressing[] = "Progressing";
inline constexpr char kUnknownRevision[] = "UnknownRevision";
inline constexpr char kInvalidMigrations[] = "InvalidMigrations";
inline constexpr char kInvalidSpec[] = "InvalidSpec";
inline constexpr char kSecretNotFound[] = "SecretNotFound";
inline constexpr char kConfigMapNotFound[] = "ConfigMapNotFound";
inline constexpr char kDatabaseUnreachable[] = "DatabaseUnreachable";
inline constexpr char kDatabaseError[] = "DatabaseError";
inline constexpr char kKubernetesError[] = "KubernetesError";
inline constexpr char kLockHeld[] = "LockHeld";
inline constexpr char kWorkloadNotFound[] = "WorkloadNotFound";
inline constexpr char kDrainTimeout[] = "DrainTimeout";
// Someone else scaled a writer up (or resumed a CronJob) during the run: the
// run stops safely, the message names the managedFields manager (design §6.8).
inline constexpr char kWorkloadFoughtBack[] = "WorkloadFoughtBack";
// An HPA with minReplicas 0 keeps scaling a target at 0 replicas: the run
// does not start (design §6.8).
inline constexpr char kAutoscalerNotPausable[] = "AutoscalerNotPausable";
inline constexpr char kBackupFailed[] = "BackupFailed";
inline constexpr char kMigrationFailed[] = "MigrationFailed";
inline constexpr char kVerificationFailed[] = "VerificationFailed";
inline constexpr char kRolledBack[] = "RolledBack";
inline constexpr char kSuspended[] = "Suspended";
inline constexpr char kDuplicateDatabase[] = "DuplicateDatabase";
inline constexpr char kChecksumMismatch[] = "ChecksumMismatch";
// Phase and step reasons (conditions and Events).
inline constexpr char kPlanning[] = "Planning";
inline constexpr char kRehearsing[] = "Rehearsing";  // spec.rehearse, phase Rehearsing
inline constexpr char kRehearsed[] = "Rehearsed";    // Event: the rehearsal succeeded
inline constexpr char kRehearsalFailed[] = "RehearsalFailed";
// Phases of a plan with expand/contract sections (design §3.1, §6.3):
// Expanding/Contracting (conditions and Events), Expanded/Contracted (the
// phase's end, Events), ExpandFailed (the run ends Failed, writers never
// touched), ContractFailed (Failed with the new revision committed and the
// writers up).
inline constexpr char kExpanding[] = "Expanding";
inline constexpr char kExpanded[] = "Expanded";
inline constexpr char kExpandFailed[] = "ExpandFailed";
inline constexpr char kContracting[] = "Contracting";
inline constexpr char kContracted[] = "Contracted";
inline constexpr char kContractFailed[] = "ContractFailed";
inline constexpr char kScalingDown[] = "ScalingDown";
inline constexpr char kDraining[] = "Draining";
inline constexpr char kScaledDown[] = "ScaledDown";
inline constexpr char kBackingUp[] = "BackingUp";
inline constexpr char kBackupCreated[] = "BackupCreated";
inline constexpr char kBackupNotRequired[] = "BackupNotRequired";
inline constexpr char kMigrating[] = "Migrating";
inline constexpr char kMigrated[] = "Migrated";
inline constexpr char kVerificationPending[] = "VerificationPending";
inline constexpr char kScaledUp[] = "ScaledUp";
inline constexpr char kAtTarget[] = "AtTarget";
inline constexpr char kRecovered[] = "Recovered";
inline constexpr char kWorkloadsRestored[] = "WorkloadsRestored";
inline constexpr char kRetryBlocked[] = "RetryBlocked";
inline constexpr char kSchemaDrift[] = "SchemaDrift";
inline constexpr char kMigrationsChanged[] = "MigrationsChanged";
inline constexpr char kDatabaseInUse[] = "DatabaseInUse";
// A run waits for spec.maintenanceWindow (status.nextWindow).
inline constexpr char kOutsideMaintenanceWindow[] = "OutsideMaintenanceWindow";
inline constexpr char kRecoveryBlocked[] = "RecoveryBlocked";
// PostgreSQL ended the run's session (or its lock) mid-run: not a rollback
// by the controller; the writers stay at 0 and the retry recovers the run.
inline constexpr char kConnectionLost[] = "ConnectionLost";
// A new leader terminated the sessions of a dead one that still held the
// database's migration lock (Event).
inline constexpr char kFencedStaleSession[] = "FencedStaleSession";
// spec.approval Manual: the plan waits for spec.approvedPlanHash (a wait,
// not a stall: Reconciling=True), and the Event when it matched (design §9).
inline constexpr char kAwaitingApproval[] = "AwaitingApproval";
inline constexpr char kApproved[] = "Approved";
// A new schemaop.dev/retry value lifted the block on a failed run (Event).
inline constexpr char kRetryRequested[] = "RetryRequested";
// A run cancelled before it committed (design §4.7): the writers were at
// zero for spec.maxDowntimeSeconds, or the schemaop.dev/abort annotation.
inline constexpr char kDowntimeExceeded[] = "DowntimeExceeded";
inline constexpr char kAborted[] = "Aborted";
// A run waits for a free run thread (--max-concurrent-runs; Reconciling).
inline constexpr char kWaitingForRunSlot[] = "WaitingForRunSlot";
}  // namespace reasons

// Sets `cond` in `conditions` (matched by type), keeping the order of
// existing entries and appending new ones. lastTransitionTime becomes `now`
// (truncated to seconds) when the condition is new or its status changed;
// otherwise the stored time is kept and only reason, message and
// observedGeneration are updated in place. `cond.last_transition_time` is
// ignored. Returns true when anything changed.
bool SetCondition(std::vector<Condition>& conditions, Condition cond, Timestamp now);

// The condition of `type`, or nullptr. The pointer is valid until the vector changes.
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);

// True when a condition of `type` exists with status True.
bool IsConditionTrue(const std::vector<Condition>& conditions, std::string_view type);

// The condition reason for a failure code (kUnknownRevision -> "UnknownRevision",
// kParseError / graph errors -> "InvalidMigrations", kUnreachable ->
// "DatabaseUnreachable", ...). `fallback` for codes without a dedicated reason.
const char* ReasonForCode(Code code, const char* fallback);

}  // namespace schemaop::core
