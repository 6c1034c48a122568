#include "database/backup_files.h"

#include <algorithm>
#include <cctype>

#include "database/migrator.h"

namespace schemaop::database::internal {

std::string SanitizeFilePart(std::string_view part, bool allow_underscore, std::size_t max_length) {
  std::string kept;
  for (char c : part) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = std::isalnum(u) != 0 || c == '.' || c == '-' || (allow_underscore && c == '_');
    if (ok && u < 0x80) {
      kept += c;
    }
  }
  const std::size_t lead = kept.find_first_not_of(".-");
  kept = lead == std::string::npos ? std::string() : kept.substr(lead);
  constexpr std::size_t kHashSuffix = 10;  // "-h" + 8 hex digits
  const bool changed = kept != part || kept.size() > max_length;
  if (!changed) {
    return kept;
  }
  const std::size_t room = max_length > kHashSuffix ? max_length - kHashSuffix : 0;
  if (kept.size() > room) {
    kept.resize(room);
  }
  if (kept.empty()) {
    kept = "x";
  }
  return kept + "-h" + Sha256Hex(part).substr(0, 8);
}

std::string BackupOwnerPrefix(const std::string& owner_namespace, const std::string& owner_name,
                              const std::string& dbname) {
  if (!owner_namespace.empty()) {
    return SanitizeFilePart(owner_namespace, false) + "_" + SanitizeFilePart(owner_name, false) +
           "_";
  }
  return SanitizeFilePart(dbname.empty() ? "db" : dbname, false) + "_";
}

std::string BackupFileName(const std::string& owner_namespace, const std::string& owner_name,
                           const std::string& dbname, const std::string& timestamp,
                           const std::string& label) {
  std::string name = BackupOwnerPrefix(owner_namespace, owner_name, dbname);
  if (!owner_namespace.empty()) {
    name += SanitizeFilePart(dbname.empty() ? "db" : dbname, false) + "_";
  }
  name += SanitizeFilePart(timestamp, false);
  if (!label.empty()) {
    name += "_" + SanitizeFilePart(label, true, 100);
  }
  return name + ".dump";
}

std::vector<std::string> BackupsBeyondRetention(std::vector<BackupFile> files, int keep) {
  if (keep <= 0 || files.size() <= static_cast<std::size_t>(keep)) {
    return {};
  }
  std::sort(files.begin(), files.end(), [](const BackupFile& a, const BackupFile& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns > b.mtime_ns : a.name > b.name;
  });
  std::vector<std::string> out;
  for (std::size_t i = static_cast<std::size_t>(keep); i < files.size(); ++i) {
    out.push_back(files[i].name);
  }
  return out;
}

}  // namespace schemaop::database::internal
