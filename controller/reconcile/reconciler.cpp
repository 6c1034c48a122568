#include "reconcile/reconciler.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <tuple>
#include <utility>
#include <vector>

#include "core/conditions.h"
#include "core/database_url.h"
#include "core/schema_migration.h"

namespace schemaop::reconcile {
namespace {

using core::Code;
using core::ConditionStatus;
using core::Phase;
using core::SchemaMigration;
using core::SchemaMigrationStatus;
using core::Status;
namespace ct = core::condition_types;
namespace rs = core::reasons;

// Condition messages are capped at 32768 bytes by the CRD (a longer one
// turns every status write into a 422 and the run could never record its
// outcome); engine messages can be much longer. Keep status small anyway.
constexpr std::size_t kMaxMessageBytes = 4096;

// Length of the valid UTF-8 sequence starting at text[i], or 0.
std::size_t Utf8SequenceLength(const std::string& text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t len = 0;
  unsigned char min_second = 0x80;
  unsigned char max_second = 0xBF;
  if (c < 0x80) {
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    min_second = c == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    max_second = c == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    min_second = c == 0xF0 ? 0x90 : 0x80;
    max_second = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (i + len > text.size()) {
    return 0;
  }
  const auto second = static_cast<unsigned char>(text[i + 1]);
  if (second < min_second || second > max_second) {
    return 0;
  }
  for (std::size_t k = 2; k < len; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
      return 0;
    }
  }
  return len;
}

// Valid UTF-8 (each invalid byte becomes U+FFFD: an engine message may carry
// bytes of another encoding, and the API server would store something else
// than we compare against, so every resync would write again) of at most
// kMaxMessageBytes, cut on a character boundary.
std::string BoundedMessage(const std::string& text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  static constexpr char kEllipsis[] = "...";
  std::string out;
  out.reserve(std::min(text.size(), kMaxMessageBytes));
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = Utf8SequenceLength(text, i);
    const std::size_t add = len == 0 ? sizeof kReplacement - 1 : len;
    if (out.size() + add > kMaxMessageBytes - (sizeof kEllipsis - 1)) {
      out += kEllipsis;
      break;
    }
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  return out;
}

// Another SchemaMigration's run has scaled down a workload this run wants to
// record (e.g. one backend using two databases). Local until core::reasons
// gains it.
constexpr char kWorkloadInUse[] = "WorkloadInUse";

// Something that keeps the object from progressing.
struct Problem {
  std::string reason;
  std::string message;  // names the problem and the fix
  bool transient = false;
  Status cause;
};

bool IsTransient(Code code) {
  switch (code) {
    case Code::kUnreachable:
    case Code::kLockHeld:
    case Code::kTimeout:
    case Code::kHttpError:
    case Code::kConflict:
    case Code::kInternal:
      return true;
    default:
      return false;
  }
}

// A failed run is not retried for the same input (it would scale the
// application down again and fail the same way) unless the failure came from
// something that can be fixed outside the spec and is re-checked first.
bool BlocksRetry(const core::LastRunStatus& last) {
  if (last.outcome.empty() || last.outcome == core::kOutcomeSucceeded) {
    return false;
  }
  return last.reason.empty() || last.reason == rs::kMigrationFailed ||
         last.reason == rs::kVerificationFailed || last.reason == rs::kDrainTimeout ||
         last.reason == rs::kBackupFailed || last.reason == rs::kChecksumMismatch ||
         last.reason == rs::kSchemaDrift;
}

std::string FailurePrefix(const std::string& reason) {
  if (reason == rs::kVerificationFailed) {
    return "Verification failed: ";
  }
  if (reason == rs::kSchemaDrift) {
    return "Schema drift: ";
  }
  return "Migration failed: ";
}

std::string WorkloadName(const std::string& kind, const std::string& name) {
  return kind + "/" + name;
}

std::string FormatSeconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  return buffer;
}

std::string StepsText(const std::vector<core::PlanStepStatus>& steps) {
  std::string out;
  for (const core::PlanStepStatus& s : steps) {
    if (!out.empty()) {
      out += ", ";
    }
    out += (s.direction == core::MigrationDirection::kUpgrade ? "+" : "-") + s.revision;
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------------- Pass

// One attempt at reconciling one snapshot of the object. Returns kConflict
// when a write lost a race; the caller then starts a new Pass on a fresh read
// (safe because every step resumes from status).
class Reconciler::Pass {
 public:
  Pass(Reconciler& owner, SchemaMigration obj) : r_(owner), obj_(std::move(obj)) {}

  core::Result<ReconcileResult> Run() {
    if (obj_.metadata.deletion_timestamp) {
      return HandleDeletion();
    }
    if (obj_.status.run) {
      return Advance();
    }
    return Start();
  }

  const std::string& metric_result() const { return metric_result_; }

 private:
  struct Inputs {
    DatabaseTarget target;
    std::string digest;
  };

  // ----------------------------------------------------------- helpers

  const std::string& ns() const { return obj_.metadata.namespace_; }
  std::int64_t generation() const { return obj_.metadata.generation; }
  core::Timestamp Now() { return r_.clock_.Now(); }
  std::string Key() const { return ns() + "/" + obj_.metadata.name; }

  void SetCond(SchemaMigrationStatus& s, const char* type, ConditionStatus status,
               const std::string& reason, const std::string& message) {
    core::Condition c;
    c.type = type;
    c.status = status;
    c.observed_generation = s.observed_generation;
    c.reason = reason;
    c.message = message;
    core::SetCondition(s.conditions, std::move(c), Now());
  }

  // Writes `next` as the new status unless it equals the stored one
  // (conventions §4: computed, then written once), or always when `force`
  // (an intent write: its point is the resourceVersion check by the API
  // server, so a stale object is answered with a conflict).
  // `wrote` (optional) tells whether an API write happened.
  [[nodiscard]] Status Write(SchemaMigrationStatus next, bool* wrote = nullptr,
                             bool force = false) {
    if (wrote != nullptr) {
      *wrote = false;
    }
    for (core::Condition& c : next.conditions) {
      c.message = BoundedMessage(scrubber_.Scrub(std::move(c.message)));
    }
    if (next.last_run) {
      next.last_run->message = BoundedMessage(scrubber_.Scrub(std::move(next.last_run->message)));
    }
    if (next.run) {
      next.run->message = BoundedMessage(scrubber_.Scrub(std::move(next.run->message)));
    }
    if (!database_identity_.empty()) {
      next.database_identity = database_identity_;
    }
    if (!force && next == obj_.status) {
      return Status::Ok();
    }
    SchemaMigration updated = obj_;
    updated.status = std::move(next);
    auto rv = r_.kube_.UpdateStatus(updated);
    if (!rv.ok()) {
      return rv.status();
    }
    updated.metadata.resource_version = rv.value();
    obj_ = std::move(updated);
    intent_written_ = obj_.status.run ? obj_.status.run->intent : std::string();
    if (wrote != nullptr) {
      *wrote = true;
    }
    return Status::Ok();
  }

  // Intent before action (design: a controller with a stale cache after a
  // failover must not scale or back up anything): `intent` is recorded in
  // status.run by a write that succeeded against the object's current
  // resourceVersion before the action is taken. A write of this pass that
  // already carried the intent counts; otherwise the write is forced, even
  // when nothing else changed, so the API server checks the resourceVersion
  // (kConflict on a stale object, and the caller acts on nothing).
  void SetIntent(SchemaMigrationStatus& next, const char* intent) {
    if (next.run->intent != intent) {
      next.run->intent = intent;
      next.run->intent_time = Now();
    }
  }

  [[nodiscard]] Status RecordIntent(const char* intent) {
    if (intent_written_ == intent) {
      return Status::Ok();
    }
    SchemaMigrationStatus next = obj_.status;
    next.run->intent = intent;
    next.run->intent_time = Now();
    return Write(std::move(next), nullptr, /*force=*/true);
  }

  void Event(EventType type, const std::string& reason, const std::string& message) {
    r_.kube_.RecordEvent(obj_, type, reason, BoundedMessage(scrubber_.Scrub(message)));
  }

  ReconcileResult Requeue(std::chrono::milliseconds after, std::string metric) {
    metric_result_ = std::move(metric);
    ReconcileResult result;
    result.requeue_after = after;
    return result;
  }

  ReconcileResult Done(std::string metric) {
    metric_result_ = std::move(metric);
    r_.failures_.erase(Key());
    return ReconcileResult{};
  }

  ReconcileResult Backoff(const Problem& problem) {
    metric_result_ = "retry";
    ReconcileResult result;
    result.requeue_after = r_.NextBackoff(Key());
    // The detail too: the manager logs Status::ToString(), detail included.
    result.error =
        Status(problem.cause.ok() ? Code::kInternal : problem.cause.code(),
               scrubber_.Scrub(problem.message), scrubber_.Scrub(problem.cause.detail()));
    return result;
  }

  // A Kubernetes API failure that is neither a conflict nor a missing input.
  core::Result<ReconcileResult> KubeFailure(const Status& status, const std::string& what) {
    if (status.code() == Code::kConflict) {
      return status;
    }
    metric_result_ = "error";
    ReconcileResult result;
    result.requeue_after = r_.NextBackoff(Key());
    result.error = Status(status.code(), what + ": " + scrubber_.Scrub(status.message()),
                          scrubber_.Scrub(status.detail()));
    return result;
  }

  // ------------------------------------------------------ input problems

  Problem KubeProblem(const Status& status, const std::string& what) {
    return Problem{rs::kKubernetesError,
                   what + " failed: " + status.message() + " (retrying)", true, status};
  }

  Problem DatabaseProblem(const Status& status, const std::string& action) {
    const std::string reason = core::ReasonForCode(status.code(), rs::kDatabaseError);
    const auto& spec = obj_.spec;
    std::string message;
    if (reason == rs::kUnknownRevision) {
      const core::ResolvedTargetStatus* pinned = PinnedTarget();
      message = "spec.targetRevision '" + spec.target_revision + "'" +
                (pinned != nullptr ? " (resolved earlier to " + pinned->revision +
                                         ", status.resolvedTarget)"
                                   : std::string()) +
                " cannot be resolved: " + status.message() +
                ". Set spec.targetRevision to a revision defined in ConfigMap " +
                spec.migrations_config_map + " (or head, base, +N, -N).";
    } else if (reason == rs::kInvalidMigrations) {
      message = "The migration files in ConfigMap " + spec.migrations_config_map +
                " are invalid: " + status.message() + ". Fix the files in the ConfigMap.";
    } else if (reason == rs::kChecksumMismatch) {
      message = status.message() +
                ". An already applied migration file was changed; restore its original text in "
                "ConfigMap " +
                spec.migrations_config_map + ".";
    } else if (reason == rs::kDatabaseUnreachable) {
      message = "Cannot connect to the database of Secret " + spec.url_secret_ref.name +
                " key " + spec.url_secret_ref.key + ": " + status.message() +
                ". Check the URL in the Secret" +
                (spec.ca_secret_ref.name.empty()
                     ? std::string()
                     : ", the CA in Secret " + spec.ca_secret_ref.name + " key " +
                           spec.ca_secret_ref.key + " (spec.database.caSecretRef)") +
                " and that the database accepts connections; retrying with backoff.";
    } else if (reason == rs::kLockHeld) {
      message = "Another migration run holds the database's migration lock: " +
                status.message() + ". Retrying with backoff.";
    } else if (reason == rs::kInvalidSpec) {
      message = action + " rejected the spec: " + status.message() + ". Fix the spec.";
    } else if (reason == rs::kBackupFailed) {
      message = "Backup failed: " + status.message() +
                ". Check pg_dump and the backup volume, or set spec.backup.when: Never.";
    } else {
      message = action + " failed: " + status.message() +
                (IsTransient(status.code()) ? " (retrying)" : "");
    }
    return Problem{reason, std::move(message), IsTransient(status.code()), status};
  }

  std::optional<Problem> LoadInputs(Inputs& out) {
    const auto& spec = obj_.spec;
    auto url = r_.kube_.GetSecretValue(ns(), spec.url_secret_ref.name, spec.url_secret_ref.key);
    if (!url.ok()) {
      if (url.status().code() == Code::kNotFound) {
        return Problem{rs::kSecretNotFound,
                       "Secret " + ns() + "/" + spec.url_secret_ref.name + " with key " +
                           spec.url_secret_ref.key + " not found (" + url.status().message() +
                           "). Create it with the database URL under that key, or fix "
                           "spec.database.urlSecretRef.",
                       false, url.status()};
      }
      return KubeProblem(url.status(), "Reading Secret " + spec.url_secret_ref.name);
    }
    if (url.value().empty()) {
      return Problem{rs::kSecretNotFound,
                     "Key " + spec.url_secret_ref.key + " of Secret " + ns() + "/" +
                         spec.url_secret_ref.name +
                         " is empty. Put the database URL under that key.",
                     false, Status(Code::kNotFound, "empty secret value")};
    }
    scrubber_.AddDatabaseUrl(url.value());

    std::string ca_pem;
    if (!spec.ca_secret_ref.name.empty()) {
      const auto& ref = spec.ca_secret_ref;
      auto ca = r_.kube_.GetSecretValue(ns(), ref.name, ref.key);
      if (!ca.ok() && ca.status().code() != Code::kNotFound) {
        return KubeProblem(ca.status(), "Reading Secret " + ref.name);
      }
      if (!ca.ok() || ca.value().empty()) {
        return Problem{rs::kSecretNotFound,
                       "Secret " + ns() + "/" + ref.name + " with key " + ref.key +
                           (ca.ok() ? " is empty" : " not found (" + ca.status().message() + ")") +
                           ". Put the database server's CA certificate (PEM) under that key, or "
                           "fix spec.database.caSecretRef.",
                       false, ca.ok() ? Status(Code::kNotFound, "empty secret value") : ca.status()};
      }
      ca_pem = std::move(ca).value();
    }

    auto files = r_.kube_.GetConfigMapData(ns(), spec.migrations_config_map);
    if (!files.ok()) {
      if (files.status().code() == Code::kNotFound) {
        return Problem{rs::kConfigMapNotFound,
                       "ConfigMap " + ns() + "/" + spec.migrations_config_map +
                           " with the migration files not found. Create it (one key per "
                           "migration file) or fix spec.migrations.configMapRef.name.",
                       false, files.status()};
      }
      return KubeProblem(files.status(), "Reading ConfigMap " + spec.migrations_config_map);
    }
    if (files.value().empty()) {
      return Problem{rs::kInvalidMigrations,
                     "ConfigMap " + ns() + "/" + spec.migrations_config_map +
                         " has no migration files. Add one key per migration file.",
                     false, Status(Code::kParseError, "empty ConfigMap")};
    }

    DatabaseTarget& t = out.target;
    t.url = std::move(url).value();
    t.ca_certificate_pem = std::move(ca_pem);
    t.version_table = spec.version_table;
    t.migration_files.assign(files.value().begin(), files.value().end());  // std::map: sorted
    t.actor = r_.options_.actor_prefix + " " + ns() + "/" + obj_.metadata.name;
    t.owner_namespace = ns();
    t.owner_name = obj_.metadata.name;
    t.backup_when = core::BackupWhenOf(spec);
    t.verify_row_counts = core::PreserveRowCountsOf(spec);
    t.verify_schema = core::EnforceSchemaOf(spec);
    t.allow_row_loss = spec.verify_allow_row_loss;
    t.checks = spec.verify_checks;
    t.failure_policy = core::FailurePolicyOf(spec);
    if (!spec.lock_timeout.empty()) {
      if (auto d = core::ParseDuration(spec.lock_timeout); d.ok()) {
        t.lock_timeout = d.value();
      }
    }
    if (!spec.statement_timeout.empty()) {
      if (auto d = core::ParseDuration(spec.statement_timeout); d.ok()) {
        t.statement_timeout = d.value();
      }
    }
    out.digest = core::DigestOf(t.migration_files);
    return std::nullopt;
  }

  // --------------------------------------------------- outside of a run

  // Bad input before any side effect: Stalled (terminal) or a retry.
  core::Result<ReconcileResult> Refuse(const Problem& problem) {
    SchemaMigrationStatus next = obj_.status;
    next.observed_generation = generation();
    if (problem.transient) {
      SetCond(next, ct::kReady, ConditionStatus::kFalse, problem.reason, problem.message);
      SetCond(next, ct::kReconciling, ConditionStatus::kTrue, problem.reason, problem.message);
      SetCond(next, ct::kStalled, ConditionStatus::kFalse, problem.reason, problem.message);
    } else {
      next.phase = Phase::kFailed;
      SetCond(next, ct::kReady, ConditionStatus::kFalse, problem.reason, problem.message);
      SetCond(next, ct::kReconciling, ConditionStatus::kFalse, problem.reason, problem.message);
      SetCond(next, ct::kStalled, ConditionStatus::kTrue, problem.reason, problem.message);
    }
    // Compared after Write normalised the messages (scrubbed, bounded): a
    // message that echoes the Secret must not count as new on every resync.
    bool changed = false;
    if (Status s = Write(std::move(next), &changed); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    if (changed) {
      Event(EventType::kWarning, problem.reason, problem.message);
    }
    if (problem.transient) {
      return Backoff(problem);
    }
    metric_result_ = "stalled";
    r_.failures_.erase(Key());
    if (problem.reason == rs::kInvalidSpec) {
      return ReconcileResult{};  // only a spec change helps; that triggers a reconcile
    }
    return Requeue(r_.options_.stalled_recheck, "stalled");
  }

  void SetAtTargetConditions(SchemaMigrationStatus& next) {
    const std::string message = "Database is at revision " + next.current_revision +
                                " (spec.targetRevision '" + obj_.spec.target_revision +
                                "'); workloads are running.";
    SetCond(next, ct::kReady, ConditionStatus::kTrue, rs::kSucceeded, message);
    SetCond(next, ct::kReconciling, ConditionStatus::kFalse, rs::kSucceeded, message);
    SetCond(next, ct::kStalled, ConditionStatus::kFalse, rs::kSucceeded, message);
  }

  core::Result<ReconcileResult> Suspend(SchemaMigrationStatus next) {
    next.observed_generation = generation();
    const std::string message =
        "spec.suspend is true: no new run is started (database last seen at " +
        (next.current_revision.empty() ? std::string("an unknown revision")
                                       : next.current_revision) +
        "). Set spec.suspend to false to resume.";
    const core::Condition* ready = core::FindCondition(next.conditions, ct::kReady);
    const ConditionStatus ready_status =
        ready != nullptr && ready->status == ConditionStatus::kTrue ? ConditionStatus::kTrue
                                                                     : ConditionStatus::kFalse;
    SetCond(next, ct::kReady, ready_status, rs::kSuspended, message);
    SetCond(next, ct::kReconciling, ConditionStatus::kFalse, rs::kSuspended, message);
    SetCond(next, ct::kStalled, ConditionStatus::kFalse, rs::kSuspended, message);
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    return Done("success");
  }

  std::optional<Problem> CheckDuplicates(Status& kube_error) {
    auto list =
        r_.kube_.ListSchemaMigrationsReferencing(ns(), "Secret", obj_.spec.url_secret_ref.name);
    if (!list.ok()) {
      kube_error = list.status();
      return std::nullopt;
    }
    const auto& me = obj_.metadata;
    const auto my_created = me.creation_timestamp.value_or(core::Timestamp{});
    for (const SchemaMigration& other : list.value()) {
      if (other.metadata.name == me.name) {
        continue;
      }
      if (!(other.spec.url_secret_ref == obj_.spec.url_secret_ref)) {
        continue;
      }
      const auto other_created = other.metadata.creation_timestamp.value_or(core::Timestamp{});
      const bool other_is_older =
          other_created < my_created ||
          (other_created == my_created && other.metadata.name < me.name);
      if (other_is_older) {
        return Problem{rs::kDuplicateDatabase,
                       "SchemaMigration " + ns() + "/" + other.metadata.name +
                           " (created earlier) already manages the database of Secret " +
                           obj_.spec.url_secret_ref.name + " key " + obj_.spec.url_secret_ref.key +
                           ". One database must have one SchemaMigration: delete this one or "
                           "point it at another database.",
                       false, Status(Code::kInvalidArgument, "duplicate database")};
      }
    }
    return std::nullopt;
  }

  core::Result<ReconcileResult> Start() {
    const auto& spec = obj_.spec;
    const std::vector<core::FieldError> errors = core::ValidateSpec(spec);
    if (!errors.empty()) {
      std::string message = "Invalid spec: ";
      for (std::size_t i = 0; i < errors.size(); ++i) {
        message += (i == 0 ? "" : "; ") + errors[i].ToString();
      }
      message += ". Fix these fields of the SchemaMigration.";
      return Refuse(Problem{rs::kInvalidSpec, message, false,
                            Status(Code::kInvalidArgument, "invalid spec")});
    }
    Status list_error;
    if (auto dup = CheckDuplicates(list_error)) {
      return Refuse(*dup);
    }
    if (!list_error.ok()) {
      return KubeFailure(list_error, "Listing SchemaMigrations");
    }
    if (spec.suspend) {
      return Suspend(obj_.status);
    }
    Inputs inputs;
    if (auto problem = LoadInputs(inputs)) {
      return Refuse(*problem);
    }
    auto inspected = r_.db_.Inspect(inputs.target, TargetToInspect());
    if (!inspected.ok()) {
      return Refuse(DatabaseProblem(inspected.status(), "Inspecting the database"));
    }
    const InspectResult& inspect = inspected.value();
    if (!inspect.database_identity.empty()) {
      if (auto waiting = EnsureSoleOwner(inspect.database_identity)) {
        return std::move(*waiting);
      }
    }
    for (std::size_t i = 0; i < spec.workloads.size(); ++i) {
      const core::WorkloadRef& w = spec.workloads[i];
      auto scale = r_.kube_.GetScale(ns(), w.kind, w.name);
      if (!scale.ok()) {
        if (scale.status().code() == Code::kNotFound) {
          return Refuse(Problem{rs::kWorkloadNotFound,
                                w.kind + " " + ns() + "/" + w.name + " (spec.workloads[" +
                                    std::to_string(i) +
                                    "]) not found. Create it or remove it from spec.workloads.",
                                false, scale.status()});
        }
        return Refuse(KubeProblem(scale.status(), "Reading the scale of " + w.kind + "/" + w.name));
      }
    }
    const std::string current = core::FormatVersions(inspect.current_versions);
    r_.metrics_.SetCurrentRevision(ns(), obj_.metadata.name, current);
    const core::ResolvedTargetStatus resolved = ResolvedTarget(inspect, inputs.digest);

    if (inspect.steps.empty()) {
      SchemaMigrationStatus next = obj_.status;
      next.observed_generation = generation();
      next.current_revision = current;
      next.target_revision = core::FormatVersions(inspect.target_versions);
      next.resolved_target = resolved;
      next.phase = Phase::kSucceeded;
      SetAtTargetConditions(next);
      if (Status s = Write(std::move(next)); !s.ok()) {
        return KubeFailure(s, "Updating status");
      }
      return Done("success");
    }

    const auto& last = obj_.status.last_run;
    if (last && BlocksRetry(*last)) {
      const std::int64_t served =
          last->generation != 0 ? last->generation : obj_.status.observed_generation;
      const bool same_files =
          last->migrations_digest.empty() || last->migrations_digest == inputs.digest;
      if (served == generation() && same_files) {
        // Keep reporting the failure; only record what the database says now.
        SchemaMigrationStatus next = obj_.status;
        next.current_revision = current;
        if (Status s = Write(std::move(next)); !s.ok()) {
          return KubeFailure(s, "Updating status");
        }
        metric_result_ = "stalled";
        return Requeue(r_.options_.stalled_recheck, "stalled");
      }
    }
    if (last && last->reason == rs::kMigrationsChanged && last->generation == generation() &&
        last->migrations_digest == inputs.digest && last->from == current &&
        last->to == core::FormatVersions(inspect.target_versions)) {
      // The engine refused this very plan as changed although neither the
      // files nor the database moved since it was planned: planning again
      // would scale the application down and up in a loop.
      return Refuse(Problem{
          rs::kMigrationsChanged,
          "The migration engine refused the plan from " + current + " to " + last->to +
              " as changed, but neither ConfigMap " + obj_.spec.migrations_config_map +
              " nor the database changed since it was planned (" + last->message +
              "). Not retrying in a loop: check the files and the database (schemaop plan), "
              "then change the spec or the ConfigMap to retry.",
          false, Status(Code::kMigrationsChanged, "plan refused twice")});
    }
    return StartRun(inputs, inspect, resolved);
  }

  // Targets are resolved once: a relative target (+N, -N, REV+N, REV-N)
  // recorded in status.resolvedTarget is never resolved again while
  // spec.targetRevision keeps that text (resyncs, restarts and failovers
  // reuse the absolute revision); otherwise each pass would step again from
  // wherever the last run left the database. Absolute targets are resolved
  // on every pass: for the same files the answer is the same, and head
  // follows the files when they change.
  const core::ResolvedTargetStatus* PinnedTarget() const {
    const auto& pinned = obj_.status.resolved_target;
    if (core::IsRelativeTarget(obj_.spec.target_revision) && pinned &&
        pinned->target_revision == obj_.spec.target_revision && !pinned->revision.empty() &&
        pinned->revision.find(',') == std::string::npos) {
      return &*pinned;
    }
    return nullptr;
  }

  std::string TargetToInspect() const {
    const core::ResolvedTargetStatus* pinned = PinnedTarget();
    return pinned != nullptr ? pinned->revision : obj_.spec.target_revision;
  }

  core::ResolvedTargetStatus ResolvedTarget(const InspectResult& inspect,
                                            const std::string& digest) const {
    if (const core::ResolvedTargetStatus* pinned = PinnedTarget()) {
      return *pinned;
    }
    return core::ResolvedTargetStatus{obj_.spec.target_revision,
                                      core::FormatVersions(inspect.target_versions), generation(),
                                      digest};
  }

  // A wait for something outside this object (kstatus: not Stalled, since
  // it resolves without a change here; Reconciling stays True): reported
  // once, re-checked every stalled_recheck.
  core::Result<ReconcileResult> Wait(const Problem& problem) {
    SchemaMigrationStatus next = obj_.status;
    next.observed_generation = generation();
    SetCond(next, ct::kReady, ConditionStatus::kFalse, problem.reason, problem.message);
    SetCond(next, ct::kReconciling, ConditionStatus::kTrue, problem.reason, problem.message);
    SetCond(next, ct::kStalled, ConditionStatus::kFalse, problem.reason, problem.message);
    bool changed = false;
    if (Status s = Write(std::move(next), &changed); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    if (changed) {
      Event(EventType::kWarning, problem.reason, problem.message);
    }
    r_.failures_.erase(Key());
    return Requeue(r_.options_.stalled_recheck, "requeue");
  }

  // One database, one owner: `identity` is the database as its server
  // identifies it, so two Secrets (or namespaces) reaching one database are
  // caught. Every status write of this pass records the identity (Write), so
  // other objects see it. Of the objects sharing a database, the oldest
  // (creationTimestamp, then namespace/name) runs; every other one waits
  // (DatabaseInUse) without touching anything, and so does the oldest while
  // a younger one still has a run in progress (started before the oldest
  // recorded its identity). nullopt: this object may proceed.
  // Two objects first reconciled within the cache's lag of each other can
  // both miss the other and start; the engine's lock serializes their runs,
  // and from the next pass on only the older one runs.
  std::optional<core::Result<ReconcileResult>> EnsureSoleOwner(const std::string& identity) {
    database_identity_ = identity;
    auto list = r_.kube_.ListSchemaMigrationsByDatabaseIdentity(identity);
    if (!list.ok()) {
      return KubeFailure(list.status(), "Listing SchemaMigrations");
    }
    const auto& me = obj_.metadata;
    const auto mine = std::make_tuple(me.creation_timestamp.value_or(core::Timestamp{}),
                                      me.namespace_, me.name);
    const SchemaMigration* older = nullptr;
    const SchemaMigration* running = nullptr;
    for (const SchemaMigration& other : list.value()) {
      if ((other.metadata.namespace_ == me.namespace_ && other.metadata.name == me.name) ||
          other.status.database_identity != identity) {
        continue;
      }
      if (other.metadata.deletion_timestamp && !other.status.run) {
        continue;  // going away and holding nothing
      }
      const auto theirs =
          std::make_tuple(other.metadata.creation_timestamp.value_or(core::Timestamp{}),
                          other.metadata.namespace_, other.metadata.name);
      if (theirs < mine) {
        older = older == nullptr ? &other : older;
      } else if (other.status.run) {
        running = running == nullptr ? &other : running;
      }
    }
    const std::string where = "Secret " + obj_.spec.url_secret_ref.name + " key " +
                              obj_.spec.url_secret_ref.key;
    if (older != nullptr) {
      return Wait(Problem{
          rs::kDatabaseInUse,
          "SchemaMigration " + older->metadata.namespace_ + "/" + older->metadata.name +
              " (created earlier) already manages the database of " + where +
              " (its server reports the same identity, whatever URL reaches it). One database "
              "must have one SchemaMigration: nothing is done here while that one exists; "
              "delete this SchemaMigration or point it at another database.",
          true, Status(Code::kLockHeld, "database in use")});
    }
    if (running != nullptr) {
      return Wait(Problem{rs::kDatabaseInUse,
                          "SchemaMigration " + running->metadata.namespace_ + "/" +
                              running->metadata.name +
                              " has a run in progress on the database of " + where +
                              "; waiting for it to end (after that, the older "
                              "SchemaMigration, this one, manages the database).",
                          true, Status(Code::kLockHeld, "database in use")});
    }
    return std::nullopt;
  }

  core::Result<ReconcileResult> StartRun(Inputs& inputs, const InspectResult& inspect,
                                         const core::ResolvedTargetStatus& resolved) {
    if (!obj_.metadata.HasFinalizer(core::kFinalizer)) {
      auto rv = r_.kube_.AddFinalizer(obj_, core::kFinalizer);
      if (!rv.ok()) {
        return KubeFailure(rv.status(), "Adding the finalizer");
      }
      obj_.metadata.resource_version = rv.value();
      obj_.metadata.finalizers.push_back(core::kFinalizer);
    }
    const auto& spec = obj_.spec;
    SchemaMigrationStatus next = obj_.status;
    next.observed_generation = generation();
    next.current_revision = core::FormatVersions(inspect.current_versions);
    next.target_revision = core::FormatVersions(inspect.target_versions);
    next.phase = Phase::kPlanning;
    next.plan = core::PlanStatus{core::PlanDirectionOf(inspect.steps), inspect.steps};
    next.workloads.clear();
    next.resolved_target = resolved;
    core::RunStatus run;
    run.generation = generation();
    run.target_revision = spec.target_revision;
    run.target_versions = inspect.target_versions;
    run.from_versions = inspect.current_versions;
    run.workloads = spec.workloads;
    const core::BackupWhen when = core::BackupWhenOf(spec);
    run.backup_required = when == core::BackupWhen::kAlways ||
                          (when == core::BackupWhen::kDowngrade && inspect.has_downgrade);
    run.migrations_digest = inputs.digest;
    run.plan_digest = inspect.plan_digest;
    run.start_time = Now();
    next.run = run;

    const std::string summary = next.plan->direction + " from " + next.current_revision +
                                " to " + next.target_revision + " (" +
                                std::to_string(inspect.steps.size()) +
                                " steps: " + StepsText(inspect.steps) + ")";
    SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kProgressing,
            "Running " + summary + ".");
    SetCond(next, ct::kReady, ConditionStatus::kFalse, rs::kProgressing,
            "Running " + summary + ".");
    SetCond(next, ct::kStalled, ConditionStatus::kFalse, rs::kProgressing,
            "Running " + summary + ".");
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kPlanning,
            "Workloads are not scaled down yet.");
    if (run.backup_required) {
      SetCond(next, ct::kBackupReady, ConditionStatus::kUnknown, rs::kBackingUp,
              "A backup will be taken before migrating.");
    } else {
      SetCond(next, ct::kBackupReady, ConditionStatus::kFalse, rs::kBackupNotRequired,
              "No backup for this run (backup.when=" + spec.backup_when + ").");
    }
    SetCond(next, ct::kVerified, ConditionStatus::kUnknown, rs::kVerificationPending,
            "The run has not been verified yet.");
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    Event(EventType::kNormal, rs::kPlanning, "Planned " + summary);
    inputs_ = std::move(inputs);
    return Advance();
  }

  // ---------------------------------------------------------- in a run

  // Loads the inputs of a resumed run once per Pass.
  std::optional<Problem> EnsureInputs() {
    if (inputs_) {
      return std::nullopt;
    }
    Inputs inputs;
    if (auto problem = LoadInputs(inputs)) {
      return problem;
    }
    inputs_ = std::move(inputs);
    return std::nullopt;
  }

  // A transient problem during a run: the run stays where it is.
  core::Result<ReconcileResult> RetryRun(const Problem& problem) {
    SchemaMigrationStatus next = obj_.status;
    SetCond(next, ct::kReady, ConditionStatus::kFalse, problem.reason, problem.message);
    SetCond(next, ct::kReconciling, ConditionStatus::kTrue, problem.reason, problem.message);
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    return Backoff(problem);
  }

  // The run cannot reach its target: record why, then restore the workloads.
  Status AbortRun(const std::string& reason, const std::string& message) {
    SchemaMigrationStatus next = obj_.status;
    next.run->outcome = core::kOutcomeFailed;
    next.run->reason = reason;
    next.run->message = message;
    next.phase = Phase::kScalingUp;
    SetIntent(next, core::kIntentRestore);
    if (Status s = Write(std::move(next)); !s.ok()) {
      return s;
    }
    Event(EventType::kWarning, reason, message);
    return Status::Ok();
  }

  core::Result<ReconcileResult> Advance() {
    // Each iteration performs one phase; the bound only guards against a bug
    // looping forever inside one reconcile.
    for (int iteration = 0; iteration < 32; ++iteration) {
      if (!obj_.status.run) {
        return Done("success");
      }
      std::optional<core::Result<ReconcileResult>> result;
      Status status;
      switch (obj_.status.phase) {
        case Phase::kPending:
        case Phase::kPlanning:
          if (obj_.spec.suspend) {
            // Nothing was touched yet: a suspended run is simply not started.
            SchemaMigrationStatus next = obj_.status;
            next.run.reset();
            next.phase = Phase::kPending;
            return Suspend(std::move(next));
          }
          result = RecordWorkloads();
          break;
        case Phase::kScalingDown:
          result = ScaleDown();
          break;
        case Phase::kDraining:
          result = Drain();
          break;
        case Phase::kBackingUp:
          result = BackUp();
          break;
        case Phase::kMigrating:
        case Phase::kVerifying:
          result = Migrate();
          break;
        case Phase::kRollingBack: {
          SchemaMigrationStatus next = obj_.status;
          next.phase = Phase::kScalingUp;
          SetIntent(next, core::kIntentRestore);
          status = Write(std::move(next));
          if (!status.ok()) {
            return KubeFailure(status, "Updating status");
          }
          break;
        }
        case Phase::kScalingUp:
        case Phase::kSucceeded:
        case Phase::kFailed:
          return ScaleUpAndFinish();
      }
      if (result) {
        return std::move(*result);
      }
    }
    return Requeue(std::chrono::milliseconds(0), "requeue");
  }

  // Each step returns nullopt to continue with the next phase, or the result
  // of this reconcile.
  using Step = std::optional<core::Result<ReconcileResult>>;

  // A workload that another SchemaMigration's run in progress scaled down
  // is at 0 only because of that run: recording it now would take 0 for
  // its original replicas, and this run would finally "restore" it to 0.
  // Wait until the other run has restored it.
  std::optional<Problem> WorkloadsHeldByAnotherRun() {
    for (const core::WorkloadRef& w : obj_.status.run->workloads) {
      auto list = r_.kube_.ListSchemaMigrationsReferencing(ns(), w.kind, w.name);
      if (!list.ok()) {
        return KubeProblem(list.status(), "Listing SchemaMigrations");
      }
      for (const SchemaMigration& other : list.value()) {
        if (other.metadata.name == obj_.metadata.name || !other.status.run) {
          continue;
        }
        const bool held = std::any_of(
            other.status.workloads.begin(), other.status.workloads.end(),
            [&](const core::WorkloadStatus& o) { return o.kind == w.kind && o.name == w.name; });
        if (held) {
          return Problem{kWorkloadInUse,
                         w.kind + " " + ns() + "/" + w.name +
                             " is scaled down by the run in progress of SchemaMigration " + ns() +
                             "/" + other.metadata.name +
                             "; waiting for that run to restore it before recording its "
                             "replicas.",
                         true, Status(Code::kLockHeld, "workload held by another run")};
        }
      }
    }
    return std::nullopt;
  }

  Step RecordWorkloads() {
    if (obj_.status.workloads.size() < obj_.status.run->workloads.size()) {
      if (auto busy = WorkloadsHeldByAnotherRun()) {
        return RetryRun(*busy);
      }
    }
    SchemaMigrationStatus next = obj_.status;
    for (const core::WorkloadRef& w : next.run->workloads) {
      const bool recorded =
          std::any_of(next.workloads.begin(), next.workloads.end(),
                      [&](const core::WorkloadStatus& s) { return s.kind == w.kind && s.name == w.name; });
      if (recorded) {
        continue;  // recorded replicas are never overwritten within a run
      }
      auto scale = r_.kube_.GetScale(ns(), w.kind, w.name);
      if (!scale.ok()) {
        if (scale.status().code() == Code::kNotFound) {
          const std::string message = w.kind + " " + ns() + "/" + w.name +
                                      " not found. Create it or remove it from spec.workloads.";
          if (Status s = AbortRun(rs::kWorkloadNotFound, message); !s.ok()) {
            return KubeFailure(s, "Updating status");
          }
          return std::nullopt;
        }
        return RetryRun(KubeProblem(scale.status(), "Reading the scale of " + w.kind + "/" + w.name));
      }
      next.workloads.push_back(core::WorkloadStatus{w.kind, w.name, scale.value().spec_replicas});
    }
    next.phase = Phase::kScalingDown;
    if (!next.run->scale_down_time) {
      next.run->scale_down_time = Now();
    }
    SetIntent(next, core::kIntentScaleDown);
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kScalingDown,
            "Scaling " + WorkloadList(next.workloads, false) + " to 0.");
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    return std::nullopt;
  }

  static std::string WorkloadList(const std::vector<core::WorkloadStatus>& workloads,
                                  bool with_replicas) {
    if (workloads.empty()) {
      return "no workloads";
    }
    std::string out;
    for (const core::WorkloadStatus& w : workloads) {
      if (!out.empty()) {
        out += ", ";
      }
      out += WorkloadName(w.kind, w.name);
      if (with_replicas) {
        out += " (" + std::to_string(w.original_replicas) + ")";
      }
    }
    return out;
  }

  Step ScaleDown() {
    if (Status s = RecordIntent(core::kIntentScaleDown); !s.ok()) {
      return KubeFailure(s, "Recording the scale-down in status");
    }
    for (const core::WorkloadStatus& w : obj_.status.workloads) {
      Status s = r_.kube_.SetReplicas(ns(), w.kind, w.name, 0);
      if (!s.ok() && s.code() != Code::kNotFound) {  // a deleted writer writes nothing
        return RetryRun(KubeProblem(s, "Scaling " + WorkloadName(w.kind, w.name) + " to 0"));
      }
    }
    SchemaMigrationStatus next = obj_.status;
    next.phase = Phase::kDraining;
    if (!next.run->drain_start_time) {
      next.run->drain_start_time = Now();
    }
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kDraining,
            "Waiting for the pods of " + WorkloadList(next.workloads, false) +
                " to terminate (drainTimeoutSeconds " +
                std::to_string(obj_.spec.drain_timeout_seconds) + ").");
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    Event(EventType::kNormal, rs::kScalingDown,
          "Scaled " + WorkloadList(obj_.status.workloads, true) + " to 0 replicas");
    return std::nullopt;
  }

  Step Drain() {
    std::int64_t pods_left = 0;
    std::string waiting_for;
    for (const core::WorkloadStatus& w : obj_.status.workloads) {
      auto scale = r_.kube_.GetScale(ns(), w.kind, w.name);
      if (!scale.ok()) {
        if (scale.status().code() == Code::kNotFound) {
          continue;
        }
        return RetryRun(KubeProblem(scale.status(), "Reading the scale of " + w.kind + "/" + w.name));
      }
      if (scale.value().spec_replicas != 0) {
        // Someone (an autoscaler, a user) scaled it back up mid-run.
        if (Status s = RecordIntent(core::kIntentScaleDown); !s.ok()) {
          return KubeFailure(s, "Recording the scale-down in status");
        }
        Status s = r_.kube_.SetReplicas(ns(), w.kind, w.name, 0);
        if (!s.ok() && s.code() != Code::kNotFound) {
          return RetryRun(KubeProblem(s, "Scaling " + WorkloadName(w.kind, w.name) + " to 0"));
        }
      }
      if (scale.value().status_replicas > 0) {
        pods_left += scale.value().status_replicas;
        waiting_for += (waiting_for.empty() ? "" : ", ") + WorkloadName(w.kind, w.name);
      }
    }
    const auto& run = *obj_.status.run;
    if (pods_left > 0) {
      const int timeout_seconds = obj_.spec.drain_timeout_seconds > 0
                                      ? obj_.spec.drain_timeout_seconds
                                      : core::kDefaultDrainTimeoutSeconds;
      const core::Timestamp started = run.drain_start_time.value_or(Now());
      if (Now().unix_millis - started.unix_millis >= std::int64_t{timeout_seconds} * 1000) {
        const std::string message =
            "The pods of " + waiting_for + " did not terminate within " +
            std::to_string(timeout_seconds) + "s (" + std::to_string(pods_left) +
            " left). Nothing was migrated and the workloads were restored. Check "
            "PodDisruptionBudgets, finalizers and terminationGracePeriodSeconds, or raise "
            "spec.drainTimeoutSeconds, then change the spec to retry.";
        if (Status s = AbortRun(rs::kDrainTimeout, message); !s.ok()) {
          return KubeFailure(s, "Updating status");
        }
        return std::nullopt;
      }
      return Requeue(r_.options_.drain_poll, "requeue");
    }
    SchemaMigrationStatus next = obj_.status;
    next.phase = run.backup_required ? Phase::kBackingUp : Phase::kMigrating;
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kTrue, rs::kScaledDown,
            "All pods of " + WorkloadList(next.workloads, false) + " have terminated.");
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    Event(EventType::kNormal, rs::kScaledDown,
          "All pods of " + WorkloadList(obj_.status.workloads, false) + " have terminated");
    if (obj_.status.phase == Phase::kMigrating) {
      MigratingEvent();
    }
    return std::nullopt;
  }

  void MigratingEvent() {
    Event(EventType::kNormal, rs::kMigrating,
          "Migrating from " + core::FormatVersions(obj_.status.run->from_versions) + " to " +
              core::FormatVersions(obj_.status.run->target_versions));
  }

  // An input (Secret, ConfigMap, workload) went wrong mid-run, before the
  // database is touched: a transient problem retries the run, a terminal one
  // ends it (AbortRun records why and restores the workloads).
  Step StopForInputProblem(const Problem& problem) {
    if (problem.transient) {
      return RetryRun(problem);
    }
    if (Status s = AbortRun(problem.reason, problem.message); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    return std::nullopt;
  }

  Step BackUp() {
    if (auto problem = EnsureInputs()) {
      return StopForInputProblem(*problem);
    }
    SchemaMigrationStatus next = obj_.status;
    SetCond(next, ct::kBackupReady, ConditionStatus::kUnknown, rs::kBackingUp,
            "Taking a backup (pg_dump) before migrating.");
    SetIntent(next, core::kIntentBackup);
    // Forced unless this pass already wrote the intent (see RecordIntent).
    if (Status s = Write(std::move(next), nullptr, intent_written_ != core::kIntentBackup);
        !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    auto backup = r_.db_.Backup(inputs_->target);
    if (!backup.ok()) {
      Problem problem = DatabaseProblem(backup.status(), "Backup");
      if (problem.transient) {
        return RetryRun(problem);
      }
      const std::string message = "Backup failed: " + backup.status().message() +
                                  ". Nothing was migrated and the workloads were restored. "
                                  "Check pg_dump and the backup volume, or set "
                                  "spec.backup.when: Never, then change the spec to retry.";
      if (Status s = AbortRun(rs::kBackupFailed, message); !s.ok()) {
        return KubeFailure(s, "Updating status");
      }
      return std::nullopt;
    }
    next = obj_.status;
    next.backup = core::BackupStatus{backup.value().file, backup.value().bytes,
                                     backup.value().sha256, Now()};
    next.phase = Phase::kMigrating;
    const std::string text = "Backup " + backup.value().file + " (" +
                             std::to_string(backup.value().bytes) + " bytes, sha256 " +
                             backup.value().sha256 + ")";
    SetCond(next, ct::kBackupReady, ConditionStatus::kTrue, rs::kBackupCreated, text + ".");
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    Event(EventType::kNormal, rs::kBackupCreated, text);
    MigratingEvent();
    return std::nullopt;
  }

  // Between the drain and the migration (a backup can take minutes) a GitOps
  // self-heal, an autoscaler or a user may have scaled a writer back up. Its
  // recorded replicas stay as they are; the run goes back to ScalingDown
  // (scale to 0, drain again, retake the backup, since writes may have
  // landed after it) instead of migrating under live writers.
  // `redrain` is set when the run was sent back to ScalingDown.
  Step EnsureWritersStopped(bool& redrain) {
    redrain = false;
    std::string running;
    for (const core::WorkloadStatus& w : obj_.status.workloads) {
      auto scale = r_.kube_.GetScale(ns(), w.kind, w.name);
      if (!scale.ok()) {
        if (scale.status().code() == Code::kNotFound) {
          continue;  // a deleted writer writes nothing
        }
        return RetryRun(
            KubeProblem(scale.status(), "Reading the scale of " + WorkloadName(w.kind, w.name)));
      }
      if (scale.value().spec_replicas != 0 || scale.value().status_replicas > 0) {
        running += (running.empty() ? "" : ", ") + WorkloadName(w.kind, w.name) + " (" +
                   std::to_string(scale.value().status_replicas) + " pods)";
      }
    }
    if (running.empty()) {
      return std::nullopt;
    }
    const std::string message = running +
                                " scaled up again after the drain (by a user, an autoscaler or a "
                                "GitOps sync); scaling to 0 again before migrating.";
    SchemaMigrationStatus next = obj_.status;
    next.phase = Phase::kScalingDown;
    next.run->drain_start_time.reset();  // a new drain gets its whole timeout
    SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kScalingDown, message);
    if (next.run->backup_required) {
      SetCond(next, ct::kBackupReady, ConditionStatus::kUnknown, rs::kBackingUp,
              "The backup is taken again after the new drain.");
    }
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    Event(EventType::kWarning, rs::kScalingDown, message);
    redrain = true;
    return std::nullopt;
  }

  Step Migrate() {
    if (auto problem = EnsureInputs()) {
      return StopForInputProblem(*problem);
    }
    bool redrain = false;
    if (Step step = EnsureWritersStopped(redrain)) {
      return step;
    }
    if (redrain) {
      return std::nullopt;  // Advance continues with ScalingDown
    }
    const core::RunStatus run = *obj_.status.run;
    // Exactly once: whatever this status says (a lost write, a 409, a crash
    // after the engine returned), the engine never executes a run of this
    // identity again once its record has ended; it replays the outcome.
    const RunIdentity identity{obj_.metadata.uid, run.generation, run.plan_digest};
    auto migrated = r_.db_.Migrate(inputs_->target, run.target_versions, identity);
    if (!migrated.ok() && migrated.status().code() == Code::kMigrationsChanged) {
      // Pinned files: the plan the engine would run now is not the one
      // recorded at planning. Nothing new is executed; the run ends and the
      // next pass plans again from the current files and database.
      const std::string message =
          "The migrations changed after this run was planned: " + migrated.status().message() +
          ". Nothing was migrated and the workloads were restored; a new run is planned from "
          "the current files of ConfigMap " + obj_.spec.migrations_config_map +
          " and the database as it is now. To keep the previous plan, restore the ConfigMap.";
      if (Status s = AbortRun(rs::kMigrationsChanged, message); !s.ok()) {
        return KubeFailure(s, "Updating status");
      }
      return std::nullopt;
    }
    if (!migrated.ok() && migrated.status().detail() == kRecoveryDetail) {
      // The database holds an interrupted run the engine could not finish
      // or undo: it may be between revisions, so the writers stay at zero
      // (restoring them onto it could lose writes) until it is repaired.
      return RetryRun(Problem{
          rs::kRecoveryBlocked,
          "The database holds an interrupted run that cannot be recovered: " +
              migrated.status().message() +
              ". The workloads stay at 0 because the database may be between revisions. Restore "
              "the migration files as they were when that run started (ConfigMap " +
              obj_.spec.migrations_config_map +
              "), or repair the database (schemaop history/current, or restore the backup); "
              "retrying with backoff.",
          true, migrated.status()});
    }
    if (!migrated.ok()) {
      Problem problem = DatabaseProblem(migrated.status(), "Migrating");
      if (problem.transient) {
        // The writers stay at 0: the database may hold an interrupted run
        // that only the engine can finish or undo.
        return RetryRun(problem);
      }
      if (Status s = AbortRun(problem.reason, problem.message +
                                                  " Nothing was migrated; the workloads were "
                                                  "restored."); !s.ok()) {
        return KubeFailure(s, "Updating status");
      }
      return std::nullopt;
    }
    const MigrateResult& m = migrated.value();
    if (m.replayed) {
      // Observed by whoever executed it; this is bookkeeping only.
      Event(EventType::kNormal, rs::kRecovered,
            "The run had already ended in the database (schemaop.run_log) before its outcome "
            "was recorded here; nothing was executed again, finishing from the recorded outcome");
    } else {
      r_.metrics_.ObserveMigrationSeconds(m.sql_seconds);
    }
    if (m.recovered) {
      Event(EventType::kNormal, rs::kRecovered, *m.recovered);
    }
    SchemaMigrationStatus next = obj_.status;
    SetIntent(next, core::kIntentRestore);
    next.current_revision = core::FormatVersions(m.final_versions);
    next.run->migration_seconds = m.sql_seconds;
    r_.metrics_.SetCurrentRevision(ns(), obj_.metadata.name, next.current_revision);
    const std::string from = core::FormatVersions(run.from_versions);
    const std::string to = core::FormatVersions(run.target_versions);
    switch (m.outcome) {
      case MigrateOutcome::kNothingToDo:
      case MigrateOutcome::kSucceeded: {
        next.run->outcome = core::kOutcomeSucceeded;
        next.run->message = "Migrated from " + from + " to " + to + ".";
        next.phase = Phase::kScalingUp;
        SetCond(next, ct::kVerified, ConditionStatus::kTrue, rs::kSucceeded,
                "Verification passed at revision " + next.current_revision + ".");
        if (Status s = Write(std::move(next)); !s.ok()) {
          return KubeFailure(s, "Updating status");
        }
        Event(EventType::kNormal, rs::kMigrated,
              "Migrated from " + from + " to " + to + " (SQL " + FormatSeconds(m.sql_seconds) +
                  ")");
        return std::nullopt;
      }
      case MigrateOutcome::kRolledBack: {
        const std::string reason = core::ReasonForCode(m.failure.code(), rs::kMigrationFailed);
        next.run->outcome = core::kOutcomeRolledBack;
        next.run->reason = reason;
        next.run->message = FailurePrefix(reason) + m.failure.message() +
                            ". The run was rolled back: the database is at " +
                            next.current_revision + " and the workloads were restored. " +
                            (reason == rs::kSchemaDrift
                                 ? "Fix the migration files so the schema matches the one "
                                   "recorded for that revision (or set spec.verify.schema: "
                                   "Ignore if the difference is intended)"
                                 : "Fix the migration files or spec.verify") +
                            ", then change the spec or the ConfigMap to retry.";
        next.phase = Phase::kRollingBack;
        SetCond(next, ct::kVerified, ConditionStatus::kFalse, reason, next.run->message);
        const std::string message = next.run->message;
        if (Status s = Write(std::move(next)); !s.ok()) {
          return KubeFailure(s, "Updating status");
        }
        Event(EventType::kWarning, rs::kRolledBack, message);
        return std::nullopt;
      }
      case MigrateOutcome::kFailed: {
        const std::string reason = core::ReasonForCode(m.failure.code(), rs::kMigrationFailed);
        const bool halt = inputs_->target.failure_policy == core::FailurePolicy::kHalt;
        next.run->outcome = core::kOutcomeFailed;
        next.run->reason = reason;
        next.run->message =
            FailurePrefix(reason) + m.failure.message() + ". The database was left at " + next.current_revision +
            (halt ? " (failurePolicy Halt)" : " (the rollback failed)") +
            " for inspection; the workloads were restored. Repair the database (schemaop "
            "current/history/downgrade), then change the spec to retry.";
        next.phase = Phase::kScalingUp;
        SetCond(next, ct::kVerified, ConditionStatus::kFalse, reason, next.run->message);
        const std::string message = next.run->message;
        if (Status s = Write(std::move(next)); !s.ok()) {
          return KubeFailure(s, "Updating status");
        }
        Event(EventType::kWarning, reason, message);
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  core::Result<ReconcileResult> ScaleUpAndFinish() {
    if (!obj_.status.workloads.empty()) {
      if (Status s = RecordIntent(core::kIntentRestore); !s.ok()) {
        return KubeFailure(s, "Recording the restore in status");
      }
    }
    for (const core::WorkloadStatus& w : obj_.status.workloads) {
      Status s = r_.kube_.SetReplicas(ns(), w.kind, w.name, w.original_replicas);
      if (!s.ok() && s.code() != Code::kNotFound) {
        return RetryRun(KubeProblem(s, "Restoring " + WorkloadName(w.kind, w.name)));
      }
    }
    const core::RunStatus run = *obj_.status.run;
    const core::Timestamp now = Now();
    SchemaMigrationStatus next = obj_.status;
    next.run.reset();
    next.observed_generation = run.generation;
    core::LastRunStatus last;
    last.from = core::FormatVersions(run.from_versions);
    last.to = core::FormatVersions(run.target_versions);
    last.start_time = run.start_time;
    last.finish_time = now;
    last.downtime_seconds =
        run.scale_down_time
            ? static_cast<double>(now.unix_millis - run.scale_down_time->unix_millis) / 1000.0
            : 0.0;
    // An outcome is always decided before ScalingUp; an empty one means the
    // status was edited by hand, and is not reported as a success.
    last.outcome = run.outcome.empty() ? core::kOutcomeFailed : run.outcome;
    last.reason = run.outcome == core::kOutcomeSucceeded ? "" : run.reason;
    last.message = run.message;
    last.generation = run.generation;
    last.migrations_digest = run.migrations_digest;
    next.last_run = last;
    if (!next.workloads.empty()) {
      SetCond(next, ct::kWorkloadsScaledDown, ConditionStatus::kFalse, rs::kWorkloadsRestored,
              "Workloads restored to their recorded replicas: " +
                  WorkloadList(next.workloads, true) + ".");
    }
    const bool replan = last.reason == rs::kMigrationsChanged;
    if (last.outcome == core::kOutcomeSucceeded) {
      next.phase = Phase::kSucceeded;
      SetAtTargetConditions(next);
    } else if (replan) {
      // Not stalled: the next pass plans a new run (kstatus: still
      // reconciling towards the spec).
      next.phase = Phase::kPending;
      SetCond(next, ct::kReady, ConditionStatus::kFalse, run.reason, run.message);
      SetCond(next, ct::kReconciling, ConditionStatus::kTrue, run.reason, run.message);
      SetCond(next, ct::kStalled, ConditionStatus::kFalse, run.reason, run.message);
    } else {
      next.phase = Phase::kFailed;
      const std::string reason = run.reason.empty() ? rs::kMigrationFailed : run.reason;
      const std::string message = run.message.empty() ? "The run failed." : run.message;
      SetCond(next, ct::kReady, ConditionStatus::kFalse, reason, message);
      SetCond(next, ct::kReconciling, ConditionStatus::kFalse, reason, message);
      SetCond(next, ct::kStalled, ConditionStatus::kTrue, reason, message);
    }
    if (Status s = Write(std::move(next)); !s.ok()) {
      return KubeFailure(s, "Updating status");
    }
    if (!obj_.status.workloads.empty()) {
      Event(EventType::kNormal, rs::kScaledUp,
            "Restored " + WorkloadList(obj_.status.workloads, true) + " replicas");
    }
    r_.metrics_.CountRun(last.outcome);
    r_.metrics_.ObserveDowntimeSeconds(last.downtime_seconds);
    if (generation() != run.generation || replan) {
      // The spec changed during the run, or the files it was planned with
      // did: plan again.
      return Requeue(std::chrono::milliseconds(0), "requeue");
    }
    if (last.outcome == core::kOutcomeSucceeded) {
      return Done("success");
    }
    metric_result_ = "stalled";
    r_.failures_.erase(Key());
    return Requeue(r_.options_.stalled_recheck, "stalled");
  }

  // ------------------------------------------------------------ deletion

  core::Result<ReconcileResult> HandleDeletion() {
    if (!obj_.metadata.HasFinalizer(core::kFinalizer)) {
      return Done("success");
    }
    if (obj_.status.run) {
      // Never leave the application at zero because its SchemaMigration went
      // away. A run interrupted inside Migrating is closed by the engine's
      // recovery at the start of the next run against this database.
      if (!obj_.status.workloads.empty()) {
        if (Status s = RecordIntent(core::kIntentRestore); !s.ok()) {
          return KubeFailure(s, "Recording the restore in status");
        }
      }
      for (const core::WorkloadStatus& w : obj_.status.workloads) {
        Status s = r_.kube_.SetReplicas(ns(), w.kind, w.name, w.original_replicas);
        if (!s.ok() && s.code() != Code::kNotFound) {
          return KubeFailure(s, "Restoring " + WorkloadName(w.kind, w.name));
        }
      }
      if (!obj_.status.workloads.empty()) {
        Event(EventType::kNormal, rs::kScaledUp,
              "Deleted mid-run: restored " + WorkloadList(obj_.status.workloads, true) +
                  " replicas");
      }
    }
    auto rv = r_.kube_.RemoveFinalizer(obj_, core::kFinalizer);
    if (!rv.ok() && rv.status().code() != Code::kNotFound) {
      return KubeFailure(rv.status(), "Removing the finalizer");
    }
    return Done("success");
  }

  Reconciler& r_;
  SchemaMigration obj_;
  // Secret-derived strings that must never reach status, events or errors.
  core::SecretScrubber scrubber_;
  std::optional<Inputs> inputs_;
  // status.run.intent of the last status write this pass made (empty before
  // the first): what RecordIntent may rely on without another write.
  std::string intent_written_;
  // InspectResult::database_identity of this pass; recorded by every write.
  std::string database_identity_;
  std::string metric_result_ = "success";
};

// ------------------------------------------------------------- Reconciler

Reconciler::Reconciler(KubePort& kube, DatabasePort& db, Clock& clock, MetricsSink& metrics,
                       ReconcilerOptions options)
    : kube_(kube), db_(db), clock_(clock), metrics_(metrics), options_(std::move(options)) {}

std::chrono::milliseconds Reconciler::NextBackoff(const std::string& key) {
  int& failures = failures_[key];
  std::chrono::milliseconds delay = options_.initial_backoff;
  for (int i = 0; i < failures && delay < options_.max_backoff; ++i) {
    delay *= 2;
  }
  ++failures;
  return std::min(delay, options_.max_backoff);
}

ReconcileResult Reconciler::Reconcile(const std::string& ns, const std::string& name) {
  const std::string key = ns + "/" + name;
  for (int attempt = 0; attempt <= options_.max_conflict_retries; ++attempt) {
    auto obj = kube_.GetSchemaMigration(ns, name);
    if (!obj.ok()) {
      if (obj.status().code() == Code::kNotFound) {
        failures_.erase(key);
        metrics_.CountReconcile("success");
        return ReconcileResult{};
      }
      metrics_.CountReconcile("error");
      ReconcileResult result;
      result.requeue_after = NextBackoff(key);
      result.error = obj.status();
      return result;
    }
    Pass pass(*this, std::move(obj).value());
    auto result = pass.Run();
    if (!result.ok() && result.status().code() == Code::kConflict) {
      continue;  // someone else wrote the object: re-read and recompute
    }
    if (!result.ok()) {
      metrics_.CountReconcile("error");
      ReconcileResult failed;
      failed.requeue_after = NextBackoff(key);
      failed.error = result.status();
      return failed;
    }
    metrics_.CountReconcile(pass.metric_result());
    return std::move(result).value();
  }
  metrics_.CountReconcile("error");
  ReconcileResult result;
  result.requeue_after = options_.initial_backoff;
  result.error = Status(Code::kConflict, "status update conflicted " +
                                             std::to_string(options_.max_conflict_retries + 1) +
                                             " times; will retry");
  return result;
}

}  // namespace schemaop::reconcile
