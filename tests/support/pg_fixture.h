#pragma once
// The shared fixture of the `pg` tier: a scratch database per test on the
// harness PostgreSQL (pg_test_env.h), a temporary directory for migration
// files, and the few ways tests read and write the database. libpqxx stays
// in pg_fixture.cpp.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace schemaop::testing {

// `prefix` + the running test's name (parameter suffix included), lower
// case, every byte outside [a-z0-9_] turned into '_', cut to PostgreSQL's 63
// bytes: a database name of its own per test.
std::string DatabaseNameForCurrentTest(const std::string& prefix);

// A new directory /tmp/schemaop-<tag>-XXXXXX (mkdtemp).
std::string MakeTempDir(const std::string& tag);

void WriteTextFile(const std::string& path, const std::string& text);
std::string ReadTextFile(const std::string& path);

// The text of a migration file: the header (revision, down_revision,
// message, then `extra_header` lines as given) and `body` (its sections,
// markers included) after a blank line.
std::string MigrationText(const std::string& revision, const std::string& down_revision,
                          const std::string& message, const std::string& body,
                          const std::string& extra_header = "");

// The password of a URL postgresql://user:password@host/... (tests' URLs
// are not percent-encoded).
std::string PasswordOf(const std::string& url);
// `url` with its user info replaced by role:password.
std::string UrlAs(const std::string& url, const std::string& role, const std::string& password);

// Runs `sql` on `url` outside an explicit transaction block (several
// statements in one string run in one implicit transaction); throws on error.
void ExecSql(const std::string& url, const std::string& sql);
// The first value of the first row as text: "<null>", "<no rows>", or
// "<error: ...>", so that one broken assertion does not hide the others.
std::string QueryValue(const std::string& url, const std::string& sql);

// Creates the login role if missing and sets `attributes` (e.g. "NOSUPERUSER")
// and its password, as the superuser.
void EnsureLoginRole(const std::string& role, const std::string& password,
                     const std::string& attributes);

// The engine's migration lock key (design §4.2): FNV-1a 64 of "schemaop",
// for tests that hold the lock themselves.
std::int64_t MigrationLockKey();

// A loopback TCP port that nothing listens on (bound once, then closed).
int UnusedLoopbackPort();

// A test with its own scratch database, owned by the harness's
// non-superuser role (`database_`, `url_`), and its own temporary directory
// `dir_` holding `dir_/m` for migration files. `observer_url_` is what
// Query/Exec connect with (`url_` unless a test needs more).
class ScratchDatabaseTest : public ::testing::Test {
 protected:
  // `prefix` names the databases of one suite (DatabaseNameForCurrentTest),
  // `tag` its temporary directories.
  ScratchDatabaseTest(std::string prefix, std::string tag)
      : prefix_(std::move(prefix)), tag_(std::move(tag)) {}

  void SetUp() override;
  void TearDown() override;

  void Write(const std::string& name, const std::string& text);  // into dir_/m
  void Remove(const std::string& name);
  std::string Query(const std::string& sql) { return QueryValue(observer_url_, sql); }
  void Exec(const std::string& sql) { ExecSql(observer_url_, sql); }
  // The revisions in alembic_version, sorted and comma-separated.
  std::string Versions();
  bool TableExists(const std::string& table);
  std::string LastRunOutcome();  // of schemaop.run_log's newest row

  std::string database_;
  std::string url_;           // the database owner (not a superuser)
  std::string observer_url_;  // the test's own look and setup
  std::string dir_;

 private:
  std::string prefix_;
  std::string tag_;
};

}  // namespace schemaop::testing
