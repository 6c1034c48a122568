// The command layer, part 2: Migrator::Run (design §4.3, the steps are
// numbered there) and RecoverInterruptedRun.
#include <algorithm>
#include <set>

#include "database/backup_restore.h"
#include "database/executor.h"
#include "database/migrator_impl.h"
#include "database/recovery.h"
#include "database/run_phases.h"
#include "database/version_table.h"

namespace schemaop::database {
namespace {

using Clock = std::chrono::steady_clock;
using core::Code;
using core::Status;
using internal::Runtime;
using internal::VersionsText;

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Step 5: applied shipped files must equal their archived copies.
Status CheckChecksums(Runtime& rt, const internal::DatabaseState& state) {
  auto mismatches = rt.scripts.ChecksumProblems(state.merged, state.current, state.archive);
  if (mismatches.empty()) {
    return Status::Ok();
  }
  if (!rt.options.allow_changed) {
    return Status(Code::kChecksumMismatch,
                  internal::Join(mismatches, "; ") +
                      ". An applied migration must not change: restore the original file, or "
                      "pass --allow-changed to run with the changed file",
                  "checksum");
  }
  for (const auto& mismatch : mismatches) {
    rt.Emit("warning", mismatch + " (allowed by --allow-changed)");
  }
  return Status::Ok();
}

// Step 6: a pinned plan runs only the SQL seen at planning, from the
// revision seen then.
Status CheckPlanDigest(Runtime& rt, const core::Plan& plan, const internal::Archive& archive) {
  const std::string& expected = rt.options.expected_plan_digest;
  if (expected.empty() || plan.empty()) {
    return Status::Ok();
  }
  auto digest = rt.scripts.PlanDigest(plan, archive);
  if (!digest.ok()) {
    return digest.status();
  }
  if (*digest == expected) {
    return Status::Ok();
  }
  return Status(Code::kMigrationsChanged,
                "the plan to run now (" + internal::PlanDirection(plan) + " " +
                    VersionsText(plan.from_versions) + " -> " + VersionsText(plan.to_versions) +
                    ", digest " + digest->substr(0, 12) +
                    "...) is not the plan recorded at planning (digest " + expected.substr(0, 12) +
                    "...): the migration files or the database changed since. Nothing was "
                    "executed; plan again",
                "plan-digest");
}

// Step 8: every file the plan needs must exist before anything is touched;
// returns the allowed row loss (options plus each downgrade's down_row_loss).
core::Result<std::set<std::string>> CheckPlanFiles(Runtime& rt, const core::Plan& plan,
                                                   const internal::Archive& archive) {
  std::set<std::string> row_loss_allowed(rt.options.allow_row_loss.begin(),
                                         rt.options.allow_row_loss.end());
  for (const auto& step : plan.steps) {
    auto file = rt.scripts.FileFor(step.revision, archive);
    if (!file.ok()) {
      return file.status();
    }
    if (step.direction == core::Direction::kDown) {
      if (!(*file)->HasDown()) {
        return Status(Code::kInvalidArgument,
                      "revision " + step.revision + " (" + (*file)->source_name +
                          ") has no migrate:down section, so it cannot be downgraded");
      }
      row_loss_allowed.insert((*file)->down_row_loss.begin(), (*file)->down_row_loss.end());
    }
  }
  if (rt.options.verify_row_counts) {
    if (Status readable = internal::CheckRowCountPrivileges(rt.session->conn(), rt.VersionTable());
        !readable.ok()) {
      return readable;
    }
  }
  return row_loss_allowed;
}

// Step 9, when the policy asks.
Status MaybeBackup(Runtime& rt, const core::Plan& plan, RunReport* report) {
  const BackupPolicy policy = rt.options.backup_policy;
  if (!(policy == BackupPolicy::kAlways ||
        (policy == BackupPolicy::kDowngrade && plan.HasDowngrade()))) {
    return Status::Ok();
  }
  auto label =
      (plan.from_versions.empty() ? std::string("base") : internal::Join(plan.from_versions, "+")) +
      "-to-" +
      (plan.to_versions.empty() ? std::string("base") : internal::Join(plan.to_versions, "+"));
  auto backup = internal::TakeBackup(rt, label);
  if (!backup.ok()) {
    return backup.status();
  }
  report->backup = *backup;
  return Status::Ok();
}

// Step 10: rows per relation and the schema where the database is now.
// A run that starts at a phase boundary (design §3.1) expects the schema
// the previous phase left there, and refuses (nothing changed) when it
// differs; it records nothing for the revision it starts at.
Status ReadBaseline(Runtime& rt, const core::Plan& plan, const std::string& start_key,
                    internal::ExecContext* forward,
                    internal::SchemaFingerprint* fingerprint_before) {
  try {
    pqxx::read_transaction tx(rt.session->conn());
    if (rt.options.verify_row_counts) {
      forward->rows.counts_before = internal::CountRelationRows(tx, rt.VersionTable());
    }
    *fingerprint_before = internal::ReadSchemaFingerprint(tx, rt.VersionTable());
    if (!start_key.empty()) {
      return rt.options.verify_schema
                 ? internal::CheckSchemaAt(tx, start_key,
                                           "since the previous phase of this plan ended (at " +
                                               start_key + ")",
                                           *fingerprint_before)
                 : Status::Ok();
    }
    // The start of a run re-records the schema of where the database is; a
    // change made by hand since it was last recorded becomes part of that
    // reference, so say so instead of absorbing it silently.
    if (Status drift = internal::CheckSchema(tx, plan.from_versions, *fingerprint_before);
        drift.code() == Code::kSchemaDrift) {
      rt.Emit("warning",
              "the schema changed since it was last recorded at " +
                  VersionsText(plan.from_versions) +
                  " (by hand?); recording it as that revision's schema: " + drift.message());
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot count rows and read the schema before the run",
                            Code::kInternal);
  }
  return Status::Ok();
}

// Step 11's plan column: steps, pinned file hashes, counts, allowed loss.
core::Result<internal::json> PlanJson(Runtime& rt, const internal::PhaseRun& run,
                                      const internal::Archive& archive,
                                      const internal::ExecContext& forward, std::string_view target,
                                      const RunReport& report) {
  const core::Plan& plan = run.plan;
  internal::json pinned_files = internal::json::object();
  for (const auto& step : plan.steps) {
    auto file = rt.scripts.FileFor(step.revision, archive);
    if (!file.ok()) {
      return file.status();
    }
    pinned_files[step.revision] = Sha256Hex((*file)->text);
  }
  const auto& allowed = forward.rows.row_loss_allowed;
  internal::json plan_json = {
      {"steps", internal::StepsToJson(plan.steps)},
      {"verify", true},
      {"files", pinned_files},
      {"counts_before", internal::CountsToJson(forward.rows.counts_before)},
      {"row_loss_allowed", std::vector<std::string>(allowed.begin(), allowed.end())},
      {"target", std::string(target)},
      {"plan_digest", run.digest},
      {"phases", internal::PhaseRunJson(run)},
      {"start", internal::StartCursorJson(run.start)}};
  if (report.backup) {
    plan_json["backup"] = {{"path", report.backup->path}, {"sha256", report.backup->sha256}};
  }
  return plan_json;
}

// Steps 12 and 13: execute, undo on failure, read where the database is.
void ExecutePlan(Runtime& rt, const internal::Archive& archive, const internal::PhaseRun& run,
                 internal::ExecContext& forward, RunReport* report) {
  const core::Plan& plan = run.plan;
  rt.Emit("migrating", "run " + std::to_string(forward.run_id) + ": " +
                           internal::PlanDirection(plan) + " " + VersionsText(plan.from_versions) +
                           " -> " + VersionsText(plan.to_versions) + " in " +
                           std::to_string(plan.steps.size()) + " step(s)" +
                           (run.Name() == "all" ? std::string()
                                                : ", phase " + run.Name()));
  internal::Executor executor(rt, archive);
  Status executed = executor.Execute(forward, run.start);
  if (executed.ok()) {
    report->outcome = RunOutcome::kSucceeded;
    report->steps_applied = static_cast<int>(plan.steps.size());
  } else {
    report->outcome = executor.HandleFailure(forward, plan.from_versions, &executed);
    if (report->outcome == RunOutcome::kRolledBack &&
        executed.detail() == kCancelRetryableDetail) {
      // Cancelled by a shutdown and rolled back to its start: like a run
      // interrupted before its first commit, it may execute again under
      // the same key (design §6.5; counted as an interrupted attempt).
      internal::ReleaseInterruptedKey(rt, forward.run_id);
    }
    report->status = executed;
    report->steps_applied =
        report->outcome == RunOutcome::kFailed
            ? std::min(forward.committed.step, static_cast<int>(plan.steps.size()))
            : 0;
  }
  // Report where the database really is, also after a lost connection.
  auto final_versions =
      rt.EnsureSession().ok()
          ? internal::LoadVersions(rt)
          : core::Result<std::vector<std::string>>(Status(Code::kUnreachable, "no session"));
  if (final_versions.ok()) {
    report->final_versions = *final_versions;
  }
}

// Steps 8 to 13 for a non-empty plan.
Status RunPlan(Runtime& rt, const internal::Archive& archive, const internal::PhaseRun& run,
               std::string_view target, RunReport* report) {
  const core::Plan& plan = run.plan;
  auto row_loss_allowed = CheckPlanFiles(rt, plan, archive);
  if (!row_loss_allowed.ok()) {
    return row_loss_allowed.status();
  }
  // Bad input changes nothing: schemaop's own tables appear only once a
  // valid, non-empty plan is about to run.
  if (Status schema = rt.EnsureSchema(); !schema.ok()) {
    return schema;
  }
  // The contract runs after the new revision was committed: a backup then
  // would not be the state to go back to.
  if (run.first != core::RunPhase::kContract) {
    if (Status backed_up = MaybeBackup(rt, plan, report); !backed_up.ok()) {
      return backed_up;
    }
  }
  internal::ExecContext forward;
  forward.phase = "forward";
  forward.steps = plan.steps;
  forward.verify = true;
  forward.rows.row_loss_allowed = std::move(row_loss_allowed).value();
  internal::Cursor ignored;
  internal::json phases_only = {{"phases", internal::PhaseRunJson(run)}};
  internal::ApplyPhaseJson(phases_only, &forward, &ignored);
  internal::SchemaFingerprint fingerprint_before;
  if (Status read = ReadBaseline(rt, plan, run.start_key, &forward, &fingerprint_before);
      !read.ok()) {
    return read;
  }
  auto plan_json = PlanJson(rt, run, archive, forward, target, *report);
  if (!plan_json.ok()) {
    return plan_json.status();
  }
  auto run_id = internal::InsertRun(rt, plan.from_versions, plan.to_versions,
                                    internal::PlanDirection(plan), *plan_json, "running",
                                    rt.options.run_key,
                                    run.start_key.empty() ? &fingerprint_before : nullptr,
                                    run.start);
  if (!run_id.ok()) {
    return run_id.status();
  }
  forward.run_id = *run_id;
  report->run_id = *run_id;
  ExecutePlan(rt, archive, run, forward, report);
  return Status::Ok();
}

// Which phases this run executes (design §3.1), from the plan and the
// last run that changed the database. A pinned plan (the operator) must be
// the one recorded at planning, also for a contract whose plan comes from
// the window's run.
core::Result<internal::PhaseRun> DecidePhases(Runtime& rt, const internal::Archive& archive,
                                              const core::Plan& plan) {
  std::string digest;
  if (!plan.empty()) {
    auto computed = rt.scripts.PlanDigest(plan, archive);
    if (!computed.ok()) {
      return computed.status();
    }
    digest = *computed;
  }
  auto last = internal::ReadLastEffectiveRun(rt);
  if (!last.ok()) {
    return last.status();
  }
  auto run = internal::DecidePhaseRun(rt, archive, rt.options.phase, plan, digest, *last);
  if (!run.ok() || !run->nothing_to_do.empty()) {
    return run;
  }
  const std::string& expected = rt.options.expected_plan_digest;
  if (!expected.empty() && run->digest != expected) {
    return Status(Code::kMigrationsChanged,
                  "the pending " + run->Name() + " phase belongs to a plan (digest " +
                      run->digest.substr(0, 12) + "...) that is not the plan recorded at "
                      "planning (digest " + expected.substr(0, 12) +
                      "...). Nothing was executed; plan again",
                  "plan-digest");
  }
  return run;
}

// Steps 2 and 3: recovery, then a replay when this run already ended.
// Returns true when the report is complete (replayed).
core::Result<bool> RecoverAndReplay(Runtime& rt, RunReport* report) {
  auto recovered = internal::RecoverLocked(rt);
  if (!recovered.ok()) {
    // An interrupted run that cannot be finished or undone: the database may
    // be between revisions, which the caller must know (the operator keeps
    // the writers at zero instead of restoring them onto it).
    return Status(recovered.status().code(), recovered.status().message(), kRecoveryDetail);
  }
  if (recovered->has_value()) {
    report->recovered = **recovered;
  }
  if (rt.options.run_key.empty()) {
    return false;
  }
  return internal::ReplayEndedRun(rt, rt.options.run_key, report);
}

}  // namespace

core::Result<std::optional<std::string>> Migrator::RecoverInterruptedRun() {
  if (Status connected = impl_->EnsureSession(); !connected.ok()) {
    return connected;
  }
  if (Status locked = impl_->lock.Acquire(*impl_); !locked.ok()) {
    return locked;
  }
  internal::LockScope scope(*impl_);
  return internal::RecoverLocked(*impl_);
}

core::Result<RunReport> Migrator::Run(std::string_view target, core::PlanMode mode) {
  Runtime& rt = *impl_;
  auto started = Clock::now();
  rt.sql_time = std::chrono::nanoseconds(0);
  RunReport report;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  if (Status locked = rt.lock.Acquire(rt); !locked.ok()) {
    return locked;
  }
  internal::LockScope scope(rt);
  auto replayed = RecoverAndReplay(rt, &report);
  if (!replayed.ok()) {
    return replayed.status();
  }
  if (*replayed) {
    report.total_duration = Since(started);
    return report;
  }
  auto state = internal::ReadState(rt);
  if (!state.ok()) {
    return state.status();
  }
  auto plan = rt.scripts.MakePlan(target, mode, state->merged, state->current);
  if (!plan.ok()) {
    return plan.status();
  }
  if (Status unchanged = CheckChecksums(rt, *state); !unchanged.ok()) {
    return unchanged;
  }
  if (Status pinned = CheckPlanDigest(rt, *plan, state->archive); !pinned.ok()) {
    return pinned;
  }
  report.from_versions = plan->from_versions;
  report.to_versions = plan->to_versions;
  report.plan = *plan;
  auto phase_run = DecidePhases(rt, state->archive, *plan);
  if (!phase_run.ok()) {
    return phase_run.status();
  }
  if (!phase_run->nothing_to_do.empty()) {
    report.outcome = RunOutcome::kNothingToDo;
    report.final_versions = state->current;
    report.total_duration = Since(started);
    rt.Emit("committed", phase_run->nothing_to_do + "; nothing to do");
    return report;
  }
  report.from_versions = phase_run->plan.from_versions;
  report.to_versions = phase_run->plan.to_versions;
  report.plan = phase_run->plan;
  report.phases = phase_run->Name();
  if (Status ran = RunPlan(rt, state->archive, *phase_run, target, &report); !ran.ok()) {
    return ran;
  }
  report.sql_duration = std::chrono::duration_cast<std::chrono::milliseconds>(rt.sql_time);
  report.total_duration = Since(started);
  return report;
}

}  // namespace schemaop::database
