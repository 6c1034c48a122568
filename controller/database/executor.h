#pragma once
// Execution (design §4.5, §4.7): a pass over plan steps with a cursor,
// transactional sections accumulating in one transaction, transaction:false
// sections committing the open segment and running statement by statement
// in autocommit; and the undo after a failure. Internal header: libpqxx
// types; include only from controller/database.
#include <chrono>
#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/phase_schedule.h"
#include "core/planner.h"
#include "core/status.h"
#include "database/migrator.h"
#include "database/revision_archive.h"
#include "database/run_log.h"
#include "database/verifier.h"

namespace schemaop::database::internal {

struct Runtime;

// The start of the comment each migration query begins with (design
// §4.11): "/* schemaop:progress phase=forward step=2/3 section=1/2
// statement=4/7 */ " (each statement of every section is its own query).
inline constexpr const char* kProgressMarkerPrefix = "/* schemaop:progress ";

// Everything one execution pass needs and leaves behind.
struct ExecContext {
  std::int64_t run_id = 0;
  std::string phase;  // "forward" or "undo"
  json progress_extra = json::object();
  std::vector<core::PlanStep> steps;
  bool verify = false;
  RowBaseline rows;
  std::string final_outcome = "succeeded";
  std::string final_error;
  std::string final_error_code;  // core::CodeName of the failure, for replays
  Cursor committed;              // the last cursor that was committed
  bool any_commit = false;
  // A window run after its plan's expand phase (an earlier run) committed:
  // the units before the window are in the database, so a failed window is
  // undone back to the start of the plan, expand included (design §3.1).
  bool expand_committed = false;
  // The phases this pass runs (design §3.1): the units of the plan's
  // schedule from first's begin to last's end. kAll: every unit.
  core::RunPhase first = core::RunPhase::kAll;
  core::RunPhase last = core::RunPhase::kAll;
  // The schema fingerprint at the end: empty -> the revision reached (checked
  // against its record when there is one, then recorded, design §4.6); else a
  // phase boundary key (between expand and window, or window and contract),
  // recorded without comparison for the next phase's start.
  std::string end_boundary_key;
  // Whether the last transaction runs the user checks (not after expand:
  // they describe the target).
  bool run_checks = true;
  // The phases where the writers may run (expand, contract) leave the
  // row counts to the application; undo never runs for them (design §3.1).
  bool WritersMayRun() const {
    return (first == core::RunPhase::kExpand && last == core::RunPhase::kExpand) ||
           first == core::RunPhase::kContract;
  }
};

// The comment every query of migration SQL starts with (design §4.11):
// where the run stands, for pg_stat_activity while its transaction is open.
std::string ProgressMarker(const ExecContext& ctx, int s, int k, std::size_t sections,
                           int statement, std::size_t statements);

// The cursor naming unit `index` of `schedule` (the end of the plan for
// index == units.size()).
Cursor CursorAt(const core::PhaseSchedule& schedule, std::size_t index, std::size_t steps);

// The steps that undo what `forward` committed up to `committed`, newest
// first, each restoring the version rows from before its forward step.
// The steps that were touched are every step with a unit before
// `committed` in the whole plan's schedule (`schedule`, kAll), so a window
// run's undo also undoes what its expand phase did.
std::vector<core::PlanStep> UndoSteps(const std::vector<core::PlanStep>& forward,
                                      const std::vector<std::string>& from_versions,
                                      const core::PhaseSchedule& schedule, Cursor committed);

// The schedule of `steps` (their files' sections of the step's direction).
core::Result<core::PhaseSchedule> ScheduleOf(Runtime& rt, const Archive& archive,
                                             const std::vector<core::PlanStep>& steps);

class Executor {
 public:
  Executor(Runtime& rt, const Archive& archive) : rt_(rt), archive_(archive) {}

  // Runs ctx.steps from `start`: transactional sections accumulate in one
  // transaction; a transaction:false section commits it first and then runs
  // statement by statement in autocommit. Each step's version rows (and
  // archive row) go into the transaction that follows its last section; the
  // last transaction verifies and closes the run_log row, then COMMITs.
  core::Status Execute(ExecContext& ctx, Cursor start);

  // After a forward failure: nothing committed -> rolled back; Halt -> stays;
  // otherwise run the undo steps. Returns the outcome and fills *status.
  RunOutcome HandleFailure(ExecContext& forward, const std::vector<std::string>& from_versions,
                           core::Status* status);

 private:
  // One execution pass: the open transaction and what is being done, for the
  // error message. (Defined here for executor_batch.cpp.)
  struct Pass {
    ExecContext& ctx;
    std::optional<pqxx::work> tx;
    std::string where;
    std::size_t section_count = 0;  // of the step being run (ProgressMarker)
    core::PhaseSchedule schedule;
  };
  // `in_window`: the schedule puts the unit in the window (design §3.1).
  core::Status RunSectionUnit(Pass& pass, int s, int k, int first_statement, bool in_window);
  void RunStamp(Pass& pass, int s, Cursor next);
  void RunTransactionalSection(Pass& pass, int s, int k, const core::Section& section,
                               std::size_t section_count, const std::string& source_name);
  core::Status CommitSegment(Pass& pass, int s, int k);
  core::Status RunAutocommitSection(Pass& pass, int s, int k, const core::Section& section,
                                    int first_statement, const std::string& source_name);
  // executor_batch.cpp: a batch:N section, repetition by repetition.
  core::Status RunBatchSection(Pass& pass, int s, int k, const core::Section& section,
                               int first_repetition, const std::string& source_name);
  // executor_batch.cpp: a batch:N section the schedule puts in the window,
  // every repetition inside the window's open transaction.
  void RunBatchInWindow(Pass& pass, int s, int k, const core::Section& section,
                        const std::string& source_name);
  core::Status CheckAutocommitRows(Pass& pass);
  // The lock_timeout of statements that run beside the application (expand
  // sections, batch repetitions; design §3.1): the run's, or
  // expand_lock_timeout when the run's is 0 (off).
  std::chrono::milliseconds BesideWritersLockTimeout() const;
  // Whether `section` needs BesideWritersLockTimeout set around it: an
  // expand section of a run whose own lock_timeout is off.
  bool RaisesLockTimeout(const core::Section& section) const;
  core::Status FinishPass(Pass& pass);
  void CheckCancel(const ExecContext& ctx) const;
  void ArmCancel(const ExecContext& ctx);
  core::Status Cancelled(const core::Status& why, const std::string& where) const;
  void DropInvalidIndex(const std::string& statement);
  RunOutcome Undo(ExecContext& forward, const std::vector<std::string>& from_versions,
                  core::Status* status);
  bool FailedInContract(const ExecContext& forward) const;

  Runtime& rt_;
  const Archive& archive_;
};

}  // namespace schemaop::database::internal
