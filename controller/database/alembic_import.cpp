#include "database/alembic_import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "core/alembic_offline.h"
#include "core/migration_file.h"
#include "database/alembic_import_env.h"
#include "database/process.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using core::Code;
using core::Direction;
using core::Status;
using nlohmann::json;

// The version table the generated env.py tells Alembic to use; its
// statements are Alembic's bookkeeping and are left out of the files.
constexpr char kVersionTable[] = "schemaop_import_version";

// The private scratch directory: alembic.ini, env.py, versions -> the
// directory imported, and the records file. Removed on destruction
// (remove_all removes the symlink, never what it points to).
struct Scratch {
  std::string dir;
  std::string versions_real;
  ~Scratch() {
    if (!dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
  std::string Ini() const { return dir + "/alembic.ini"; }
  std::string Records() const { return dir + "/records.jsonl"; }
};

Status WriteScratchFile(const std::string& path, const char* text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return Status(Code::kInternal, "cannot write " + path + " (import-alembic's scratch file)");
  }
  return Status::Ok();
}

Status MakeScratch(const std::string& versions_dir, Scratch* scratch) {
  std::error_code ec;
  if (!fs::is_directory(versions_dir, ec)) {
    return Status(Code::kNotFound, "import-alembic: '" + versions_dir +
                                       "' is not a directory; give the Alembic versions/ directory "
                                       "(the one holding the revision .py files)");
  }
  scratch->versions_real = fs::canonical(versions_dir, ec).string();
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/schemaop-import-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status(Code::kInternal, "cannot create a scratch directory " + pattern + ": " +
                                       std::strerror(errno));
  }
  scratch->dir = pattern;
  fs::create_directory_symlink(scratch->versions_real, scratch->dir + "/versions", ec);
  if (ec) {
    return Status(Code::kInternal, "cannot link the versions directory: " + ec.message());
  }
  if (Status s = WriteScratchFile(scratch->Ini(), internal::kAlembicImportIni); !s.ok()) {
    return s;
  }
  return WriteScratchFile(scratch->dir + "/env.py", internal::kAlembicImportEnv);
}

struct AlembicCall {
  internal::ProcessResult process;
  std::vector<json> records;
  bool done = false;  // the env.py finished its work ({"done": true})
  std::optional<json> error;
};

// The last non-empty line of alembic's output (usually the exception).
std::string LastLine(const std::string& output) {
  std::string text = output;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  const auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

// Runs `alembic -c SCRATCH/alembic.ini ARGS`. The child gets the import's
// variables, no database URL or password, and writes no bytecode.
AlembicCall RunAlembic(const AlembicImportOptions& options, const Scratch& scratch,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& variables) {
  std::map<std::string, std::string> env = {
      {"SCHEMAOP_IMPORT_OUT", scratch.Records()},
      {"SCHEMAOP_IMPORT_VERSIONS", scratch.versions_real},
      {"SCHEMAOP_IMPORT_VERSION_TABLE", kVersionTable},
      {"PYTHONDONTWRITEBYTECODE", "1"},
      {"DATABASE_URL", ""},
      {"SCHEMAOP_DATABASE_URL", ""},
      {"SCHEMAOP_REHEARSAL_URL", ""},
      {"PGPASSWORD", ""}};
  for (const auto& [key, value] : variables) {
    env[key] = value;
  }
  std::vector<std::string> argv = {"-c", scratch.Ini()};
  argv.insert(argv.end(), args.begin(), args.end());
  ::unlink(scratch.Records().c_str());
  AlembicCall call;
  call.process = internal::RunProcess(options.alembic_program, argv, env, -1, options.timeout);
  std::ifstream in(scratch.Records());
  for (std::string line; std::getline(in, line);) {
    json record = json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) {
      continue;
    }
    if (record.contains("done")) {
      call.done = true;
    } else if (record.contains("error")) {
      call.error = record;
    } else {
      call.records.push_back(std::move(record));
    }
  }
  return call;
}

std::optional<Status> AlembicMissing(const AlembicImportOptions& options, const AlembicCall& call) {
  if (call.process.started && !(call.process.exit_code == 127 &&
                                call.process.output.find("exec failed") != std::string::npos)) {
    return std::nullopt;
  }
  return Status(Code::kNotFound,
                "import-alembic: cannot run '" + options.alembic_program +
                    "'; install Alembic (Debian: apt-get install alembic python3-sqlalchemy "
                    "python3-psycopg2, or pip install alembic) or give its path with --alembic");
}

std::vector<std::string> Strings(const json& value) {
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const auto& item : value) {
      if (item.is_string()) {
        out.push_back(item.get<std::string>());
      }
    }
  }
  return out;
}

// The revisions of the versions directory, parents before children.
core::Result<std::vector<core::AlembicRevision>> ReadGraph(const AlembicImportOptions& options,
                                                          const Scratch& scratch) {
  const auto call = RunAlembic(options, scratch, {"current"}, {{"SCHEMAOP_IMPORT_MODE", "graph"}});
  if (auto missing = AlembicMissing(options, call)) {
    return *missing;
  }
  if (!call.done || call.process.exit_code != 0) {
    return Status(Code::kInvalidArgument,
                  "import-alembic: Alembic could not read the revisions in '" +
                      options.versions_dir + "': " +
                      (call.process.timed_out ? "it did not finish in time"
                                              : LastLine(call.process.output)) +
                      " (each revision file must import with `alembic history`; set PYTHONPATH "
                      "if revisions import the application)");
  }
  std::vector<core::AlembicRevision> revisions;
  for (const auto& record : call.records) {
    core::AlembicRevision revision;
    revision.revision = record.value("revision", "");
    revision.down_revisions = Strings(record.value("down_revisions", json::array()));
    revision.branch_labels = Strings(record.value("branch_labels", json::array()));
    revision.depends_on = Strings(record.value("depends_on", json::array()));
    revision.message = record.value("message", "");
    revision.source = record.value("source", "");
    revisions.push_back(std::move(revision));
  }
  std::reverse(revisions.begin(), revisions.end());  // Alembic walks from the heads
  return revisions;
}

std::string Joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : separator) + item;
  }
  return out;
}

struct Rendered {
  std::optional<std::string> sections;
  std::string error;  // why not, for the report
  bool data_dependent = false;
  bool not_implemented = false;
};

// One direction of one revision through `alembic upgrade A:B --sql` /
// `alembic downgrade B:A --sql`; the starting revisions also reach the
// env.py through the environment, as argv holds only one (a merge has
// several parents).
Rendered Render(const AlembicImportOptions& options, const Scratch& scratch,
                const core::AlembicRevision& revision, Direction direction) {
  const std::string parent =
      revision.down_revisions.empty() ? "base" : revision.down_revisions.front();
  const bool up = direction == Direction::kUp;
  const std::vector<std::string> args =
      up ? std::vector<std::string>{"upgrade", parent + ":" + revision.revision, "--sql"}
         : std::vector<std::string>{"downgrade", revision.revision + ":" + parent, "--sql"};
  const auto call = RunAlembic(options, scratch, args,
                               {{"SCHEMAOP_IMPORT_MODE", "render"},
                                {"SCHEMAOP_IMPORT_START",
                                 up ? Joined(revision.down_revisions, " ") : revision.revision}});
  Rendered out;
  if (call.done && call.process.exit_code == 0) {
    std::vector<std::string> pieces;
    for (const auto& record : call.records) {
      pieces.push_back(record.value("out", ""));
    }
    out.sections = core::SectionsFromOfflineOutput(pieces, direction, kVersionTable);
    return out;
  }
  if (call.error) {
    const std::string where = call.error->value("where", "");
    out.error = call.error->value("error", "") + (where.empty() ? "" : " at " + where);
    out.data_dependent = out.error.rfind("DataDependent: ", 0) == 0;
    out.not_implemented = call.error->value("not_implemented", false);
  } else if (call.process.timed_out) {
    out.error = "alembic did not finish within " +
                std::to_string(options.timeout.count() / 1000) + " s";
  } else {
    out.error = "alembic failed (exit " + std::to_string(call.process.exit_code) +
                "): " + LastLine(call.process.output);
  }
  return out;
}

std::string ReasonFor(const core::AlembicRevision& revision, Direction direction,
                      const Rendered& rendered) {
  const std::string verb = direction == Direction::kUp ? "upgrade()" : "downgrade()";
  const std::string file = revision.revision + ".sql";
  if (rendered.data_dependent) {
    const bool offline_branch = rendered.error.find("is_offline_mode") != std::string::npos;
    return "its " + verb + " " + rendered.error.substr(std::strlen("DataDependent: ")) + ": " +
           (offline_branch ? "it does something else offline than online, so its offline SQL "
                             "is not what it runs"
                           : "it uses a database connection (reads rows or runs SQL through "
                             "it), which offline mode cannot render as SQL") +
           ". Fix: write " + file +
           " by hand with set-based SQL that does the same (UPDATE ... FROM, INSERT ... "
           "SELECT), or rewrite the revision with op.execute() and import again";
  }
  return "its " + verb + " failed in Alembic's offline mode (`alembic " +
         (direction == Direction::kUp ? "upgrade" : "downgrade") + " ... --sql`): " +
         rendered.error + ". Fix the revision so that offline mode works, or write " + file +
         " by hand";
}

struct Converted {
  std::string name;
  std::string text;
};

// One revision: both directions rendered, the file composed and parsed as
// schemaop will parse it. nullopt (and a failure in the report) otherwise.
std::optional<Converted> ConvertRevision(const AlembicImportOptions& options,
                                         const Scratch& scratch,
                                         const core::AlembicRevision& revision,
                                         AlembicImportReport* report) {
  auto fail = [&](std::string reason) {
    report->failed.push_back({revision.revision, revision.source, std::move(reason)});
    return std::nullopt;
  };
  if (std::string problem = core::AlembicGraphProblem(revision); !problem.empty()) {
    return fail(problem);
  }
  const Rendered up = Render(options, scratch, revision, Direction::kUp);
  if (!up.sections) {
    return fail(ReasonFor(revision, Direction::kUp, up));
  }
  const Rendered down = Render(options, scratch, revision, Direction::kDown);
  if (!down.sections && !down.not_implemented) {
    return fail(ReasonFor(revision, Direction::kDown, down));
  }
  Converted converted{revision.revision + ".sql",
                      core::ImportedMigrationText(revision, *up.sections, down.sections)};
  auto parsed = core::ParseMigrationFile(converted.text, converted.name);
  if (!parsed.ok()) {
    return fail("the SQL Alembic rendered is not a valid schemaop file: " +
                parsed.status().message() + ". Write " + converted.name + " by hand");
  }
  if (!down.sections) {
    report->notes.push_back(converted.name + ": no down section (its downgrade() raises "
                            "NotImplementedError); schemaop refuses to downgrade past it");
  }
  if (!revision.branch_labels.empty()) {
    report->notes.push_back(converted.name + ": Alembic branch labels " +
                            Joined(revision.branch_labels, ", ") +
                            " dropped; schemaop targets name revisions by id");
  }
  for (const auto& warning : parsed->warnings) {
    report->notes.push_back(warning);
  }
  return converted;
}

Status OutDirError(const std::string& dir, const std::string& why) {
  return Status(Code::kInvalidArgument, "import-alembic: --out '" + dir + "': " + why);
}

Status WriteAll(int dir_fd, const std::string& dir, const std::vector<Converted>& files);

// Writes every converted file into `dir` (created when missing), or none:
// a name already taken there (file, directory or symlink) stops the import
// before anything is written.
Status WriteConverted(const std::string& dir, const std::vector<Converted>& files) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return OutDirError(dir, "cannot create it: " + ec.message());
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return OutDirError(dir, std::string("cannot open it: ") + std::strerror(errno));
  }
  for (const auto& file : files) {
    struct stat st {};
    if (::fstatat(dir_fd, file.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      ::close(dir_fd);
      return OutDirError(dir, file.name + " already exists there; nothing was written. Import "
                                          "into an empty directory (or remove the old files)");
    }
  }
  Status written = WriteAll(dir_fd, dir, files);
  ::close(dir_fd);
  return written;
}

Status WriteAll(int dir_fd, const std::string& dir, const std::vector<Converted>& files) {
  std::vector<std::string> created;
  auto undo = [&](const std::string& why) {
    for (const auto& name : created) {
      ::unlinkat(dir_fd, name.c_str(), 0);
    }
    return OutDirError(dir, why + "; nothing was written");
  };
  for (const auto& file : files) {
    // The name is a validated revision id + ".sql": no `/`, never `..`.
    const int fd = ::openat(dir_fd, file.name.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      return undo("cannot create " + file.name + ": " + std::strerror(errno));
    }
    created.push_back(file.name);
    std::size_t done = 0;
    while (done < file.text.size()) {
      const ssize_t n = ::write(fd, file.text.data() + done, file.text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        ::close(fd);
        return undo("cannot write " + file.name + ": " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
      return undo("cannot write " + file.name + ": " + std::strerror(errno));
    }
  }
  return Status::Ok();
}

}  // namespace

core::Result<AlembicImportReport> ImportAlembic(const AlembicImportOptions& options) {
  if (options.out_dir.empty()) {
    return Status(Code::kInvalidArgument, "import-alembic: --out is empty; name a directory");
  }
  Scratch scratch;
  if (Status s = MakeScratch(options.versions_dir, &scratch); !s.ok()) {
    return s;
  }
  auto revisions = ReadGraph(options, scratch);
  if (!revisions.ok()) {
    return revisions.status();
  }
  if (revisions->empty()) {
    return Status(Code::kNotFound, "import-alembic: no Alembic revisions in '" +
                                       options.versions_dir +
                                       "'; give the versions/ directory of the Alembic project");
  }
  AlembicImportReport report;
  std::vector<Converted> files;
  for (const auto& revision : *revisions) {
    if (auto converted = ConvertRevision(options, scratch, revision, &report)) {
      files.push_back(std::move(*converted));
    }
  }
  if (files.empty()) {
    return report;  // nothing converted: OUTDIR is not even created
  }
  if (Status s = WriteConverted(options.out_dir, files); !s.ok()) {
    return s;
  }
  for (const auto& file : files) {
    report.written.push_back(file.name);
  }
  return report;
}

}  // namespace schemaop::database
