#pragma once
// Internal to controller/reconcile (included by its .cpp files only): one
// Pass of the SchemaMigration state machine, and the Next type its steps
// return. Read state_machine.cpp first: it maps each phase to its handler.
// The Pass is spread over one file per part of design §6:
//
//   state_machine.cpp  Run and Advance: what runs when (phase -> handler)
//   start.cpp          outside a run: the checks of design §6.2
//   plan.cpp           targets, StartRun, phase Planning
//   maintenance_gate.cpp  spec.maintenanceWindow, before the scale-down
//   rehearse.cpp       phase Rehearsing (spec.rehearse)
//   scale_down.cpp     phases ScalingDown and Draining, the writers re-check
//   backup.cpp         phase BackingUp
//   migrate.cpp        phases Migrating / Verifying: the engine call
//   restore.cpp        AbortRun, phases RollingBack and ScalingUp, run end
//   approval.cpp       the approval gate of phase Planning (spec.approval)
//   retry.cpp          the schemaop.dev/retry annotation
//   deletion.cpp       deletion and the finalizer
//   job_plan.cpp       spec.executor Job: inspection, the plan Job, Job bookkeeping
//   job_run.cpp        spec.executor Job: the migration Job, its checks, downgrade, restore
//   pass.cpp           status writes, intents, events, results, retries
//   inputs.cpp         Secret and ConfigMap inputs, problem messages
//   messages.cpp       bounded messages, workload lists
//   writers.cpp        autoscalers, a CronJob's Jobs, WorkloadFoughtBack
#include <cassert>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/conditions.h"
#include "core/database_url.h"
#include "core/maintenance_window.h"
#include "core/schema_migration.h"
#include "core/status.h"
#include "reconcile/ports.h"
#include "reconcile/reconciler.h"

namespace schemaop::reconcile {

namespace ct = core::condition_types;
namespace rs = core::reasons;

// What one step of a Pass tells the state machine (design §6.1).
class Next {
 public:
  // The step recorded its transition in status (or had nothing to do): go
  // on, in this same reconcile, with the phase status now holds.
  static Next Continue() { return Next(); }
  // This reconcile ends here with `result` (done, a requeue, a wait or an
  // error). An error kConflict means the object changed under this Pass:
  // Reconcile reads it again and starts a new Pass.
  static Next Stop(core::Result<ReconcileResult> result) {
    Next next;
    next.result_.emplace(std::move(result));
    return next;
  }

  bool stops() const { return result_.has_value(); }
  // The result of a step that stops().
  core::Result<ReconcileResult> TakeResult() && {
    assert(result_.has_value());
    return std::move(*result_);
  }

 private:
  Next() = default;
  std::optional<core::Result<ReconcileResult>> result_;
};

// Something that keeps the object from progressing.
struct Problem {
  std::string reason;
  std::string message;  // names the problem and the fix
  bool transient = false;
  core::Status cause;
};

// Status::detail() of the Problem of core::ValidateSpec: fields of the
// SchemaMigration itself, which only an edit (a watched change) can fix. An
// engine refusal with the same reason (a database URL or CA from a Secret
// that cannot be used) is re-checked like other stalls.
inline constexpr char kSpecFieldsDetail[] = "spec-fields";

// Another SchemaMigration's run has scaled down a workload this run wants to
// record (e.g. one backend using two databases). Local until core::reasons
// gains it.
inline constexpr char kWorkloadInUse[] = "WorkloadInUse";

// spec.executor Job (job_plan.cpp, job_run.cpp, design §10): Event
// reasons, and the reason of a plan Job that failed.
inline constexpr char kJobCreated[] = "JobCreated";
inline constexpr char kJobAdopted[] = "JobAdopted";
inline constexpr char kJobFinished[] = "JobFinished";
inline constexpr char kJobPlanFailed[] = "JobPlanFailed";
inline constexpr char kExecutorChanged[] = "ExecutorChanged";
// A deleted object's writers came back before its Job's sessions could be
// ended (deletion.cpp, Warning Event).
inline constexpr char kJobSessionsUnchecked[] = "JobSessionsUnchecked";

// How to end a WorkloadFoughtBack (writers.cpp, design §6.8).
extern const char kFoughtBackFix[];

// Valid UTF-8 of at most 4 KiB, cut on a character boundary (messages.cpp).
std::string BoundedMessage(const std::string& text);
// "Kind/name".
std::string WorkloadName(const std::string& kind, const std::string& name);
// "Deployment/a, StatefulSet/b", with " (N)" original replicas if asked.
std::string WorkloadList(const std::vector<core::WorkloadStatus>& workloads, bool with_replicas);

// The revision a Job command's $FROM / $TARGET gets: "base" for none, the
// id for one (job_plan.cpp).
std::string JobRevision(const std::vector<std::string>& versions);

// RunIdentity::retry of a run (retry.cpp, design §9.3).
std::string RetryKey(const core::RunStatus& run);

// One attempt at reconciling one snapshot of the object. Its result is an
// error kConflict when a write lost a race; the caller then starts a new
// Pass on a fresh read (safe because every step resumes from status).
class Reconciler::Pass {
 public:
  Pass(Reconciler& owner, core::SchemaMigration obj) : r_(owner), obj_(std::move(obj)) {}

  core::Result<ReconcileResult> Run();  // state_machine.cpp

  const std::string& metric_result() const { return metric_result_; }
  // The object's status as this pass left it (after its writes).
  const core::SchemaMigrationStatus& status() const { return obj_.status; }

 private:
  using Code = core::Code;
  using ConditionStatus = core::ConditionStatus;
  using Phase = core::Phase;
  using SchemaMigration = core::SchemaMigration;
  using SchemaMigrationStatus = core::SchemaMigrationStatus;
  using Status = core::Status;

  struct Inputs {
    DatabaseTarget target;
    std::string digest;
  };

  // ---- state_machine.cpp
  Next Advance();
  Next RunPhase(Phase phase);

  // ---- start.cpp: outside a run (design §6.2)
  Next Start();
  std::optional<Problem> InvalidSpec() const;
  std::optional<Problem> CheckDuplicates(Status& kube_error);
  Next EnsureSoleOwner(const std::string& identity);
  std::optional<Problem> MissingWorkload();
  Next RecordAtTarget(const InspectResult& inspect, const core::ResolvedTargetStatus& resolved);
  bool RetryBlocked(const std::string& digest) const;
  Next KeepReportingFailure(const std::string& current);
  std::optional<Problem> RefusedTwice(const InspectResult& inspect, const std::string& digest);
  [[nodiscard]] Status ReportProblem(const Problem& problem, bool stalled);
  Next Refuse(const Problem& problem);
  Next Wait(const Problem& problem);
  Next Suspend(SchemaMigrationStatus next);

  // ---- plan.cpp: targets, the start of a run, phase Planning
  const core::ResolvedTargetStatus* PinnedTarget() const;
  std::string TargetToInspect() const;
  core::ResolvedTargetStatus ResolvedTarget(const InspectResult& inspect,
                                            const std::string& digest) const;
  Next StartRun(Inputs& inputs, const InspectResult& inspect,
                const core::ResolvedTargetStatus& resolved);
  Next Plan();
  std::optional<Problem> WorkloadsHeldByAnotherRun();
  Next RecordWorkloads();

  // ---- maintenance_gate.cpp: spec.maintenanceWindow (design §6.6)
  struct DowntimeEstimate {
    std::int64_t seconds = 0;  // 0: none
    std::string source;        // what it is, for messages
  };
  std::optional<Problem> UnknownTimeZone() const;
  DowntimeEstimate EstimateDowntime() const;
  std::optional<Next> MaintenanceWindowGate();
  Next WaitForWindow(const core::WindowDecision& d, const core::TimeZone& zone,
                     const DowntimeEstimate& estimate);
  // ---- rehearse.cpp: phase Rehearsing (spec.rehearse)
  bool RehearsalPending() const;
  bool RehearsalBlocks(const std::string& plan_digest) const;
  Next BeginRehearsal();
  Next Rehearse();
  Next ObserveRehearsal(RehearsalTicket ticket);
  // ---- job_rehearse.cpp: phase Rehearsing of a Job run (design §10.9)
  std::string JobRehearsalKey() const;
  std::string JobRehearsalSecret() const;
  Next RehearseWithJob();
  std::optional<Next> CleanUpJobRehearsal();
  Next StartJobRehearsal();
  Next StartRehearsalJob(const std::string& verb, const std::string& from, const std::string& to);
  Next JudgeRehearsalJob(const core::Result<JobState>& state);
  Next FinishJobRehearsal(bool succeeded, double seconds, const std::string& failure);
  Next RecordRehearsal(bool succeeded, double sql_seconds, double downtime,
                       const std::string& failure, bool scratch_dropped = true);

  // ---- scale_down.cpp
  Next ScaleDown();
  Next Drain();
  std::optional<Problem> FindRunningWriters(std::string& running, std::string& fought_back);
  Next FoughtBack(const core::WorkloadStatus& w, std::int32_t replicas);
  Next Redrain(const std::string& running);

  // ---- writers.cpp: autoscalers, a CronJob's Jobs, WorkloadFoughtBack (design §6.8)
  std::optional<Next> RecordAutoscalers(SchemaMigrationStatus& next, const core::WorkloadRef& w);
  [[nodiscard]] Status PauseAutoscalers();
  [[nodiscard]] Status ResumeAutoscalers();
  [[nodiscard]] Status DeleteJobsIfAsked(const core::WorkloadStatus& w);
  std::string FoughtBackMessage(const core::WorkloadStatus& w, std::int32_t replicas);
  std::optional<Next> CancelIfFoughtBack(bool& cancelled);

  // ---- backup.cpp
  Next BackUp();

  // ---- run_control.cpp: runs off the workers, cancels (design §6.5, §4.7)
  RunIdentity IdentityOfRun() const;
  RunControl ControlForRun() const;
  std::optional<std::string> NewAbortRequest() const;
  [[nodiscard]] Status RecordCancel(const std::string& reason, const std::string& message);
  std::optional<Next> CancelBeforeMigrating();
  std::optional<Next> AbortWithoutRun();
  Next ObserveRun(RunTicket ticket);
  std::optional<Next> WaitForRunOnDeletion();

  // ---- migrate.cpp
  Next Migrate();
  std::optional<Next> WritersBeforeMigrating();
  Next MigrateRefused(const Status& status);
  Next RecordMigrateResult(const MigrateResult& m);
  void MigratingEvent();

  // ---- restore.cpp
  Next AbortRun(const std::string& reason, const std::string& message);
  Next FinishRollback();
  Next ScaleUpAndFinish();
  // The end of a run: lastRun from run, run removed, the final phase;
  // `restored_now`: the workloads were restored in this step (Event).
  Next FinishRun(bool restored_now);

  // ---- phases.cpp: Expanding and Contracting (design §3.1, §6.3)
  bool SplitsPhases() const;
  core::RunPhase EnginePhase() const;  // of the phase the object is in
  std::string RouteText() const;
  void AddPhaseSeconds(SchemaMigrationStatus& next, core::RunPhase phase, double seconds);
  Next BeginExpanding();
  Next RunOutsideWindow();
  void PhaseEvents(const MigrateResult& m);
  Next RecordExpandResult(const core::Result<MigrateResult>& result);
  std::optional<Next> BeginContracting();
  // At the target with a contract pending (InspectResult::pending_contract):
  // a failed contract keeps being reported until a retry; otherwise (or on
  // a retry) a run of the contract alone starts, writers untouched.
  Next PendingContract(Inputs& inputs, const InspectResult& inspect,
                       const core::ResolvedTargetStatus& resolved);
  Next RecordContractResult(const core::Result<MigrateResult>& result);
  Next RestoreWorkloads(bool deleting);
  core::LastRunStatus LastRunOf(const core::RunStatus& run, core::Timestamp now) const;

  // ---- approval.cpp: spec.approval Manual, the gate of phase Planning (design §9)
  // nullopt: the run may go on; else what Planning returns (a wait, or
  // Continue after a replan so the Planning handler starts over).
  std::optional<Next> AwaitApproval();
  Next Replan();
  Next WaitForApproval();
  std::string ReviewHint() const;

  // ---- retry.cpp: the schemaop.dev/retry annotation (design §9)
  std::string RetryValue() const;
  bool RetryRequested() const;
  void MarkRetrySeen(SchemaMigrationStatus& next) const;
  void TakeRetry(SchemaMigrationStatus& next);
  void RetryEvent();

  // ---- deletion.cpp
  Next HandleDeletion();

  // ---- job_plan.cpp: spec.executor Job, inspection and the plan Job (design §10)
  bool JobRun() const;  // status.run.executor is Job
  // Files: DatabasePort::Inspect; Job: the version table only, the target
  // being spec.targetRevision (one revision id, core::CheckJobRunSpec).
  core::Result<InspectResult> InspectFor(const Inputs& inputs);
  std::optional<Problem> ExecutorChangedMidRun() const;
  std::string JobInputsDigest() const;
  std::string JobRunKey(const std::string& verb) const;
  // Records status.run.job {name, verb, Creating} (design §10.3: before the
  // Job exists), creates the Job (a 409 adopts it), records Running.
  // Continue once the Job exists.
  Next StartJob(const std::string& verb, const std::vector<std::string>& argv);
  std::optional<Next> RecordJobCreating(const std::string& name, const std::string& verb);
  std::optional<Next> DeleteRehearsalSecret();
  std::optional<Problem> CheckJobEnvReferences();
  // The Job of status.run.job: nullopt while it runs (requeued in *wait),
  // else its state (kNotFound: gone).
  std::optional<core::Result<JobState>> FinishedJob(Next* wait);
  std::string JobLogOf(const std::string& job);
  // The run's direction from the tool's graph (the history verb, design
  // §10.5), recorded in status.run.jobDirection; Continue once known.
  Next ResolveJobHead();
  Next DecideJobDirection();
  std::optional<Next> AwaitReadOnlyJob(const std::string& verb,
                                       const std::vector<std::string>& command,
                                       const std::string& from, const std::string& to,
                                       const std::string& what, JobState* state);
  Next PlanWithJob();
  // kVerbDowngrade when the run was decided to be a downgrade, else
  // kVerbUpgrade; the undo of a failed run uses the other one.
  std::string JobForwardVerb() const;
  std::string JobUndoVerb() const;
  // ---- job_run.cpp: the migration Job and its safety steps (design §10.4)
  std::optional<Next> RecordJobBaseline();
  Next MigrateWithJob();
  std::optional<Next> EndJobSessions(const std::string& job);
  // deletion.cpp: the same before a deleted object's writers come back.
  std::optional<Next> EndSessionsOnDeletion(const std::string& job);
  // run_control.cpp: an abort or the downtime budget while the Job runs.
  std::optional<Next> CancelRunningJob();
  Next JudgeForwardJob(const core::Result<JobState>& state);
  Next UndoWithJob();
  // `log`: the undo Job's log excerpt, kept in status.run.job.log.
  Next RestoreJobBackup(const std::string& log = "");
  Next FinishJobUndo(const JobCheck& check, const std::string& how, const std::string& log = "");

  // ---- inputs.cpp
  std::optional<Problem> LoadInputs(Inputs& out);
  std::optional<Problem> ReadCaCertificate(std::string& pem);
  void FillTarget(DatabaseTarget& t) const;
  std::optional<Problem> EnsureInputs();
  Problem KubeProblem(const Status& status, const std::string& what) const;
  Problem DatabaseProblem(const Status& status, const std::string& action) const;

  // ---- pass.cpp: status, intents, events, results
  const std::string& ns() const { return obj_.metadata.namespace_; }
  std::int64_t generation() const { return obj_.metadata.generation; }
  core::Timestamp Now() { return r_.clock_.Now(); }
  // spec.drainTimeoutSeconds, or its default when unset (0).
  int DrainTimeoutSeconds() const {
    return obj_.spec.drain_timeout_seconds > 0 ? obj_.spec.drain_timeout_seconds
                                               : core::kDefaultDrainTimeoutSeconds;
  }
  std::string Key() const { return ns() + "/" + obj_.metadata.name; }

  void SetCond(SchemaMigrationStatus& s, const char* type, ConditionStatus status,
               const std::string& reason, const std::string& message);
  // Ready, Reconciling and Stalled (kstatus) with one reason and message.
  void SetKstatus(SchemaMigrationStatus& s, ConditionStatus ready, ConditionStatus reconciling,
                  ConditionStatus stalled, const std::string& reason, const std::string& message);
  void SetAtTargetConditions(SchemaMigrationStatus& next);
  [[nodiscard]] Status Write(SchemaMigrationStatus next, bool* wrote = nullptr, bool force = false);
  void SetIntent(SchemaMigrationStatus& next, const char* intent);
  [[nodiscard]] Status RecordIntent(const char* intent);
  void Event(EventType type, const std::string& reason, const std::string& message);

  Next Requeue(std::chrono::milliseconds after, std::string metric);
  Next Finished(std::string metric);
  Next Stalled();
  Next Backoff(const Problem& problem);
  Next KubeFailure(const Status& status, const std::string& what);
  Next WriteFailed(const Status& status) { return KubeFailure(status, "Updating status"); }
  Next RetryRun(const Problem& problem);
  Next StopForInputProblem(const Problem& problem);

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
  // Replan dropped a run waiting for approval and runs Start again: that
  // run had been allowed to start (retry blocks do not apply), and its
  // status.run.retry carries over.
  bool replanning_ = false;
  std::string replanned_retry_;
  bool retry_started_ = false;  // TakeRetry made this pass's run a retry
  // The run on a run thread has ended (its result was handed out): no
  // status.progress is written from now on (design §6.8).
  bool run_ended_ = false;
};

}  // namespace schemaop::reconcile
