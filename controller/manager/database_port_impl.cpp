#include "manager/database_port_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "core/planner.h"
#include "core/version_table.h"
#include "manager/logging.h"

namespace schemaop::manager {

using core::Code;
using core::Status;

database::MigratorOptions MigratorOptionsFor(const reconcile::DatabaseTarget& target,
                                             const DatabasePortOptions& options) {
  database::MigratorOptions out;
  out.lock_wait = options.lock_wait;
  if (target.lock_timeout) {
    out.lock_timeout = *target.lock_timeout;
  }
  if (target.statement_timeout) {
    out.statement_timeout = *target.statement_timeout;
  }
  out.actor = target.actor;
  out.version_table = target.version_table;
  out.version_layout = target.version_layout;
  out.allow_changed = false;
  out.verify_row_counts = target.verify_row_counts;
  out.verify_schema = target.verify_schema;
  out.allow_row_loss = target.allow_row_loss;
  out.checks = target.checks;
  out.backup_policy = database::BackupPolicy::kNever;
  out.backup_dir = options.backup_dir;
  out.backup_retention = options.backup_retention;
  out.backup_owner_namespace = target.owner_namespace;
  out.backup_owner_name = target.owner_name;
  out.pg_bin_dir = options.pg_bin_dir;
  out.tool_timeout = options.tool_timeout;
  out.ca_certificate_pem = target.ca_certificate_pem;
  out.failure_policy = target.failure_policy;
  if (!options.session_identity.empty()) {
    out.session_owner = kControllerOwnerPrefix + options.session_identity;
    if (options.fence) {
      out.fence_prefix = kControllerSessionPrefix;
      out.may_fence = options.still_leading;
    }
  }
  return out;
}

core::Result<std::string> TargetForVersions(const core::RevisionGraph& graph,
                                            const std::vector<std::string>& versions) {
  if (versions.empty()) {
    return std::string("base");
  }
  if (versions.size() == 1) {
    return versions.front();
  }
  std::vector<std::string> sorted = versions;
  std::sort(sorted.begin(), sorted.end());
  if (sorted == graph.Heads()) {
    return std::string("heads");
  }
  std::string joined;
  for (const auto& v : sorted) {
    joined += (joined.empty() ? "" : ", ") + v;
  }
  return Status(Code::kInvalidArgument,
                "cannot migrate to the revision set {" + joined +
                    "}: it is not the set of all heads, and the engine takes a single target. "
                    "Set spec.targetRevision to one revision or to 'heads'.");
}

core::Result<std::unique_ptr<database::Migrator>> DatabasePortImpl::Open(
    const reconcile::DatabaseTarget& target, bool with_files,
    const reconcile::RunIdentity* identity, std::string* fenced,
    std::shared_ptr<database::RunCancel> cancel) {
  RegisterLogSecrets(target.url);
  std::vector<core::MigrationFile> files;
  if (with_files && target.version_layout != core::kVersionLayoutAlembic) {
    // Only the Job executor's checks read another tool's layout; the
    // engine's own runs write Alembic's (ValidateSpec refuses the rest).
    return core::Status(core::Code::kInvalidArgument,
                        "spec.database.versionLayout " + target.version_layout +
                            " is read only with executor Job");
  }
  if (with_files) {
    auto parsed = database::ParseMigrationSources(target.migration_files);
    if (!parsed.ok()) {
      return parsed.status();
    }
    files = std::move(parsed).value();
  }
  database::MigratorOptions engine_options = MigratorOptionsFor(target, options_);
  // PostgreSQL's whole error (row values possible) reaches only the debug
  // log, scrubbed again there like every line.
  engine_options.on_progress = [fenced](const database::ProgressEvent& event) {
    if (event.phase == "server-error") {
      spdlog::debug("database error in full: {}", event.message);
    } else if (event.phase == "fenced") {
      spdlog::warn("{}", event.message);
      if (fenced != nullptr) {
        *fenced = event.message;
      }
    }
  };
  engine_options.cancel = std::move(cancel);
  if (identity != nullptr) {
    engine_options.run_key = identity->Key();
    engine_options.expected_plan_digest = identity->plan_digest;
    engine_options.phase = identity->phase;
  }
  return database::Migrator::Open(target.url, std::move(files), std::move(engine_options));
}

core::Result<reconcile::InspectResult> DatabasePortImpl::Inspect(
    const reconcile::DatabaseTarget& target, const std::string& target_revision) {
  auto migrator = Open(target, /*with_files=*/true);
  if (!migrator.ok()) {
    return migrator.status();
  }
  database::Migrator& m = *migrator.value();
  auto current = m.CurrentVersions();
  if (!current.ok()) {
    return current.status();
  }
  auto resolved = core::ResolveTarget(m.graph(), current.value(), target_revision);
  if (!resolved.ok()) {
    return resolved.status();
  }
  // One read of the archive for the plan and its digest.
  auto planned = m.PlanAndDigest(target_revision);
  if (!planned.ok()) {
    return planned.status();
  }
  const core::Plan& plan = planned->plan;
  reconcile::InspectResult result;
  result.current_versions = current.value();
  std::sort(result.current_versions.begin(), result.current_versions.end());
  result.target_versions = resolved.value();
  std::sort(result.target_versions.begin(), result.target_versions.end());
  // Design §3.1: the sections of each phase, per step, as `schemaop plan` lists them.
  const std::vector<core::StepPhases> phases =
      core::StepPhasesOf(planned->schedule, plan.steps.size());
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const core::PlanStep& step = plan.steps[i];
    core::PlanStepStatus s;
    s.revision = step.revision;
    s.direction = step.direction == core::Direction::kDown ? core::MigrationDirection::kDowngrade
                                                           : core::MigrationDirection::kUpgrade;
    s.phases = phases[i];
    result.steps.push_back(std::move(s));
  }
  result.has_downgrade = plan.HasDowngrade();
  result.plan_digest = std::move(planned->digest);
  result.pending_contract = std::move(planned->pending_contract);
  auto identity = Identity(m);
  if (!identity.ok()) {
    return identity.status();
  }
  result.database_identity = std::move(identity).value();
  return result;
}

core::Result<std::string> DatabasePortImpl::Identity(database::Migrator& migrator) {
  // The redacted URL: every connection parameter but the secrets, so the
  // key never holds a password (and a changed password keeps the entry).
  const std::string& key = migrator.redacted_url();
  {
    std::lock_guard<std::mutex> lock(identity_mutex_);
    auto cached = identities_.find(key);
    if (cached != identities_.end() &&
        std::chrono::steady_clock::now() - cached->second.asked < options_.identity_ttl) {
      return cached->second.identity;
    }
  }
  auto identity = migrator.DatabaseIdentity();
  if (!identity.ok()) {
    return identity.status();
  }
  std::lock_guard<std::mutex> lock(identity_mutex_);
  if (identities_.size() >= kMaxCachedIdentities) {
    identities_.clear();
  }
  identities_[key] = CachedIdentity{*identity, std::chrono::steady_clock::now()};
  return identity;
}

core::Result<reconcile::BackupResult> DatabasePortImpl::Backup(
    const reconcile::DatabaseTarget& target) {
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto info = migrator.value()->Backup();
  if (!info.ok()) {
    return info.status();
  }
  return std::move(info).value();
}

namespace {

// Invariant (design §6.3, §7): the writers come back only onto a run the
// engine closed. A run whose session or lock was lost after it started may
// still be 'running' in schemaop.run_log, with part of its plan committed:
// only the next run's recovery may finish or undo it. True when the run's
// row is open or cannot be read.
bool RunLeftOpen(database::Migrator& m, const database::RunReport& report) {
  if (report.run_id == 0 || report.replayed || report.outcome == database::RunOutcome::kSucceeded ||
      report.outcome == database::RunOutcome::kNothingToDo) {
    return false;
  }
  auto history = m.History(10);
  if (!history.ok()) {
    return true;
  }
  for (const database::RunLogEntry& entry : history.value()) {
    if (entry.id == report.run_id) {
      return entry.outcome == "running";
    }
  }
  return true;
}

}  // namespace

void DatabasePortImpl::EnableRunThreads(int max_concurrent_runs,
                                        std::function<void(const std::string&)> on_finished) {
  runs_ = std::make_unique<RunPool>(max_concurrent_runs, std::move(on_finished));
  RunPool* pool = runs_.get();
  sampler_ = std::make_unique<ProgressSampler>(
      std::chrono::duration_cast<std::chrono::milliseconds>(core::kProgressInterval),
      [pool] { return pool->Runs(); },
      [pool](const std::string& key, core::RunProgress p) { pool->SetProgress(key, std::move(p)); });
}

ProgressSampler::Probe DatabasePortImpl::ProgressProbe(const reconcile::DatabaseTarget& target,
                                                       const std::string& run_key) {
  auto migrator = std::make_shared<std::unique_ptr<database::Migrator>>();
  return [this, target, run_key,
          migrator]() -> core::Result<std::optional<core::RunProgress>> {
    if (!*migrator) {
      database::MigratorOptions engine_options = MigratorOptionsFor(target, options_);
      // A sample waits for nothing: it reads catalogs and run_log only.
      engine_options.statement_timeout = std::chrono::seconds(2);
      engine_options.lock_timeout = std::chrono::seconds(1);
      engine_options.fence_prefix.clear();
      auto opened = database::Migrator::Open(target.url, {}, std::move(engine_options));
      if (!opened.ok()) {
        return opened.status();
      }
      *migrator = std::move(opened).value();
    }
    auto progress = (*migrator)->Progress(run_key);
    if (!progress.ok()) {
      migrator->reset();
    }
    return progress;
  };
}

void DatabasePortImpl::ShutdownRuns(std::chrono::milliseconds grace) {
  if (runs_) {
    runs_->Shutdown(grace,
                    Status(Code::kAborted,
                           "the controller was stopped (SIGTERM) and the run did not end within "
                           "the shutdown grace period; it was cancelled and rolled back, and "
                           "runs again",
                           database::kCancelRetryableDetail));
  }
}

std::optional<reconcile::RunTicket> DatabasePortImpl::FindRun(
    const reconcile::RunIdentity& identity, const reconcile::RunControl& control) {
  if (!runs_) {
    return DatabasePort::FindRun(identity, control);
  }
  return runs_->Find(identity.Key(), control);
}

reconcile::RunTicket DatabasePortImpl::StartMigrate(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const reconcile::RunIdentity& identity, const reconcile::RunControl& control,
    const std::string& object_key) {
  if (!runs_) {
    return DatabasePort::StartMigrate(target, target_versions, identity, control, object_key);
  }
  reconcile::RunTicket ticket = runs_->Start(identity.Key(), object_key, control,
                      [this, target, target_versions,
                       identity](std::shared_ptr<database::RunCancel> cancel) {
                        LogObjectScope scope(target.owner_namespace, target.owner_name);
                        return MigrateWith(target, target_versions, identity, std::move(cancel));
                      });
  // After Start: the sampler forgets keys the pool does not know.
  sampler_->Track(identity.Key(), ProgressProbe(target, identity.Key()));
  return ticket;
}

core::Result<std::string> DatabasePortImpl::OpenForVersions(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const reconcile::RunIdentity* identity, std::string* fenced,
    std::unique_ptr<database::Migrator>* out, std::shared_ptr<database::RunCancel> cancel) {
  auto migrator = Open(target, /*with_files=*/true, identity, fenced, std::move(cancel));
  if (!migrator.ok()) {
    return migrator.status();
  }
  *out = std::move(migrator).value();
  return TargetForVersions((*out)->graph(), target_versions);
}

core::Result<reconcile::MigrateResult> DatabasePortImpl::Migrate(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const reconcile::RunIdentity& identity) {
  return MigrateWith(target, target_versions, identity, nullptr);
}

core::Result<reconcile::MigrateResult> DatabasePortImpl::MigrateWith(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const reconcile::RunIdentity& identity, std::shared_ptr<database::RunCancel> cancel) {
  std::string fenced;
  auto migrator = Open(target, /*with_files=*/true, &identity, &fenced, std::move(cancel));
  if (!migrator.ok()) {
    return migrator.status();
  }
  database::Migrator& m = *migrator.value();
  auto engine_target = TargetForVersions(m.graph(), target_versions);
  if (!engine_target.ok()) {
    return engine_target.status();
  }
  auto report = m.Run(engine_target.value());
  if (!report.ok()) {
    return report.status();
  }
  if (RunLeftOpen(m, report.value())) {
    // Not an outcome: the reconciler keeps the writers at 0 and retries, and
    // the retry's recovery finishes or undoes the run (design §4.8).
    const core::Status& failure = report->status;
    const core::Code code = failure.code() == core::Code::kLockHeld ? core::Code::kLockHeld
                                                                   : core::Code::kUnreachable;
    return core::Status(code,
                        failure.message() +
                            ". The run is still open in schemaop.run_log and the database may be "
                            "between revisions; the next attempt recovers it",
                        core::kRunLeftOpenDetail);
  }
  reconcile::MigrateResult result;
  result.outcome = report->outcome;
  result.final_versions = report->final_versions;
  std::sort(result.final_versions.begin(), result.final_versions.end());
  result.sql_seconds = std::chrono::duration<double>(report->sql_duration).count();
  result.total_seconds = std::chrono::duration<double>(report->total_duration).count();
  result.failure = report->status;
  result.recovered = report->recovered;
  if (!fenced.empty()) {
    result.fenced = fenced;
  }
  result.replayed = report->replayed;
  return result;
}

namespace {
std::string RehearsalKey(const reconcile::RunIdentity& identity) {
  return "rehearsal/" + identity.Key();
}
}  // namespace

reconcile::RehearsalTicket DatabasePortImpl::RehearsalTicketOf(const std::string& key,
                                                               const reconcile::RunTicket& ticket) {
  reconcile::RehearsalTicket out;
  out.state = ticket.state;
  out.runs_in_progress = ticket.runs_in_progress;
  out.max_runs = ticket.max_runs;
  if (ticket.state == reconcile::RunTicket::State::kFinished) {
    std::lock_guard<std::mutex> lock(rehearsals_mutex_);
    auto it = rehearsals_.find(key);
    if (it != rehearsals_.end()) {
      out.result = std::move(it->second);
      rehearsals_.erase(it);
    } else {  // the pool stopped before the rehearsal ran
      out.result = ticket.result && !ticket.result->ok()
                       ? core::Result<reconcile::RehearseResult>(ticket.result->status())
                       : core::Result<reconcile::RehearseResult>(
                             Status(Code::kUnreachable, "the rehearsal did not run"));
    }
  }
  return out;
}

std::optional<reconcile::RehearsalTicket> DatabasePortImpl::FindRehearsal(
    const reconcile::RunIdentity& identity) {
  if (!runs_) {
    return DatabasePort::FindRehearsal(identity);
  }
  const std::string key = RehearsalKey(identity);
  auto ticket = runs_->Find(key, reconcile::RunControl{});
  if (!ticket) {
    return std::nullopt;
  }
  return RehearsalTicketOf(key, *ticket);
}

reconcile::RehearsalTicket DatabasePortImpl::StartRehearse(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const reconcile::RunIdentity& identity, bool with_backup, const std::string& object_key) {
  if (!runs_) {
    return DatabasePort::StartRehearse(target, target_versions, identity, with_backup,
                                       object_key);
  }
  const std::string key = RehearsalKey(identity);
  auto ticket = runs_->Start(
      key, object_key, reconcile::RunControl{},
      [this, key, target, target_versions, identity,
       with_backup](std::shared_ptr<database::RunCancel> cancel)
          -> core::Result<reconcile::MigrateResult> {
        LogObjectScope scope(target.owner_namespace, target.owner_name);
        auto result = RehearseWith(target, target_versions, identity.plan_digest, with_backup,
                                   std::move(cancel));
        std::lock_guard<std::mutex> lock(rehearsals_mutex_);
        rehearsals_.insert_or_assign(key, std::move(result));
        return reconcile::MigrateResult{};
      });
  return RehearsalTicketOf(key, ticket);
}

// On a run thread (StartRehearse), or on the caller's: the rehearsal takes
// as long as the copy and both runs.
core::Result<reconcile::RehearseResult> DatabasePortImpl::Rehearse(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const std::string& plan_digest, bool with_backup) {
  return RehearseWith(target, target_versions, plan_digest, with_backup, nullptr);
}

core::Result<reconcile::RehearseResult> DatabasePortImpl::RehearseWith(
    const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
    const std::string& plan_digest, bool with_backup,
    std::shared_ptr<database::RunCancel> cancel) {
  std::unique_ptr<database::Migrator> m;
  auto engine_target =
      OpenForVersions(target, target_versions, nullptr, nullptr, &m, std::move(cancel));
  if (!engine_target.ok()) {
    return engine_target.status();
  }
  database::RehearsalOptions options;
  options.backup = with_backup ? core::BackupWhen::kAlways : core::BackupWhen::kNever;
  auto report = m->Rehearse(engine_target.value(), core::PlanMode::kAuto, options);
  if (!report.ok()) {
    return report.status();
  }
  reconcile::RehearseResult result;
  result.plan_digest = report->plan_digest;
  result.sql_seconds = std::chrono::duration<double>(report->forward_sql).count();
  result.predicted_downtime_seconds =
      std::chrono::duration<double>(report->predicted_downtime).count();
  result.scratch_dropped = report->scratch_dropped;
  result.succeeded = report->succeeded && report->plan_digest == plan_digest;
  if (!report->succeeded) {
    result.failure = core::Status(report->status.code(),
                                  "the rehearsal failed (" + report->failed_stage +
                                      "): " + report->status.message(),
                                  report->status.detail());
  } else if (report->plan_digest != plan_digest) {
    result.failure = core::Status(core::Code::kMigrationsChanged,
                                  "the plan changed since it was planned (files or database)");
  }
  return result;
}

}  // namespace schemaop::manager
