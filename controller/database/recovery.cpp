#include "database/recovery.h"

#include "database/executor.h"
#include "database/run_phases.h"
#include "database/runtime.h"

namespace schemaop::database::internal {
namespace {

using core::Code;
using core::Status;

// Crash recovery resumes only with the exact files the run started with:
// the sha256 of every step's file was recorded in the run's plan.
Status CheckPinnedFiles(Runtime& rt, std::int64_t run_id, const json& plan,
                        const Archive& archive) {
  if (!plan.contains("files")) {
    return Status::Ok();  // recorded by an older version: nothing to compare
  }
  for (const auto& [revision, sha] : plan.at("files").items()) {
    auto file = rt.scripts.FileFor(revision, archive);
    if (!file.ok()) {
      return Status(Code::kChecksumMismatch,
                    "cannot recover interrupted run " + std::to_string(run_id) + ": " +
                        file.status().message(),
                    "checksum");
    }
    std::string now = Sha256Hex((*file)->text);
    if (now != sha.get<std::string>()) {
      return Status(Code::kChecksumMismatch,
                    "cannot recover interrupted run " + std::to_string(run_id) +
                        ": it started with revision " + revision + " at sha256 " +
                        sha.get<std::string>().substr(0, 12) + "..., but " + (*file)->source_name +
                        " now has sha256 " + now.substr(0, 12) +
                        "...; recovery runs only the SQL the run started with. Restore that "
                        "file as it was (the ConfigMap or --migrations directory), then retry; "
                        "nothing was changed",
                    "checksum");
    }
  }
  return Status::Ok();
}

Status Failed(const std::string& id, const Status& status) {
  return Status(status.code(), "recovering interrupted run " + id + " failed: " + status.message(),
                status.detail());
}

core::Result<std::string> ResumeUndo(Runtime& rt, const Archive& archive, const InterruptedRun& run,
                                     Cursor cursor) {
  ExecContext undo;
  undo.run_id = run.id;
  undo.phase = "undo";
  undo.steps = StepsFromJson(run.progress.at("undo_steps"));
  undo.progress_extra = {{"undo_steps", run.progress.at("undo_steps")},
                         {"error", run.progress.value("error", "")}};
  undo.final_outcome = "rolled_back";
  undo.final_error = run.progress.value("error", "") + " (undo finished by recovery)";
  undo.final_error_code = run.progress.value("error_code", "");
  Status done = Executor(rt, archive).Execute(undo, cursor);
  if (!done.ok()) {
    return Failed(std::to_string(run.id), done);
  }
  return "run " + std::to_string(run.id) + ": finished its interrupted undo; the database is at " +
         VersionsText(run.from);
}

core::Result<std::string> ResumeForward(Runtime& rt, const Archive& archive,
                                        const InterruptedRun& run, Cursor cursor) {
  const std::string id = std::to_string(run.id);
  ExecContext forward;
  forward.run_id = run.id;
  forward.phase = "forward";
  forward.steps = StepsFromJson(run.plan.at("steps"));
  forward.verify = run.plan.value("verify", true);
  forward.rows.counts_before = CountsFromJson(run.plan.value("counts_before", json::array()));
  auto allowed = run.plan.value("row_loss_allowed", std::vector<std::string>());
  forward.rows.row_loss_allowed.insert(allowed.begin(), allowed.end());
  // A phase run resumes within its phases, with their verification.
  Cursor ignored;
  ApplyPhaseJson(run.plan, &forward, &ignored);
  forward.final_error = "interrupted; resumed and completed by recovery";
  forward.committed = cursor;
  forward.any_commit = true;
  Executor executor(rt, archive);
  Status resumed = executor.Execute(forward, cursor);
  if (resumed.ok()) {
    const bool window_reached = forward.last == core::RunPhase::kAll ||
                                forward.last != core::RunPhase::kExpand;
    return "run " + id + ": resumed from step " + std::to_string(cursor.step + 1) +
           (forward.first == core::RunPhase::kAll
                ? std::string()
                : " of its phase " + core::RunPhaseName(forward.first) +
                      (forward.last != forward.first ? "+" + core::RunPhaseName(forward.last)
                                                     : std::string())) +
           " and completed; the database is at " +
           VersionsText(window_reached ? run.to : run.from);
  }
  Status failure = resumed;
  RunOutcome outcome = executor.HandleFailure(forward, run.from, &failure);
  if (outcome != RunOutcome::kRolledBack) {
    return Failed(id, failure);
  }
  return "run " + id + ": resuming failed (" + resumed.message() +
         "), undone; the database is at " + VersionsText(run.from);
}

core::Result<std::string> RecoverOne(Runtime& rt, const Archive& archive,
                                     const InterruptedRun& run) {
  Status pinned = CheckPinnedFiles(rt, run.id, run.plan, archive);
  if (!pinned.ok()) {
    return pinned;
  }
  std::string phase = run.progress.value("phase", "forward");
  Cursor cursor{run.progress.value("step", 0), run.progress.value("section", 0),
                run.progress.value("statement", 0)};
  if (phase == "undo") {
    return ResumeUndo(rt, archive, run, cursor);
  }
  Cursor start;
  ExecContext unused;
  ApplyPhaseJson(run.plan, &unused, &start);
  if (cursor.step != start.step || cursor.section != start.section ||
      cursor.statement != start.statement) {
    return ResumeForward(rt, archive, run, cursor);
  }
  // Nothing was committed: PostgreSQL rolled the open transaction back.
  CloseRun(rt, run.id, "failed",
           "interrupted before its first commit; PostgreSQL rolled it back (recovered)");
  ReleaseInterruptedKey(rt, run.id);
  return "run " + std::to_string(run.id) +
         ": interrupted before its first commit; the database stayed at " + VersionsText(run.from);
}

}  // namespace

core::Result<std::optional<std::string>> RecoverLocked(Runtime& rt) {
  auto runs = ReadRunningRuns(rt);
  if (!runs.ok()) {
    return runs.status();
  }
  if (runs->empty()) {
    return std::optional<std::string>();
  }
  // A run left by an older version: bring its tables up to date first.
  if (Status schema = rt.EnsureSchema(); !schema.ok()) {
    return schema;
  }
  auto archive = LoadArchive(rt);
  if (!archive.ok()) {
    return archive.status();
  }
  std::string summary;
  for (const auto& run : *runs) {
    rt.Emit("recovering", "run " + std::to_string(run.id) + " (" + VersionsText(run.from) + " -> " +
                              VersionsText(run.to) + ") was interrupted; recovering it");
    auto line = RecoverOne(rt, *archive, run);
    if (!line.ok()) {
      return line.status();
    }
    rt.Emit("recovered", *line);
    summary += (summary.empty() ? "" : "; ") + *line;
  }
  return std::optional<std::string>(summary);
}

}  // namespace schemaop::database::internal
