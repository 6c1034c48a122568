// Migrator::Progress (design §4.11): where the run in progress stands, from
// the database alone. The run is the 'running' row of schemaop.run_log (its
// plan, its committed cursor, its start); the statement running now is read
// from the progress marker at the start of its backend's
// pg_stat_activity.query (the backend: the pid the run_log row records,
// with an application_name 'schemaop…'), and its work from
// pg_stat_progress_*. Only
// the marker's numbers are read from the query text, never the SQL.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "database/executor.h"
#include "database/migrator_impl.h"
#include "database/runtime.h"

namespace schemaop::database {
namespace {

using core::Code;
using core::RunProgress;
using core::Status;
using nlohmann::json;

std::string RunLog() { return std::string(internal::kSchema) + ".run_log"; }

// The plan step `index` (0-based) of the steps array `steps`: revision and
// direction word.
void NameStep(const json& steps, int index, RunProgress& p) {
  if (!steps.is_array() || index < 0 || index >= static_cast<int>(steps.size())) {
    return;
  }
  const json& step = steps[static_cast<std::size_t>(index)];
  p.revision = step.value("revision", "");
  p.direction = step.value("direction", "") == "up" ? "upgrade" : "downgrade";
}

// The run's position from its committed cursor (run_log.progress).
void FromCursor(const json& plan, const json& progress, RunProgress& p) {
  p.phase = progress.value("phase", "forward");
  const json& steps = p.phase == "undo" && progress.contains("undo_steps")
                          ? progress.at("undo_steps")
                          : plan.value("steps", json::array());
  p.steps = steps.is_array() ? static_cast<int>(steps.size()) : 0;
  const int cursor_step = progress.value("step", 0);
  p.step = std::min(cursor_step + 1, p.steps);
  NameStep(steps, p.step - 1, p);
  p.section = progress.value("section", 0) + 1;
}

std::optional<core::StatementWork> ReadWork(pqxx::transaction_base& tx, int pid) {
  auto rows = tx.exec_params(
      "SELECT command, phase, tuples_done, tuples_total, blocks_done, blocks_total "
      "FROM pg_stat_progress_create_index WHERE pid = $1 "
      "UNION ALL SELECT command, phase, heap_tuples_scanned, 0, heap_blks_scanned, "
      "heap_blks_total FROM pg_stat_progress_cluster WHERE pid = $1",
      pid);
  if (rows.empty() && tx.conn().server_version() >= 140000) {
    rows = tx.exec_params("SELECT command, type, tuples_processed, 0, 0, 0 "
                          "FROM pg_stat_progress_copy WHERE pid = $1",
                          pid);
  }
  if (rows.empty()) {
    return std::nullopt;
  }
  const auto& row = rows[0];
  core::StatementWork work;
  work.command = row[0].as<std::string>("");
  work.phase = row[1].as<std::string>("");
  const std::int64_t tuples_done = row[2].as<std::int64_t>(0);
  const std::int64_t tuples_total = row[3].as<std::int64_t>(0);
  const std::int64_t blocks_done = row[4].as<std::int64_t>(0);
  const std::int64_t blocks_total = row[5].as<std::int64_t>(0);
  // Rows where PostgreSQL counts them in this phase, else the blocks of
  // the table scan (CREATE INDEX counts only blocks while it scans).
  if (tuples_done > 0 || tuples_total > 0 || blocks_total == 0) {
    work.unit = "rows";
    work.done = tuples_done;
    work.total = tuples_total;
  } else {
    work.unit = "blocks";
    work.done = blocks_done;
    work.total = blocks_total;
  }
  return work;
}

}  // namespace

std::optional<ProgressMarkerFields> ParseProgressMarker(const std::string& text) {
  const std::size_t prefix = std::strlen(internal::kProgressMarkerPrefix);
  if (text.compare(0, prefix, internal::kProgressMarkerPrefix) != 0) {
    return std::nullopt;
  }
  char phase[16] = {0};
  ProgressMarkerFields m;
  const int read =
      std::sscanf(text.c_str() + prefix, "phase=%15[a-z] step=%d/%d section=%d/%d statement=%d/%d",
                  phase, &m.step, &m.steps, &m.section, &m.sections, &m.statement, &m.statements);
  if (read != 7 || m.step < 1 || m.steps < m.step || m.section < 1 || m.sections < m.section ||
      m.statement < 0 || m.statements < m.statement) {
    return std::nullopt;
  }
  m.phase = phase;
  if (m.phase != "forward" && m.phase != "undo") {
    return std::nullopt;
  }
  return m;
}

core::Result<std::optional<RunProgress>> Migrator::Progress(const std::string& run_key) {
  internal::Runtime& rt = *impl_;
  if (Status s = rt.EnsureSession(); !s.ok()) {
    return s;
  }
  try {
    pqxx::read_transaction tx(rt.session->conn());
    if (!internal::TableExists(tx, RunLog())) {
      return std::optional<RunProgress>();
    }
    auto run = tx.exec_params(
        "SELECT plan::text, progress::text, "
        "floor(extract(epoch FROM clock_timestamp() - started_at))::bigint FROM " +
            RunLog() + " WHERE outcome = 'running' AND ($1 = '' OR run_key = $1) "
                       "ORDER BY id DESC LIMIT 1",
        run_key);
    if (run.empty()) {
      return std::optional<RunProgress>();
    }
    const json plan = json::parse(run[0][0].as<std::string>());
    const json progress = json::parse(run[0][1].as<std::string>());
    RunProgress p;
    p.elapsed_seconds = run[0][2].as<std::int64_t>(0);
    FromCursor(plan, progress, p);
    // The run's backend (the pid its run_log row records, with a schemaop
    // application_name), and only the marker of its query (design §4.11).
    auto backend = tx.exec_params(
        "SELECT pid, substring(query FROM '^/\\* schemaop:progress [a-z0-9=/ ]* \\*/ ') "
        "FROM pg_stat_activity WHERE pid = $1 AND datname = current_database() "
        "AND application_name LIKE 'schemaop%' AND pid <> pg_backend_pid() "
        "AND state = 'active' AND left(query, $2) = $3",
        progress.value("pid", 0), static_cast<int>(std::strlen(internal::kProgressMarkerPrefix)),
        std::string(internal::kProgressMarkerPrefix));
    if (!backend.empty()) {
      if (auto m = ParseProgressMarker(backend[0][1].as<std::string>(""))) {
        const json& steps = m->phase == "undo" && progress.contains("undo_steps")
                                ? progress.at("undo_steps")
                                : plan.value("steps", json::array());
        p.phase = m->phase;
        p.step = m->step;
        p.steps = m->steps;
        NameStep(steps, m->step - 1, p);
        p.section = m->section;
        p.sections = m->sections;
        p.statement = m->statement;
        p.statements = m->statements;
        p.work = ReadWork(tx, backend[0][0].as<int>());
      }
    }
    p.summary = core::FormatProgress(p);
    return std::optional<RunProgress>(std::move(p));
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read the progress of the run", Code::kInternal);
  }
}

}  // namespace schemaop::database
