// batch:N sections (design §3.1): the section's one statement runs again and
// again, each repetition in its own transaction with the run's cursor, until
// it affects no row. A run resumed after a crash continues with the next
// repetition: the statement selects the rows still to do, so a repetition
// that committed is never repeated and one that did not left nothing. A
// batch section the schedule puts in the window runs every repetition in the
// window's transaction instead (RunBatchInWindow): a window is one atomic
// step.
#include <chrono>

#include "core/sql_splitter.h"
#include "database/executor.h"
#include "database/runtime.h"

namespace schemaop::database::internal {

namespace {

using Clock = std::chrono::steady_clock;
using core::Status;

}  // namespace

Status Executor::RunBatchSection(Pass& pass, int s, int k, const core::Section& section,
                                 int first_repetition, const std::string& source_name) {
  ExecContext& ctx = pass.ctx;
  const auto& step = ctx.steps[static_cast<std::size_t>(s)];
  auto& conn = rt_.session->conn();
  const std::string statement = core::SplitSqlStatements(section.sql).front().text;
  const std::string what = std::string(ctx.phase == "undo" ? "undoing: " : "") +
                           DirectionWord(step.direction) + " " + step.revision + " section " +
                           std::to_string(k + 1) + " (" + source_name +
                           ", phase:" + core::SectionPhaseName(section.phase) +
                           " batch:" + std::to_string(section.batch_rows) + ")";
  // lock_timeout is always on for a batch (design §3.1): the old application
  // may be writing, and a repetition waiting behind it would block it in turn.
  const std::chrono::milliseconds lock_timeout = BesideWritersLockTimeout();
  std::int64_t rows_this_pass = 0;
  for (int m = first_repetition;; ++m) {
    pass.where = "revision " + step.revision + " (" + source_name + ") " +
                 core::DirectionName(step.direction) + " batch section at line " +
                 std::to_string(section.first_line) + ", repetition " + std::to_string(m + 1);
    CheckCancel(ctx);
    pqxx::work tx(conn);
    tx.exec("SET LOCAL lock_timeout = " + std::to_string(lock_timeout.count()));
    auto t0 = Clock::now();
    const pqxx::result result = tx.exec(statement);
    rt_.sql_time += Clock::now() - t0;
    const std::int64_t affected = result.affected_rows();
    rows_this_pass += affected;
    json extra = ctx.progress_extra;
    extra["batch"] = {{"revision", step.revision},
                      {"section", k},
                      {"repetitions", m + 1},
                      {"rows_this_pass", rows_this_pass},
                      {"done", affected == 0}};
    WriteProgress(tx, ctx.run_id, extra, ctx.phase, Cursor{s, k, m + 1}, step.revision);
    rt_.lock.Require(tx);
    tx.commit();
    ctx.progress_extra = std::move(extra);  // later cursor writes of the run carry it
    ctx.committed = Cursor{s, k, m + 1};
    ctx.any_commit = true;
    rt_.Emit("migrating",
             what + " repetition " + std::to_string(m + 1) + ": " + std::to_string(affected) +
                 " row(s), " + std::to_string(rows_this_pass) + " in this pass",
             s, step.revision, step.direction, k, m);
    if (affected == 0) {
      break;
    }
  }
  return CheckAutocommitRows(pass);
}

void Executor::RunBatchInWindow(Pass& pass, int s, int k, const core::Section& section,
                                const std::string& source_name) {
  ExecContext& ctx = pass.ctx;
  const auto& step = ctx.steps[static_cast<std::size_t>(s)];
  if (!pass.tx) {
    pass.tx.emplace(rt_.session->conn());
  }
  const std::string statement = core::SplitSqlStatements(section.sql).front().text;
  const std::string section_where = pass.where;
  std::int64_t rows = 0;
  for (int m = 0;; ++m) {
    pass.where = section_where + ", repetition " + std::to_string(m + 1) +
                 " (in the window's transaction)";
    CheckCancel(ctx);
    auto t0 = Clock::now();
    const pqxx::result result = pass.tx->exec(
        ProgressMarker(ctx, s, k, pass.section_count, 1, 1) + statement);
    rt_.sql_time += Clock::now() - t0;
    const std::int64_t affected = result.affected_rows();
    rows += affected;
    rt_.Emit("migrating",
             std::string(ctx.phase == "undo" ? "undoing: " : "") + DirectionWord(step.direction) +
                 " " + step.revision + " section " + std::to_string(k + 1) + " (" +
                 source_name + ", batch:" + std::to_string(section.batch_rows) +
                 " in the window's transaction) repetition " + std::to_string(m + 1) + ": " +
                 std::to_string(affected) + " row(s), " + std::to_string(rows) + " in all",
             s, step.revision, step.direction, k, m);
    if (affected == 0) {
      break;
    }
  }
  pass.where = section_where;
}

}  // namespace schemaop::database::internal
