#pragma once
// Internal to the database layer: connection set-up and the translation of
// libpq/libpqxx failures into core::Status. Includes pqxx, so only the
// database layer's .cpp files include it (never a public header).
#include <chrono>
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

// The message of a connection failure with the fix named.
std::string ConnectionFailureHint(const std::string& libpq_message);

}  // namespace schemaop::database::internal
