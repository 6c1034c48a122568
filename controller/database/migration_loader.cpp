// Reading migration files from disk or from (name, text) pairs, the revision
// graph of a file set, and checksums.
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "database/migrator.h"

namespace schemaop::database {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

core::Result<std::vector<core::MigrationFile>> ParseMigrationSources(
    const std::vector<std::pair<std::string, std::string>>& name_and_text) {
  std::vector<core::MigrationFile> files;
  files.reserve(name_and_text.size());
  for (const auto& [name, text] : name_and_text) {
    auto parsed = core::ParseMigrationFile(text, name);
    if (!parsed.ok()) {
      return parsed.status();
    }
    files.push_back(std::move(parsed).value());
  }
  return files;
}

core::Result<std::vector<core::MigrationFile>> LoadMigrationDirectory(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    return core::Status(core::Code::kNotFound,
                        "migrations directory '" + directory +
                            "' does not exist or is not a directory (pass --migrations DIR)");
  }
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(directory, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".sql") {
      paths.push_back(entry.path());
    }
  }
  if (ec) {
    return core::Status(core::Code::kNotFound,
                        "cannot list migrations directory '" + directory + "': " + ec.message());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::pair<std::string, std::string>> sources;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return core::Status(core::Code::kNotFound, "cannot read migration file " + path.string());
    }
    std::ostringstream text;
    text << in.rdbuf();
    sources.emplace_back(path.filename().string(), text.str());
  }
  return ParseMigrationSources(sources);
}

core::Result<core::RevisionGraph> BuildRevisionGraph(const std::vector<core::MigrationFile>& files) {
  return core::BuildGraph(files);
}

}  // namespace schemaop::database
