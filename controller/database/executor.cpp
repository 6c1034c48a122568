#include "database/executor.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <regex>

#include "core/sql_splitter.h"
#include "database/runtime.h"
#include "database/version_table.h"

namespace schemaop::database::internal {
namespace {

using Clock = std::chrono::steady_clock;
using core::Code;
using core::Status;

core::Direction Invert(core::Direction direction) {
  return direction == core::Direction::kUp ? core::Direction::kDown : core::Direction::kUp;
}

// The index name of `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name`,
// or empty when `sql` is not such a statement.
std::string ConcurrentIndexName(const std::string& sql) {
  static const std::regex kPattern(
      R"re(^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+("([^"]+)"|([A-Za-z_][A-Za-z0-9_$]*)))re",
      std::regex::icase);
  std::smatch match;
  if (!std::regex_search(sql, match, kPattern)) {
    return {};
  }
  if (match[3].matched) {
    return match[3].str();
  }
  std::string name = match[4].str();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

std::string SectionWhere(const core::PlanStep& step, const std::string& source_name,
                         const core::Section& section) {
  return "revision " + step.revision + " (" + source_name + ") " +
         core::DirectionName(step.direction) + " section at line " +
         std::to_string(section.first_line);
}

// A cancel request seen at a check point of the forward pass.
struct CancelledError {
  Status why;
};

}  // namespace

// Live progress (design §4.11): every query that runs migration SQL starts
// with this comment, so pg_stat_activity.query of the run's backend tells
// where the run stands while a transaction is still open (run_log shows
// only what committed). Numbers and the phase only, never SQL: the reader
// (ParseProgressMarker, live_progress.cpp) extracts nothing else. No line
// break, so the server's line numbers in error messages stay the file's.
std::string ProgressMarker(const ExecContext& ctx, int s, int k, std::size_t sections,
                           int statement, std::size_t statements) {
  auto of = [](std::size_t i, std::size_t n) {
    return std::to_string(i) + "/" + std::to_string(n);
  };
  return std::string(kProgressMarkerPrefix) + "phase=" + ctx.phase +
         " step=" + of(static_cast<std::size_t>(s) + 1, ctx.steps.size()) +
         " section=" + of(static_cast<std::size_t>(k) + 1, sections) +
         " statement=" + of(static_cast<std::size_t>(statement), statements) + " */ ";
}

// Design §4.7 "Cancelling a run": the forward pass stops at the next check
// point once a cancel was requested; the undo is never cancelled.
void Executor::CheckCancel(const ExecContext& ctx) const {
  if (ctx.phase != "forward" || !rt_.options.cancel) {
    return;
  }
  if (auto why = rt_.options.cancel->requested()) {
    throw CancelledError{*why};
  }
}

// While the forward pass runs, a cancel request interrupts the statement
// in flight: pg_cancel_backend on the run session's backend, from a session
// of its own, only while that backend still carries this run's
// application_name (a pid is never taken for another session's).
void Executor::ArmCancel(const ExecContext& ctx) {
  if (ctx.phase != "forward" || !rt_.options.cancel) {
    return;
  }
  const int pid = rt_.session->conn().backendpid();
  const std::string application_name = SessionName(rt_.options);
  rt_.options.cancel->Arm([this, pid, application_name] {
    auto canceller = rt_.OpenSession();
    if (!canceller.ok()) {
      rt_.Emit("server-error", "cancel: " + canceller.status().message());
      return;  // the next check point stops the pass
    }
    try {
      pqxx::nontransaction tx((*canceller)->conn());
      tx.exec_params("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                     "WHERE pid = $1 AND application_name = $2",
                     pid, application_name);
    } catch (const std::exception& error) {
      rt_.Emit("server-error", std::string("cancel: ") + error.what());
    }
  });
}

Cursor CursorAt(const core::PhaseSchedule& schedule, std::size_t index, std::size_t steps) {
  if (index >= schedule.units.size()) {
    return Cursor{static_cast<int>(steps), 0, 0};
  }
  return Cursor{schedule.units[index].step, schedule.units[index].section, 0};
}

core::Result<core::PhaseSchedule> ScheduleOf(Runtime& rt, const Archive& archive,
                                             const std::vector<core::PlanStep>& steps) {
  std::vector<std::vector<core::SectionPhase>> phases;
  for (const auto& step : steps) {
    auto file = rt.scripts.FileFor(step.revision, archive);
    if (!file.ok()) {
      return file.status();
    }
    phases.push_back(core::SectionPhasesOf(**file, step.direction));
  }
  return core::SchedulePhases(phases);
}

std::vector<core::PlanStep> UndoSteps(const std::vector<core::PlanStep>& forward,
                                      const std::vector<std::string>& from_versions,
                                      const core::PhaseSchedule& schedule, Cursor committed) {
  // The last step touched: a unit before the committed cursor, or the
  // cursor's own unit when statements of it committed.
  const std::size_t at = schedule.IndexOf(committed.step, committed.section);
  int last = -1;
  for (std::size_t i = 0; i < schedule.units.size(); ++i) {
    if (i < at || (i == at && committed.statement > 0)) {
      last = std::max(last, schedule.units[i].step);
    }
  }
  last = std::min(last, static_cast<int>(forward.size()) - 1);
  std::vector<core::PlanStep> undo;
  for (int i = last; i >= 0; --i) {
    core::PlanStep step;
    step.revision = forward[static_cast<std::size_t>(i)].revision;
    step.direction = Invert(forward[static_cast<std::size_t>(i)].direction);
    step.versions_after =
        i == 0 ? from_versions : forward[static_cast<std::size_t>(i - 1)].versions_after;
    undo.push_back(std::move(step));
  }
  return undo;
}

void Executor::DropInvalidIndex(const std::string& statement) {
  std::string name = ConcurrentIndexName(statement);
  if (name.empty()) {
    return;
  }
  std::vector<std::string> invalid;
  {
    pqxx::read_transaction tx(rt_.session->conn());
    for (const auto& row : tx.exec_params(
             "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
             "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = "
             "c.relnamespace "
             "WHERE c.relname = $1 AND NOT i.indisvalid AND n.nspname = ANY "
             "(current_schemas(false))",
             name)) {
      invalid.push_back(row[0].as<std::string>());
    }
  }
  for (const auto& index : invalid) {
    rt_.Emit("migrating", "dropping INVALID index " + index +
                              " left by an earlier failed build, so it is rebuilt");
    pqxx::nontransaction tx(rt_.session->conn());
    tx.exec("DROP INDEX CONCURRENTLY IF EXISTS " + index);
  }
}

void Executor::RunTransactionalSection(Pass& pass, int s, int k, const core::Section& section,
                                       std::size_t section_count, const std::string& source_name) {
  const auto& step = pass.ctx.steps[static_cast<std::size_t>(s)];
  if (!pass.tx) {
    pass.tx.emplace(rt_.session->conn());
  }
  rt_.Emit("migrating",
           std::string(pass.ctx.phase == "undo" ? "undoing: " : "") +
               DirectionWord(step.direction) + " " + step.revision + " section " +
               std::to_string(k + 1) + "/" + std::to_string(section_count) + " (" + source_name +
               ")",
           s, step.revision, step.direction, k, -1);
  // An expand section waits at most BesideWritersLockTimeout for a lock,
  // for this section only (the transaction may go on with window sections).
  const bool raise_lock_timeout = RaisesLockTimeout(section);
  if (raise_lock_timeout) {
    pass.tx->exec("SET LOCAL lock_timeout = " +
                  std::to_string(BesideWritersLockTimeout().count()));
  }
  // Statement by statement inside the open transaction, like `psql -f`, so
  // the live progress names the statement (design §4.11). A split the
  // server disagrees with fails inside the transaction, which rolls back:
  // it can stop a run, never commit half a section.
  const std::string section_where = pass.where;
  const auto statements = core::SplitSqlStatements(section.sql);
  for (std::size_t m = 0; m < statements.size(); ++m) {
    const auto& statement = statements[m];
    pass.where = section_where + ", statement " + std::to_string(m + 1) + "/" +
                 std::to_string(statements.size()) + " at line " +
                 std::to_string(section.first_line + statement.first_line);
    CheckCancel(pass.ctx);
    auto t0 = Clock::now();
    pass.tx->exec(ProgressMarker(pass.ctx, s, k, section_count, static_cast<int>(m) + 1,
                                 statements.size()) +
                  statement.text);
    rt_.sql_time += Clock::now() - t0;
  }
  if (raise_lock_timeout) {
    pass.tx->exec("SET LOCAL lock_timeout = " + std::to_string(rt_.options.lock_timeout.count()));
  }
  pass.where = section_where;
}

std::chrono::milliseconds Executor::BesideWritersLockTimeout() const {
  return rt_.options.lock_timeout.count() > 0 ? rt_.options.lock_timeout
                                              : rt_.options.expand_lock_timeout;
}

bool Executor::RaisesLockTimeout(const core::Section& section) const {
  return section.phase == core::SectionPhase::kExpand && rt_.options.lock_timeout.count() == 0 &&
         rt_.options.expand_lock_timeout.count() > 0;
}

// The open transaction before a transaction:false section: verified (rows),
// cursor written, lock checked, committed (a segment).
Status Executor::CommitSegment(Pass& pass, int s, int k) {
  ExecContext& ctx = pass.ctx;
  if (ctx.verify && rt_.options.verify_row_counts) {
    // A segment is verified before its COMMIT, like the last one.
    Status rows = CheckRowLoss(*pass.tx, rt_.VersionTable(), ctx.rows,
                               "before committing the segment ending at " + pass.where);
    if (!rows.ok()) {
      pass.tx.reset();
      return rows;
    }
  }
  const std::string& revision = ctx.steps[static_cast<std::size_t>(s)].revision;
  WriteProgress(*pass.tx, ctx.run_id, ctx.progress_extra, ctx.phase, Cursor{s, k, 0}, revision);
  rt_.lock.Require(*pass.tx);
  pass.tx->commit();
  pass.tx.reset();
  ctx.committed = Cursor{s, k, 0};
  ctx.any_commit = true;
  rt_.Emit("committed", "committed segment before " + pass.where);
  return Status::Ok();
}

// An autocommit statement commits by itself: a loss it caused can only be
// detected after it, and stops the run here.
Status Executor::CheckAutocommitRows(Pass& pass) {
  if (!pass.ctx.verify || !rt_.options.verify_row_counts) {
    return Status::Ok();
  }
  pqxx::read_transaction check_tx(rt_.session->conn());
  Status rows = CheckRowLoss(check_tx, rt_.VersionTable(), pass.ctx.rows,
                             "after the transaction:false statement at " + pass.where);
  if (rows.ok()) {
    return rows;
  }
  return Status(rows.code(),
                rows.message() +
                    " (a transaction:false statement commits on its own: "
                    "the rows are gone; restore them from a backup — "
                    "backup.when: Always / --backup always takes one "
                    "before upgrades too)",
                rows.detail());
}

Status Executor::RunAutocommitSection(Pass& pass, int s, int k, const core::Section& section,
                                      int first_statement, const std::string& source_name) {
  ExecContext& ctx = pass.ctx;
  const auto& step = ctx.steps[static_cast<std::size_t>(s)];
  auto& conn = rt_.session->conn();
  auto statements = core::SplitSqlStatements(section.sql);
  for (int m = first_statement; m < static_cast<int>(statements.size()); ++m) {
    const auto& statement = statements[static_cast<std::size_t>(m)];
    pass.where = "revision " + step.revision + " (" + source_name + ") " +
                 core::DirectionName(step.direction) + " transaction:false statement at line " +
                 std::to_string(section.first_line + statement.first_line);
    DropInvalidIndex(statement.text);
    rt_.Emit("migrating",
             std::string(ctx.phase == "undo" ? "undoing: " : "") + DirectionWord(step.direction) +
                 " " + step.revision + " section " + std::to_string(k + 1) + " statement " +
                 std::to_string(m + 1) + "/" + std::to_string(statements.size()) + " (autocommit)",
             s, step.revision, step.direction, k, m);
    CheckCancel(ctx);
    // An expand statement waits at most BesideWritersLockTimeout for a
    // lock: set session-wide around this statement only (it runs outside a
    // transaction block, where SET LOCAL would not last), and set back also
    // when the statement fails, unless the connection is gone.
    const bool raise_lock_timeout = RaisesLockTimeout(section);
    std::exception_ptr failure;
    {
      pqxx::nontransaction autocommit(conn);
      rt_.lock.Require(autocommit);
      if (raise_lock_timeout) {
        autocommit.exec("SET lock_timeout = " +
                        std::to_string(BesideWritersLockTimeout().count()));
      }
      auto t0 = Clock::now();
      try {
        autocommit.exec(ProgressMarker(ctx, s, k, pass.section_count, m + 1, statements.size()) +
                        statement.text);
      } catch (...) {
        failure = std::current_exception();
      }
      rt_.sql_time += Clock::now() - t0;
    }
    if (raise_lock_timeout) {
      try {
        pqxx::nontransaction reset(conn);
        reset.exec("SET lock_timeout = " + std::to_string(rt_.options.lock_timeout.count()));
      } catch (const std::exception&) {
        if (!failure) {
          throw;
        }
      }
    }
    if (failure) {
      std::rethrow_exception(failure);
    }
    {
      pqxx::work progress_tx(conn);
      WriteProgress(progress_tx, ctx.run_id, ctx.progress_extra, ctx.phase, Cursor{s, k, m + 1},
                    step.revision);
      rt_.lock.Require(progress_tx);
      progress_tx.commit();
    }
    ctx.committed = Cursor{s, k, m + 1};
    ctx.any_commit = true;
    if (Status rows = CheckAutocommitRows(pass); !rows.ok()) {
      return rows;
    }
  }
  return Status::Ok();
}

Status Executor::RunSectionUnit(Pass& pass, int s, int k, int first_statement, bool in_window) {
  ExecContext& ctx = pass.ctx;
  const auto& step = ctx.steps[static_cast<std::size_t>(s)];
  auto file_or = rt_.scripts.FileFor(step.revision, archive_);
  if (!file_or.ok()) {
    return file_or.status();
  }
  const core::MigrationFile& file = **file_or;
  auto sections = file.SectionsFor(step.direction);
  pass.section_count = sections.size();
  const core::Section& section = *sections.at(static_cast<std::size_t>(k));
  pass.where = SectionWhere(step, file.source_name, section);
  if (section.transactional && section.batch_rows == 0) {
    RunTransactionalSection(pass, s, k, section, sections.size(), file.source_name);
    return Status::Ok();
  }
  if (section.batch_rows > 0 && in_window) {
    // A batch section the schedule moved into the window (a contract
    // section before a later step's window section): the writers are at
    // zero, so it joins the window's transaction and the window stays one
    // atomic step (design §3.1, "batch:N execution").
    RunBatchInWindow(pass, s, k, section, file.source_name);
    return Status::Ok();
  }
  // A transaction:false or batch:N section commits as it goes: the open
  // segment commits first.
  if (pass.tx) {
    if (Status committed = CommitSegment(pass, s, k); !committed.ok()) {
      return committed;
    }
  }
  return section.batch_rows > 0
             ? RunBatchSection(pass, s, k, section, first_statement, file.source_name)
             : RunAutocommitSection(pass, s, k, section, first_statement, file.source_name);
}

// A step's version rows (and archive row, for an upgrade of a shipped file)
// go into the open transaction with the cursor of the next unit (design
// §3.1: where the schedule puts the step's stamp).
void Executor::RunStamp(Pass& pass, int s, Cursor next) {
  ExecContext& ctx = pass.ctx;
  const auto& step = ctx.steps[static_cast<std::size_t>(s)];
  pass.where = "recording revision " + step.revision + " in " + rt_.VersionTable();
  if (!pass.tx) {
    pass.tx.emplace(rt_.session->conn());
  }
  WriteVersions(*pass.tx, rt_.VersionTable(), step.versions_after);
  if (step.direction == core::Direction::kUp) {
    auto file = rt_.scripts.FileFor(step.revision, archive_);
    if (file.ok() && rt_.scripts.GivenFile(step.revision) == *file) {
      ArchiveFile(*pass.tx, **file, /*overwrite=*/true);
    }
  }
  WriteProgress(*pass.tx, ctx.run_id, ctx.progress_extra, ctx.phase, next, step.revision);
}

// The last transaction: verification, the fingerprint reached, the run_log
// row closed, COMMIT.
Status Executor::FinishPass(Pass& pass) {
  ExecContext& ctx = pass.ctx;
  if (!pass.tx) {
    pass.tx.emplace(rt_.session->conn());
  }
  if (ctx.verify && !ctx.steps.empty()) {
    std::optional<SchemaFingerprint> live;
    const std::vector<std::string>& reached = ctx.steps.back().versions_after;
    Status verified = ctx.end_boundary_key.empty()
                          ? VerifyInTransaction(rt_, *pass.tx, ctx.rows, reached, &live)
                          : VerifyAtBoundary(rt_, *pass.tx, ctx.rows, ctx.run_checks, &live);
    if (!verified.ok()) {
      pass.tx.reset();
      return verified;
    }
    if (ctx.end_boundary_key.empty()) {
      pass.where = "recording the schema fingerprint of " + VersionsText(reached);
      RecordFingerprint(*pass.tx, reached, *live, ctx.run_id);
    } else {
      pass.where = "recording the schema fingerprint at " + ctx.end_boundary_key;
      RecordFingerprintAt(*pass.tx, ctx.end_boundary_key, *live, ctx.run_id);
    }
  }
  pass.where = "closing the run";
  CloseRunIn(*pass.tx, ctx.run_id, ctx.final_outcome, ctx.final_error, ctx.final_error_code);
  rt_.lock.Require(*pass.tx);
  CheckCancel(ctx);
  if (rt_.options.cancel && ctx.phase == "forward") {
    // The COMMIT itself is never interrupted: from here the run commits.
    rt_.options.cancel->Disarm();
  }
  pass.tx->commit();
  pass.tx.reset();
  ctx.committed = Cursor{static_cast<int>(ctx.steps.size()), 0, 0};
  ctx.any_commit = true;
  rt_.Emit("committed", ctx.phase == "undo" ? "undo committed" : "committed");
  return Status::Ok();
}

Status Executor::Execute(ExecContext& ctx, Cursor start) {
  Pass pass{ctx, std::nullopt, {}};
  auto schedule = ScheduleOf(rt_, archive_, ctx.steps);
  if (!schedule.ok()) {
    return schedule.status();
  }
  pass.schedule = std::move(schedule).value();
  const std::size_t end = pass.schedule.End(ctx.last);
  const std::size_t begin = std::max(pass.schedule.Begin(ctx.first),
                                     pass.schedule.IndexOf(start.step, start.section));
  if (ctx.phase == "forward" && ctx.first == core::RunPhase::kWindow && !ctx.any_commit &&
      pass.schedule.Begin(core::RunPhase::kWindow) > 0) {
    ctx.expand_committed = true;
    ctx.committed = CursorAt(pass.schedule, pass.schedule.Begin(core::RunPhase::kWindow),
                             ctx.steps.size());
  }
  struct Disarm {
    const std::shared_ptr<RunCancel>& cancel;
    ~Disarm() {
      if (cancel) cancel->Disarm();
    }
  } disarm{rt_.options.cancel};
  try {
    ArmCancel(ctx);
    for (std::size_t i = begin; i < end; ++i) {
      const core::PhaseUnit unit = pass.schedule.units[i];
      if (unit.stamp) {
        RunStamp(pass, unit.step, CursorAt(pass.schedule, i + 1, ctx.steps.size()));
        continue;
      }
      const bool resumed_here = unit.step == start.step && unit.section == start.section;
      const bool in_window =
          i >= pass.schedule.window_begin && i < pass.schedule.contract_begin;
      if (Status ran = RunSectionUnit(pass, unit.step, unit.section,
                                      resumed_here ? start.statement : 0, in_window);
          !ran.ok()) {
        return ran;
      }
    }
    return FinishPass(pass);
  } catch (const CancelledError& cancelled) {
    pass.tx.reset();
    return Cancelled(cancelled.why, pass.where);
  } catch (const LockLostError& error) {
    pass.tx.reset();
    return Status(Code::kLockHeld, std::string(error.what()) + " (" + pass.where + ")",
                  "lock-lost");
  } catch (const std::exception& error) {
    pass.tx.reset();
    if (rt_.options.cancel && ctx.phase == "forward" &&
        dynamic_cast<const pqxx::sql_error*>(&error) != nullptr) {
      if (auto why = rt_.options.cancel->requested()) {
        // Our pg_cancel_backend ended the statement (57014).
        (void)rt_.FromException(error, pass.where);  // the server's message, debug log only
        return Cancelled(*why, pass.where);
      }
    }
    return rt_.FromException(
        error, pass.where.empty() ? std::string("migration failed") : "failed in " + pass.where);
  }
}

Status Executor::Cancelled(const Status& why, const std::string& where) const {
  rt_.Emit("cancelled", "cancelled " + (where.empty() ? std::string() : "in " + where + ": ") +
                            why.message());
  return Status(why.code(), why.message() + (where.empty() ? "" : " (cancelled in " + where + ")"),
                why.detail().empty() ? std::string("cancelled") : why.detail());
}

// Whether a run of several phases failed in its contract units: its
// committed cursor is at or past the contract's first unit, so the window
// (and the version stamp at its end) committed.
bool Executor::FailedInContract(const ExecContext& forward) const {
  const bool through_contract =
      forward.last == core::RunPhase::kContract || forward.last == core::RunPhase::kAll;
  if (!forward.any_commit || !through_contract || forward.first == core::RunPhase::kContract) {
    return false;
  }
  auto schedule = ScheduleOf(rt_, archive_, forward.steps);
  if (!schedule.ok() || !schedule->HasContract()) {
    return false;
  }
  const std::size_t at = schedule->IndexOf(forward.committed.step, forward.committed.section);
  return at >= schedule->contract_begin && at < schedule->units.size();
}

RunOutcome Executor::HandleFailure(ExecContext& forward,
                                   const std::vector<std::string>& from_versions, Status* status) {
  std::string error = status->message();
  if (status->code() == Code::kUnreachable || status->detail() == "lock-lost") {
    // Cannot undo or record without a connection, and must not without the
    // lock (another run may hold it now); the next run recovers. A lost
    // COMMIT (in doubt) may have taken effect: never claim a rollback then.
    return forward.any_commit || status->detail() == "in-doubt" ? RunOutcome::kFailed
                                                                : RunOutcome::kRolledBack;
  }
  // A failed window after its expand (writers at zero) counts as committed:
  // it is undone to the start of the plan, so RolledBack means the database
  // as it was before the expand, schema and rows; with failure policy Halt
  // it ends Failed, left as committed (below). Not after a shutdown's
  // cancel: the next controller runs the window again on the expanded
  // schema (§6.5).
  const bool undo_expand = forward.expand_committed && !forward.any_commit &&
                           status->detail() != kCancelRetryableDetail;
  if (!forward.any_commit && !undo_expand) {
    CloseRun(rt_, forward.run_id, "rolled_back", error, status->code());
    rt_.Emit("rolled-back", "rolled back: the database is at " + VersionsText(from_versions));
    return RunOutcome::kRolledBack;
  }
  if (FailedInContract(forward)) {
    // The window committed the target earlier in this same run (a run of
    // every phase, as `schemaop upgrade` without --phase runs it): a
    // failed contract is never undone (design §3.1, "Failure per phase").
    // The new revision is committed and its application may run; the run
    // closes failed with its cursor in the contract, so the next run of the
    // plan (or `--phase contract`) resumes it there (DecideAtTarget).
    *status = Status(status->code(),
                     error + " (phase contract: the window committed " +
                         VersionsText(forward.steps.back().versions_after) +
                         "; left as committed, never undone; running the same target again, or "
                         "--phase contract, resumes where it stopped)",
                     status->detail());
    CloseRun(rt_, forward.run_id, "failed", status->message(), status->code());
    rt_.Emit("halted", "the contract phase failed after the window committed; left as "
                       "committed (a failed contract is never undone)");
    return RunOutcome::kFailed;
  }
  if (forward.WritersMayRun()) {
    // Expand and contract run beside the application: an undo (the down
    // sections, written for writers at zero) must not run then. The phase
    // stays as committed; a later run of the same phase resumes at its
    // cursor (design §3.1).
    *status = Status(status->code(),
                     error + " (phase " + core::RunPhaseName(forward.first) +
                         ": left as committed, never undone; a retry of this phase resumes "
                         "where it stopped)",
                     status->detail());
    CloseRun(rt_, forward.run_id, "failed", status->message(), status->code());
    rt_.Emit("halted", "phase " + core::RunPhaseName(forward.first) +
                           " failed; left as committed (never undone beside the application)");
    return RunOutcome::kFailed;
  }
  if (rt_.options.failure_policy == FailurePolicy::kHalt) {
    CloseRun(rt_, forward.run_id, "failed", error + " (failure policy Halt: left as committed)",
             status->code());
    rt_.Emit("halted", "halted after a committed segment or expand (failure policy Halt)");
    return RunOutcome::kFailed;
  }
  return Undo(forward, from_versions, status);
}

// Failure policy Rollback after a commit: the undo steps are recorded in a
// committed transaction, then executed like a forward run.
RunOutcome Executor::Undo(ExecContext& forward, const std::vector<std::string>& from_versions,
                          Status* status) {
  std::string error = status->message();
  ExecContext undo;
  undo.run_id = forward.run_id;
  undo.phase = "undo";
  auto whole = ScheduleOf(rt_, archive_, forward.steps);
  if (!whole.ok()) {
    *status = Status(status->code(), error + "; and planning the undo failed: " +
                                         whole.status().message(), status->detail());
    CloseRun(rt_, forward.run_id, "failed", status->message(), status->code());
    return RunOutcome::kFailed;
  }
  undo.steps = UndoSteps(forward.steps, from_versions, *whole, forward.committed);
  undo.progress_extra = {{"undo_steps", StepsToJson(undo.steps)},
                         {"error", error},
                         {"error_code", core::CodeName(status->code())}};
  undo.final_outcome = "rolled_back";
  undo.final_error = error;
  undo.final_error_code = core::CodeName(status->code());
  rt_.Emit("rolling-back", "undoing " + std::to_string(undo.steps.size()) +
                               " step(s) applied by this run: " + error);
  try {
    pqxx::work tx(rt_.session->conn());
    WriteProgress(tx, undo.run_id, undo.progress_extra, undo.phase, Cursor{},
                  undo.steps.empty() ? "" : undo.steps.front().revision);
    rt_.lock.Require(tx);
    tx.commit();
  } catch (const LockLostError& e) {
    *status = Status(Code::kLockHeld, error + "; " + e.what(), "lock-lost");
    return RunOutcome::kFailed;
  } catch (const std::exception& e) {
    *status = rt_.FromException(e, error + "; and recording the undo failed");
    return RunOutcome::kFailed;
  }
  Status undone = Execute(undo, Cursor{});
  if (!undone.ok()) {
    *status =
        Status(status->code(),
               error + "; undoing it also failed: " + undone.message() +
                   ". The database is between revisions: restore the backup or fix and re-run",
               status->detail());
    CloseRun(rt_, forward.run_id, "failed", status->message(), status->code());
    return RunOutcome::kFailed;
  }
  rt_.Emit("rolled-back", "rolled back: the database is at " + VersionsText(from_versions));
  return RunOutcome::kRolledBack;
}

}  // namespace schemaop::database::internal
