#pragma once
// Where backups go and what they are called (docs/security.md, "Backups").
// Invariant: a backup is only ever created inside the backup directory, as a
// new file (never through an existing file or symlink), readable by its
// owner only, under a name built from sanitized parts, whatever the database
// name, the revisions or the SchemaMigration's name contain.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace schemaop::database::internal {

// `part` reduced to [A-Za-z0-9.-] (plus `_` when `allow_underscore`), without
// leading dots or dashes, at most `max_length` bytes; when anything was
// dropped or cut, "-h" and 8 hex digits of its sha256 are appended so two
// different inputs stay apart. Never empty, never "." or "..".
std::string SanitizeFilePart(std::string_view part, bool allow_underscore,
                             std::size_t max_length = 48);

// The name prefix that identifies one owner's backups: "NS_NAME_" in the
// cluster (owner_namespace non-empty), "DB_" in local mode. Parts never
// contain `_`, so one owner's prefix never matches another owner's files.
std::string BackupOwnerPrefix(const std::string& owner_namespace, const std::string& owner_name,
                              const std::string& dbname);

// PREFIX[DB_]TIMESTAMP[_LABEL].dump, every part sanitized; no `/`.
std::string BackupFileName(const std::string& owner_namespace, const std::string& owner_name,
                           const std::string& dbname, const std::string& timestamp,
                           const std::string& label);

// The backups to remove so that only the newest `keep` of `names` (with
// their modification times) remain; `keep` 0 keeps everything. Pure.
struct BackupFile {
  std::string name;
  long long mtime_ns = 0;
};
std::vector<std::string> BackupsBeyondRetention(std::vector<BackupFile> files, int keep);

}  // namespace schemaop::database::internal
