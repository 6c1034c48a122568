#include "database/run_phases.h"

#include <algorithm>

#include "database/executor.h"
#include "database/runtime.h"
#include "database/verifier.h"

namespace schemaop::database::internal {
namespace {

using core::Code;
using core::RunPhase;
using core::Status;

Cursor CursorFromJson(const json& j) {
  if (!j.is_object()) {
    return Cursor{};
  }
  return Cursor{j.value("step", 0), j.value("section", 0), j.value("statement", 0)};
}

json CursorJson(Cursor cursor) {
  return {{"step", cursor.step}, {"section", cursor.section}, {"statement", cursor.statement}};
}

bool SameCursor(Cursor a, Cursor b) {
  return a.step == b.step && a.section == b.section && a.statement == b.statement;
}

RunPhase PhaseFromJson(const json& phases, const char* key, RunPhase fallback) {
  if (!phases.is_object() || !phases.contains(key)) {
    return fallback;
  }
  return core::ParseRunPhase(phases.value(key, "")).value_or(fallback);
}

// A row that changed nothing: rolled back before its first commit (never
// undone), or closed as interrupted with its cursor still at its start.
bool Transparent(const std::string& direction, const std::string& outcome, const json& plan,
                 const json& progress) {
  if (direction == "stamp" || direction == "restore") {
    return false;
  }
  const std::string phase = progress.value("phase", "forward");
  if (outcome == "rolled_back") {
    return phase != "undo";
  }
  return outcome == "failed" && phase == "forward" &&
         SameCursor(CursorFromJson(progress), CursorFromJson(plan.value("start", json())));
}

// The fingerprint keys of a plan's phase boundaries (design §3.1):
// between expand and window, and between window and contract; empty when
// that boundary is the revision set itself (no expand / no contract).
struct Boundaries {
  std::string expanded;
  std::string windowed;
};
Boundaries BoundariesOf(const core::Plan& plan, const core::PhaseSchedule& schedule,
                        const std::string& digest) {
  Boundaries b;
  if (schedule.HasExpand()) {
    b.expanded = BoundaryKey(plan.from_versions, "expanded", digest);
  }
  if (schedule.HasContract()) {
    b.windowed = BoundaryKey(plan.to_versions, "window", digest);
  }
  return b;
}

PhaseRun Nothing(std::string why) {
  PhaseRun run;
  run.nothing_to_do = std::move(why);
  return run;
}

// Fills range, start and keys for `first`..`last` of `plan`.
PhaseRun Range(const core::Plan& plan, const std::string& digest,
               const core::PhaseSchedule& schedule, RunPhase first, RunPhase last,
               std::optional<Cursor> resume) {
  PhaseRun run;
  run.plan = plan;
  run.digest = digest;
  run.first = first;
  run.last = last;
  run.start = resume ? *resume : CursorAt(schedule, schedule.Begin(first), plan.steps.size());
  const Boundaries b = BoundariesOf(plan, schedule, digest);
  run.start_key = first == RunPhase::kWindow     ? b.expanded
                  : first == RunPhase::kContract ? b.windowed
                                                 : std::string();
  run.end_key = last == RunPhase::kExpand   ? b.expanded
                : last == RunPhase::kWindow ? b.windowed
                                            : std::string();
  run.checks = last != RunPhase::kExpand;
  return run;
}

std::string RunRef(const EffectiveRun& run) { return "run " + std::to_string(run.id); }

// The database is at the target: a contract left by the window, if any.
core::Result<PhaseRun> DecideAtTarget(Runtime& rt, const Archive& archive, RunPhase requested,
                                      const core::Plan& plan,
                                      const std::optional<EffectiveRun>& last) {
  const std::string at = "already at " + VersionsText(plan.from_versions);
  if (requested == RunPhase::kExpand || requested == RunPhase::kWindow || !last ||
      last->to != plan.from_versions || last->plan_digest.empty()) {
    return Nothing(at);
  }
  const bool after_window = last->outcome == "succeeded" && last->last == RunPhase::kWindow;
  // A failed contract: a contract-only run, or a run of every phase that
  // failed after its window committed (the database is at its target, so
  // the window's last transaction, which holds the stamp, committed;
  // Executor::FailedInContract).
  const bool failed_contract =
      last->outcome == "failed" &&
      (last->first == RunPhase::kContract || last->last == RunPhase::kContract ||
       last->last == RunPhase::kAll);
  if (!after_window && !failed_contract) {
    return Nothing(at);
  }
  core::Plan window_plan;
  window_plan.from_versions = last->from;
  window_plan.to_versions = last->to;
  window_plan.steps = StepsFromJson(last->plan.value("steps", json::array()));
  auto schedule = ScheduleOf(rt, archive, window_plan.steps);
  if (!schedule.ok()) {
    return schedule.status();
  }
  if (!schedule->HasContract()) {
    return Nothing(at);
  }
  std::optional<Cursor> resume;
  if (failed_contract) {
    resume = last->cursor;
  }
  PhaseRun run = Range(window_plan, last->plan_digest, *schedule, RunPhase::kContract,
                       RunPhase::kContract, resume);
  rt.Emit("migrating", std::string(failed_contract ? "resuming the failed contract phase of "
                                                   : "the contract phase of ") +
                           RunRef(*last) + " is pending");
  return run;
}

}  // namespace

std::string PhaseRun::Name() const {
  if (first == RunPhase::kExpand && last == RunPhase::kContract) {
    return "all";
  }
  if (first == last) {
    return core::RunPhaseName(first);
  }
  return core::RunPhaseName(first) + "+" + core::RunPhaseName(last);
}

core::Result<std::optional<EffectiveRun>> ReadLastEffectiveRun(Runtime& rt) {
  // Read on every inspection of a database at its target (every resync of a
  // Ready object): the newest row nearly always decides, so the rows come in
  // pages, the first of one row, and the scan stops at the first effective
  // run (at most kMaxRows rows, as before).
  constexpr int kMaxRows = 500;
  constexpr int kPage = 32;
  try {
    // One snapshot for every page, as the single query had.
    pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>
        tx(rt.session->conn());
    if (!TableExists(tx, std::string(kSchema) + ".run_log")) {
      return std::optional<EffectiveRun>();
    }
    std::optional<std::int64_t> before;
    for (int read = 0; read < kMaxRows;) {
      const int limit = std::min(read == 0 ? 1 : kPage, kMaxRows - read);
      const pqxx::result rows = tx.exec(
          std::string("SELECT id, direction, outcome, array_to_json(from_versions)::text, "
                      "array_to_json(to_versions)::text, coalesce(plan, '{}')::text, "
                      "coalesce(progress, '{}')::text FROM ") +
          kSchema + ".run_log WHERE outcome <> 'running'" +
          (before ? " AND id < " + std::to_string(*before) : std::string()) +
          " ORDER BY id DESC LIMIT " + std::to_string(limit));
      for (const auto& row : rows) {
        EffectiveRun run;
        run.id = row[0].as<std::int64_t>();
        before = run.id;
        run.direction = row[1].as<std::string>();
        run.outcome = row[2].as<std::string>();
        run.plan = json::parse(row[5].as<std::string>());
        const json progress = json::parse(row[6].as<std::string>());
        if (Transparent(run.direction, run.outcome, run.plan, progress)) {
          continue;
        }
        run.from = row[3].is_null() ? std::vector<std::string>() : TextArray(row[3]);
        run.to = row[4].is_null() ? std::vector<std::string>() : TextArray(row[4]);
        const json phases = run.plan.value("phases", json());
        run.first = PhaseFromJson(phases, "first", RunPhase::kAll);
        run.last = PhaseFromJson(phases, "last", RunPhase::kAll);
        run.plan_digest = run.plan.value("plan_digest", "");
        run.cursor = CursorFromJson(progress);
        return std::optional<EffectiveRun>(std::move(run));
      }
      if (rows.size() < static_cast<std::size_t>(limit)) {
        break;
      }
      read += limit;
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read schemaop.run_log", Code::kInternal);
  }
  return std::optional<EffectiveRun>();
}

core::Result<PhaseRun> DecidePhaseRun(Runtime& rt, const Archive& archive, RunPhase requested,
                                      const core::Plan& plan, const std::string& digest,
                                      const std::optional<EffectiveRun>& last) {
  if (plan.empty()) {
    return DecideAtTarget(rt, archive, requested, plan, last);
  }
  auto schedule = ScheduleOf(rt, archive, plan.steps);
  if (!schedule.ok()) {
    return schedule.status();
  }
  const bool same_plan = last && last->plan_digest == digest && last->from == plan.from_versions;
  const bool expand_done = !schedule->HasExpand() ||
                           (same_plan && last->outcome == "succeeded" &&
                            last->first == RunPhase::kExpand && last->last == RunPhase::kExpand);
  // A failed expand of this plan resumes at its cursor (never undone).
  std::optional<Cursor> resume;
  if (same_plan && last->outcome == "failed" && last->first == RunPhase::kExpand &&
      last->last == RunPhase::kExpand) {
    resume = last->cursor;
  }
  const std::string route = VersionsText(plan.from_versions) + " -> " +
                            VersionsText(plan.to_versions);
  // Invariant (design §3.1, "A plan change after the expand"): the expand
  // of one plan is followed only by that plan's window (or its undo). The
  // expand of another plan from these versions, done or failed part-way, is
  // still in the database; this plan's expand and window were written for
  // a schema without it.
  if (last && !same_plan && last->first == RunPhase::kExpand &&
      last->last == RunPhase::kExpand &&
      (last->outcome == "succeeded" || last->outcome == "failed") &&
      last->from == plan.from_versions) {
    return Status(Code::kInvalidArgument,
                  "the expand phase of another plan (" + RunRef(*last) + ", " +
                      VersionsText(last->from) + " -> " + VersionsText(last->to) +
                      ") is in the database and its window has not run, so the plan " + route +
                      " cannot start on it. Finish that plan first (schemaop upgrade " +
                      VersionsText(last->to) + "), then plan again; nothing was changed");
  }
  switch (requested) {
    case RunPhase::kExpand:
      if (!schedule->HasExpand()) {
        return Nothing("the plan " + route + " has no section in the expand phase");
      }
      if (expand_done) {
        return Nothing("the expand phase of " + route + " already ran (" + RunRef(*last) +
                       "); run the window next");
      }
      return Range(plan, digest, *schedule, RunPhase::kExpand, RunPhase::kExpand, resume);
    case RunPhase::kWindow:
      if (!expand_done) {
        return Status(Code::kInvalidArgument,
                      "the window of " + route +
                          " cannot run yet: its expand phase has not " +
                          (resume ? "finished (" + RunRef(*last) + " failed)" : "run") +
                          ". Run it first (--phase expand), or run without --phase to run "
                          "every phase in order; nothing was changed");
      }
      return Range(plan, digest, *schedule, RunPhase::kWindow, RunPhase::kWindow, std::nullopt);
    case RunPhase::kContract:
      return Status(Code::kInvalidArgument,
                    "the contract phase of " + route +
                        " cannot run yet: the window has not run (the database is still at " +
                        VersionsText(plan.from_versions) + "). Run --phase window first (after " +
                        "--phase expand), or run without --phase; nothing was changed");
    case RunPhase::kAll:
      break;
  }
  if (expand_done && schedule->HasExpand()) {
    return Range(plan, digest, *schedule, RunPhase::kWindow, RunPhase::kContract, std::nullopt);
  }
  return Range(plan, digest, *schedule, RunPhase::kExpand, RunPhase::kContract, resume);
}

json PhaseRunJson(const PhaseRun& run) {
  return {{"first", core::RunPhaseName(run.first)},
          {"last", core::RunPhaseName(run.last)},
          {"start_key", run.start_key},
          {"end_key", run.end_key},
          {"checks", run.checks}};
}

void ApplyPhaseJson(const json& plan_json, ExecContext* ctx, Cursor* start) {
  const json phases = plan_json.value("phases", json());
  ctx->first = PhaseFromJson(phases, "first", RunPhase::kAll);
  ctx->last = PhaseFromJson(phases, "last", RunPhase::kAll);
  if (phases.is_object()) {
    ctx->end_boundary_key = phases.value("end_key", "");
    ctx->run_checks = phases.value("checks", true);
  }
  ctx->rows.writers_may_run = ctx->WritersMayRun();
  *start = CursorFromJson(plan_json.value("start", json()));
}

json StartCursorJson(Cursor cursor) { return CursorJson(cursor); }

}  // namespace schemaop::database::internal
