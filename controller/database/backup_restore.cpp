#include "database/backup_restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>
#include <sstream>

#include "database/backup_files.h"
#include "database/process.h"
#include "database/runtime.h"
#include "database/sha256.h"

namespace schemaop::database::internal {
namespace {

using core::Code;
using core::Status;

std::string UtcTimestampForFile() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%S", &tm);
  char full[48];
  std::snprintf(full, sizeof full, "%s%03lldZ", buffer, static_cast<long long>(millis));
  return full;
}

// Creates a new backup file inside the real backup directory: the name
// has no `/`, openat() is relative to the resolved directory, O_EXCL and
// O_NOFOLLOW never reuse an existing file or follow a planted symlink,
// and the mode is 0600 (a dump holds every row).
struct BackupTarget {
  std::string directory;  // resolved real path
  std::string name;
  int dir_fd = -1;
  int fd = -1;
  ~BackupTarget() {
    if (fd >= 0) {
      ::close(fd);
    }
    if (dir_fd >= 0) {
      ::close(dir_fd);
    }
  }
  std::string path() const { return directory + "/" + name; }
};

Status BackupDirError(const std::string& what, const std::string& dir, const std::string& why) {
  return Status(Code::kBackupFailed, what + " '" + dir + "': " + why + " (check --backup-dir)");
}

Status OpenBackupDirectory(const Runtime& rt, BackupTarget* target) {
  namespace fs = std::filesystem;
  const std::string& dir = rt.options.backup_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return BackupDirError("cannot create backup directory", dir, ec.message());
  }
  fs::path real = fs::canonical(dir, ec);
  if (ec) {
    return BackupDirError("cannot resolve backup directory", dir, ec.message());
  }
  target->directory = real.string();
  target->dir_fd = ::open(target->directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (target->dir_fd < 0) {
    return BackupDirError("cannot open backup directory", target->directory, std::strerror(errno));
  }
  return Status::Ok();
}

Status OpenBackupTarget(const Runtime& rt, const std::string& label, BackupTarget* target) {
  if (Status opened = OpenBackupDirectory(rt, target); !opened.ok()) {
    return opened;
  }
  const std::string base =
      BackupFileName(rt.options.backup_owner_namespace, rt.options.backup_owner_name,
                     rt.info.dbname, UtcTimestampForFile(), label);
  target->name = base;
  for (int n = 2;; ++n) {
    target->fd = ::openat(target->dir_fd, target->name.c_str(),
                          O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (target->fd >= 0) {
      return Status::Ok();
    }
    if (errno != EEXIST || n > 1000) {
      return BackupDirError("cannot create backup file", target->path(), std::strerror(errno));
    }
    target->name = base.substr(0, base.size() - 5) + "-" + std::to_string(n) + ".dump";
  }
}

// Keeps the newest options.backup_retention backups of this owner.
void ApplyRetention(const Runtime& rt, const BackupTarget& target) {
  namespace fs = std::filesystem;
  const std::string prefix = BackupOwnerPrefix(rt.options.backup_owner_namespace,
                                               rt.options.backup_owner_name, rt.info.dbname);
  std::vector<BackupFile> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() < 5 ||
        name.compare(name.size() - 5, 5, ".dump") != 0 ||
        !fs::is_regular_file(entry.symlink_status(ec))) {
      continue;
    }
    auto mtime = fs::last_write_time(entry.path(), ec);
    files.push_back({name, static_cast<long long>(mtime.time_since_epoch().count())});
  }
  for (const auto& name : BackupsBeyondRetention(files, rt.options.backup_retention)) {
    if (name == target.name) {
      continue;
    }
    if (::unlinkat(target.dir_fd, name.c_str(), 0) == 0) {
      rt.Emit("backup-removed", "removed old backup " + target.directory + "/" + name +
                                    " (--backup-retention " +
                                    std::to_string(rt.options.backup_retention) + ")");
    }
  }
}

// True when pg_dump's output says its session ended under it or could not
// be opened (pg_terminate_backend, a server restart or failover, a network
// cut): libpq's and the server's own words. Such a backup can simply be
// taken again, unlike a missing or mismatched pg_dump or a full volume.
bool PgDumpLostConnection(const std::string& output) {
  static const char* const kMarkers[] = {
      "terminating connection",  // FATAL 57P01..57P03: administrator command, shutdown, crash
      "server closed the connection unexpectedly",
      "SSL connection has been closed unexpectedly",
      "could not receive data from server",
      "could not send data to server",
      "no connection to the server",
      "the database system is shutting down",
      "the database system is starting up",
      "the database system is in recovery mode",
      "Connection refused",
  };
  for (const char* marker : kMarkers) {
    if (output.find(marker) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string TimedOut(const Runtime& rt) {
  return "stopped after the tool timeout of " +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(rt.options.tool_timeout)
                            .count()) +
         "s (raise --tool-timeout if the database needs longer); ";
}

// pg_dump -Fc into the descriptor opened for `target`, never to a path. A
// dump whose connection was lost is kUnreachable (transient: the operator
// retries the backup with back-off); a dump stopped by --tool-timeout and
// any other failure are kBackupFailed.
Status RunPgDump(Runtime& rt, const BackupTarget& target) {
  auto child = ChildConnection::Create(rt.info);
  if (!child.ok()) {
    return child.status();
  }
  rt.Emit("backing-up", "pg_dump -Fc to " + target.path());
  auto result = RunProcess(
      rt.Tool("pg_dump"),
      {"-Fc", "--no-password", std::string("--dbname=service=") + ChildConnection::kService},
      (*child)->Environment(), target.fd, rt.options.tool_timeout);
  if (!result.started || result.exit_code != 0) {
    std::string output = core::ScrubSecret(result.output, rt.info.password);
    if (result.timed_out) {
      output = TimedOut(rt) + output;
    } else if (result.started && PgDumpLostConnection(output)) {
      return Status(Code::kUnreachable,
                    "pg_dump lost its connection to the database (exit " +
                        std::to_string(result.exit_code) + "): " + output +
                        "; the partial backup was removed and nothing was migrated",
                    "pg_dump-connection-lost");
    }
    return Status(
        Code::kBackupFailed,
        "pg_dump failed (exit " + std::to_string(result.exit_code) + "): " + output +
            " (check that pg_dump " +
            (rt.options.pg_bin_dir.empty() ? "is on PATH" : "is in " + rt.options.pg_bin_dir) +
            ", matches the server version, and that --backup-dir is writable); nothing was "
            "migrated");
  }
  return Status::Ok();
}

// The TOC line "ID; OID OID TYPE SCHEMA NAME OWNER" of a relation, as
// schema.name; empty for any other entry.
std::string TocRelation(const std::string& line) {
  std::istringstream words(line);
  std::string id, oid1, oid2;
  words >> id >> oid1 >> oid2;
  std::string rest;
  std::getline(words, rest);
  rest.erase(0, rest.find_first_not_of(' '));
  std::string kind;
  for (const char* type :
       {"MATERIALIZED VIEW ", "FOREIGN TABLE ", "TABLE ", "VIEW ", "SEQUENCE "}) {
    if (rest.rfind(type, 0) == 0) {
      kind = type;
      break;
    }
  }
  if (kind.empty() || rest.rfind("TABLE DATA ", 0) == 0 || rest.rfind("SEQUENCE SET ", 0) == 0 ||
      rest.rfind("SEQUENCE OWNED BY ", 0) == 0) {
    return {};
  }
  std::istringstream fields(rest.substr(kind.size()));
  std::vector<std::string> tokens;
  for (std::string token; fields >> token;) {
    tokens.push_back(token);
  }
  if (tokens.size() < 3) {
    return {};
  }
  std::string name = tokens[1];
  for (std::size_t i = 2; i + 1 < tokens.size(); ++i) {
    name += " " + tokens[i];
  }
  return tokens[0] + "." + name;
}

// Relations (schema.name) the dump at `path` contains, from `pg_restore -l`.
core::Result<std::set<std::string>> DumpRelations(const Runtime& rt, const std::string& path) {
  auto listed = RunProcess(rt.Tool("pg_restore"), {"-l", path}, {});
  if (!listed.started || listed.exit_code != 0) {
    return Status(Code::kBackupFailed, "pg_restore -l " + path + " failed (exit " +
                                           std::to_string(listed.exit_code) +
                                           "): " + listed.output +
                                           " (is it a pg_dump -Fc file from `schemaop backup`?)");
  }
  std::set<std::string> relations;
  std::istringstream lines(listed.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == ';') {
      continue;
    }
    if (std::string relation = TocRelation(line); !relation.empty()) {
      relations.insert(relation);
    }
  }
  return relations;
}

}  // namespace

core::Result<BackupInfo> TakeBackup(Runtime& rt, const std::string& label) {
  BackupTarget target;
  if (Status opened = OpenBackupTarget(rt, label, &target); !opened.ok()) {
    return opened;
  }
  if (Status dumped = RunPgDump(rt, target); !dumped.ok()) {
    ::unlinkat(target.dir_fd, target.name.c_str(), 0);
    return dumped;
  }
  BackupInfo backup;
  backup.path = target.path();
  auto sha = Sha256HexOfFile(backup.path, &backup.bytes);
  if (!sha) {
    return Status(Code::kBackupFailed, "cannot read " + backup.path);
  }
  backup.sha256 = *sha;
  backup.created_at = UtcTimestampRfc3339();
  // A backup counts once pg_restore can read its table of contents; only
  // then may older ones go.
  auto listed = RunProcess(rt.Tool("pg_restore"), {"-l", backup.path}, {});
  if (!listed.started || listed.exit_code != 0) {
    return Status(Code::kBackupFailed, "the new backup " + backup.path +
                                           " cannot be read back (pg_restore -l exit " +
                                           std::to_string(listed.exit_code) +
                                           "); nothing was migrated and no old backup removed");
  }
  rt.Emit("backed-up", "backup " + backup.path + " (" + std::to_string(backup.bytes) +
                           " bytes, sha256 " + backup.sha256 + ")");
  ApplyRetention(rt, target);
  return backup;
}

core::Result<std::vector<std::string>> RelationsMissingFromDump(Runtime& rt,
                                                                const std::string& path) {
  auto dumped = DumpRelations(rt, path);
  if (!dumped.ok()) {
    return dumped.status();
  }
  std::vector<std::string> extra;
  try {
    pqxx::read_transaction tx(rt.session->conn());
    for (const auto& row :
         tx.exec("SELECT n.nspname || '.' || c.relname FROM pg_class c "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                 "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'schemaop') "
                 "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
                 "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
                 "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1")) {
      std::string name = row[0].as<std::string>();
      if (dumped->count(name) == 0) {
        extra.push_back(name);
      }
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot list the database's relations", Code::kInternal);
  }
  return extra;
}

Status RunPgRestore(Runtime& rt, const std::string& path) {
  rt.Emit("restoring", "pg_restore --clean --if-exists --single-transaction " + path);
  auto child = ChildConnection::Create(rt.info);
  if (!child.ok()) {
    return child.status();
  }
  auto result = RunProcess(rt.Tool("pg_restore"),
                           {"--clean", "--if-exists", "--single-transaction", "--no-password",
                            std::string("--dbname=service=") + ChildConnection::kService, path},
                           (*child)->Environment(), -1, rt.options.tool_timeout);
  if (!result.started || result.exit_code != 0) {
    return Status(Code::kBackupFailed,
                  "pg_restore failed (exit " + std::to_string(result.exit_code) +
                      "): " + (result.timed_out ? TimedOut(rt) : std::string()) +
                      core::ScrubSecret(result.output, rt.info.password) +
                      " (--single-transaction: the database is unchanged)");
  }
  return Status::Ok();
}

}  // namespace schemaop::database::internal
