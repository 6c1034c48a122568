#include "database/scratch_database.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <thread>

#include "database/process.h"
#include "database/rehearsal.h"
#include "database/runtime.h"

namespace schemaop::database::internal {
namespace {

using Clock = std::chrono::steady_clock;
using core::Code;
using core::Status;

std::chrono::milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// CREATE DATABASE options reproducing the source's encoding and locale, so
// the copy sorts and compares text as the database does.
std::string LocaleClause(pqxx::connection* source) {
  if (source == nullptr) {
    return {};
  }
  pqxx::read_transaction tx(*source);
  const bool icu_known = source->server_version() >= 150000;
  auto row = tx.exec1(std::string("SELECT pg_encoding_to_char(encoding), datcollate, datctype, ") +
                      (icu_known ? "datlocprovider::text, coalesce(daticulocale, '')"
                                 : "'c'::text, ''::text") +
                      " FROM pg_database WHERE datname = current_database()");
  std::string clause = " ENCODING " + tx.quote(row[0].as<std::string>()) + " LC_COLLATE " +
                       tx.quote(row[1].as<std::string>()) + " LC_CTYPE " +
                       tx.quote(row[2].as<std::string>());
  if (row[3].as<std::string>() == "i") {
    clause += " LOCALE_PROVIDER icu ICU_LOCALE " + tx.quote(row[4].as<std::string>());
  }
  return clause;
}

}  // namespace

bool IsScratchDatabaseName(std::string_view name) {
  const std::string_view prefix = kScratchPrefix;
  if (name.size() != prefix.size() + 16 || name.substr(0, prefix.size()) != prefix) {
    return false;
  }
  for (char c : name.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::string NewScratchDatabaseName() {
  std::random_device random;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%08x%08x", random(), random());
  return std::string(kScratchPrefix) + hex;
}

Status CheckCreateDatabase(pqxx::connection& admin, bool rehearsal_url_given) {
  pqxx::read_transaction tx(admin);
  auto row = tx.exec1(
      "SELECT current_user, rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user");
  if (row[1].as<bool>()) {
    return Status::Ok();
  }
  const std::string role = row[0].as<std::string>();
  return Status(Code::kMigrationFailed,
                "a rehearsal creates a scratch database, but the role " + tx.quote_name(role) +
                    " may not create databases: run `ALTER ROLE " + tx.quote_name(role) +
                    " CREATEDB` as an administrator" +
                    (rehearsal_url_given
                         ? " (the role of --rehearsal-url)"
                         : ", or, with the schemaop CLI, name a server and role that may (--rehearsal-url URL)") +
                    "; nothing was changed",
                "42501");
}

std::vector<std::string> RemoveLeftoverScratchDatabases(pqxx::connection& admin) {
  std::vector<std::string> candidates;
  {
    pqxx::read_transaction tx(admin);
    for (const auto& row : tx.exec(
             "SELECT d.datname FROM pg_database d "
             "WHERE starts_with(d.datname, " + tx.quote(kScratchPrefix) + ") "
             "AND shobj_description(d.oid, 'pg_database') = " + tx.quote(kScratchComment) +
             " AND pg_has_role(d.datdba, 'USAGE') "
             "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid) "
             "ORDER BY 1")) {
      std::string name = row[0].as<std::string>();
      if (IsScratchDatabaseName(name)) {
        candidates.push_back(std::move(name));
      }
    }
  }
  std::vector<std::string> removed;
  for (const auto& name : candidates) {
    try {
      // No FORCE: a session that connected meanwhile means it is in use.
      pqxx::nontransaction tx(admin);
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name));
      removed.push_back(name);
    } catch (const pqxx::sql_error&) {
      // In use or not ours after all: the next rehearsal looks again.
    }
  }
  return removed;
}

core::Result<std::unique_ptr<ScratchDatabase>> ScratchDatabase::Create(Session& admin,
                                                                      const ConnInfo& admin_info,
                                                                      pqxx::connection* source) {
  const std::string locale = LocaleClause(source);
  for (int attempt = 0;; ++attempt) {
    std::string name = NewScratchDatabaseName();
    try {
      pqxx::nontransaction tx(admin.conn());
      tx.exec("CREATE DATABASE " + tx.quote_name(name) + " TEMPLATE template0" + locale);
    } catch (const pqxx::sql_error& error) {
      if (error.sqlstate() == "42P04" && attempt < 3) {
        continue;  // the random name exists: never touch it, pick another
      }
      throw;
    }
    auto info = ParseConnInfo(ConnectionStringFor(admin_info, name));
    std::unique_ptr<ScratchDatabase> scratch(
        new ScratchDatabase(admin, name, info.ok() ? *info : admin_info));
    if (!info.ok()) {
      return info.status();
    }
    auto holder = Session::Open(scratch->info_, SessionSettings{});
    if (!holder.ok()) {
      return holder.status();
    }
    scratch->holder_ = std::move(holder).value();
    pqxx::nontransaction tx(scratch->holder_->conn());
    tx.exec("COMMENT ON DATABASE " + tx.quote_name(name) + " IS " + tx.quote(kScratchComment));
    return scratch;
  }
}

ScratchDatabase::~ScratchDatabase() {
  if (!dropped_) {
    try {
      (void)Drop();
    } catch (...) {
      // Left for the next rehearsal's RemoveLeftoverScratchDatabases.
    }
  }
}

Status ScratchDatabase::Drop() {
  holder_.reset();
  try {
    pqxx::nontransaction tx(admin_.conn());
    const bool force = admin_.conn().server_version() >= 130000;
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + (force ? " WITH (FORCE)" : ""));
    dropped_ = true;
    return Status::Ok();
  } catch (const std::exception& error) {
    return StatusFromException(error, "cannot drop the scratch database " + name_ +
                                          " (the next rehearsal removes it, or DROP DATABASE it)",
                               info_.password, Code::kInternal);
  }
}

Status CopyDatabase(const Runtime& rt, const ConnInfo& source, const ConnInfo& target,
                    std::chrono::milliseconds* dump, std::chrono::milliseconds* total) {
  auto from = ChildConnection::Create(source);
  if (!from.ok()) {
    return from.status();
  }
  auto to = ChildConnection::Create(target);
  if (!to.ok()) {
    return to.status();
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status(Code::kInternal, "cannot create a pipe for pg_dump | pg_restore");
  }
  const auto start = Clock::now();
  rt.Emit("copying", "pg_dump -Fc | pg_restore into the scratch database " + target.dbname);
  ProcessResult dumped;
  std::thread dumper([&] {
    dumped = RunProcess(
        rt.Tool("pg_dump"),
        {"-Fc", "--no-password", std::string("--dbname=service=") + ChildConnection::kService},
        (*from)->Environment(), pipe_fds[1], rt.options.tool_timeout);
    *dump = Since(start);
    ::close(pipe_fds[1]);  // pg_restore sees the end of the dump
  });
  ProcessResult restored = RunProcess(
      rt.Tool("pg_restore"),
      {"--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", "--no-password",
       std::string("--dbname=service=") + ChildConnection::kService},
      (*to)->Environment(), -1, rt.options.tool_timeout, pipe_fds[0]);
  ::close(pipe_fds[0]);  // a pg_dump still writing gets EPIPE and ends
  dumper.join();
  *total = Since(start);
  auto failed = [&](const char* tool, const ProcessResult& result) {
    std::string output = core::ScrubSecret(core::ScrubSecret(result.output, source.password),
                                           target.password);
    return Status(Code::kBackupFailed,
                  std::string(tool) + " failed (exit " + std::to_string(result.exit_code) +
                      ") while copying the database into the scratch database: " +
                      rt.scrubber.Scrub(output) + " (check that " + tool +
                      " is installed and matches the server version; nothing was changed)");
  };
  // A pg_dump that exited with an error explains a truncated restore; one
  // killed by SIGPIPE was stopped by pg_restore's failure.
  if (!dumped.started || dumped.exit_code > 0) {
    return failed("pg_dump", dumped);
  }
  if (!restored.started || restored.exit_code != 0) {
    return failed("pg_restore", restored);
  }
  if (dumped.exit_code != 0) {
    return failed("pg_dump", dumped);
  }
  return Status::Ok();
}

}  // namespace schemaop::database::internal
