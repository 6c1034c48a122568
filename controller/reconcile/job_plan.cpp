// spec.executor Job (design §10): what the Job executor needs outside the
// migration itself. Inspection reads the version table only (the tool owns
// the graph); the plan is the output of a plan Job; and the bookkeeping that
// keeps "at most one Job per run and verb" (design §10.3): the Job is named
// in status.run.job BEFORE it is created, its name is a function of the run
// key and the verb, and a create that finds the name taken adopts that Job.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/job_spec.h"
#include "reconcile/job_log.h"
#include "reconcile/job_manifest.h"
#include "reconcile/pass.h"

namespace schemaop::reconcile {
namespace {

// The plan output kept for the digest: more than this is refused (the
// pod-log read stops at the limit, so a longer plan could not be pinned).
constexpr std::int64_t kMaxPlanBytes = 1 << 20;

}  // namespace

std::string JobRevision(const std::vector<std::string>& versions) {
  return versions.empty()       ? "base"
         : versions.size() == 1 ? versions[0]
                                : core::FormatVersions(versions);
}

bool Reconciler::Pass::JobRun() const {
  return obj_.status.run && obj_.status.run->executor == core::kExecutorJob;
}

core::Result<InspectResult> Reconciler::Pass::InspectFor(const Inputs& inputs) {
  if (obj_.spec.executor != core::kExecutorJob) {
    return r_.db_.Inspect(inputs.target, TargetToInspect());
  }
  auto inspected = r_.db_.InspectVersions(inputs.target);
  if (!inspected.ok()) {
    return inspected;
  }
  InspectResult result = std::move(inspected).value();
  result.target_versions = {obj_.spec.target_revision};
  result.steps.clear();
  result.plan_digest.clear();  // the plan Job's output decides it (PlanWithJob)
  if (result.current_versions != result.target_versions) {
    core::PlanStepStatus step;
    step.revision = obj_.spec.target_revision;
    step.direction = core::MigrationDirection::kUpgrade;
    result.steps.push_back(step);
  }
  return result;
}

// A run is finished by the executor it started with: a spec switched to the
// other one before that run's first Job ends the run (AbortRun) and the next
// one starts with the new executor.
std::optional<Problem> Reconciler::Pass::ExecutorChangedMidRun() const {
  if (!obj_.status.run || obj_.status.run->job) {
    return std::nullopt;
  }
  const std::string& was = obj_.status.run->executor;
  const std::string started = was.empty() ? core::kExecutorFiles : was;
  if (started == obj_.spec.executor) {
    return std::nullopt;
  }
  return Problem{kExecutorChanged,
                 "spec.executor changed from " + started + " to " + obj_.spec.executor +
                     " during the run: nothing was migrated by this run and the workloads were "
                     "restored; the next run uses " +
                     obj_.spec.executor + ".",
                 false, Status(Code::kInvalidArgument, "executor changed")};
}

// What a Job run's inputs are, for "do not retry the same failed input":
// the image, the preset and every command.
std::string Reconciler::Pass::JobInputsDigest() const {
  std::vector<std::pair<std::string, std::string>> parts;
  if (const auto& job = obj_.spec.job) {
    parts.emplace_back("image", job->image);
    parts.emplace_back("preset", job->preset);
    for (const char* verb : core::kJobVerbs) {
      parts.emplace_back(verb, nlohmann::json(core::CommandFor(*job, verb)).dump());
    }
  }
  return core::DigestOf(parts);
}

// The run key a Job's name is derived from. The plan Job runs before the
// plan digest (part of the run key) exists: its key adds from and to.
std::string Reconciler::Pass::JobRunKey(const std::string& verb) const {
  const core::RunStatus& run = *obj_.status.run;
  std::string key = IdentityOfRun().Key();
  if (verb == core::kVerbUpgradeSql) {
    key += "/plan/" + JobRevision(run.from_versions) + ">" + JobRevision(run.target_versions);
  }
  return key;
}

Next Reconciler::Pass::StartJob(const std::string& verb, const std::vector<std::string>& argv) {
  const std::string key = JobRunKey(verb);
  const std::string name = core::JobName(obj_.metadata.name, verb, key);
  const auto& recorded = obj_.status.run->job;
  if (!recorded || recorded->name != name) {
    SchemaMigrationStatus next = obj_.status;
    next.run->job = core::JobRunStatus{name, verb, core::kJobPhaseCreating, ""};
    if (Status s = Write(std::move(next)); !s.ok()) {
      return WriteFailed(s);
    }
  }
  const std::string manifest = BuildJob(obj_, JobRequest{verb, key, argv}).dump();
  Status created = r_.kube_.CreateJob(ns(), manifest);
  if (!created.ok() && created.code() != Code::kConflict) {
    return RetryRun(KubeProblem(created, "Creating Job " + name));
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->job->phase = core::kJobPhaseRunning;
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  if (created.ok()) {
    Event(EventType::kNormal, kJobCreated, "Created Job " + name + " (" + verb + ")");
  } else {
    Event(EventType::kNormal, kJobAdopted,
          "Job " + name + " (" + verb + ") already exists: watching it, not creating another");
  }
  return Next::Continue();
}

std::optional<core::Result<JobState>> Reconciler::Pass::FinishedJob(Next* wait) {
  const core::JobRunStatus& job = *obj_.status.run->job;
  auto state = r_.kube_.GetJob(ns(), job.name);
  if (!state.ok() && state.status().code() != Code::kNotFound) {
    *wait = RetryRun(KubeProblem(state.status(), "Reading Job " + job.name));
    return std::nullopt;
  }
  if (state.ok() && state.value().phase == JobState::Phase::kActive) {
    *wait = Requeue(r_.options_.drain_poll, "requeue");
    return std::nullopt;
  }
  return state;
}

// The scrubbed, bounded tail of the Job's log (JobLogExcerpt), or a note
// saying why there is none.
std::string Reconciler::Pass::JobLogOf(const std::string& job) {
  auto log = r_.kube_.ReadJobLog(ns(), job, JobLogRequest{200, 64 * 1024});
  if (!log.ok()) {
    return "(log not available: " + scrubber_.Scrub(log.status().message()) + ")";
  }
  return JobLogExcerpt(log.value(), scrubber_);
}

// Phase Planning of a Job run, before the approval gate: the plan Job
// (upgradeSql: for Alembic `alembic upgrade $FROM:$TARGET --sql`) runs, and
// its output is the plan: the plan hash covers from, to and that output, so
// an approval pins exactly that SQL (design §9). A Generic spec without
// upgradeSql has the upgrade command line itself as its plan.
Next Reconciler::Pass::PlanWithJob() {
  const core::RunStatus& run = *obj_.status.run;
  const core::JobSpec& spec_job = *obj_.spec.job;
  const std::string from = JobRevision(run.from_versions);
  const std::string to = JobRevision(run.target_versions);
  std::string plan_output;
  const auto plan_command = core::CommandFor(spec_job, core::kVerbUpgradeSql);
  if (plan_command.empty()) {
    plan_output = "upgrade command: " +
                  nlohmann::json(core::CommandFor(spec_job, core::kVerbUpgrade)).dump() + "\n";
  } else {
    if (!run.job || run.job->verb != core::kVerbUpgradeSql ||
        run.job->phase == core::kJobPhaseCreating) {
      auto argv = core::ExpandCommand(plan_command, from, to);
      if (!argv.ok()) {
        return AbortRun(rs::kInvalidSpec, "The plan Job cannot be built: " +
                                              argv.status().message() + ". Nothing was scaled.");
      }
      if (Next started = StartJob(core::kVerbUpgradeSql, argv.value()); started.stops()) {
        return started;
      }
    }
    Next wait = Next::Continue();
    auto state = FinishedJob(&wait);
    if (!state) {
      return wait;
    }
    const std::string name = obj_.status.run->job->name;
    if (!state->ok()) {  // gone before it was read: a plan is only read, so run it again
      SchemaMigrationStatus next = obj_.status;
      next.run->job->phase = core::kJobPhaseCreating;
      if (Status s = Write(std::move(next)); !s.ok()) {
        return WriteFailed(s);
      }
      return Requeue(std::chrono::milliseconds(0), "requeue");
    }
    if (state->value().phase == JobState::Phase::kFailed) {
      return AbortRun(kJobPlanFailed,
                      "The plan Job " + name + " failed (" + state->value().reason +
                          "): " + JobLogOf(name) +
                          " Nothing was scaled or migrated. Fix spec.job (image, "
                          "commands.upgradeSql) or the target, then change the spec.");
    }
    auto log = r_.kube_.ReadJobLog(ns(), name, JobLogRequest{-1, kMaxPlanBytes + 1});
    if (!log.ok()) {
      return RetryRun(KubeProblem(log.status(), "Reading the log of Job " + name));
    }
    if (static_cast<std::int64_t>(log.value().size()) > kMaxPlanBytes) {
      return AbortRun(kJobPlanFailed, "The plan Job " + name +
                                          " printed more than 1 MiB: such a plan cannot be "
                                          "pinned for approval. Nothing was scaled or migrated.");
    }
    plan_output = std::move(log).value();
  }
  SchemaMigrationStatus next = obj_.status;
  const std::string digest =
      r_.db_.JobPlanDigest(run.from_versions, run.target_versions, plan_output);
  next.run->plan_digest = digest;
  if (next.plan) {
    next.plan->plan_hash = digest;
  }
  const std::string excerpt = JobLogExcerpt(plan_output, scrubber_);
  next.run->job.reset();
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kPlanning,
        "Plan " + digest + " from " + from + " to " + to + " (the plan Job's output):\n" + excerpt);
  return Next::Continue();
}

}  // namespace schemaop::reconcile
