// The engine as on a managed PostgreSQL service (RDS, Cloud SQL, Azure):
// a role that is not a superuser, password (scram-sha-256) authentication,
// TLS with a CA the server's certificate chains to (tier `pg`; the harness,
// tests/support/pg_harness.sh, generates the CA and the certificate).
//
// What the engine needs beyond owning the database is checked before a run
// changes anything and named with the GRANT that fixes it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <pqxx/pqxx>

#include "database/migrator.h"
#include "support/engine_fixture.h"

namespace schemaop::database {
namespace {

namespace fs = std::filesystem;
using core::Code;

constexpr const char* kItems =
    "-- revision: r1\n-- down_revision:\n-- message: items\n\n"
    "-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY);\n"
    "INSERT INTO items VALUES (1), (2), (3);\n\n"
    "-- migrate:down\nDROP TABLE items;\n";

// Fails the migration unless its own session is encrypted: proves that the
// engine's session runs over TLS, not merely that TLS was possible.
constexpr const char* kAssertTls =
    "-- revision: r2\n-- down_revision: r1\n-- message: tls\n\n"
    "-- migrate:up\nDO $$ BEGIN IF NOT (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) "
    "THEN RAISE EXCEPTION 'this session is not encrypted'; END IF; END $$;\n"
    "CREATE TABLE tls_checked (id int);\n\n"
    "-- migrate:down\nDROP TABLE tls_checked;\n";

using testing::ReadTextFile;

std::vector<core::MigrationFile> Files(std::vector<std::pair<std::string, std::string>> sources) {
  auto files = ParseMigrationSources(sources);
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  return files.ok() ? std::move(files).value() : std::vector<core::MigrationFile>{};
}

// The test looks as the superuser (observer_url_); the engine connects as
// the owner (url_) unless a test says otherwise.
class ManagedPostgresTest : public testing::ScratchDatabaseTest {
 protected:
  ManagedPostgresTest() : ScratchDatabaseTest("managed_", "managed") {}

  void SetUp() override {
    ScratchDatabaseTest::SetUp();
    observer_url_ = testing::SuperuserUrlFor(database_);
  }

  MigratorOptions Options() { return testing::EngineOptions(dir_, "test"); }

  bool SchemaopSchemaExists() {
    return Query("SELECT count(*) FROM pg_namespace WHERE nspname = 'schemaop'") == "1";
  }
  std::string UrlAs(const std::string& role, const std::string& password) {
    return testing::UrlAs(url_, role, password);
  }
  // A login role that is neither superuser nor the database's owner.
  void EnsureRole(const std::string& role, const std::string& password) {
    testing::EnsureLoginRole(role, password, "NOSUPERUSER NOCREATEDB NOCREATEROLE");
  }

  // The URL with TLS parameters appended (the harness URL has no query).
  std::string WithQuery(const std::string& query) { return url_ + "?" + query; }
};

// Invariant: the pg tier's engine role is not a superuser and owns its
// database, and authenticates with scram-sha-256 (as on a managed service).
TEST_F(ManagedPostgresTest, TheEngineRoleIsANonSuperuserOwnerWithScram) {
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  auto row = tx.exec1(
      "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, "
      "pg_get_userbyid(d.datdba) = current_user FROM pg_roles r, pg_database d "
      "WHERE r.rolname = current_user AND d.datname = current_database()");
  EXPECT_FALSE(row[0].as<bool>());
  EXPECT_FALSE(row[1].as<bool>());
  EXPECT_FALSE(row[2].as<bool>());
  EXPECT_TRUE(row[3].as<bool>());
  pqxx::connection admin(testing::HarnessUrl());
  pqxx::nontransaction atx(admin);
  EXPECT_EQ(atx.exec_params1("SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = $1",
                             testing::OwnerRole())[0]
                .as<std::string>(),
            "SCRAM-SHA-256$");
}

// Invariant: a run, a backup and a restore work as the owner alone.
TEST_F(ManagedPostgresTest, RunBackupAndRestoreAsTheOwner) {
  auto options = Options();
  options.allow_row_loss = {"items"};  // the downgrade drops it; the restore brings it back
  auto m = Migrator::Open(url_, Files({{"001.sql", kItems}}), options);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto report = (*m)->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  auto backup = (*m)->Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  auto down = (*m)->Run("base");
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  ASSERT_EQ(down->outcome, RunOutcome::kSucceeded) << down->status.ToString();
  ASSERT_FALSE(TableExists("public.items"));
  core::Status restored = (*m)->Restore(backup->path);
  ASSERT_TRUE(restored.ok()) << restored.ToString();
  EXPECT_EQ(Query("SELECT count(*) FROM items"), "3");
}

// Invariant: without CREATE on the database (and no schemaop schema yet) a
// run changes nothing and names the privilege and its GRANT; with the GRANT
// it succeeds.
TEST_F(ManagedPostgresTest, MissingCreateOnTheDatabaseIsNamedWithItsGrant) {
  const std::string role = "managed_no_create";
  EnsureRole(role, "no-create-pw");
  Exec("GRANT USAGE, CREATE ON SCHEMA public TO " + role);
  auto m = Migrator::Open(UrlAs(role, "no-create-pw"), Files({{"001.sql", kItems}}), Options());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto report = (*m)->Run("head");
  ASSERT_FALSE(report.ok());
  const std::string message = report.status().message();
  EXPECT_EQ(report.status().code(), Code::kMigrationFailed) << message;
  EXPECT_NE(message.find("lacks CREATE on the database"), std::string::npos) << message;
  EXPECT_NE(message.find("GRANT CREATE ON DATABASE \"" + database_ + "\" TO \"" + role + "\";"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("nothing was changed"), std::string::npos) << message;
  EXPECT_EQ(message.find("no-create-pw"), std::string::npos) << message;
  EXPECT_FALSE(SchemaopSchemaExists());
  EXPECT_FALSE(TableExists("public.alembic_version"));
  EXPECT_FALSE(TableExists("public.items"));

  Exec("GRANT CREATE ON DATABASE " + database_ + " TO " + role);
  auto again = (*m)->Run("head");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, RunOutcome::kSucceeded) << again->status.ToString();
  Exec("DROP OWNED BY " + role + " CASCADE");
}

// Invariant: bookkeeping tables owned by another role (e.g. created by an
// administrator earlier) are named with the ALTER that fixes it.
TEST_F(ManagedPostgresTest, BookkeepingTablesOfAnotherOwnerAreNamed) {
  Exec("CREATE SCHEMA schemaop AUTHORIZATION " + testing::OwnerRole() +
       "; CREATE TABLE schemaop.schema_fingerprint (versions text PRIMARY KEY)");
  auto m = Migrator::Open(url_, Files({{"001.sql", kItems}}), Options());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto report = (*m)->Run("head");
  ASSERT_FALSE(report.ok());
  const std::string message = report.status().message();
  EXPECT_NE(message.find("schemaop.\"schema_fingerprint\" (owned by \"postgres\")"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("ALTER TABLE schemaop.\"schema_fingerprint\" OWNER TO \"" +
                         testing::OwnerRole() +
                         "\";"),
            std::string::npos)
      << message;
  EXPECT_FALSE(TableExists("public.alembic_version"));
  EXPECT_FALSE(TableExists("public.items"));
}

// Invariant: the row guard needs SELECT on every table it counts; a table
// the role may not read stops the run before any change, named with the
// GRANT (or verify.rowCounts: Off).
TEST_F(ManagedPostgresTest, ATableTheRowGuardCannotReadIsNamedWithItsGrant) {
  Exec(
      "CREATE SCHEMA audit; CREATE TABLE audit.secret_log (id int); "
      "INSERT INTO audit.secret_log VALUES (1)");
  auto m = Migrator::Open(url_, Files({{"001.sql", kItems}}), Options());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto report = (*m)->Run("head");
  ASSERT_FALSE(report.ok());
  const std::string message = report.status().message();
  EXPECT_EQ(report.status().code(), Code::kMigrationFailed) << message;
  const std::string owner = "\"" + testing::OwnerRole() + "\"";
  EXPECT_NE(message.find("may not read \"audit\".\"secret_log\""), std::string::npos) << message;
  EXPECT_NE(message.find("GRANT USAGE ON SCHEMA \"audit\" TO " + owner + ";"), std::string::npos)
      << message;
  EXPECT_NE(message.find("GRANT SELECT ON ALL TABLES IN SCHEMA \"audit\" TO " + owner + ";"),
            std::string::npos)
      << message;
  EXPECT_FALSE(SchemaopSchemaExists());
  EXPECT_FALSE(TableExists("public.items"));

  Exec("GRANT USAGE ON SCHEMA audit TO " + testing::OwnerRole() +
       "; GRANT SELECT ON ALL TABLES IN SCHEMA audit TO " + testing::OwnerRole());
  auto again = (*m)->Run("head");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, RunOutcome::kSucceeded) << again->status.ToString();
}

// Invariant: the database identity works for a role that may not execute
// pg_control_system() (some services revoke it): it falls back to the
// server's address, the same for every URL that reaches the database.
TEST_F(ManagedPostgresTest, DatabaseIdentityWithoutPgControlSystem) {
  auto with = Migrator::Open(url_, {}, Options());
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  auto sysid = (*with)->DatabaseIdentity();
  ASSERT_TRUE(sysid.ok()) << sysid.status().ToString();

  Exec("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC");
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    ASSERT_FALSE(tx.exec1("SELECT has_function_privilege('pg_control_system()', 'EXECUTE')")[0]
                     .as<bool>());
  }
  auto a = Migrator::Open(url_, {}, Options());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto first = (*a)->DatabaseIdentity();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::string other_url = url_;
  other_url.replace(other_url.find("127.0.0.1"), 9, "localhost");
  auto b = Migrator::Open(other_url + "?application_name=other", {}, Options());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto second = (*b)->DatabaseIdentity();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*first, *second);
  EXPECT_NE(*first, *sysid);  // the fallback, not the system identifier
  Exec("GRANT EXECUTE ON FUNCTION pg_control_system() TO PUBLIC");
}

// ------------------------------------------------------------------ TLS

// Invariant: sslmode=verify-full with sslrootcert from the URL: the
// engine's session is encrypted, and pg_dump/pg_restore verify too.
TEST_F(ManagedPostgresTest, VerifyFullFromTheUrl) {
  const std::string url =
      WithQuery("sslmode=verify-full&sslrootcert=" + testing::HarnessCaFile());
  auto m = Migrator::Open(url, Files({{"001.sql", kItems}, {"002.sql", kAssertTls}}), Options());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto report = (*m)->Run("head");
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_TRUE(TableExists("public.tls_checked"));
  auto backup = (*m)->Backup();
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  core::Status restored = (*m)->Restore(backup->path);
  EXPECT_TRUE(restored.ok()) << restored.ToString();
}

// Invariant: a CA that did not sign the server's certificate fails the
// connection, the message names the certificate problem and the fix, and
// no password.
TEST_F(ManagedPostgresTest, WrongCaFromTheUrlFailsClearly) {
  const std::string url =
      WithQuery("sslmode=verify-full&sslrootcert=" + testing::HarnessWrongCaFile());
  auto m = Migrator::Open(url, {}, Options());
  ASSERT_FALSE(m.ok());
  const std::string message = m.status().message();
  EXPECT_EQ(m.status().code(), Code::kUnreachable) << message;
  EXPECT_NE(message.find("certificate verify failed"), std::string::npos) << message;
  EXPECT_NE(message.find("not signed by the CA given"), std::string::npos) << message;
  EXPECT_NE(message.find("spec.database.caSecretRef"), std::string::npos) << message;
  EXPECT_EQ(message.find(testing::OwnerPassword()), std::string::npos) << message;
}

// Invariant: verify-full without any CA fails naming the missing CA.
TEST_F(ManagedPostgresTest, VerifyFullWithoutCaFailsClearly) {
  auto m = Migrator::Open(WithQuery("sslmode=verify-full&sslrootcert=" + dir_ + "/none.crt"), {},
                          Options());
  ASSERT_FALSE(m.ok());
  const std::string message = m.status().message();
  EXPECT_NE(message.find("need the CA that issued the server's certificate"), std::string::npos)
      << message;
  EXPECT_EQ(message.find(testing::OwnerPassword()), std::string::npos) << message;
}

// Invariant: the CA given as PEM (the operator's caSecretRef) is used with
// verify-full by default, by the sessions and by pg_dump/pg_restore (whose
// connection would fail without it: verify-full and no CA file), through a
// private 0600 file that is gone when the Migrator is.
TEST_F(ManagedPostgresTest, CaAsPemDefaultsToVerifyFullForSessionsAndChildren) {
  auto options = Options();
  options.ca_certificate_pem = ReadTextFile(testing::HarnessCaFile());
  ASSERT_FALSE(options.ca_certificate_pem.empty());
  std::string ca_path;
  {
    auto m = Migrator::Open(url_, Files({{"001.sql", kItems}, {"002.sql", kAssertTls}}), options);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    auto report = (*m)->Run("head");
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
    // Which file the sessions verify against: the server cannot tell, so
    // look for the private file the engine wrote.
    for (const auto& entry : fs::directory_iterator(fs::temp_directory_path())) {
      if (entry.path().filename().string().rfind("schemaop-ca-", 0) == 0 &&
          fs::exists(entry.path() / "root.crt") &&
          ReadTextFile((entry.path() / "root.crt").string()) == options.ca_certificate_pem) {
        ca_path = (entry.path() / "root.crt").string();
      }
    }
    ASSERT_FALSE(ca_path.empty());
    struct stat st {};
    ASSERT_EQ(::stat(ca_path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(fs::path(ca_path).parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    auto backup = (*m)->Backup();
    ASSERT_TRUE(backup.ok()) << backup.status().ToString();
    core::Status restored = (*m)->Restore(backup->path);
    EXPECT_TRUE(restored.ok()) << restored.ToString();
  }
  EXPECT_FALSE(fs::exists(ca_path));
  EXPECT_FALSE(fs::exists(fs::path(ca_path).parent_path()));
}

// Invariant: the wrong CA as PEM fails like the wrong CA in the URL, and a
// URL's own sslmode stays (verify-ca here: the CA still decides).
TEST_F(ManagedPostgresTest, WrongCaAsPemFailsClearly) {
  auto options = Options();
  options.ca_certificate_pem = ReadTextFile(testing::HarnessWrongCaFile());
  for (const std::string& url : {url_, WithQuery("sslmode=verify-ca")}) {
    auto m = Migrator::Open(url, {}, options);
    ASSERT_FALSE(m.ok()) << url;
    const std::string message = m.status().message();
    EXPECT_EQ(m.status().code(), Code::kUnreachable) << message;
    EXPECT_NE(message.find("certificate verify failed"), std::string::npos) << message;
    EXPECT_NE(message.find("not signed by the CA given"), std::string::npos) << message;
    EXPECT_EQ(message.find(testing::OwnerPassword()), std::string::npos) << message;
  }
}

// Invariant: something that is not a PEM certificate is refused before any
// connection, naming what was expected.
TEST_F(ManagedPostgresTest, ACaThatIsNotPemIsRefused) {
  auto options = Options();
  options.ca_certificate_pem = "not a certificate";
  auto m = Migrator::Open(url_, {}, options);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument) << m.status().ToString();
  EXPECT_NE(m.status().message().find("not a PEM certificate"), std::string::npos)
      << m.status().ToString();
}

// Invariant: a CA with an sslmode that would ignore it is refused, not
// silently unused; require verifies against it (libpq with a root file).
TEST_F(ManagedPostgresTest, ACaWithASslmodeThatIgnoresItIsRefused) {
  auto options = Options();
  options.ca_certificate_pem = ReadTextFile(testing::HarnessWrongCaFile());
  for (const char* mode : {"disable", "allow", "prefer"}) {
    auto m = Migrator::Open(WithQuery(std::string("sslmode=") + mode), {}, options);
    ASSERT_FALSE(m.ok()) << mode;
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument) << m.status().ToString();
    EXPECT_NE(m.status().message().find(std::string("sslmode=") + mode +
                                        " does not verify the server's certificate"),
              std::string::npos)
        << m.status().ToString();
  }
  auto required = Migrator::Open(WithQuery("sslmode=require"), {}, options);
  ASSERT_FALSE(required.ok());
  EXPECT_NE(required.status().message().find("certificate verify failed"), std::string::npos)
      << required.status().ToString();
}

}  // namespace
}  // namespace schemaop::database
