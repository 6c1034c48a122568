#pragma once
// schemaop.revision_archive (design §4.1): the whole file of every revision
// applied, kept after a downgrade, so a database at a revision the shipped
// files no longer contain can still be planned and migrated down. Internal
// header: libpqxx types; include only from controller/database.
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/migration_file.h"
#include "core/status.h"

namespace schemaop::database::internal {

struct ArchiveRow {
  std::vector<std::string> down_revisions;
  std::string file_name;
  std::string text;
  std::string sha256;
  std::string applied_at;
};
using Archive = std::map<std::string, ArchiveRow>;  // by revision

// Every archived revision; empty when the table does not exist yet. Throws
// pqxx exceptions.
Archive ReadArchive(pqxx::transaction_base& tx);

struct Runtime;
// ReadArchive on the migration session; errors as a Status.
core::Result<Archive> LoadArchive(Runtime& rt);

// Upserts `file` (overwrite) or adds it when not archived yet.
void ArchiveFile(pqxx::transaction_base& tx, const core::MigrationFile& file, bool overwrite);

}  // namespace schemaop::database::internal
