#include "core/schema_migration.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>
#include <utility>

#include "core/version_table.h"

namespace schemaop::core {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }

}  // namespace

// RFC 1123 DNS subdomain, as Kubernetes object names require.
bool IsDnsSubdomainName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) {
      dot = name.size();
    }
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || !IsLowerAlnum(label.front()) || !IsLowerAlnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsLowerAlnum(c) && c != '-') {
        return false;
      }
    }
    start = dot + 1;
    if (dot == name.size()) {
      break;
    }
  }
  return true;
}

namespace {

bool IsDnsSubdomain(std::string_view name) { return IsDnsSubdomainName(name); }

bool IsSqlIdentifier(std::string_view s, bool allow_dollar) {
  if (s.empty() || !(IsAlpha(s.front()) || s.front() == '_')) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return IsAlnum(c) || c == '_' || (allow_dollar && c == '$');
  });
}

// ^([A-Za-z0-9_]{1,32}([+-][0-9]{1,6})?|[+-][0-9]{1,6})$ (the CRD pattern).
bool IsValidTargetRevision(std::string_view t) {
  std::size_t i = 0;
  while (i < t.size() && (IsAlnum(t[i]) || t[i] == '_')) {
    ++i;
  }
  const std::size_t id_length = i;
  if (id_length > 32) {
    return false;
  }
  if (i == t.size()) {
    return id_length > 0;
  }
  if (t[i] != '+' && t[i] != '-') {
    return false;
  }
  const std::string_view digits = t.substr(i + 1);
  return !digits.empty() && digits.size() <= 6 &&
         std::all_of(digits.begin(), digits.end(), IsDigit);
}

bool IsSecretKey(std::string_view key) {
  return !key.empty() && key.size() <= 253 && std::all_of(key.begin(), key.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '.' || c == '_';
  });
}

// ^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$, at most 63 characters.
bool IsCheckName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool IsTableName(std::string_view name) {
  if (name.empty() || name.size() > 127) {
    return false;
  }
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos) {
    return IsSqlIdentifier(name, true);
  }
  return IsSqlIdentifier(name.substr(0, dot), true) && IsSqlIdentifier(name.substr(dot + 1), true);
}

std::string Quote(std::string_view value) { return "'" + std::string(value) + "'"; }

}  // namespace

// ----------------------------------------------------------------- equality

bool ObjectMeta::HasFinalizer(std::string_view finalizer) const {
  return std::find(finalizers.begin(), finalizers.end(), finalizer) != finalizers.end();
}

bool ObjectMeta::operator==(const ObjectMeta& o) const {
  return std::tie(namespace_, name, uid, generation, resource_version, creation_timestamp,
                  deletion_timestamp, finalizers, annotations) ==
         std::tie(o.namespace_, o.name, o.uid, o.generation, o.resource_version,
                  o.creation_timestamp, o.deletion_timestamp, o.finalizers, o.annotations);
}

bool SchemaMigrationSpec::operator==(const SchemaMigrationSpec& o) const {
  return std::tie(target_revision, url_secret_ref, ca_secret_ref, version_table, version_layout,
                  migrations_config_map, workloads,
                  drain_timeout_seconds, backup_when, verify_row_counts, verify_schema,
                  verify_allow_row_loss, verify_checks, failure_policy, lock_timeout,
                  statement_timeout, suspend, approval, approved_plan_hash,
                  max_downtime_seconds, maintenance_window, rehearse, executor, job) ==
         std::tie(o.target_revision, o.url_secret_ref, o.ca_secret_ref, o.version_table,
                  o.version_layout, o.migrations_config_map,
                  o.workloads, o.drain_timeout_seconds, o.backup_when, o.verify_row_counts,
                  o.verify_schema, o.verify_allow_row_loss, o.verify_checks, o.failure_policy,
                  o.lock_timeout, o.statement_timeout, o.suspend, o.approval,
                  o.approved_plan_hash, o.max_downtime_seconds, o.maintenance_window, o.rehearse,
                  o.executor, o.job);
}

bool LastRunStatus::operator==(const LastRunStatus& o) const {
  return std::tie(from, to, start_time, finish_time, downtime_seconds, outcome, reason, message,
                  generation, migrations_digest, retry, job_log, phase_seconds) ==
         std::tie(o.from, o.to, o.start_time, o.finish_time, o.downtime_seconds, o.outcome,
                  o.reason, o.message, o.generation, o.migrations_digest, o.retry, o.job_log,
                  o.phase_seconds);
}

bool ResolvedTargetStatus::operator==(const ResolvedTargetStatus& o) const {
  return std::tie(target_revision, revision, generation, migrations_digest) ==
         std::tie(o.target_revision, o.revision, o.generation, o.migrations_digest);
}

bool RunStatus::operator==(const RunStatus& o) const {
  return std::tie(generation, target_revision, target_versions, from_versions, workloads,
                  backup_required, migrations_digest, plan_digest, start_time, scale_down_time,
                  drain_start_time, outcome, reason, message, migration_seconds, intent,
                  intent_time, retry, cancel_reason, cancel_message, executor, job,
                  job_direction, phase_seconds, scale_up_time, expanded) ==
         std::tie(o.generation, o.target_revision, o.target_versions, o.from_versions,
                  o.workloads, o.backup_required, o.migrations_digest, o.plan_digest,
                  o.start_time, o.scale_down_time, o.drain_start_time, o.outcome, o.reason,
                  o.message, o.migration_seconds, o.intent, o.intent_time, o.retry,
                  o.cancel_reason, o.cancel_message, o.executor, o.job, o.job_direction,
                  o.phase_seconds, o.scale_up_time, o.expanded);
}

bool SchemaMigrationStatus::operator==(const SchemaMigrationStatus& o) const {
  return std::tie(observed_generation, current_revision, target_revision, phase, plan, workloads,
                  backup, last_run, run, resolved_target, database_identity, handled_abort,
                  next_window, conditions, last_handled_retry, rehearsal, autoscalers, progress) ==
         std::tie(o.observed_generation, o.current_revision, o.target_revision, o.phase, o.plan,
                  o.workloads, o.backup, o.last_run, o.run, o.resolved_target,
                  o.database_identity, o.handled_abort, o.next_window, o.conditions,
                  o.last_handled_retry, o.rehearsal, o.autoscalers, o.progress);
}

// -------------------------------------------------------------------- enums

BackupWhen BackupWhenOf(const SchemaMigrationSpec& spec) {
  return ParseEnum(kBackupWhenNames, spec.backup_when).value_or(BackupWhen::kDowngrade);
}

FailurePolicy FailurePolicyOf(const SchemaMigrationSpec& spec) {
  return ParseEnum(kFailurePolicyNames, spec.failure_policy).value_or(FailurePolicy::kRollback);
}

Approval ApprovalOf(const SchemaMigrationSpec& spec) {
  return ParseEnum(kApprovalNames, spec.approval).value_or(Approval::kAutomatic);
}

bool PreserveRowCountsOf(const SchemaMigrationSpec& spec) {
  return ParseEnum(kVerifyRowCountsNames, spec.verify_row_counts) != VerifyRowCounts::kOff;
}

bool EnforceSchemaOf(const SchemaMigrationSpec& spec) {
  return ParseEnum(kVerifySchemaNames, spec.verify_schema) != VerifySchema::kIgnore;
}

bool IsRelativeTarget(std::string_view target) {
  return target.find_first_of("+-") != std::string_view::npos;
}

namespace {
constexpr std::pair<Phase, const char*> kPhaseNames[] = {
    {Phase::kPending, "Pending"},         {Phase::kPlanning, "Planning"},     {Phase::kRehearsing, "Rehearsing"},
    {Phase::kExpanding, "Expanding"},     {Phase::kContracting, "Contracting"},
    {Phase::kScalingDown, "ScalingDown"}, {Phase::kDraining, "Draining"},
    {Phase::kBackingUp, "BackingUp"},     {Phase::kMigrating, "Migrating"},
    {Phase::kVerifying, "Verifying"},     {Phase::kRollingBack, "RollingBack"},
    {Phase::kScalingUp, "ScalingUp"},     {Phase::kSucceeded, "Succeeded"},
    {Phase::kFailed, "Failed"},
};
}  // namespace

bool PlanHasExpand(const PlanStatus& plan) {
  for (const PlanStepStatus& step : plan.steps) {
    if (!step.phases.expand.empty()) {
      return true;
    }
  }
  return false;
}

bool PlanHasContract(const PlanStatus& plan) {
  for (const PlanStepStatus& step : plan.steps) {
    if (!step.phases.contract.empty()) {
      return true;
    }
  }
  return false;
}

const char* PhaseName(Phase phase) {
  for (const auto& [value, name] : kPhaseNames) {
    if (value == phase) {
      return name;
    }
  }
  return "Pending";
}

std::optional<Phase> ParsePhase(std::string_view name) {
  for (const auto& [value, text] : kPhaseNames) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

const char* MigrationDirectionName(MigrationDirection direction) {
  return direction == MigrationDirection::kUpgrade ? "upgrade" : "downgrade";
}

std::optional<MigrationDirection> ParseMigrationDirection(std::string_view name) {
  if (name == "upgrade") {
    return MigrationDirection::kUpgrade;
  }
  if (name == "downgrade") {
    return MigrationDirection::kDowngrade;
  }
  return std::nullopt;
}

std::string PlanDirectionOf(const std::vector<PlanStepStatus>& steps) {
  if (steps.empty()) {
    return "none";
  }
  const MigrationDirection first = steps.front().direction;
  for (const PlanStepStatus& step : steps) {
    if (step.direction != first) {
      return "mixed";
    }
  }
  return MigrationDirectionName(first);
}

// --------------------------------------------------------------- validation

std::vector<FieldError> ValidateSpec(const SchemaMigrationSpec& spec) {
  std::vector<FieldError> errors;
  auto add = [&errors](std::string path, std::string message) {
    errors.push_back(FieldError{std::move(path), std::move(message)});
  };

  if (spec.target_revision.empty()) {
    add("spec.targetRevision", "required (a revision id, head, heads, base, +N or -N)");
  } else if (!IsValidTargetRevision(spec.target_revision)) {
    add("spec.targetRevision",
        "invalid value " + Quote(spec.target_revision) +
            ": expected a revision id or prefix ([A-Za-z0-9_], at most 32 characters), head, "
            "heads, base, +N, -N, REV+N or REV-N");
  }

  if (spec.url_secret_ref.name.empty()) {
    add("spec.database.urlSecretRef.name", "required (the Secret holding the database URL)");
  } else if (!IsDnsSubdomain(spec.url_secret_ref.name)) {
    add("spec.database.urlSecretRef.name",
        "invalid Secret name " + Quote(spec.url_secret_ref.name) + ": must be a DNS subdomain");
  }
  if (spec.url_secret_ref.key.empty()) {
    add("spec.database.urlSecretRef.key", "required (the Secret key holding the database URL)");
  } else if (!IsSecretKey(spec.url_secret_ref.key)) {
    add("spec.database.urlSecretRef.key",
        "invalid key " + Quote(spec.url_secret_ref.key) + ": allowed are [-._a-zA-Z0-9]");
  }
  if (!spec.ca_secret_ref.name.empty() || !spec.ca_secret_ref.key.empty()) {
    if (spec.ca_secret_ref.name.empty()) {
      add("spec.database.caSecretRef.name",
          "required with caSecretRef (the Secret holding the CA certificate, PEM)");
    } else if (!IsDnsSubdomain(spec.ca_secret_ref.name)) {
      add("spec.database.caSecretRef.name",
          "invalid Secret name " + Quote(spec.ca_secret_ref.name) + ": must be a DNS subdomain");
    }
    if (spec.ca_secret_ref.key.empty()) {
      add("spec.database.caSecretRef.key",
          "required with caSecretRef (the Secret key holding the CA certificate, e.g. ca.crt)");
    } else if (!IsSecretKey(spec.ca_secret_ref.key)) {
      add("spec.database.caSecretRef.key",
          "invalid key " + Quote(spec.ca_secret_ref.key) + ": allowed are [-._a-zA-Z0-9]");
    }
  }
  if (!IsValidVersionTableName(spec.version_table)) {
    add("spec.database.versionTable",
        "invalid table name " + Quote(spec.version_table) + ": must be " + kVersionTableRule);
  }
  if (!IsVersionLayout(spec.version_layout)) {
    add("spec.database.versionLayout",
        "unsupported value " + Quote(spec.version_layout) + ": use Alembic or GolangMigrate");
  } else if (spec.version_layout == kVersionLayoutGolangMigrate) {
    if (spec.executor != kExecutorJob) {
      add("spec.database.versionLayout",
          "GolangMigrate is read only with executor Job (schemaop's own files keep Alembic's "
          "layout): set spec.executor: Job, or remove versionLayout");
    } else if (spec.target_revision != "head" && !IsGolangMigrateVersion(spec.target_revision)) {
      add("spec.targetRevision",
          "with versionLayout GolangMigrate this is a golang-migrate version (the number its "
          "file names start with, 1 to 18 digits without leading zeros, e.g. 20240301120000) "
          "or head, got " + Quote(spec.target_revision));
    }
    if (spec.version_table == kDefaultVersionTable) {
      add("spec.database.versionTable",
          "is Alembic's alembic_version, but versionLayout GolangMigrate reads golang-migrate's "
          "table: set versionTable to it (golang-migrate's default is schema_migrations)");
    }
  }

  if (spec.migrations_config_map.empty()) {
    if (spec.executor != kExecutorJob) {
      add("spec.migrations.configMapRef.name",
          "required (the ConfigMap with the migration files)");
    }
  } else if (!IsDnsSubdomain(spec.migrations_config_map)) {
    add("spec.migrations.configMapRef.name",
        "invalid ConfigMap name " + Quote(spec.migrations_config_map) +
            ": must be a DNS subdomain");
  }

  ValidateWorkloadRefs(spec.workloads, errors);  // core/workload_ref.cpp
  for (std::size_t i = 0; i < spec.workloads.size(); ++i) {
    const WorkloadRef& w = spec.workloads[i];
    const std::string path = "spec.workloads[" + std::to_string(i) + "]";
    if (!w.jobs.empty() && w.jobs != kJobsWait && w.jobs != kJobsDelete) {
      add(path + ".jobs", "unsupported value " + Quote(w.jobs) + ": use Wait or Delete");
    } else if (!w.jobs.empty() && w.kind != kKindCronJob) {
      add(path + ".jobs", "only a CronJob has Jobs: remove jobs from this " + w.kind);
    }
  }

  if (spec.drain_timeout_seconds < 1 || spec.drain_timeout_seconds > 86400) {
    add("spec.drainTimeoutSeconds",
        "must be between 1 and 86400, got " + std::to_string(spec.drain_timeout_seconds));
  }
  if (spec.max_downtime_seconds < 0 || spec.max_downtime_seconds > kMaxDowntimeSecondsLimit) {
    add("spec.maxDowntimeSeconds",
        "must be between 1 and " + std::to_string(kMaxDowntimeSecondsLimit) +
            " (or left out for no budget), got " + std::to_string(spec.max_downtime_seconds));
  }
  if (!ParseEnum(kBackupWhenNames, spec.backup_when)) {
    add("spec.backup.when", "unsupported value " + Quote(spec.backup_when) + ": use " +
                                EnumChoices(kBackupWhenNames));
  }
  if (!ParseEnum(kVerifyRowCountsNames, spec.verify_row_counts)) {
    add("spec.verify.rowCounts", "unsupported value " + Quote(spec.verify_row_counts) + ": use " +
                                     EnumChoices(kVerifyRowCountsNames));
  }
  if (!ParseEnum(kVerifySchemaNames, spec.verify_schema)) {
    add("spec.verify.schema", "unsupported value " + Quote(spec.verify_schema) + ": use " +
                                  EnumChoices(kVerifySchemaNames));
  }
  std::set<std::string> seen_tables;
  for (std::size_t i = 0; i < spec.verify_allow_row_loss.size(); ++i) {
    const std::string& table = spec.verify_allow_row_loss[i];
    const std::string path = "spec.verify.allowRowLoss[" + std::to_string(i) + "]";
    if (!IsTableName(table)) {
      add(path, "invalid table name " + Quote(table) + ": use table or schema.table");
    } else if (!seen_tables.insert(table).second) {
      add(path, "duplicate");
    }
  }
  std::set<std::string> seen_checks;
  for (std::size_t i = 0; i < spec.verify_checks.size(); ++i) {
    const VerifyCheck& check = spec.verify_checks[i];
    const std::string path = "spec.verify.checks[" + std::to_string(i) + "]";
    if (!IsCheckName(check.name)) {
      add(path + ".name", "invalid check name " + Quote(check.name) +
                              ": 1-63 characters [-A-Za-z0-9_.], starting and ending alphanumeric");
    } else if (!seen_checks.insert(check.name).second) {
      add(path + ".name", "duplicate");
    }
    if (check.sql.empty()) {
      add(path + ".sql", "required (a query returning one boolean)");
    }
  }
  if (!ParseEnum(kFailurePolicyNames, spec.failure_policy)) {
    add("spec.failurePolicy", "unsupported value " + Quote(spec.failure_policy) + ": use " +
                                  EnumChoices(kFailurePolicyNames));
  }
  if (!ParseEnum(kApprovalNames, spec.approval)) {
    add("spec.approval",
        "unsupported value " + Quote(spec.approval) + ": use " + EnumChoices(kApprovalNames));
  }
  if (!spec.approved_plan_hash.empty() && !IsPlanHash(spec.approved_plan_hash)) {
    add("spec.approvedPlanHash",
        "invalid value " + Quote(spec.approved_plan_hash.substr(0, 80)) +
            ": use the 64 lowercase hex digits of status.plan.planHash (or of `schemaop plan`)");
  }
  if (!spec.lock_timeout.empty() && !ParseDuration(spec.lock_timeout).ok()) {
    add("spec.lockTimeout", "invalid duration " + Quote(spec.lock_timeout) +
                                ": use e.g. 10s, 500ms, 1m30s, or 0 to disable");
  }
  if (!spec.statement_timeout.empty() && !ParseDuration(spec.statement_timeout).ok()) {
    add("spec.statementTimeout", "invalid duration " + Quote(spec.statement_timeout) +
                                     ": use e.g. 5m, 90s, 1h, or 0 to disable");
  }
  if (spec.maintenance_window) {
    for (auto& [path, message] : CheckMaintenanceWindow(*spec.maintenance_window)) {
      add(path, message);
    }
  }
  for (auto& [path, message] : CheckExecutor(spec.executor, spec.job, spec.url_secret_ref.name)) {
    add(path, message);
  }
  for (auto& [path, message] :
       CheckJobRunSpec(spec.executor, spec.target_revision, spec.backup_when)) {
    add(path, message);
  }
  return errors;
}

// ------------------------------------------------------------------- values

std::string FormatVersions(const std::vector<std::string>& versions) {
  if (versions.empty()) {
    return "base";
  }
  std::vector<std::string> sorted = versions;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const std::string& v : sorted) {
    if (!out.empty()) {
      out += ",";
    }
    out += v;
  }
  return out;
}

std::string RetryToken(const std::string& annotation_value) {
  constexpr std::size_t kMaxRecorded = 128;
  if (annotation_value.size() <= kMaxRecorded) {
    return annotation_value;
  }
  return "digest:" + DigestOf({{"retry", annotation_value}});
}

bool IsPlanHash(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string DigestOf(const std::vector<std::pair<std::string, std::string>>& key_values) {
  std::uint64_t hash = 14695981039346656037ULL;
  auto mix = [&hash](std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
    // A separator that cannot be confused with content (length-prefix style).
    const std::uint64_t length = bytes.size();
    for (int i = 0; i < 8; ++i) {
      hash ^= (length >> (8 * i)) & 0xff;
      hash *= 1099511628211ULL;
    }
  };
  for (const auto& [key, value] : key_values) {
    mix(key);
    mix(value);
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

}  // namespace schemaop::core
