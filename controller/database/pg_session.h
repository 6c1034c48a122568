#pragma once
// Internal to the database layer: connection set-up and the translation of
// libpq/libpqxx failures into core::Status. Includes pqxx, so only the
// database layer's .cpp files include it (never a public header).
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

#include "core/status.h"

namespace schemaop::database::internal {

// A parsed connection string (URL or key=value), split so the password can
// travel separately (PGPASSWORD for child processes) and be scrubbed.
struct ConnInfo {
  std::string conninfo;                   // key=value form, with password
  std::string conninfo_without_password;  // for pg_dump --dbname
  std::string password;                   // empty when none was given
  std::string dbname;
  std::string host;
  std::string port;
  std::string user;
  std::string redacted;                   // RedactDatabaseUrl(original)
  // Every libpq parameter as parsed (secrets included), for child processes.
  std::map<std::string, std::string> params;
};

// libpq parameters whose values are secrets: never on a command line, in an
// environment listing, a message or a log.
bool IsSecretParameter(const std::string& keyword);

// A private connection service file for a child process (pg_dump,
// pg_restore): every libpq parameter, secrets included, is written to a file
// of mode 0600 in a fresh directory of mode 0700, and the child finds it
// through PGSERVICEFILE/PGSERVICE. So no secret is in its argv (`ps`,
// /proc/PID/cmdline) or environment (/proc/PID/environ). Removed on
// destruction.
class ChildConnection {
 public:
  static constexpr const char* kService = "schemaop";
  // kInvalidArgument when a value cannot be written (a line break in it),
  // kInternal when the file cannot be created.
  static core::Result<std::unique_ptr<ChildConnection>> Create(const ConnInfo& info);
  ~ChildConnection();
  ChildConnection(const ChildConnection&) = delete;
  ChildConnection& operator=(const ChildConnection&) = delete;
  // PGSERVICEFILE and PGSERVICE for the child; also clears PGPASSWORD.
  std::map<std::string, std::string> Environment() const;

 private:
  ChildConnection() = default;
  std::string directory_;
  std::string file_;
};

// kInvalidArgument (naming the fix) when libpq cannot parse `url`.
core::Result<ConnInfo> ParseConnInfo(const std::string& url);

struct SessionSettings {
  std::chrono::milliseconds lock_timeout{10000};
  std::chrono::milliseconds statement_timeout{0};
};

// One server session with reactivation inhibited (a silent reconnect would
// lose session state: the advisory lock, SET values), notices swallowed, and
// application_name=schemaop, lock_timeout and statement_timeout set.
class Session {
 public:
  static core::Result<std::unique_ptr<Session>> Open(const ConnInfo& info,
                                                     const SessionSettings& settings);
  ~Session();
  pqxx::connection& conn() { return *conn_; }

 private:
  Session() = default;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::quiet_errorhandler> quiet_;  // destroyed before conn_
};

// Translates an exception thrown by libpqxx (or anything else) into a
// Status: broken_connection -> kUnreachable with a fix hint; sql_error ->
// `failure_code` with the SQLSTATE in detail. `context` prefixes the message;
// `secret` is scrubbed from everything.
core::Status StatusFromException(const std::exception& error, std::string_view context,
                                 std::string_view secret,
                                 core::Code failure_code = core::Code::kMigrationFailed);

// A server error without the parts that can carry row data: DETAIL (key
// and row values), CONTEXT, QUERY and STATEMENT lines are dropped, a HINT
// that quotes anything is dropped, and a data exception's (SQLSTATE class
// 22) quoted value is hidden. Constraint, table and column names stay.
std::string WithoutRowValues(const std::string& server_message, const std::string& sqlstate);

// The message of a connection failure with the fix named.
std::string ConnectionFailureHint(const std::string& libpq_message);

}  // namespace schemaop::database::internal
