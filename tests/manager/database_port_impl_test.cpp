// DatabasePortImpl against the harness PostgreSQL (pg tier) with the
// drawing migrations: inspect, migrate to absolute targets (idempotent),
// downgrade, backup, and an unreachable database without the password in
// the message.
#include "manager/database_port_impl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <pqxx/pqxx>

#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::pair<std::string, std::string>> DrawingFiles() {
  std::vector<std::pair<std::string, std::string>> files;
  const std::filesystem::path dir =
      std::filesystem::path(schemaop::testing::SourceDir()) / "migrations" / "drawing";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sql") {
      continue;
    }
    files.emplace_back(entry.path().filename().string(),
                       schemaop::testing::ReadTextFile(entry.path().string()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

class DatabasePortImplTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backup_dir_ = std::filesystem::temp_directory_path() /
                  ("schemaop-manager-backups-" + std::to_string(::getpid()));
    std::filesystem::create_directories(backup_dir_);
    DatabasePortOptions options;
    options.backup_dir = backup_dir_.string();
    options.pg_bin_dir = schemaop::testing::HarnessBinDir();
    port_ = std::make_unique<DatabasePortImpl>(options);
    target_.url = schemaop::testing::CreateScratchDatabase("manager_db_port");
    target_.migration_files = DrawingFiles();
    target_.actor = "schemaop-controller test/manager";
  }
  void TearDown() override { std::filesystem::remove_all(backup_dir_); }

  // A new run identity per call (a new generation, no pinned plan).
  reconcile::RunIdentity Identity() {
    reconcile::RunIdentity id;
    id.owner_uid = "uid-test";
    id.generation = ++generation_;
    return id;
  }

  std::int64_t generation_ = 0;
  std::filesystem::path backup_dir_;
  std::unique_ptr<DatabasePortImpl> port_;
  reconcile::DatabaseTarget target_;
};

TEST_F(DatabasePortImplTest, InspectsMigratesAndIsIdempotent) {
  auto inspected = port_->Inspect(target_, "seed_default_schemas");
  ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
  EXPECT_TRUE(inspected->current_versions.empty());
  EXPECT_EQ(inspected->target_versions, std::vector<std::string>{"seed_default_schemas"});
  ASSERT_EQ(inspected->steps.size(), 4u);
  EXPECT_EQ(inspected->steps.front().revision, "5e2f8d4b7a10");
  EXPECT_EQ(inspected->steps.back().revision, "seed_default_schemas");
  EXPECT_FALSE(inspected->has_downgrade);

  auto migrated = port_->Migrate(target_, inspected->target_versions, Identity());
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  EXPECT_EQ(migrated->outcome, reconcile::MigrateOutcome::kSucceeded)
      << migrated->failure.ToString();
  EXPECT_EQ(migrated->final_versions, std::vector<std::string>{"seed_default_schemas"});
  EXPECT_TRUE(migrated->failure.ok());

  // Absolute target: asking again changes nothing.
  auto again = port_->Migrate(target_, {"seed_default_schemas"}, Identity());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->outcome, reconcile::MigrateOutcome::kNothingToDo);
  auto at_target = port_->Inspect(target_, "head");
  ASSERT_TRUE(at_target.ok());
  EXPECT_TRUE(at_target->steps.empty());
  EXPECT_EQ(at_target->current_versions, std::vector<std::string>{"seed_default_schemas"});

  // A relative target resolves to an absolute one.
  auto back = port_->Inspect(target_, "-2");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->target_versions, std::vector<std::string>{"9bc6a98f1c12"});
  EXPECT_TRUE(back->has_downgrade);
  ASSERT_EQ(back->steps.size(), 2u);
  EXPECT_EQ(back->steps[0].direction, core::MigrationDirection::kDowngrade);

  target_.owner_namespace = "drawing";
  target_.owner_name = "drawing-db";
  auto backup = port_->Backup(target_);
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(backup->path));
  EXPECT_EQ(std::filesystem::path(backup->path).parent_path(),
            std::filesystem::canonical(backup_dir_));
  // In the cluster a backup is named for its SchemaMigration (and kept per it).
  EXPECT_EQ(std::filesystem::path(backup->path).filename().string().rfind("drawing_drawing-db_", 0), 0u)
      << backup->path;
  EXPECT_GT(backup->bytes, 0u);
  EXPECT_EQ(backup->sha256.size(), 64u);

  auto down = port_->Migrate(target_, back->target_versions, Identity());
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(down->outcome, reconcile::MigrateOutcome::kSucceeded) << down->failure.ToString();
  EXPECT_EQ(down->final_versions, std::vector<std::string>{"9bc6a98f1c12"});
}

// Invariant (design §6.3, §7): the writers come back only onto a run the
// engine closed. A session lost after part of the plan committed leaves the
// run open in schemaop.run_log (only the next run's recovery may finish or
// undo it), so Migrate reports a transient failure (the reconciler keeps the
// writers at 0 and retries) instead of an outcome (the reconciler restores
// the writers onto a database between revisions). The retry recovers the
// run. Here the second step's session is terminated (by itself) after the
// first step committed in its own segment.
TEST_F(DatabasePortImplTest, SessionLostAfterACommitIsNotAnOutcome) {
  // A placeholder setting on the database needs the superuser.
  pqxx::connection admin(schemaop::testing::SuperuserUrlFor("manager_db_port"));
  pqxx::nontransaction(admin).exec0("ALTER DATABASE manager_db_port SET schemaop_test.kill = 'on'");
  target_.migration_files = {
      {"a1.sql",
       "-- revision: a1\n-- down_revision:\n-- migrate:up\n"
       "CREATE TABLE items (id int PRIMARY KEY);\nINSERT INTO items SELECT generate_series(1, 10);\n"
       "-- migrate:up transaction:false\n"
       "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id_neg ON items ((-id));\n"
       "-- migrate:down\nDROP TABLE items;\n"},
      {"b2.sql",
       "-- revision: b2\n-- down_revision: a1\n-- migrate:up\n"
       "ALTER TABLE items ADD COLUMN note text;\n"
       "DO $$ BEGIN IF current_setting('schemaop_test.kill', true) = 'on' THEN "
       "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF; END $$;\n"
       "-- migrate:down\nALTER TABLE items DROP COLUMN note;\n"}};
  const reconcile::RunIdentity identity = Identity();
  auto lost = port_->Migrate(target_, {"b2"}, identity);
  ASSERT_FALSE(lost.ok()) << "an outcome was reported for a run left open in run_log: "
                          << (lost.ok() ? lost->failure.ToString() : "");
  EXPECT_EQ(lost.status().code(), core::Code::kUnreachable) << lost.status().ToString();
  EXPECT_EQ(lost.status().detail(), core::kRunLeftOpenDetail);
  {
    pqxx::nontransaction read(admin);
    EXPECT_EQ(read.exec1("SELECT count(*) FROM schemaop.run_log WHERE outcome = 'running'")[0].as<int>(), 1);
    // a1's SQL committed (its stamp goes with the next transaction, b2's).
    EXPECT_TRUE(read.exec1("SELECT to_regclass('items') IS NOT NULL")[0].as<bool>());
  }

  pqxx::nontransaction(admin).exec0("ALTER DATABASE manager_db_port RESET schemaop_test.kill");
  auto retried = port_->Migrate(target_, {"b2"}, identity);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(retried->outcome, reconcile::MigrateOutcome::kSucceeded) << retried->failure.ToString();
  EXPECT_EQ(retried->final_versions, std::vector<std::string>{"b2"});
  pqxx::nontransaction read(admin);
  EXPECT_EQ(read.exec1("SELECT count(*) FROM schemaop.run_log WHERE outcome = 'running'")[0].as<int>(), 0);
  EXPECT_EQ(read.exec1("SELECT count(*) FROM items")[0].as<int>(), 10);
}

TEST_F(DatabasePortImplTest, UnknownTargetIsReportedWithoutTouchingTheDatabase) {
  auto inspected = port_->Inspect(target_, "no_such_revision");
  ASSERT_FALSE(inspected.ok());
  EXPECT_EQ(inspected.status().code(), core::Code::kUnknownRevision);
  auto still = port_->Inspect(target_, "base");
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->current_versions.empty());
}

TEST_F(DatabasePortImplTest, UnreachableDatabaseNeverShowsThePassword) {
  target_.url = "postgresql://someone:hunter2-secret@127.0.0.1:1/nothing";
  auto inspected = port_->Inspect(target_, "head");
  ASSERT_FALSE(inspected.ok());
  EXPECT_EQ(inspected.status().code(), core::Code::kUnreachable);
  EXPECT_THAT(inspected.status().ToString(), Not(HasSubstr("hunter2-secret")));
  auto migrated = port_->Migrate(target_, {"seed_default_schemas"}, Identity());
  ASSERT_FALSE(migrated.ok());
  EXPECT_THAT(migrated.status().ToString(), Not(HasSubstr("hunter2-secret")));
}

}  // namespace
}  // namespace schemaop::manager

namespace schemaop::manager {
namespace {

// Invariant (spec.database.caSecretRef): the CA the reconciler read from the
// Secret reaches the engine's sessions and pg_dump, with verify-full against
// the harness server's certificate; without it the same URL cannot connect.
TEST_F(DatabasePortImplTest, CaCertificateFromTheSpecVerifiesFull) {
  target_.url += "?sslmode=verify-full";
  auto without_ca = port_->Inspect(target_, "head");
  ASSERT_FALSE(without_ca.ok());
  EXPECT_EQ(without_ca.status().code(), core::Code::kUnreachable);
  EXPECT_THAT(without_ca.status().message(), HasSubstr("root certificate file"));

  target_.ca_certificate_pem = schemaop::testing::ReadTextFile(schemaop::testing::HarnessCaFile());
  auto inspected = port_->Inspect(target_, "seed_default_schemas");
  ASSERT_TRUE(inspected.ok()) << inspected.status().ToString();
  auto migrated = port_->Migrate(target_, inspected->target_versions, Identity());
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  EXPECT_EQ(migrated->outcome, reconcile::MigrateOutcome::kSucceeded)
      << migrated->failure.ToString();
  auto backup = port_->Backup(target_);
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  EXPECT_GT(backup->bytes, 0u);
  auto down = port_->Migrate(target_, {"9bc6a98f1c12"}, Identity());
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(down->outcome, reconcile::MigrateOutcome::kSucceeded) << down->failure.ToString();
}

// Invariant: a CA that did not sign the server's certificate is reported as
// unreachable, naming the certificate problem and caSecretRef, no password.
TEST_F(DatabasePortImplTest, WrongCaCertificateFromTheSpecFailsClearly) {
  target_.ca_certificate_pem =
      schemaop::testing::ReadTextFile(schemaop::testing::HarnessWrongCaFile());
  auto inspected = port_->Inspect(target_, "head");
  ASSERT_FALSE(inspected.ok());
  EXPECT_EQ(inspected.status().code(), core::Code::kUnreachable);
  EXPECT_THAT(inspected.status().message(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(inspected.status().message(), HasSubstr("spec.database.caSecretRef"));
  EXPECT_THAT(inspected.status().message(),
              Not(HasSubstr(schemaop::testing::OwnerPassword())));
}

// Design §10.9: the URL a rehearsal Job gets reaches the copy, as the server
// resolves it, and nothing else; it lives as long as the copy is held.
int RehearsalDatabases() {
  pqxx::connection conn(schemaop::testing::HarnessUrl());
  pqxx::read_transaction tx(conn);
  return tx.exec1("SELECT count(*) FROM pg_database WHERE datname LIKE 'schemaop_rehearsal_%'")[0]
      .as<int>();
}

TEST_F(DatabasePortImplTest, AJobScratchUrlReachesTheCopyOnlyWhileItIsHeld) {
  // The database's owner may create databases (and is no superuser).
  schemaop::testing::EnsureLoginRole("schemaop_port_rehearser", "port-rehearse-pw",
                                     "NOSUPERUSER CREATEDB");
  schemaop::testing::ExecSql(schemaop::testing::HarnessUrl(),
                             "ALTER DATABASE manager_db_port OWNER TO schemaop_port_rehearser");
  target_.url = schemaop::testing::UrlAs(target_.url, "schemaop_port_rehearser", "port-rehearse-pw");
  ASSERT_TRUE(port_->Migrate(target_, {"add_flexible_schemas"}, Identity()).ok());
  const int before = RehearsalDatabases();
  auto url = port_->OpenJobScratch(target_, "k1");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_NE(url.value(), target_.url);
  {
    pqxx::connection conn(url.value());
    pqxx::read_transaction tx(conn);
    EXPECT_THAT(tx.exec1("SELECT current_database()")[0].as<std::string>(),
                HasSubstr("schemaop_rehearsal_"));
    EXPECT_EQ(tx.exec1("SELECT version_num FROM alembic_version")[0].as<std::string>(),
              "add_flexible_schemas");
  }
  EXPECT_EQ(port_->FindJobScratch("k1"), url.value());
  auto again = port_->OpenJobScratch(target_, "k1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), url.value());  // held: not copied twice
  EXPECT_EQ(RehearsalDatabases(), before + 1);
  ASSERT_TRUE(port_->DropJobScratch("k1").ok());
  EXPECT_FALSE(port_->FindJobScratch("k1").has_value());
  EXPECT_EQ(RehearsalDatabases(), before);
  EXPECT_THROW(pqxx::connection{url.value()}, pqxx::broken_connection);
}

// Hostile URL: a second database name the rewrite would not win against.
TEST_F(DatabasePortImplTest, AJobScratchIsRefusedForAUrlNamingItsDatabaseTwice) {
  const int before = RehearsalDatabases();
  reconcile::DatabaseTarget twice = target_;
  twice.url += std::string(twice.url.find('?') == std::string::npos ? "?" : "&") +
               "db%6Eame=manager_db_port";
  auto url = port_->OpenJobScratch(twice, "k2");
  ASSERT_FALSE(url.ok());
  EXPECT_THAT(url.status().message(), HasSubstr("dbname"));
  EXPECT_FALSE(port_->FindJobScratch("k2").has_value());
  EXPECT_EQ(RehearsalDatabases(), before);  // no copy was made
}

}  // namespace
}  // namespace schemaop::manager
