// spec.executor Job (design §10): what the Job executor needs outside the
// migration itself. Inspection reads the version table only (the tool owns
// the graph); the plan is the output of a plan Job; and the bookkeeping that
// keeps "at most one Job per run and verb" (design §10.3): the Job is named
// in status.run.job BEFORE it is created, its name is a function of the run
// key and the verb, and a create that finds the name taken adopts that Job.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/job_spec.h"
#include "core/version_table.h"
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
  // head (design §10.7): the heads Job's answer, pinned in
  // status.resolvedTarget for this generation and these Job inputs (the
  // image holds the scripts), is reused; otherwise it is resolved in
  // Planning (ResolveJobHead).
  if (const auto& pinned = obj_.status.resolved_target;
      obj_.spec.target_revision == "head" && pinned && pinned->target_revision == "head" &&
      pinned->generation == generation() && pinned->migrations_digest == JobInputsDigest() &&
      pinned->revision != "head" && core::ParseHeads(pinned->revision).ok()) {
    result.target_versions = {pinned->revision};
  }
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

// The run key a Job's name is derived from. The history and plan Jobs run
// before the plan digest (part of the run key) exists: their key adds from
// and to.
std::string Reconciler::Pass::JobRunKey(const std::string& verb) const {
  const core::RunStatus& run = *obj_.status.run;
  RunIdentity identity = IdentityOfRun();
  if (verb == core::kVerbUpgradeSql || verb == core::kVerbDowngradeSql ||
      verb == core::kVerbHistory || verb == core::kVerbHeads) {
    // Run before the plan digest exists: named without it at any time, so
    // the approval message names the plan Job that ran.
    identity.plan_digest.clear();
    return identity.Key() + "/plan/" + JobRevision(run.from_versions) + ">" +
           JobRevision(run.target_versions);
  }
  return identity.Key();
}

// status.run.job names the Job (phase Creating) before it exists (§10.3):
// nullopt once recorded.
std::optional<Next> Reconciler::Pass::RecordJobCreating(const std::string& name,
                                                        const std::string& verb) {
  const auto& recorded = obj_.status.run->job;
  if (recorded && recorded->name == name) {
    return std::nullopt;
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->job = core::JobRunStatus{name, verb, core::kJobPhaseCreating, ""};
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  return std::nullopt;
}

Next Reconciler::Pass::StartJob(const std::string& verb, const std::vector<std::string>& argv) {
  const std::string key = JobRunKey(verb);
  const std::string name = core::JobName(obj_.metadata.name, verb, key);
  if (std::optional<Next> failed = RecordJobCreating(name, verb)) {
    return std::move(*failed);
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

std::string Reconciler::Pass::JobForwardVerb() const {
  return obj_.status.run && obj_.status.run->job_direction == core::kVerbDowngrade
             ? core::kVerbDowngrade
             : core::kVerbUpgrade;
}

std::string Reconciler::Pass::JobUndoVerb() const {
  return JobForwardVerb() == core::kVerbDowngrade ? core::kVerbUpgrade : core::kVerbDowngrade;
}

// The read-only Jobs of Planning (heads, history, the plan Job): created
// once (named in status first, StartJob), waited for, and run again under
// the same name when found gone before their outcome was read (they only
// read). nullopt once *state holds the finished Job's state; otherwise the
// Next to return (a wait, or a stop); `what` names the Job in messages.
std::optional<Next> Reconciler::Pass::AwaitReadOnlyJob(const std::string& verb,
                                                       const std::vector<std::string>& command,
                                                       const std::string& from,
                                                       const std::string& to,
                                                       const std::string& what,
                                                       JobState* state) {
  const auto& job = obj_.status.run->job;
  if (!job || job->verb != verb || job->phase == core::kJobPhaseCreating) {
    auto argv = core::ExpandCommand(command, from, to);
    if (!argv.ok()) {
      return AbortRun(rs::kInvalidSpec, "The " + what + " cannot be built: " +
                                            argv.status().message() + ". Nothing was scaled.");
    }
    if (Next started = StartJob(verb, argv.value()); started.stops()) {
      return started;
    }
  }
  Next wait = Next::Continue();
  auto finished = FinishedJob(&wait);
  if (!finished) {
    return wait;
  }
  if (!finished->ok()) {
    SchemaMigrationStatus next = obj_.status;
    next.run->job->phase = core::kJobPhaseCreating;
    if (Status s = Write(std::move(next)); !s.ok()) {
      return WriteFailed(s);
    }
    return Requeue(std::chrono::milliseconds(0), "requeue");
  }
  *state = finished->value();
  return std::nullopt;
}

// Planning of a Job run whose target is head (design §10.7): the heads Job
// (Alembic: `alembic heads`) names the tool's one head in the image; it is
// pinned in status.resolvedTarget for this generation and these Job inputs
// (InspectFor reuses it), and becomes the run's target. A database already
// there ends the run at once, Succeeded, nothing scaled or migrated.
Next Reconciler::Pass::ResolveJobHead() {
  const core::RunStatus& run = *obj_.status.run;
  const auto command = core::CommandFor(*obj_.spec.job, core::kVerbHeads);
  if (command.empty()) {
    return AbortRun(rs::kInvalidSpec,
                    "spec.targetRevision is head but spec.job has no heads command (the "
                    "Generic form): add commands.heads, or write the revision id. Nothing was "
                    "scaled.");
  }
  JobState state;
  if (std::optional<Next> waiting =
          AwaitReadOnlyJob(core::kVerbHeads, command, JobRevision(run.from_versions), "head",
                           "heads Job", &state)) {
    return std::move(*waiting);
  }
  const std::string name = obj_.status.run->job->name;
  if (state.phase == JobState::Phase::kFailed) {
    return AbortRun(kJobPlanFailed, "The heads Job " + name + " failed (" + state.reason +
                                        "): " + JobLogOf(name) +
                                        " Nothing was scaled or migrated. Fix spec.job (image, "
                                        "commands.heads), then change the spec.");
  }
  auto log = r_.kube_.ReadJobLog(ns(), name, JobLogRequest{-1, 64 * 1024});
  if (!log.ok()) {
    return RetryRun(KubeProblem(log.status(), "Reading the log of Job " + name));
  }
  auto head = core::ParseHeads(log.value());
  if (!head.ok()) {
    return AbortRun(kJobPlanFailed, "The heads Job " + name + " did not name one head: " +
                                        head.status().message() + ". Its log: " +
                                        JobLogOf(name) + " Nothing was scaled or migrated.");
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->target_versions = {head.value()};
  next.run->job.reset();
  next.target_revision = head.value();
  next.resolved_target =
      core::ResolvedTargetStatus{"head", head.value(), generation(), JobInputsDigest()};
  const bool at_head = run.from_versions == next.run->target_versions;
  if (next.plan) {
    for (core::PlanStepStatus& step : next.plan->steps) {
      step.revision = head.value();
    }
    if (at_head) {
      next.plan->steps.clear();
    }
    next.plan->direction = core::PlanDirectionOf(next.plan->steps);
  }
  if (at_head) {
    next.run->outcome = core::kOutcomeSucceeded;
    next.run->message = "The database is already at head " + head.value() + " (heads Job " +
                        name + "): nothing was scaled or migrated.";
    next.phase = Phase::kScalingUp;
    SetIntent(next, core::kIntentRestore);
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kPlanning,
        "head is " + head.value() + " (the heads Job " + name + ")" +
            (at_head ? ": the database is already there, nothing to do" : ""));
  return Next::Continue();
}

// Planning, first step of a Job run (design §10.5). The operator does not
// read the tool's graph; the tool places the target: the history Job
// (Alembic: `alembic history -r $FROM:$TARGET`) completes when the target
// descends from the database's revision, and the run is an upgrade; when it
// fails the run is a downgrade (planned by downgradeSql, run by downgrade,
// undone by upgrade). Either way a wrong answer stops before anything
// moves: a downgrade plan of a target that is not behind fails in the
// plan Job (Alembic: "not a valid downgrade target"), an upgrade plan of a
// target that is not ahead is empty and the version table, read after the
// Job, says the target was not reached. Without a history command
// (Generic) every run is an upgrade; from base there is nothing to go back
// to.
Next Reconciler::Pass::DecideJobDirection() {
  const core::RunStatus& run = *obj_.status.run;
  const std::string from = JobRevision(run.from_versions);
  const std::string to = JobRevision(run.target_versions);
  const auto command = core::CommandFor(*obj_.spec.job, core::kVerbHistory);
  std::string direction = core::kVerbUpgrade;
  std::string why = "no history command: planned as an upgrade";
  if (run.from_versions.empty()) {
    why = "the database has no revision yet";
  } else if (const std::optional<int> order = core::CompareGolangMigrateVersions(to, from);
             command.empty() && obj_.spec.version_layout == core::kVersionLayoutGolangMigrate &&
             order) {
    // golang-migrate applies its migrations in the order of their numbers
    // (design §10.8): the numbers place the target.
    if (*order < 0) {
      direction = core::kVerbDowngrade;
      why = "golang-migrate version " + to + " is below " + from;
    } else {
      why = "golang-migrate version " + to + " is above " + from;
    }
  } else if (!command.empty()) {
    JobState state;
    if (std::optional<Next> waiting =
            AwaitReadOnlyJob(core::kVerbHistory, command, from, to, "history Job", &state)) {
      return std::move(*waiting);
    }
    const std::string name = obj_.status.run->job->name;
    if (state.phase == JobState::Phase::kSucceeded) {
      why = "the history Job " + name + " places " + to + " ahead of " + from;
    } else {
      direction = core::kVerbDowngrade;
      why = "the history Job " + name + " does not place " + to + " ahead of " + from + " (" +
            state.reason + "): " + JobLogOf(name);
    }
  }
  SchemaMigrationStatus next = obj_.status;
  next.run->job_direction = direction;
  next.run->job.reset();
  if (next.plan && direction == core::kVerbDowngrade) {
    for (core::PlanStepStatus& step : next.plan->steps) {
      step.direction = core::MigrationDirection::kDowngrade;
    }
    next.plan->direction = core::PlanDirectionOf(next.plan->steps);
  }
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kPlanning,
        "The run from " + from + " to " + to + " is " +
            (direction == core::kVerbDowngrade ? "a downgrade" : "an upgrade") + ": " + why);
  return Next::Continue();
}

// Phase Planning of a Job run, before the approval gate: the direction
// first (DecideJobDirection), then the plan Job (upgradeSql, for Alembic
// `alembic upgrade $FROM:$TARGET --sql`; downgradeSql for a downgrade), and
// its output is the plan: the plan hash covers from, to and that output, so
// an approval pins exactly that SQL (design §9). A Generic spec without the
// plan command has the run's command line itself as its plan.
Next Reconciler::Pass::PlanWithJob() {
  if (obj_.status.run->target_versions == std::vector<std::string>{"head"}) {
    if (Next resolved = ResolveJobHead(); resolved.stops()) {
      return resolved;
    }
    if (!obj_.status.run->outcome.empty()) {
      return Next::Continue();  // already at head: nothing to plan
    }
  }
  if (obj_.status.run->job_direction.empty()) {
    if (Next decided = DecideJobDirection(); decided.stops()) {
      return decided;
    }
  }
  const core::RunStatus& run = *obj_.status.run;
  const core::JobSpec& spec_job = *obj_.spec.job;
  const std::string from = JobRevision(run.from_versions);
  const std::string to = JobRevision(run.target_versions);
  const bool down = run.job_direction == core::kVerbDowngrade;
  const std::string plan_verb = down ? core::kVerbDowngradeSql : core::kVerbUpgradeSql;
  const std::string run_verb = JobForwardVerb();
  std::string plan_output;
  const auto plan_command = core::CommandFor(spec_job, plan_verb);
  if (plan_command.empty()) {
    plan_output =
        run_verb + " command: " + nlohmann::json(core::CommandFor(spec_job, run_verb)).dump() + "\n";
  } else {
    JobState state;
    if (std::optional<Next> waiting =
            AwaitReadOnlyJob(plan_verb, plan_command, from, to, "plan Job", &state)) {
      return std::move(*waiting);
    }
    const std::string name = obj_.status.run->job->name;
    if (state.phase == JobState::Phase::kFailed) {
      return AbortRun(kJobPlanFailed,
                      "The plan Job " + name + " failed (" + state.reason +
                          "): " + JobLogOf(name) +
                          " Nothing was scaled or migrated. Fix spec.job (image, commands." +
                          plan_verb + ") or the target, then change the spec.");
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
        "Plan " + digest + " (" + run_verb + ") from " + from + " to " + to +
            " (the plan Job's output):\n" + excerpt);
  return Next::Continue();
}

}  // namespace schemaop::reconcile
