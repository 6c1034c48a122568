#include "support/pg_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>

#include "support/pg_test_env.h"

namespace schemaop::testing {

namespace fs = std::filesystem;

std::string DatabaseNameForCurrentTest(const std::string& prefix) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = prefix + info->name();
  for (auto& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c)) != 0
            ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
            : '_';
  }
  return name.substr(0, 63);
}

std::string MakeTempDir(const std::string& tag) {
  std::string pattern = "/tmp/schemaop-" + tag + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + " failed");
  }
  return pattern;
}

void WriteTextFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string MigrationText(const std::string& revision, const std::string& down_revision,
                          const std::string& message, const std::string& body,
                          const std::string& extra_header) {
  return "-- revision: " + revision +
         "\n-- down_revision:" + (down_revision.empty() ? "" : " " + down_revision) +
         "\n-- message: " + message + "\n" + extra_header + "\n" + body;
}

std::string PasswordOf(const std::string& url) {
  auto at = url.rfind('@');
  auto colon = url.find(':', url.find("://") + 3);
  return url.substr(colon + 1, at - colon - 1);
}

std::string UrlAs(const std::string& url, const std::string& role, const std::string& password) {
  auto scheme_end = url.find("://") + 3;
  return url.substr(0, scheme_end) + role + ":" + password + url.substr(url.rfind('@'));
}

void ExecSql(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

std::string QueryValue(const std::string& url, const std::string& sql) {
  try {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    auto result = tx.exec(sql);
    if (result.empty()) {
      return "<no rows>";
    }
    return result[0][0].is_null() ? "<null>" : result[0][0].as<std::string>();
  } catch (const std::exception& error) {
    return std::string("<error: ") + error.what() + ">";
  }
}

void EnsureLoginRole(const std::string& role, const std::string& password,
                     const std::string& attributes) {
  pqxx::connection conn(HarnessUrl());
  pqxx::nontransaction tx(conn);
  tx.exec("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + tx.quote(role) +
          ") THEN CREATE ROLE " + tx.quote_name(role) + " LOGIN; END IF; END $$");
  tx.exec("ALTER ROLE " + tx.quote_name(role) + " LOGIN " + attributes + " PASSWORD " +
          tx.quote(password));
}

std::int64_t MigrationLockKey() {
  std::uint64_t key = 14695981039346656037ULL;
  for (char c : std::string("schemaop")) {
    key = (key ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  return static_cast<std::int64_t>(key);
}

int UnusedLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("could not bind a loopback port");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);  // nothing listens there now
  return ntohs(addr.sin_port);
}

void ScratchDatabaseTest::SetUp() {
  database_ = DatabaseNameForCurrentTest(prefix_);
  url_ = CreateScratchDatabase(database_);
  observer_url_ = url_;
  dir_ = MakeTempDir(tag_);
  fs::create_directories(dir_ + "/m");
}

void ScratchDatabaseTest::TearDown() { fs::remove_all(dir_); }

void ScratchDatabaseTest::Write(const std::string& name, const std::string& text) {
  WriteTextFile(dir_ + "/m/" + name, text);
}

void ScratchDatabaseTest::Remove(const std::string& name) { fs::remove(dir_ + "/m/" + name); }

std::string ScratchDatabaseTest::Versions() {
  return Query(
      "SELECT coalesce(string_agg(version_num, ',' ORDER BY version_num), '') FROM "
      "alembic_version");
}

bool ScratchDatabaseTest::TableExists(const std::string& table) {
  return Query("SELECT to_regclass('" + table + "') IS NOT NULL") == "t";
}

std::string ScratchDatabaseTest::LastRunOutcome() {
  return Query("SELECT outcome FROM schemaop.run_log ORDER BY id DESC LIMIT 1");
}

}  // namespace schemaop::testing
