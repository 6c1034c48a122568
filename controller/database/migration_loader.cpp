// Reading migration files from disk or from (name, text) pairs, the revision
// graph of a file set.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "database/migrator.h"

namespace schemaop::database {

using core::Code;
using core::Status;

namespace {

// kParseError: the operator reports it as InvalidMigrations (the files are
// the problem, not the spec); the CLI exits 2 like for any bad file.
Status TooMany(std::size_t count, const std::string& where) {
  return Status(Code::kParseError,
                where + " holds " + std::to_string(count) + " migration files; at most " +
                    std::to_string(kMaxMigrationFiles) +
                    " are read (squash old revisions into one base revision)");
}

Status TooLarge(const std::string& name, std::uintmax_t bytes) {
  return Status(Code::kParseError,
                "migration file " + name + " has " + std::to_string(bytes) + " bytes; at most " +
                    std::to_string(kMaxMigrationFileBytes) +
                    " are read (load large data sets with COPY from a file the database reads, "
                    "not from a migration)");
}

}  // namespace

core::Result<std::vector<core::MigrationFile>> ParseMigrationSources(
    const std::vector<std::pair<std::string, std::string>>& name_and_text) {
  // Limits are checked before anything is parsed.
  if (name_and_text.size() > kMaxMigrationFiles) {
    return TooMany(name_and_text.size(), "the migrations ConfigMap");
  }
  for (const auto& [name, text] : name_and_text) {
    if (text.size() > kMaxMigrationFileBytes) {
      return TooLarge(name, text.size());
    }
  }
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
  if (paths.size() > kMaxMigrationFiles) {
    return TooMany(paths.size(), "migrations directory '" + directory + "'");
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::pair<std::string, std::string>> sources;
  for (const auto& path : paths) {
    std::uintmax_t bytes = fs::file_size(path, ec);
    if (!ec && bytes > kMaxMigrationFileBytes) {
      return TooLarge(path.filename().string(), bytes);
    }
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
