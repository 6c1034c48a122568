#pragma once
// Running one phase of a plan (design §3.1 "Running the phases apart"):
// which units a run executes, where it starts, and which schema fingerprint
// it expects at its start and records at its end. The state between phases
// is read from schemaop.run_log: the newest run that changed the database
// decides what is pending. Internal header: include only from
// controller/database.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/phase_schedule.h"
#include "core/planner.h"
#include "core/status.h"
#include "database/revision_archive.h"
#include "database/run_log.h"

namespace schemaop::database::internal {

struct Runtime;

// The newest ended run_log row that changed the database. Skipped: rows
// rolled back before anything committed, rows closed as interrupted before
// their first commit (their cursor still at their start).
struct EffectiveRun {
  std::int64_t id = 0;
  std::string direction;  // "upgrade", ..., "stamp", "restore"
  std::string outcome;    // succeeded | failed | rolled_back
  core::RunPhase first = core::RunPhase::kAll;
  core::RunPhase last = core::RunPhase::kAll;
  std::string plan_digest;  // empty for rows written before phases
  std::vector<std::string> from, to;
  json plan;
  Cursor cursor;  // its progress cursor
};
core::Result<std::optional<EffectiveRun>> ReadLastEffectiveRun(Runtime& rt);

// What one Run executes.
struct PhaseRun {
  core::Plan plan;  // the steps (a contract-only run: the window's plan)
  std::string digest;
  core::RunPhase first = core::RunPhase::kAll;
  core::RunPhase last = core::RunPhase::kAll;
  Cursor start;  // the first unit (or where a failed phase stopped)
  // Fingerprint keys: empty = the revision set itself (design §4.6 as
  // before); else a phase boundary (BoundaryKey).
  std::string start_key;
  std::string end_key;
  bool checks = true;
  // Set when there is nothing to run: why, for the progress line.
  std::string nothing_to_do;
  // "expand", "window", "contract", "window+contract", "all", ...
  std::string Name() const;
};

// Decides the run for `requested` given the plan from the current versions
// to the target (`plan`, possibly empty), its digest, and the last effective
// run. kInvalidArgument (nothing changed) when the phase cannot run yet:
// window before expand, contract before the window.
core::Result<PhaseRun> DecidePhaseRun(Runtime& rt, const Archive& archive, core::RunPhase requested,
                                      const core::Plan& plan, const std::string& digest,
                                      const std::optional<EffectiveRun>& last);

// The plan column's "phases" entry of `run` and back (recovery resumes a
// phase run with the same range, keys and checks).
json PhaseRunJson(const PhaseRun& run);
void ApplyPhaseJson(const json& plan_json, struct ExecContext* ctx, Cursor* start);
json StartCursorJson(Cursor cursor);

}  // namespace schemaop::database::internal
