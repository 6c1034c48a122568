#include "database/revision_archive.h"

#include "database/runtime.h"

namespace schemaop::database::internal {

Archive ReadArchive(pqxx::transaction_base& tx) {
  Archive archive;
  if (!TableExists(tx, std::string(kSchema) + ".revision_archive")) {
    return archive;
  }
  for (const auto& row :
       tx.exec(std::string("SELECT revision, array_to_json(down_revisions)::text, file_name, "
                           "file_text, sha256, to_char(applied_at AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ") +
               kSchema + ".revision_archive")) {
    ArchiveRow entry;
    entry.down_revisions = TextArray(row[1]);
    entry.file_name = row[2].as<std::string>();
    entry.text = row[3].as<std::string>();
    entry.sha256 = row[4].as<std::string>();
    entry.applied_at = row[5].as<std::string>();
    archive.emplace(row[0].as<std::string>(), std::move(entry));
  }
  return archive;
}

core::Result<Archive> LoadArchive(Runtime& rt) {
  try {
    pqxx::read_transaction tx(rt.session->conn());
    return ReadArchive(tx);
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read schemaop.revision_archive", core::Code::kInternal);
  }
}

void ArchiveFile(pqxx::transaction_base& tx, const core::MigrationFile& file, bool overwrite) {
  tx.exec_params(std::string("INSERT INTO ") + kSchema +
                     ".revision_archive (revision, down_revisions, file_name, file_text, sha256, "
                     "applied_at) VALUES ($1, string_to_array($2, ','), $3, $4, $5, now()) "
                     "ON CONFLICT (revision) DO " +
                     (overwrite ? "UPDATE SET down_revisions = EXCLUDED.down_revisions, "
                                  "file_name = EXCLUDED.file_name, file_text = EXCLUDED.file_text, "
                                  "sha256 = EXCLUDED.sha256, applied_at = EXCLUDED.applied_at"
                                : "NOTHING"),
                 file.revision, Join(file.down_revisions, ","), file.source_name, file.text,
                 Sha256Hex(file.text));
}

}  // namespace schemaop::database::internal
