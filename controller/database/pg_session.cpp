#include "database/pg_session.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

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

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

core::Result<ConnInfo> ParseConnInfo(const std::string& url) {
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
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/schemaop-conn-XXXXXX";
  std::unique_ptr<ChildConnection> out(new ChildConnection());
  if (mkdtemp(pattern.data()) == nullptr) {  // mode 0700
    return core::Status(core::Code::kInternal, "cannot create a private directory under " +
                                                   pattern + ": " + std::strerror(errno));
  }
  out->directory_ = pattern;
  out->file_ = pattern + "/pg_service.conf";
  int fd = ::open(out->file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Status(core::Code::kInternal, "cannot create " + out->file_ + ": " +
                                                   std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::close(fd);
      return core::Status(core::Code::kInternal, "cannot write " + out->file_ + ": " +
                                                     std::strerror(errno));
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return out;
}

ChildConnection::~ChildConnection() {
  if (!file_.empty()) {
    ::unlink(file_.c_str());
  }
  if (!directory_.empty()) {
    ::rmdir(directory_.c_str());
  }
}

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
    tx.exec("SET application_name = 'schemaop'");
  } catch (const std::exception& error) {
    return StatusFromException(error, "cannot configure the session on " + info.redacted,
                               info.password, core::Code::kUnreachable);
  }
  return session;
}

Session::~Session() { quiet_.reset(); }

}  // namespace schemaop::database::internal
