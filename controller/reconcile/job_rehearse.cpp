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
// the Jobs and the Secret have names derived from the rehearsal key. A
// process that holds no copy starts over: the Jobs of an earlier attempt
// (before a restart) are deleted and waited for, then the database is
// copied again.
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

Next Reconciler::Pass::RehearseWithJob() {
  const std::string key = "rehearsal/" + IdentityOfRun().Key();
  const std::string forward = JobForwardVerb();
  const std::string undo = JobUndoVerb();
  const std::string forward_job = core::JobName(obj_.metadata.name, forward, key);
  const std::string undo_job = core::JobName(obj_.metadata.name, undo, key);
  const std::string secret = core::JobName(obj_.metadata.name, core::kScratchUrlSecret, key);
  if (auto problem = EnsureInputs()) {
    (void)r_.db_.DropJobScratch(key);  // nothing was scaled: the run ends here
    (void)r_.kube_.DeleteSecret(ns(), secret);
    return StopForInputProblem(*problem);
  }
  if (!r_.db_.FindJobScratch(key)) {
    return StartJobRehearsal(key, {forward_job, undo_job}, secret);
  }
  const core::RunStatus& run = *obj_.status.run;
  const std::string from = JobRevision(run.from_versions);
  const std::string to = JobRevision(run.target_versions);
  auto undo_state = r_.kube_.GetJob(ns(), undo_job);
  if (!undo_state.ok() && undo_state.status().code() != Code::kNotFound) {
    return RetryRun(KubeProblem(undo_state.status(), "Reading Job " + undo_job));
  }
  if (undo_state.ok()) {  // the forward Job passed: the undo Job decides
    if (undo_state->phase == JobState::Phase::kActive) {
      return Requeue(r_.options_.drain_poll, "requeue");
    }
    return JudgeRehearsalJob(undo, undo_job, undo_state.value(), key, secret);
  }
  auto forward_state = r_.kube_.GetJob(ns(), forward_job);
  if (!forward_state.ok() && forward_state.status().code() == Code::kNotFound) {
    return StartRehearsalJob(forward, key, from, to, secret);
  }
  if (!forward_state.ok()) {
    return RetryRun(KubeProblem(forward_state.status(), "Reading Job " + forward_job));
  }
  if (forward_state->phase == JobState::Phase::kActive) {
    return Requeue(r_.options_.drain_poll, "requeue");
  }
  return JudgeRehearsalJob(forward, forward_job, forward_state.value(), key, secret);
}

// The copy, its baseline and the Secret of its URL, after the Jobs of an
// earlier attempt are gone (a Job left running would write to a copy this
// process no longer holds, or to the next one).
Next Reconciler::Pass::StartJobRehearsal(const std::string& key,
                                         const std::vector<std::string>& jobs,
                                         const std::string& secret) {
  for (const std::string& name : jobs) {
    auto state = r_.kube_.GetJob(ns(), name);
    if (state.ok()) {
      if (Status deleted = r_.kube_.DeleteJob(ns(), name); !deleted.ok()) {
        return RetryRun(KubeProblem(deleted, "Deleting Job " + name + " of an earlier rehearsal"));
      }
      return Requeue(r_.options_.drain_poll, "requeue");  // until it is gone
    }
    if (state.status().code() != Code::kNotFound) {
      return RetryRun(KubeProblem(state.status(), "Reading Job " + name));
    }
  }
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
    return FinishJobRehearsal(key, secret, false, 0,
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

Next Reconciler::Pass::StartRehearsalJob(const std::string& verb, const std::string& key,
                                         const std::string& from, const std::string& to,
                                         const std::string& secret) {
  auto argv = core::ExpandCommand(core::CommandFor(*obj_.spec.job, verb), from, to);
  if (!argv.ok()) {
    return FinishJobRehearsal(key, secret, false, 0,
                              "the " + verb + " Job cannot be built: " + argv.status().message());
  }
  JobRequest request{verb, key, argv.value(), secret};
  const std::string name = core::JobName(obj_.metadata.name, verb, key);
  Status created = r_.kube_.CreateJob(ns(), BuildJob(obj_, request).dump());
  if (!created.ok() && created.code() != Code::kConflict) {
    return RetryRun(KubeProblem(created, "Creating Job " + name));
  }
  Event(EventType::kNormal, kJobCreated,
        "Created Job " + name + " (" + verb + " from " + from + " to " + to +
            ") on the scratch copy: a rehearsal, the database is not touched");
  SchemaMigrationStatus next = obj_.status;
  const std::string message = "Rehearsing on a scratch copy of the database: Job " + name + " (" +
                              verb + " to " + to + "). Nothing is scaled yet.";
  SetCond(next, ct::kReconciling, ConditionStatus::kTrue, rs::kRehearsing, message);
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return Requeue(r_.options_.drain_poll, "requeue");
}

// A rehearsal Job ended: the copy decides, as the database does after a
// real Job (job_run.cpp). The forward Job passing starts the undo Job
// (none configured: the rehearsal ends with the forward path alone).
Next Reconciler::Pass::JudgeRehearsalJob(const std::string& verb, const std::string& name,
                                         const JobState& state, const std::string& key,
                                         const std::string& secret) {
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
  const core::RunStatus& run = *obj_.status.run;
  const std::vector<std::string>& wanted = undoing ? run.from_versions : run.target_versions;
  std::string why;
  if (!check.ok()) {
    why = "the copy could not be checked after it (" + check.status().message() + ")";
  } else if (!check->row_loss.empty()) {
    why = "rows were lost: " + Joined(check->row_loss);
  } else if (check->versions != wanted) {
    why = "the version table says " + JobRevision(check->versions) + ", not " + JobRevision(wanted);
  } else if (undoing && !check->schema_drift.empty()) {
    why = "the schema differs from the copy's start: " + Joined(check->schema_drift) + " (the " +
          verb + " does not undo the " + JobForwardVerb() + ")";
  } else if (state.phase != JobState::Phase::kSucceeded) {
    why = "the Job failed (" + state.reason + ": " + state.message + ")";
  }
  const std::string log = JobLogOf(name);
  Event(why.empty() ? EventType::kNormal : EventType::kWarning, kJobFinished,
        "Rehearsal Job " + name + " (" + verb + ") ended" + (why.empty() ? "" : ": " + why) +
            ". Log:\n" + log);
  if (!why.empty()) {
    return FinishJobRehearsal(
        key, secret, false, 0,
        "the " + verb + " Job " + name + " on the scratch copy: " + why + ". Log: " + log);
  }
  if (!undoing) {
    const auto undo_command = core::CommandFor(*obj_.spec.job, JobUndoVerb());
    if (!undo_command.empty()) {
      return StartRehearsalJob(JobUndoVerb(), key, JobRevision(run.target_versions),
                               JobRevision(run.from_versions), secret);
    }
  }
  auto forward = r_.kube_.GetJob(ns(), core::JobName(obj_.metadata.name, JobForwardVerb(), key));
  const double seconds = forward.ok() ? std::max(0.0, forward->seconds) : 0;
  return FinishJobRehearsal(key, secret, true, seconds, "");
}

// The Secret goes first (it names a database about to be dropped), then
// the copy; then status.rehearsal (rehearse.cpp).
Next Reconciler::Pass::FinishJobRehearsal(const std::string& key, const std::string& secret,
                                          bool succeeded, double seconds,
                                          const std::string& failure) {
  if (Status deleted = r_.kube_.DeleteSecret(ns(), secret); !deleted.ok()) {
    return RetryRun(KubeProblem(deleted, "Deleting Secret " + secret + " of the rehearsal"));
  }
  if (Status dropped = r_.db_.DropJobScratch(key); !dropped.ok()) {
    Event(EventType::kWarning, rs::kRehearsing,
          "The scratch copy could not be dropped (" + dropped.message() +
              "); the next rehearsal drops it.");
  }
  return RecordRehearsal(succeeded, seconds, seconds, failure);
}

}  // namespace schemaop::reconcile
