// spec.executor Job (design §10.4): the migration Job and every safety step
// around it. The writers are at zero and the backup is taken (BackingUp,
// after the baseline: the version rows, row counts by relation identity and
// the schema fingerprint, recorded once per run key). Then:
//
//   Migrating    the upgrade Job, or the downgrade Job of a run planned as
//                a downgrade (design §10.5), named in status first (§10.3);
//                when it ends the operator reads the version table itself
//                and the row counts: target reached, nothing lost, Job
//                Complete -> ScalingUp (Succeeded); anything else (a failed
//                or killed Job, a target not reached, rows lost) ->
//   RollingBack  the undo Job (downgrade; upgrade after a downgrade) back to
//                the start revision, unless the
//                database is already there unchanged; verified like the
//                upgrade plus the schema fingerprint of the start; when it
//                cannot run or does not verify ->
//   (Restoring)  pg_restore of the run's backup, verified the same way
//   ScalingUp    the workloads come back; Stalled with the reason.
//
// Invariant: the database's revision is read from the version table, never
// from a Job's exit code or output (design §10.4); a Job's log only reaches
// Events and status through JobLogExcerpt (scrubbed, bounded).
#include <string>
#include <vector>

#include "core/job_spec.h"
#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

std::string Lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

bool Transient(core::Code code) {
  return code == core::Code::kUnreachable || code == core::Code::kLockHeld ||
         code == core::Code::kTimeout;
}

}  // namespace

// BackingUp of a Job run, before the pg_dump: the baseline goes into the
// database first, so the backup holds it and a restored database can still
// be judged against it. Written once per run key (a restart re-reads it).
std::optional<Next> Reconciler::Pass::RecordJobBaseline() {
  auto baseline = r_.db_.RecordJobBaseline(inputs_->target, JobRunKey(core::kVerbUpgrade));
  if (baseline.ok()) {
    return std::nullopt;
  }
  Problem problem = DatabaseProblem(baseline.status(), "Recording row counts and the schema");
  if (problem.transient) {
    return RetryRun(problem);
  }
  return AbortRun(problem.reason, problem.message +
                                      " Nothing was migrated; the workloads were "
                                      "restored.");
}

// A Job that ended, failed or is gone may have left sessions in the
// database: a killed pod's statement runs on in the server, and an
// autocommit statement commits on its own, after the operator judged.
// Invariant (design §10.4): no session of a Job remains when the operator
// reads the database after it, so what it judges (and undoes) stays so.
std::optional<Next> Reconciler::Pass::EndJobSessions(const std::string& job) {
  Status ended = r_.db_.EndJobSessions(inputs_->target, job);
  if (ended.ok()) {
    return std::nullopt;
  }
  // The writers stay at zero until the Job's sessions are gone.
  return RetryRun(DatabaseProblem(ended, "Ending the database sessions of Job " + job));
}

// Phase Migrating of a Job run.
Next Reconciler::Pass::MigrateWithJob() {
  if (auto problem = EnsureInputs()) {
    if (!obj_.status.run->job) {
      return StopForInputProblem(*problem);  // nothing created yet
    }
    return RetryRun(*problem);  // a Job exists: never leave it unobserved
  }
  const auto& job = obj_.status.run->job;
  const std::string verb = JobForwardVerb();
  if (!job || job->verb != verb || job->phase == core::kJobPhaseCreating) {
    if (!job) {
      if (std::optional<Next> stop = WritersBeforeMigrating()) {
        return std::move(*stop);
      }
      MigratingEvent();
    }
    const core::RunStatus& run = *obj_.status.run;
    auto argv =
        core::ExpandCommand(core::CommandFor(*obj_.spec.job, verb),
                            JobRevision(run.from_versions), JobRevision(run.target_versions));
    if (!argv.ok()) {
      return AbortRun(rs::kInvalidSpec, "The migration Job cannot be built: " +
                                            argv.status().message() + ". Nothing was migrated.");
    }
    if (Next started = StartJob(verb, argv.value()); started.stops()) {
      return started;
    }
  }
  Next wait = Next::Continue();
  auto state = FinishedJob(&wait);
  if (!state) {
    if (std::optional<Next> cancelled = CancelRunningJob()) {
      return std::move(*cancelled);
    }
    return wait;
  }
  return JudgeForwardJob(*state);
}

// The run's Job ended (or is gone): the database decides, not the Job.
Next Reconciler::Pass::JudgeForwardJob(const core::Result<JobState>& state) {
  const core::RunStatus& run = *obj_.status.run;
  const std::string name = run.job->name;
  if (std::optional<Next> retry = EndJobSessions(name)) {
    return std::move(*retry);
  }
  const std::string excerpt = JobLogOf(name);
  auto check = r_.db_.CheckJobResult(inputs_->target, JobRunKey(core::kVerbUpgrade), false);
  if (!check.ok() && Transient(check.status().code())) {
    return RetryRun(DatabaseProblem(check.status(), "Checking the database after Job " + name));
  }
  const bool completed = state.ok() && state.value().phase == JobState::Phase::kSucceeded;
  const std::string from = JobRevision(run.from_versions);
  const std::string to = JobRevision(run.target_versions);
  std::string reason = rs::kMigrationFailed;
  std::string why;
  if (!check.ok()) {
    why = "the database could not be checked after it (" + check.status().message() + ")";
  } else if (!check->row_loss.empty()) {
    reason = rs::kVerificationFailed;
    why = "rows were lost: " + Lines(check->row_loss);
  } else if (check->versions != run.target_versions) {
    why = "the version table says " + JobRevision(check->versions) + ", not the target " + to;
  } else if (!check->schema_drift.empty()) {
    // A revision seen before (design §10.4): its schema was recorded then.
    reason = rs::kSchemaDrift;
    why = "the schema at " + to + " differs from the one recorded when the database was at " +
          to + " before: " + Lines(check->schema_drift) +
          " (if the difference is intended, set spec.verify.schema: Ignore for this run)";
  } else if (!run.cancel_reason.empty() && !completed) {
    why = "its Job was deleted";  // a Job that completed first is a success (§10.6)
  } else if (state.ok() && !completed) {
    why = "the Job did not complete";
  }
  // A Job gone before the operator saw it end (its TTL ran out during an
  // outage, or someone deleted it) is judged by the database alone (design
  // §10.3): the target in the version table, no rows lost.
  if (!why.empty() && !run.cancel_reason.empty() && reason != rs::kVerificationFailed) {
    reason = run.cancel_reason;  // Aborted | DowntimeExceeded
  }
  const std::string job_text =
      "Job " + name +
      (state.ok()
           ? (completed ? " completed" : " failed (" + state->reason + ": " + state->message + ")")
           : " is gone (removed by its TTL or deleted before the operator saw it end; the "
             "database decided)");
  SchemaMigrationStatus next = obj_.status;
  next.run->job->log = excerpt;
  if (check.ok()) {
    next.current_revision = JobRevision(check->versions);
  }
  if (why.empty()) {
    next.run->outcome = core::kOutcomeSucceeded;
    next.run->message = "Migrated from " + from + " to " + to + " by Job " + name +
                        "; the version table and the row counts were verified by the operator.";
    next.phase = Phase::kScalingUp;
    SetIntent(next, core::kIntentRestore);
    SetCond(next, ct::kVerified, ConditionStatus::kTrue, rs::kSucceeded,
            "Verification passed at revision " + to + " (version table, row counts).");
  } else {
    next.run->reason = reason;
    next.run->message =
        (run.cancel_reason.empty() ? std::string("Migration failed: ")
                                   : "Migration cancelled (" + run.cancel_message + "): ") +
        job_text + " and " + why + ".";
    next.phase = Phase::kRollingBack;
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(why.empty() ? EventType::kNormal : EventType::kWarning, kJobFinished,
        job_text + ". Log:\n" + excerpt);
  if (why.empty()) {
    Event(EventType::kNormal, rs::kMigrated, obj_.status.run->message);
  }
  return Next::Continue();
}

// Phase RollingBack of a Job run: back to the start revision with the
// tool's undo verb (downgrade; upgrade when the run was a downgrade),
// verified; else the backup.
Next Reconciler::Pass::UndoWithJob() {
  if (auto problem = EnsureInputs()) {
    return RetryRun(*problem);  // the writers stay at zero until the database is back
  }
  const core::RunStatus& run = *obj_.status.run;
  if (run.job && run.job->phase == core::kJobPhaseRestoring) {
    return RestoreJobBackup();
  }
  const std::string key = JobRunKey(core::kVerbUpgrade);
  const std::string undo = JobUndoVerb();
  if (!run.job || run.job->verb != undo ||
      run.job->phase == core::kJobPhaseCreating) {
    auto check = r_.db_.CheckJobResult(inputs_->target, key, true);
    if (!check.ok() && Transient(check.status().code())) {
      return RetryRun(DatabaseProblem(check.status(), "Checking the database before the undo"));
    }
    if (check.ok() && check->versions == run.from_versions && check->row_loss.empty() &&
        check->schema_drift.empty()) {
      return FinishJobUndo(*check, "The database is still at " + JobRevision(run.from_versions) +
                                       " with the rows and the schema it had: nothing to undo.");
    }
    const auto command = obj_.spec.job ? core::CommandFor(*obj_.spec.job, undo)
                                       : std::vector<std::string>{};
    auto argv = check.ok() ? core::ExpandCommand(command, JobRevision(check->versions),
                                                 JobRevision(run.from_versions))
                           : core::Result<std::vector<std::string>>(check.status());
    if (command.empty() || !argv.ok()) {
      return RestoreJobBackup();
    }
    if (Next started = StartJob(undo, argv.value()); started.stops()) {
      return started;
    }
  }
  Next wait = Next::Continue();
  auto state = FinishedJob(&wait);
  if (!state) {
    return wait;
  }
  const std::string name = obj_.status.run->job->name;
  if (std::optional<Next> retry = EndJobSessions(name)) {
    return std::move(*retry);
  }
  const std::string excerpt = JobLogOf(name);
  Event(EventType::kWarning, kJobFinished,
        "Undo Job " + name + " (" + undo + ") ended. Log:\n" + excerpt);
  auto check = r_.db_.CheckJobResult(inputs_->target, key, true);
  if (!check.ok() && Transient(check.status().code())) {
    return RetryRun(DatabaseProblem(check.status(), "Checking the database after Job " + name));
  }
  if (check.ok() && check->versions == obj_.status.run->from_versions && check->row_loss.empty() &&
      check->schema_drift.empty()) {
    return FinishJobUndo(*check,
                         "The " + undo + " Job " + name + " brought the database back to " +
                             JobRevision(check->versions) +
                             "; the operator verified the version table, the row counts and the "
                             "schema fingerprint of the start.",
                         excerpt);
  }
  return RestoreJobBackup(excerpt);
}

// The backup of this run, restored (phase Restoring recorded first, so a
// restart restores again rather than trusting a half-known state), then
// verified against the baseline the backup contains.
Next Reconciler::Pass::RestoreJobBackup(const std::string& log) {
  const core::RunStatus& run = *obj_.status.run;
  if (!run.job || run.job->phase != core::kJobPhaseRestoring) {
    SchemaMigrationStatus next = obj_.status;
    if (!next.run->job) {
      next.run->job = core::JobRunStatus{};
    }
    next.run->job->phase = core::kJobPhaseRestoring;
    if (!log.empty()) {
      next.run->job->log = log;
    }
    if (Status s = Write(std::move(next)); !s.ok()) {
      return WriteFailed(s);
    }
  }
  const std::string path = obj_.status.backup ? obj_.status.backup->file : std::string();
  Status restored = path.empty() ? Status(Code::kNotFound, "the run has no backup")
                                 : r_.db_.RestoreBackup(inputs_->target, path);
  if (!restored.ok() && Transient(restored.code())) {
    return RetryRun(DatabaseProblem(restored, "Restoring backup " + path));
  }
  auto check = restored.ok()
                   ? r_.db_.CheckJobResult(inputs_->target, JobRunKey(core::kVerbUpgrade), true)
                   : core::Result<JobCheck>(restored);
  if (!check.ok() && Transient(check.status().code())) {
    return RetryRun(DatabaseProblem(check.status(), "Checking the database after the restore"));
  }
  if (check.ok() && check->versions == obj_.status.run->from_versions && check->row_loss.empty() &&
      check->schema_drift.empty()) {
    Event(EventType::kWarning, rs::kRolledBack, "Restored backup " + path);
    return FinishJobUndo(*check, "The database was restored from backup " + path + " and is at " +
                                     JobRevision(check->versions) + ", verified.");
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->outcome = core::kOutcomeFailed;
  const std::string found =
      check.ok()
          ? "it is at " + JobRevision(check->versions) +
                (check->row_loss.empty() ? "" : ", rows lost: " + Lines(check->row_loss)) +
                (check->schema_drift.empty() ? "" : ", schema: " + Lines(check->schema_drift))
          : check.status().message();
  next.run->message = obj_.status.run->message + " Neither the " + JobUndoVerb() +
                      " Job nor the backup " + path +
                      " brought the database back (" + found +
                      "). The database was left as it is; the workloads were restored. Repair it "
                      "(schemaop restore/history), then change the spec to retry.";
  if (check.ok()) {
    next.current_revision = JobRevision(check->versions);
  }
  next.phase = Phase::kScalingUp;
  SetIntent(next, core::kIntentRestore);
  SetCond(next, ct::kVerified, ConditionStatus::kFalse, next.run->reason, next.run->message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kWarning, obj_.status.run->reason, obj_.status.run->message);
  return Next::Continue();
}

// The database is back at the start, verified: outcome RolledBack.
Next Reconciler::Pass::FinishJobUndo(const JobCheck& check, const std::string& how,
                                     const std::string& log) {
  SchemaMigrationStatus next = obj_.status;
  if (!log.empty() && next.run->job) {
    next.run->job->log = log;
  }
  next.run->outcome = core::kOutcomeRolledBack;
  next.run->message = obj_.status.run->message + " " + how +
                      " The workloads were restored. Fix the migration (spec.job image or "
                      "commands), then change the spec to retry.";
  next.current_revision = JobRevision(check.versions);
  next.phase = Phase::kScalingUp;
  SetIntent(next, core::kIntentRestore);
  SetCond(next, ct::kVerified, ConditionStatus::kFalse, next.run->reason, next.run->message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  r_.metrics_.SetCurrentRevision(ns(), obj_.metadata.name, obj_.status.current_revision);
  Event(EventType::kWarning, rs::kRolledBack, obj_.status.run->message);
  return Next::Continue();
}

}  // namespace schemaop::reconcile
