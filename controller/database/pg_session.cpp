#include "database/pg_session.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "core/database_url.h"

namespace schemaop::database::internal {
namespace {

std::string QuoteConnValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += "'";
  return out;
}

// A fresh directory of mode 0700 under TMPDIR (or /tmp) with one new file
// of mode 0600 holding `text`. `directory`/`file` are set as soon as they
// exist, so the caller's destructor removes them on failure too.
core::Status WritePrivateFile(const std::string& prefix, const std::string& file_name,
                              const std::string& text, std::string* directory, std::string* file) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix +
                        "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {  // mode 0700
    return core::Status(core::Code::kInternal, "cannot create a private directory under " +
                                                   pattern + ": " + std::strerror(errno));
  }
  *directory = pattern;
  std::string path = pattern + "/" + file_name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Status(core::Code::kInternal, "cannot create " + path + ": " +
                                                   std::strerror(errno));
  }
  *file = path;
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::close(fd);
      return core::Status(core::Code::kInternal, "cannot write " + path + ": " +
                                                     std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return core::Status::Ok();
}

void RemovePrivateFile(const std::string& directory, const std::string& file) {
  if (!file.empty()) {
    ::unlink(file.c_str());
  }
  if (!directory.empty()) {
    ::rmdir(directory.c_str());
  }
}

// Number of X.509 certificates OpenSSL reads from `pem` (0 when none).
int CountPemCertificates(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) {
    return 0;
  }
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  BIO_free(bio);
  return count;
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

core::Result<std::unique_ptr<CaCertificateFile>> CaCertificateFile::Create(const std::string& pem) {
  if (pem.size() > (1u << 20) || CountPemCertificates(pem) == 0) {
    return core::Status(core::Code::kInvalidArgument,
                        "the CA certificate given for TLS to the database is not a PEM "
                        "certificate (expected one or more -----BEGIN CERTIFICATE----- blocks, "
                        "at most 1 MiB; for the operator, the key named by "
                        "spec.database.caSecretRef)");
  }
  std::unique_ptr<CaCertificateFile> out(new CaCertificateFile());
  core::Status written =
      WritePrivateFile("schemaop-ca", "root.crt", pem, &out->directory_, &out->file_);
  if (!written.ok()) {
    return written;
  }
  return out;
}

CaCertificateFile::~CaCertificateFile() { RemovePrivateFile(directory_, file_); }

core::Result<ConnInfo> ParseConnInfo(const std::string& url, const std::string& ca_pem) {
  ConnInfo info;
  info.redacted = core::RedactDatabaseUrl(url);
  if (url.empty()) {
    return core::Status(core::Code::kInvalidArgument,
                        "no database URL: pass --database URL or set DATABASE_URL");
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? Trim(error) : "out of memory";
    if (error != nullptr) {
      PQfreemem(error);
    }
    return core::Status(core::Code::kInvalidArgument,
                        "cannot parse the database URL " + info.redacted + ": " +
                            core::ScrubSecret(core::ScrubSecret(message, url),
                                              core::DatabaseUrlPassword(url)) +
                            " (expected postgresql://USER:PASSWORD@HOST:PORT/DBNAME)");
  }
  std::map<std::string, std::string> values;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) {
      values[option->keyword] = option->val;
    }
  }
  PQconninfoFree(options);
  // schemaop always identifies itself, so a DBA sees who holds locks.
  values["application_name"] = "schemaop";
  values.erase("fallback_application_name");
  values.try_emplace("connect_timeout", "10");
  // A dead peer is noticed within seconds on an idle or stuck connection
  // (the URL may override); see SessionSettings for the running statement.
  values.try_emplace("keepalives", "1");
  values.try_emplace("keepalives_idle", "10");
  values.try_emplace("keepalives_interval", "5");
  values.try_emplace("keepalives_count", "3");
  if (!ca_pem.empty()) {
    auto ca_file = CaCertificateFile::Create(ca_pem);
    if (!ca_file.ok()) {
      return ca_file.status();
    }
    auto mode = values.find("sslmode");
    if (mode != values.end() &&
        (mode->second == "disable" || mode->second == "allow" || mode->second == "prefer")) {
      // A CA given to be checked against must not be silently ignored.
      return core::Status(core::Code::kInvalidArgument,
                          "a CA certificate is given (for the operator, spec.database.caSecretRef) "
                          "but the database URL's sslmode=" + mode->second +
                              " does not verify the server's certificate: use "
                              "sslmode=verify-full (or verify-ca), or leave sslmode out of the URL");
    }
    info.ca_file = std::shared_ptr<const CaCertificateFile>(std::move(ca_file).value());
    values["sslrootcert"] = info.ca_file->path();
    values.try_emplace("sslmode", "verify-full");
  }
  for (const auto& [key, value] : values) {
    std::string pair = key + "=" + QuoteConnValue(value) + " ";
    info.conninfo += pair;
    if (!IsSecretParameter(key)) {
      info.conninfo_without_password += pair;
    }
  }
  info.params = values;
  auto get = [&](const char* key) {
    auto it = values.find(key);
    return it == values.end() ? std::string() : it->second;
  };
  info.password = get("password");
  info.dbname = get("dbname");
  info.host = get("host");
  info.port = get("port");
  info.user = get("user");
  return info;
}

std::string ConnectionStringFor(const ConnInfo& info, const std::string& dbname) {
  std::string out;
  for (const auto& [key, value] : info.params) {
    out += key + "=" + QuoteConnValue(key == "dbname" ? dbname : value) + " ";
  }
  if (info.params.count("dbname") == 0) {
    out += "dbname=" + QuoteConnValue(dbname);
  }
  return out;
}

bool IsSecretParameter(const std::string& keyword) {
  return keyword == "password" || keyword == "sslpassword";
}

core::Result<std::unique_ptr<ChildConnection>> ChildConnection::Create(const ConnInfo& info) {
  std::string text = std::string("[") + kService + "]\n";
  for (const auto& [key, value] : info.params) {
    if (value.find_first_of("\r\n") != std::string::npos) {
      return core::Status(core::Code::kInvalidArgument,
                          "the database URL's parameter '" + key +
                              "' contains a line break, which pg_dump/pg_restore cannot be given; "
                              "fix the URL");
    }
    text += key + "=" + value + "\n";
  }
  std::unique_ptr<ChildConnection> out(new ChildConnection());
  core::Status written =
      WritePrivateFile("schemaop-conn", "pg_service.conf", text, &out->directory_, &out->file_);
  if (!written.ok()) {
    return written;
  }
  return out;
}

ChildConnection::~ChildConnection() { RemovePrivateFile(directory_, file_); }

std::map<std::string, std::string> ChildConnection::Environment() const {
  // An inherited PGPASSWORD/PGSSLPASSWORD-like value must not win or leak.
  return {{"PGSERVICEFILE", file_}, {"PGSERVICE", kService}, {"PGPASSWORD", ""}};
}

// The same engine serves the CLI and the controller, so the hint names both
// places a URL comes from.
constexpr const char* kUrlSource =
    "the database URL (--database or DATABASE_URL; for the operator, the Secret "
    "named by spec.database.urlSecretRef)";

std::string ConnectionFailureHint(const std::string& message) {
  if (message.find("certificate verify failed") != std::string::npos) {
    return std::string(
               "TLS: the server's certificate is not signed by the CA given (sslrootcert in "
               "the URL, or for the operator the key named by spec.database.caSecretRef); give "
               "the CA that issued the server's certificate (e.g. your provider's CA bundle), "
               "or check that it has not expired; ") + kUrlSource;
  }
  if (message.find("does not match host name") != std::string::npos) {
    return std::string(
               "TLS: the server's certificate does not name the host of the URL; connect by a "
               "name or address the certificate holds, or use sslmode=verify-ca to check the "
               "CA only; ") + kUrlSource;
  }
  if (message.find("root certificate file") != std::string::npos) {
    return std::string(
               "TLS: sslmode=verify-ca/verify-full need the CA that issued the server's "
               "certificate: set sslrootcert in the URL to a readable PEM file, or for the "
               "operator spec.database.caSecretRef; ") + kUrlSource;
  }
  if (message.find("server does not support SSL") != std::string::npos) {
    return std::string("TLS: the server does not accept TLS connections but the URL's sslmode "
                       "requires it; enable ssl on the server or change sslmode in ") +
           kUrlSource;
  }
  if (message.find("password authentication failed") != std::string::npos ||
      message.find("no password supplied") != std::string::npos ||
      message.find("authentication failed") != std::string::npos) {
    return std::string("check the user and password in ") + kUrlSource;
  }
  if (message.find("does not exist") != std::string::npos &&
      message.find("database") != std::string::npos) {
    return std::string("check the database name in ") + kUrlSource;
  }
  if (message.find("role") != std::string::npos &&
      message.find("does not exist") != std::string::npos) {
    return std::string("check the user name in ") + kUrlSource;
  }
  if (message.find("SSL") != std::string::npos || message.find("certificate") != std::string::npos) {
    return std::string("check the sslmode and certificates in ") + kUrlSource;
  }
  return std::string("check the host and port in ") + kUrlSource + " and that the server is running";
}

std::string WithoutRowValues(const std::string& server_message, const std::string& sqlstate) {
  std::string out;
  bool dropping = false;
  std::size_t start = 0;
  bool first = true;
  while (start <= server_message.size()) {
    std::size_t end = server_message.find('\n', start);
    if (end == std::string::npos) {
      end = server_message.size();
    }
    std::string line = server_message.substr(start, end - start);
    start = end + 1;
    auto starts = [&line](const char* prefix) { return line.rfind(prefix, 0) == 0; };
    if (starts("DETAIL:") || starts("CONTEXT:") || starts("QUERY:") || starts("WHERE:") ||
        starts("STATEMENT:")) {
      dropping = true;  // row values, key values, function arguments
      continue;
    }
    if (starts("HINT:") || starts("LINE ") || starts("ERROR:") || starts("FATAL:")) {
      dropping = false;
    }
    if (dropping || line.empty()) {
      continue;
    }
    if (starts("HINT:") && line.find_first_of("'\"") != std::string::npos) {
      continue;  // a hint that quotes something may quote data
    }
    if (first && sqlstate.rfind("22", 0) == 0) {
      // Data exceptions quote the offending value in the primary message
      // (invalid input syntax for type integer: "..."): keep the words only.
      std::string reduced;
      bool quoted = false;
      for (char c : line) {
        if (c == '"') {
          reduced += quoted ? "\"" : "\"(value hidden)";
          quoted = !quoted;
        } else if (!quoted) {
          reduced += c;
        }
      }
      line = reduced;
    }
    first = false;
    out += (out.empty() ? "" : "\n") + line;
    if (end == server_message.size()) {
      break;
    }
  }
  return out;
}

core::Status StatusFromException(const std::exception& error, std::string_view context,
                                 std::string_view secret, core::Code failure_code) {
  std::string prefix = context.empty() ? std::string() : std::string(context) + ": ";
  std::string what = Trim(core::ScrubSecret(error.what(), secret));
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    what = WithoutRowValues(what, sql->sqlstate());
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr) {
    // The connection broke while COMMIT was in flight: the server may or may
    // not have committed. Never report this as rolled back.
    return core::Status(core::Code::kUnreachable,
                        prefix + "the connection was lost during COMMIT, so whether that "
                                 "transaction committed is unknown; the next run reads "
                                 "schemaop.run_log and recovers (check with `schemaop current`)",
                        "in-doubt");
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr) {
    return core::Status(core::Code::kUnreachable,
                        prefix + "cannot reach the database: " + what + " (" +
                            ConnectionFailureHint(what) + ")",
                        "broken_connection");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    std::string sqlstate = sql->sqlstate();
    std::string message = prefix + what;
    if (!sqlstate.empty()) {
      message += " [SQLSTATE " + sqlstate + "]";
    }
    if (sqlstate == "55P03") {
      message += " (a lock was not granted within lock_timeout; retry when the "
                 "application is idle or raise --lock-timeout)";
    } else if (sqlstate == "57014") {
      message += " (statement_timeout or cancel; raise --statement-timeout if the "
                 "statement needs longer)";
    }
    return core::Status(failure_code, message, sqlstate);
  }
  return core::Status(failure_code, prefix + what);
}

core::Result<std::unique_ptr<Session>> Session::Open(const ConnInfo& info,
                                                     const SessionSettings& settings) {
  std::unique_ptr<Session> session(new Session());
  try {
    session->conn_ = std::make_unique<pqxx::connection>(info.conninfo);
  } catch (const std::exception& error) {
    std::string what = Trim(core::ScrubSecret(error.what(), info.password));
    return core::Status(core::Code::kUnreachable,
                        "cannot connect to " + info.redacted + ": " + what + " (" +
                            ConnectionFailureHint(what) + ")",
                        "connect");
  }
  session->quiet_ = std::make_unique<pqxx::quiet_errorhandler>(*session->conn_);
  // libpqxx 6 silently reconnects a broken connection, which would drop the
  // advisory lock and the session settings without notice (design §4).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  session->conn_->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  try {
    pqxx::nontransaction tx(*session->conn_);
    tx.exec("SET lock_timeout = " + std::to_string(settings.lock_timeout.count()));
    tx.exec("SET statement_timeout = " + std::to_string(settings.statement_timeout.count()));
    tx.exec("SET application_name = " + tx.quote(settings.application_name));
    // Invariant: a statement whose client died (a killed controller or CLI)
    // is aborted by the server within about a second, so it neither keeps
    // running with the writers at zero nor holds locks for the next leader.
    // PostgreSQL 14+; older servers rely on the keepalives alone.
    if (tx.exec1("SELECT current_setting('server_version_num')::int >= 140000")[0].as<bool>()) {
      tx.exec("SET client_connection_check_interval = 1000");
    }
  } catch (const std::exception& error) {
    return StatusFromException(error, "cannot configure the session on " + info.redacted,
                               info.password, core::Code::kUnreachable);
  }
  return session;
}

Session::~Session() { quiet_.reset(); }

}  // namespace schemaop::database::internal

namespace schemaop::database::internal {
namespace {

core::Status PrivilegeProblem(const std::string& message) {
  return core::Status(core::Code::kMigrationFailed, message + "; nothing was changed", "42501");
}

std::string Ident(pqxx::transaction_base& tx, const std::string& name) {
  return tx.quote_name(name);
}

// Tables of schema schemaop the role does not own (the engine alters them).
core::Status ForeignTablesProblem(pqxx::transaction_base& tx, const std::string& user) {
  auto foreign = tx.exec(
      "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'schemaop' AND c.relkind IN ('r', 'p') "
      "AND NOT pg_has_role(c.relowner, 'USAGE') ORDER BY 1");
  if (!foreign.empty()) {
    std::string names;
    std::string fix;
    for (const auto& t : foreign) {
      names += (names.empty() ? "" : ", ") + std::string("schemaop.") +
               Ident(tx, t[0].as<std::string>()) + " (owned by " +
               Ident(tx, t[1].as<std::string>()) + ")";
      fix += " ALTER TABLE schemaop." + Ident(tx, t[0].as<std::string>()) + " OWNER TO " +
             Ident(tx, user) + ";";
    }
    return PrivilegeProblem("the role " + Ident(tx, user) +
                            " must own schemaop's bookkeeping tables (the engine adds columns "
                            "and indexes to them) but does not own " +
                            names + ". Run, as their owner or an administrator:" + fix);
  }
  return core::Status::Ok();
}

// The version table: creatable in the current schema, or readable and
// writable when it exists.
core::Status VersionTableProblem(pqxx::transaction_base& tx, const std::string& user,
                                 const std::string& version_table) {
  auto table = tx.exec_params1(
      "SELECT to_regclass($1) IS NOT NULL, coalesce(current_schema(), ''), "
      "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false), "
      "coalesce(has_table_privilege(to_regclass($1), 'SELECT') AND "
      "has_table_privilege(to_regclass($1), 'INSERT') AND "
      "has_table_privilege(to_regclass($1), 'UPDATE') AND "
      "has_table_privilege(to_regclass($1), 'DELETE'), false)",
      version_table);
  const bool table_exists = table[0].as<bool>();
  const std::string schema = table[1].as<std::string>();
  if (!table_exists && schema.empty()) {
    return PrivilegeProblem("no schema of the search_path exists, so the version table " +
                            Ident(tx, version_table) +
                            " cannot be created; set search_path for the role (ALTER ROLE " +
                            Ident(tx, user) + " SET search_path = public;)");
  }
  if (!table_exists && !table[2].as<bool>()) {
    return PrivilegeProblem("the role " + Ident(tx, user) + " may not create the version table " +
                            Ident(tx, version_table) + " in schema " + Ident(tx, schema) +
                            ": it lacks CREATE on that schema. Run, as the schema's owner or "
                            "an administrator: GRANT USAGE, CREATE ON SCHEMA " +
                            Ident(tx, schema) + " TO " + Ident(tx, user) + ";");
  }
  if (table_exists && !table[3].as<bool>()) {
    return PrivilegeProblem("the role " + Ident(tx, user) + " needs SELECT, INSERT, UPDATE and " +
                            "DELETE on the version table " + Ident(tx, version_table) +
                            ". Run, as its owner or an administrator: GRANT SELECT, INSERT, "
                            "UPDATE, DELETE ON " + Ident(tx, version_table) + " TO " +
                            Ident(tx, user) + ";");
  }
  return core::Status::Ok();
}

}  // namespace

core::Status CheckBookkeepingPrivileges(pqxx::connection& conn, const std::string& version_table) {
  try {
    pqxx::read_transaction tx(conn);
    auto row = tx.exec1(
        "SELECT current_user, current_database(), "
        "has_database_privilege(current_database(), 'CREATE'), "
        "n.oid IS NOT NULL, "
        "coalesce(has_schema_privilege(n.oid, 'USAGE') AND has_schema_privilege(n.oid, 'CREATE'), "
        "false), "
        "coalesce(pg_get_userbyid(n.nspowner), '') "
        "FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = 'schemaop'");
    const std::string user = row[0].as<std::string>();
    const std::string database = row[1].as<std::string>();
    const bool create_on_database = row[2].as<bool>();
    const bool schema_exists = row[3].as<bool>();
    const bool schema_usable = row[4].as<bool>();
    const std::string schema_owner = row[5].as<std::string>();
    if (!schema_exists && !create_on_database) {
      return PrivilegeProblem(
          "the role " + Ident(tx, user) + " may not create schemaop's bookkeeping schema " +
          "`schemaop` in database " + Ident(tx, database) +
          ": it lacks CREATE on the database (the database's owner has it). Run, as the "
          "database's owner or an administrator: GRANT CREATE ON DATABASE " +
          Ident(tx, database) + " TO " + Ident(tx, user) +
          "; (or create the schema for it: CREATE SCHEMA schemaop AUTHORIZATION " +
          Ident(tx, user) + ";)");
    }
    if (schema_exists && !schema_usable) {
      return PrivilegeProblem("the role " + Ident(tx, user) +
                              " lacks USAGE and CREATE on schema schemaop (owned by " +
                              Ident(tx, schema_owner) + "). Run, as " + Ident(tx, schema_owner) +
                              " or an administrator: ALTER SCHEMA schemaop OWNER TO " +
                              Ident(tx, user) + ";");
    }
    if (schema_exists) {
      if (core::Status owned = ForeignTablesProblem(tx, user); !owned.ok()) {
        return owned;
      }
    }
    if (core::Status table = VersionTableProblem(tx, user, version_table); !table.ok()) {
      return table;
    }
  } catch (const std::exception& error) {
    return StatusFromException(error, "cannot check the role's privileges", "",
                               core::Code::kInternal);
  }
  return core::Status::Ok();
}

core::Status CheckRowCountPrivileges(pqxx::connection& conn, const std::string& version_table) {
  try {
    pqxx::read_transaction tx(conn);
    // The same tables as CountRelationRows (row_guard.cpp).
    auto rows = tx.exec_params(
        "SELECT n.nspname, c.relname, has_schema_privilege(n.oid, 'USAGE'), current_user "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'schemaop') "
        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
        "AND NOT (c.relname = $1 AND n.nspname = current_schema()) "
        "AND NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')) "
        "ORDER BY 1, 2",
        version_table);
    if (rows.empty()) {
      return core::Status::Ok();
    }
    const std::string user = rows[0][3].as<std::string>();
    std::string names;
    std::vector<std::string> schemas;
    std::vector<std::string> schemas_without_usage;
    int listed = 0;
    for (const auto& row : rows) {
      const std::string schema = row[0].as<std::string>();
      if (listed < 10) {
        names += (names.empty() ? "" : ", ") + Ident(tx, schema) + "." +
                 Ident(tx, row[1].as<std::string>());
      }
      ++listed;
      if (schemas.empty() || schemas.back() != schema) {
        schemas.push_back(schema);
        if (!row[2].as<bool>()) {
          schemas_without_usage.push_back(schema);
        }
      }
    }
    if (listed > 10) {
      names += " and " + std::to_string(listed - 10) + " more";
    }
    std::string fix;
    for (const auto& schema : schemas_without_usage) {
      fix += " GRANT USAGE ON SCHEMA " + Ident(tx, schema) + " TO " + Ident(tx, user) + ";";
    }
    for (const auto& schema : schemas) {
      fix += " GRANT SELECT ON ALL TABLES IN SCHEMA " + Ident(tx, schema) + " TO " +
             Ident(tx, user) + ";";
    }
    return PrivilegeProblem(
        "the row-count guard (verify.rowCounts: Preserve, the default) counts the rows of every "
        "table in the database, but the role " +
        Ident(tx, user) + " may not read " + names +
        ". Run, as their owner or an administrator:" + fix +
        " (or set spec.verify.rowCounts: Off, knowing that rows lost in those tables then go "
        "unnoticed)");
  } catch (const std::exception& error) {
    return StatusFromException(error, "cannot check the role's privileges", "",
                               core::Code::kInternal);
  }
}

}  // namespace schemaop::database::internal
