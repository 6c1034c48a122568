#pragma once
// status.progress (design §6.8): where a run in progress stands, read from
// the database (the engine's run_log cursor and the progress marker of the
// statement running now, design §4.11) and PostgreSQL's own counters
// (pg_stat_progress_create_index / _copy / _cluster). Pure data and pure
// functions: formatting and the write throttle.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/conditions.h"

namespace schemaop::core {

// Work of the statement running now as PostgreSQL reports it.
struct StatementWork {
  std::string command;  // "CREATE INDEX CONCURRENTLY", "COPY FROM", "CLUSTER", ...
  std::string phase;    // PostgreSQL's phase text, e.g. "building index: scanning table"
  std::int64_t done = 0;
  std::int64_t total = 0;  // 0 when PostgreSQL does not know it
  std::string unit;        // "rows" (tuples) or "blocks"
  bool operator==(const StatementWork& o) const {
    return command == o.command && phase == o.phase && done == o.done && total == o.total &&
           unit == o.unit;
  }
};

struct RunProgress {
  std::string phase;  // "forward", or "undo" while a failed run is undone
  int step = 0;       // 1-based step of the plan, of `steps`
  int steps = 0;
  std::string revision;
  std::string direction;  // "upgrade" / "downgrade"
  int section = 0;        // 1-based section of the step's direction, of `sections`
  int sections = 0;
  // 1-based statement of the section, of `statements` (every section runs
  // statement by statement); 0 when only run_log's cursor is known.
  int statement = 0;
  int statements = 0;
  std::optional<StatementWork> work;
  std::int64_t elapsed_seconds = 0;  // since the run started (run_log.started_at)
  std::optional<Timestamp> update_time;  // when the controller wrote it
  std::string summary;                   // FormatProgress, the Progress printer column
  bool operator==(const RunProgress& o) const {
    return phase == o.phase && step == o.step && steps == o.steps && revision == o.revision &&
           direction == o.direction && section == o.section && sections == o.sections &&
           statement == o.statement && statements == o.statements && work == o.work &&
           elapsed_seconds == o.elapsed_seconds && update_time == o.update_time &&
           summary == o.summary;
  }
};

// The one-line form, e.g. "2/3 add_flexible_schemas stmt 4/7",
// "1/2 9bc6a98f1c12 sect 1/2 rows 1200/5000", "undo 1/1 abc sect 1/1".
std::string FormatProgress(const RunProgress& progress);

// A multi-line form for `schemaop current --progress`.
std::string DescribeProgress(const RunProgress& progress);

// The throttle: the controller writes status.progress at most every
// `interval`: true when nothing was written yet or the last write
// (`written->update_time`) is at least `interval` before `now`.
bool ProgressDue(const std::optional<RunProgress>& written, Timestamp now,
                 std::chrono::milliseconds interval);

inline constexpr std::chrono::milliseconds kProgressInterval{2000};

}  // namespace schemaop::core
