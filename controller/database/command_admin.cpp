// The command layer, part 3: stamp, verify, backup and restore.
#include <filesystem>
#include <set>

#include "database/backup_restore.h"
#include "database/migrator_impl.h"
#include "database/run_log.h"
#include "database/verifier.h"
#include "database/version_table.h"

namespace schemaop::database {
namespace {

using core::Code;
using core::Status;
using internal::Runtime;

// The stamp's one transaction: version rows, archive rows for the known
// files of the stamped revisions and their ancestors, a run_log row.
Status WriteStamp(Runtime& rt, const core::RevisionGraph& merged,
                  const std::vector<std::string>& current,
                  const std::vector<std::string>& resolved) {
  try {
    pqxx::work tx(rt.session->conn());
    internal::WriteVersions(tx, rt.VersionTable(), resolved);
    for (const auto& revision : internal::AppliedRevisions(merged, resolved)) {
      if (const auto* file = rt.scripts.GivenFile(revision)) {
        internal::ArchiveFile(tx, *file, /*overwrite=*/false);
      }
    }
    internal::InsertStampRun(tx, current, resolved, rt.options.actor);
    rt.lock.Require(tx);
    tx.commit();
  } catch (const internal::LockLostError& error) {
    return Status(Code::kLockHeld, std::string("stamp: ") + error.what(), "lock-lost");
  } catch (const std::exception& error) {
    return rt.FromException(error, "stamp failed");
  }
  return Status::Ok();
}

}  // namespace

Status Migrator::Stamp(std::string_view target) {
  Runtime& rt = *impl_;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  if (Status locked = rt.lock.Acquire(rt); !locked.ok()) {
    return locked;
  }
  internal::LockScope scope(rt);
  auto state = internal::ReadState(rt);
  if (!state.ok()) {
    return state.status();
  }
  std::vector<std::string> known_current;
  for (const auto& version : state->current) {
    if (state->merged.Contains(version)) {
      known_current.push_back(version);
    }
  }
  auto resolved = core::ResolveTarget(state->merged, known_current, target);
  if (!resolved.ok()) {
    return resolved.status();
  }
  if (Status schema = rt.EnsureSchema(); !schema.ok()) {
    return schema;
  }
  if (Status written = WriteStamp(rt, state->merged, state->current, *resolved); !written.ok()) {
    return written;
  }
  rt.Emit("committed", "stamped " + internal::VersionsText(*resolved) + " (no SQL run)");
  return Status::Ok();
}

core::Result<VerifyReport> Migrator::Verify() {
  Runtime& rt = *impl_;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  auto state = internal::ReadState(rt);
  if (!state.ok()) {
    return state.status();
  }
  VerifyReport report;
  report.versions = state->current;
  for (const auto& version : state->current) {
    if (!state->merged.Contains(version)) {
      report.problems.push_back("the database is at revision '" + version +
                                "', which the migration files do not contain");
    }
  }
  for (auto& problem : rt.scripts.ChecksumProblems(state->merged, state->current, state->archive)) {
    report.problems.push_back(std::move(problem));
  }
  auto problems = internal::DatabaseProblems(rt, state->current);
  if (!problems.ok()) {
    return problems.status();
  }
  report.problems.insert(report.problems.end(), problems->begin(), problems->end());
  return report;
}

core::Result<BackupInfo> Migrator::Backup() {
  auto current = internal::LoadVersions(*impl_);
  if (!current.ok()) {
    return current.status();
  }
  return internal::TakeBackup(*impl_, current->empty() ? "base" : internal::Join(*current, "+"));
}

Status Migrator::Restore(const std::string& path) {
  Runtime& rt = *impl_;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status(Code::kNotFound, "backup file '" + path + "' does not exist");
  }
  if (Status locked = rt.lock.Acquire(rt); !locked.ok()) {
    return locked;
  }
  internal::LockScope scope(rt);
  auto extra = internal::RelationsMissingFromDump(rt, path);
  if (!extra.ok()) {
    return extra.status();
  }
  if (!extra->empty()) {
    return Status(Code::kInvalidArgument,
                  "the database has " + std::to_string(extra->size()) +
                      " relation(s) that backup '" + path + "' does not contain (" +
                      internal::Join(*extra, ", ") +
                      "), probably created after the backup; pg_restore would leave them in "
                      "place, so the result would not be the backup. Downgrade to the backup's "
                      "revision first (or drop them), then restore; nothing was changed");
  }
  auto before = internal::LoadVersions(rt);
  if (Status restored = internal::RunPgRestore(rt, path); !restored.ok()) {
    return restored;
  }
  auto after = internal::LoadVersions(rt);
  if (rt.EnsureSchema().ok() && after.ok()) {
    internal::json plan = {{"restored_from", path}};
    (void)internal::InsertRun(rt, before.ok() ? *before : std::vector<std::string>(), *after,
                              "restore", plan, "succeeded");
  }
  rt.Emit("restored", "restored " + path + "; the database is at " +
                          (after.ok() ? internal::VersionsText(*after) : std::string("?")));
  return Status::Ok();
}

}  // namespace schemaop::database
