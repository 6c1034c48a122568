// Phase Rehearsing of a Job run (spec.rehearse with spec.executor Job,
// design §10.9): the tool's own forward Job, then its undo Job, run against
// a scratch copy of the database and judged by the operator as a real run
// would be: after the forward Job the copy's version table must say the
// target and no relation may have lost rows; after the undo Job the copy
// must be back at the start with its rows and the schema fingerprint of the
// start. Nothing is scaled, and the database itself is only read (pg_dump).
//
// Invariant: a rehearsal Job never gets the database's URL. Its env comes
// from the operator's Secret holding the scratch copy's URL (the user's URL
// with only the database name changed, BuildScratchSecret), which exists
// only while the copy does: written after the copy, deleted before the copy
// is dropped, owned by the SchemaMigration so deleting the object deletes it.
//
// State: the copy is held by this process (DatabasePort::FindJobScratch);
// the rehearsal Job in flight is named in status.run.job before it is
// created (as a run's, design §10.3), so every rehearsal Job that may still
// run is known. A process that holds no copy (a restart) starts over: the
// rehearsal's Jobs (both verbs) are deleted and waited for until gone, then
// the database is copied again; no two rehearsal Jobs run. A recorded Job found gone is
// never created again: its outcome is unknown, and the rehearsal fails.
// Every other way out of Rehearsing (suspend, spec.rehearse turned off,
// the abort annotation, an input problem that will not pass) goes through
// CleanUpJobRehearsal: the Job, the Secret and the copy go first.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/job_spec.h"
#include "reconcile/job_manifest.h"
#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

bool Transient(core::Code code) {
  return code == core::Code::kUnreachable || code == core::Code::kLockHeld ||
         code == core::Code::kTimeout;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

}  // namespace

std::string Reconciler::Pass::JobRehearsalKey() const {
  return "rehearsal/" + IdentityOfRun().Key();
}

std::string Reconciler::Pass::JobRehearsalSecret() const {
  return core::JobName(obj_.metadata.name, core::kScratchUrlSecret, JobRehearsalKey());
}

Next Reconciler::Pass::RehearseWithJob() {
  const std::string key = JobRehearsalKey();
  if (auto problem = EnsureInputs()) {
    if (problem->transient) {
      return RetryRun(*problem);  // the copy and its Job stay
    }
    if (std::optional<Next> wait = CleanUpJobRehearsal()) {
      return std::move(*wait);
    }
    return StopForInputProblem(*problem);
  }
  if (auto abort = NewAbortRequest()) {
    if (std::optional<Next> wait = CleanUpJobRehearsal()) {
      return std::move(*wait);
    }
    obj_.status.handled_abort = *abort;  // written by AbortRun
    return AbortRun(rs::kAborted, "The run was aborted (annotation " +
                                      std::string(core::kAnnotationAbort) + "=" + *abort +
                                      ") during the rehearsal: its Job was deleted and the "
                                      "scratch copy dropped. Nothing was scaled or migrated. "
                                      "Change the spec to run again.");
  }
  if (!r_.db_.FindJobScratch(key)) {
    return StartJobRehearsal();
  }
  const core::RunStatus& run = *obj_.status.run;
  const auto& job = run.job;
  if (!job || job->phase == core::kJobPhaseCreating) {
    const std::string verb = job ? job->verb : JobForwardVerb();
    const bool undo = verb == JobUndoVerb();
    return StartRehearsalJob(verb, JobRevision(undo ? run.target_versions : run.from_versions),
                             JobRevision(undo ? run.from_versions : run.target_versions));
  }
  auto state = r_.kube_.GetJob(ns(), job->name);
  if (!state.ok() && state.status().code() != Code::kNotFound) {
    return RetryRun(KubeProblem(state.status(), "Reading Job " + job->name));
  }
  if (state.ok() && state->phase == JobState::Phase::kActive) {
    return Requeue(r_.options_.drain_poll, "requeue");
  }
  return JudgeRehearsalJob(state);
}

// The rehearsal's Jobs (both verbs: a finished forward Job of an earlier
// attempt would be adopted by name) deleted and gone, the Secret deleted,
// the copy dropped, the record cleared: nullopt once done.
std::optional<Next> Reconciler::Pass::CleanUpJobRehearsal() {
  const auto& job = obj_.status.run->job;
  for (const std::string& verb : {JobForwardVerb(), JobUndoVerb()}) {
    const std::string name = core::JobName(obj_.metadata.name, verb, JobRehearsalKey());
    auto state = r_.kube_.GetJob(ns(), name);
    if (state.ok()) {
      if (Status deleted = r_.kube_.DeleteJob(ns(), name); !deleted.ok()) {
        return RetryRun(KubeProblem(deleted, "Deleting rehearsal Job " + name));
      }
      return Requeue(r_.options_.drain_poll, "requeue");  // until it is gone
    }
    if (state.status().code() != Code::kNotFound) {
      return RetryRun(KubeProblem(state.status(), "Reading Job " + name));
    }
  }
  if (std::optional<Next> failed = DeleteRehearsalSecret()) {
    return failed;
  }
  if (Status dropped = r_.db_.DropJobScratch(JobRehearsalKey()); !dropped.ok()) {
    Event(EventType::kWarning, rs::kRehearsing,
          "The scratch copy could not be dropped (" + dropped.message() +
              "); the next rehearsal drops it.");
  }
  if (job) {
    SchemaMigrationStatus next = obj_.status;
    next.run->job.reset();
    if (Status s = Write(std::move(next)); !s.ok()) {
      return WriteFailed(s);
    }
  }
  return std::nullopt;
}

// The Secret of the copy's URL deleted: nullopt once gone. One of that
// name the operator did not write is left as it is (kConflict) and does
// not hold up the way out of the rehearsal.
std::optional<Next> Reconciler::Pass::DeleteRehearsalSecret() {
  const std::string secret = JobRehearsalSecret();
  Status deleted = r_.kube_.DeleteSecret(ns(), secret, obj_.metadata.uid);
  if (deleted.ok()) {
    return std::nullopt;
  }
  if (deleted.code() == Code::kConflict) {
    Event(EventType::kWarning, rs::kRehearsing, deleted.message());
    return std::nullopt;
  }
  return RetryRun(KubeProblem(deleted, "Deleting Secret " + secret + " of the rehearsal"));
}

// A fresh start (no copy held): whatever an earlier attempt left goes,
// then the copy, its baseline and the Secret of its URL.
Next Reconciler::Pass::StartJobRehearsal() {
  if (std::optional<Next> wait = CleanUpJobRehearsal()) {
    return std::move(*wait);
  }
  const std::string key = JobRehearsalKey();
  const std::string secret = JobRehearsalSecret();
  auto url = r_.db_.OpenJobScratch(inputs_->target, key);
  if (!url.ok()) {
    Problem problem = DatabaseProblem(url.status(), "Copying the database for the rehearsal");
    if (problem.transient) {
      return RetryRun(problem);
    }
    return RecordRehearsal(false, 0, 0, "Rehearsal refused: " + url.status().message());
  }
  DatabaseTarget scratch = inputs_->target;
  scratch.url = url.value();
  auto baseline = r_.db_.RecordJobBaseline(scratch, key);
  if (!baseline.ok()) {
    Problem problem = DatabaseProblem(baseline.status(), "Reading the scratch copy");
    if (problem.transient) {
      (void)r_.db_.DropJobScratch(key);  // the next pass copies again
      return RetryRun(problem);
    }
    return FinishJobRehearsal(false, 0,
                              "the scratch copy could not be read before the rehearsal (" +
                                  baseline.status().message() + ")");
  }
  const std::string manifest = BuildScratchSecret(obj_, secret, url.value()).dump();
  if (Status applied = r_.kube_.ApplySecret(ns(), manifest); !applied.ok()) {
    (void)r_.db_.DropJobScratch(key);  // the next pass copies again
    return RetryRun(KubeProblem(applied, "Writing Secret " + secret + " for the rehearsal Jobs"));
  }
  Event(EventType::kNormal, rs::kRehearsing,
        "Copied the database into a scratch database for the rehearsal; its URL is in Secret " +
            secret + ", which the rehearsal Jobs read and which is deleted with the copy.");
  return Next::Continue();
}

// Named in status.run.job first (phase Creating), then created, then
// Running: a restart finds every rehearsal Job that may run.
Next Reconciler::Pass::StartRehearsalJob(const std::string& verb, const std::string& from,
                                         const std::string& to) {
  const std::string key = JobRehearsalKey();
  const std::string name = core::JobName(obj_.metadata.name, verb, key);
  auto argv = core::ExpandCommand(core::CommandFor(*obj_.spec.job, verb), from, to);
  if (!argv.ok()) {
    return FinishJobRehearsal(false, 0,
                              "the " + verb + " Job cannot be built: " + argv.status().message());
  }
  if (std::optional<Next> failed = RecordJobCreating(name, verb)) {
    return std::move(*failed);
  }
  JobRequest request{verb, key, argv.value(), JobRehearsalSecret()};
  Status created = r_.kube_.CreateJob(ns(), BuildJob(obj_, request).dump());
  if (!created.ok() && created.code() != Code::kConflict) {
    return RetryRun(KubeProblem(created, "Creating Job " + name));
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->job->phase = core::kJobPhaseRunning;
  const std::string message = "Rehearsing on a scratch copy of the database: Job " + name + " (" +
                              verb + " to " + to + "). Nothing is scaled yet.";
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kRehearsing, message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, created.ok() ? kJobCreated : kJobAdopted,
        (created.ok() ? "Created Job " : "Watching the existing Job ") + name + " (" + verb +
            " from " + from + " to " + to +
            ") on the scratch copy: a rehearsal, the database is not touched");
  return Requeue(r_.options_.drain_poll, "requeue");
}

// The recorded rehearsal Job ended (or is gone): the copy decides, as the
// database does after a real Job (job_run.cpp), and the database itself
// must still be at the start. The forward Job passing starts the undo Job
// (none configured: the rehearsal ends with the forward path alone).
Next Reconciler::Pass::JudgeRehearsalJob(const core::Result<JobState>& state) {
  const core::RunStatus& run = *obj_.status.run;
  const std::string name = run.job->name;
  const std::string verb = run.job->verb;
  const std::string key = JobRehearsalKey();
  DatabaseTarget scratch = inputs_->target;
  scratch.url = *r_.db_.FindJobScratch(key);
  if (Status ended = r_.db_.EndJobSessions(scratch, name); !ended.ok()) {
    return RetryRun(DatabaseProblem(ended, "Ending the sessions of Job " + name + " in the copy"));
  }
  const bool undoing = verb == JobUndoVerb();
  auto check = r_.db_.CheckJobResult(scratch, key, /*compare_schema=*/undoing);
  if (!check.ok() && Transient(check.status().code())) {
    return RetryRun(DatabaseProblem(check.status(), "Checking the copy after Job " + name));
  }
  // A tool that ignores its URL (a hard-coded one in the image) would have
  // migrated the database itself, with the writers up: said, not hidden.
  auto real = r_.db_.InspectVersions(inputs_->target);
  if (!real.ok() && Transient(real.status().code())) {
    return RetryRun(DatabaseProblem(real.status(), "Reading the database after Job " + name));
  }
  const std::vector<std::string>& wanted = undoing ? run.from_versions : run.target_versions;
  std::string why;
  if (real.ok() && real->current_versions != run.from_versions) {
    why = "the database itself moved during the rehearsal, from " +
          JobRevision(run.from_versions) + " to " + JobRevision(real->current_versions) +
          ": the tool in spec.job.image does not take its URL from env " + obj_.spec.job->url_env +
          ", so its Jobs cannot be rehearsed (and the database was changed with the writers "
          "running)";
  } else if (!state.ok()) {
    why = "the Job is gone before the operator read its outcome (deleted, or "
          "spec.job.ttlSecondsAfterFinished is too short)";
  } else if (!check.ok()) {
    why = "the copy could not be checked after it (" + check.status().message() + ")";
  } else if (!check->row_loss.empty()) {
    why = "rows were lost: " + Joined(check->row_loss);
  } else if (check->versions != wanted) {
    why = "the version table says " + JobRevision(check->versions) + ", not " + JobRevision(wanted);
  } else if (undoing && !check->schema_drift.empty()) {
    why = "the schema differs from the copy's start: " + Joined(check->schema_drift) +
          " (the " + verb + " does not undo the " + JobForwardVerb() + ")";
  } else if (!check->schema_drift.empty()) {
    why = "the schema at " + JobRevision(wanted) +
          " differs from the one recorded when the database was there before: " +
          Joined(check->schema_drift);
  } else if (state->phase != JobState::Phase::kSucceeded) {
    why = "the Job failed (" + state->reason + ": " + state->message + ")";
  }
  const std::string log = JobLogOf(name);
  Event(why.empty() ? EventType::kNormal : EventType::kWarning, kJobFinished,
        "Rehearsal Job " + name + " (" + verb + ") ended" + (why.empty() ? "" : ": " + why) +
            ". Log:\n" + log);
  if (!why.empty()) {
    return FinishJobRehearsal(false, 0,
                              "the " + verb + " Job " + name + " on the scratch copy: " + why +
                                  ". Log: " + log);
  }
  if (!undoing && !core::CommandFor(*obj_.spec.job, JobUndoVerb()).empty()) {
    return StartRehearsalJob(JobUndoVerb(), JobRevision(run.target_versions),
                             JobRevision(run.from_versions));
  }
  auto forward = r_.kube_.GetJob(ns(), core::JobName(obj_.metadata.name, JobForwardVerb(), key));
  const double seconds = forward.ok() ? std::max(0.0, forward->seconds) : 0;
  return FinishJobRehearsal(true, seconds, "");
}

// The Secret goes first (it names a database about to be dropped), then
// the copy; then status.rehearsal (rehearse.cpp), which clears the record.
Next Reconciler::Pass::FinishJobRehearsal(bool succeeded, double seconds,
                                          const std::string& failure) {
  if (std::optional<Next> failed = DeleteRehearsalSecret()) {
    return std::move(*failed);
  }
  bool dropped = true;
  if (Status drop = r_.db_.DropJobScratch(JobRehearsalKey()); !drop.ok()) {
    dropped = false;
    Event(EventType::kWarning, rs::kRehearsing,
          "The scratch copy could not be dropped (" + drop.message() +
              "); the next rehearsal drops it.");
  }
  return RecordRehearsal(succeeded, seconds, seconds, failure, dropped);
}

}  // namespace schemaop::reconcile
