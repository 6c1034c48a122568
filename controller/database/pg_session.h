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

// A private file holding a CA certificate bundle (PEM) for libpq's
// sslrootcert: mode 0600 in a fresh directory of mode 0700, removed on
// destruction. libpq only reads certificates from files.
class CaCertificateFile {
 public:
  // kInvalidArgument when `pem` holds no PEM certificate (checked with
  // OpenSSL), kInternal when the file cannot be written.
  static core::Result<std::unique_ptr<CaCertificateFile>> Create(const std::string& pem);
  ~CaCertificateFile();
  CaCertificateFile(const CaCertificateFile&) = delete;
  CaCertificateFile& operator=(const CaCertificateFile&) = delete;
  const std::string& path() const { return file_; }

 private:
  CaCertificateFile() = default;
  std::string directory_;
  std::string file_;
};

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
  // The file behind sslrootcert when the CA came as PEM (ParseConnInfo's
  // `ca_pem`). Shared because a ConnInfo is copied into sessions' owners;
  // the file goes with the last copy.
  std::shared_ptr<const CaCertificateFile> ca_file;
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
// `ca_pem` (optional): CA certificate(s) in PEM that the server's certificate
// must chain to. They are written to a CaCertificateFile that becomes
// sslrootcert (replacing one given in the URL) for every session and for
// pg_dump/pg_restore; sslmode becomes verify-full unless the URL sets one
// (a CA is given to be checked against; verify-ca or require stay as given,
// and require then verifies the CA as libpq does with a root certificate;
// disable, allow and prefer are kInvalidArgument: they would ignore it).
core::Result<ConnInfo> ParseConnInfo(const std::string& url, const std::string& ca_pem = {});

// `info` pointed at database `dbname` (every other parameter kept), as a
// key=value connection string (a rehearsal's scratch database).
std::string ConnectionStringFor(const ConnInfo& info, const std::string& dbname);

// What a run needs beyond ownership of its tables, checked before anything
// is changed; each failure is kMigrationFailed (detail "42501") naming the
// missing privilege and the statement that grants it:
//  - CREATE on the database, unless the schema `schemaop` exists; then USAGE
//    and CREATE on it, and ownership of the tables in it (the engine adds
//    columns to them);
//  - CREATE on the current schema when `version_table` does not exist yet,
//    else SELECT, INSERT, UPDATE and DELETE on it.
core::Status CheckBookkeepingPrivileges(pqxx::connection& conn, const std::string& version_table);

// The row guard (verify.rowCounts: Preserve) counts the rows of every table
// in every schema but pg_catalog, information_schema and schemaop, so it
// needs SELECT on each: kMigrationFailed naming the tables and the GRANT.
core::Status CheckRowCountPrivileges(pqxx::connection& conn, const std::string& version_table);

struct SessionSettings {
  std::chrono::milliseconds lock_timeout{10000};
  std::chrono::milliseconds statement_timeout{0};
  // Who this session belongs to, as a DBA (and fencing, design §4.2) sees it.
  std::string application_name = "schemaop";
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
