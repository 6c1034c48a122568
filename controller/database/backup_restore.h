#pragma once
// Backup and restore (design §4.9): pg_dump -Fc into a new private file in
// the backup directory (names from backup_files.h), read back with
// pg_restore -l, retention per owner; pg_restore of such a file. pg_dump and
// pg_restore get the connection through a private service file
// (ChildConnection), never argv or the environment. Internal header; include
// only from controller/database.
#include <string>
#include <vector>

#include "core/status.h"
#include "database/migrator.h"

namespace schemaop::database::internal {

struct Runtime;

// A new verified backup labelled `label` (e.g. the revisions), then the
// owner's backups beyond options.backup_retention removed.
core::Result<BackupInfo> TakeBackup(Runtime& rt, const std::string& label);

// Relations of the database (schemaop's own bookkeeping aside) that the
// dump at `path` does not contain. pg_restore --clean drops and recreates
// only what the dump lists, so these would survive the restore (e.g. tables
// created by a later upgrade) and leave a database that is not the backup.
core::Result<std::vector<std::string>> RelationsMissingFromDump(Runtime& rt,
                                                                const std::string& path);

// pg_restore --clean --if-exists --single-transaction of `path`.
core::Status RunPgRestore(Runtime& rt, const std::string& path);

}  // namespace schemaop::database::internal
