// database/version_table.cpp with spec.database.versionLayout GolangMigrate
// (design §10.8): the operator reads golang-migrate's own table,
// `schema_migrations (version bigint, dirty boolean)`, for a Job run.
// Invariant: a dirty row (a migration that failed half-way) is never taken
// for a revision: reading it is an error that names the fix, and it is not
// transient (the run goes to its undo and backup instead of waiting with
// the writers at zero). Real PostgreSQL 15, a non-superuser owner.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/version_table.h"
#include "migrator_fixture.h"

namespace schemaop::database {
namespace {

using core::Code;

class VersionLayoutTest : public MigratorTest {
 protected:
  // The Migrator as the operator opens it for a Job run: no files.
  std::unique_ptr<Migrator> OpenJob() {
    MigratorOptions options = Options();
    options.version_table = "schema_migrations";
    options.version_layout = core::kVersionLayoutGolangMigrate;
    auto m = Migrator::Open(engine_url_, {}, std::move(options));
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(m).value() : nullptr;
  }
  // golang-migrate's DDL for its PostgreSQL driver.
  void CreateTable() {
    Exec("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, "
         "dirty boolean NOT NULL)");
  }
};

TEST_F(VersionLayoutTest, NoTableOrNoRowIsBaseAndTheRowIsTheVersion) {
  auto none = OpenJob()->CurrentVersions();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  CreateTable();
  auto empty = OpenJob()->CurrentVersions();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
  Exec("INSERT INTO schema_migrations VALUES (20240301120000, false)");
  auto one = OpenJob()->CurrentVersions();
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(*one, std::vector<std::string>{"20240301120000"});
}

TEST_F(VersionLayoutTest, ADirtyVersionIsNeverARevision) {
  CreateTable();
  Exec("CREATE TABLE items (id int PRIMARY KEY)");
  Exec("INSERT INTO items SELECT generate_series(1, 5)");
  Exec("INSERT INTO schema_migrations VALUES (1, false)");
  auto job = OpenJob();
  auto baseline = job->RecordJobBaseline("run-1");
  ASSERT_TRUE(baseline.ok()) << baseline.status().ToString();
  EXPECT_EQ(baseline->versions, std::vector<std::string>{"1"});
  // golang-migrate marks the version dirty before it runs the migration
  // and clears it after; a failure leaves it dirty.
  Exec("UPDATE schema_migrations SET version = 2, dirty = true");
  auto current = OpenJob()->CurrentVersions();
  ASSERT_FALSE(current.ok());
  EXPECT_EQ(current.status().code(), Code::kMigrationFailed);
  EXPECT_NE(current.status().message().find("marks version 2 dirty"), std::string::npos)
      << current.status().message();
  EXPECT_NE(current.status().message().find("migrate force"), std::string::npos);
  auto check = OpenJob()->CheckJobResult("run-1", true);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.status().code(), Code::kMigrationFailed) << check.status().ToString();
  // Clean again (repaired and forced): read as the version.
  Exec("UPDATE schema_migrations SET dirty = false");
  auto after = OpenJob()->CheckJobResult("run-1", false);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->versions, std::vector<std::string>{"2"});
  EXPECT_TRUE(after->row_loss.empty());
}

// Another tool's table by the same name (dbmate's and Rails'
// `schema_migrations (version varchar)`), or more than one row: named as
// not golang-migrate's, and not transient after a Job either (the run goes
// to its undo and backup, never waits with the writers at zero).
TEST_F(VersionLayoutTest, ATableThatIsNotGolangMigratesIsNamed) {
  Exec("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)");
  Exec("INSERT INTO schema_migrations VALUES ('20240301120000')");
  auto foreign = OpenJob()->CurrentVersions();
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), Code::kMigrationFailed);
  EXPECT_NE(foreign.status().message().find("not golang-migrate's table"), std::string::npos)
      << foreign.status().message();
  EXPECT_FALSE(OpenJob()->RecordJobBaseline("run-1").ok());
  Exec("DROP TABLE schema_migrations");
  CreateTable();
  auto baseline = OpenJob()->RecordJobBaseline("run-2");
  ASSERT_TRUE(baseline.ok()) << baseline.status().ToString();
  Exec("ALTER TABLE schema_migrations DROP CONSTRAINT schema_migrations_pkey");
  Exec("INSERT INTO schema_migrations VALUES (1, false), (2, false)");
  auto two = OpenJob()->CheckJobResult("run-2", false);
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), Code::kMigrationFailed) << two.status().ToString();
  EXPECT_NE(two.status().message().find("not golang-migrate's one"), std::string::npos)
      << two.status().message();
}

// A read after the Job that would fail again (here the role lost SELECT on
// its version table) is not transient, so the run goes to
// its undo and backup instead of retrying with the writers at zero; a lost
// connection still is (JobCheckFailure, design §10.8).
TEST_F(VersionLayoutTest, AReadThatWouldFailAgainIsNotTransient) {
  CreateTable();
  Exec("INSERT INTO schema_migrations VALUES (1, false)");
  ASSERT_TRUE(OpenJob()->RecordJobBaseline("run-1").ok());
  const std::string owner =
      Query("SELECT tableowner FROM pg_tables WHERE tablename = 'schema_migrations'");
  Exec("REVOKE SELECT ON schema_migrations FROM \"" + owner + "\"");
  auto check = OpenJob()->CheckJobResult("run-1", false);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.status().code(), Code::kMigrationFailed) << check.status().ToString();
  EXPECT_NE(check.status().message().find("permission denied"), std::string::npos)
      << check.status().ToString();
}

// The engine's own runs write Alembic's layout: opening it with migration
// files and another layout is refused before anything is read or written.
// Design §10.4: a Job run that reaches a revision the database was at
// when an earlier run started must find the schema recorded then (verify.
// schema Enforce); a revision never recorded is not compared.
TEST_F(VersionLayoutTest, ARevisionSeenBeforeIsComparedWithTheSchemaRecordedThere) {
  CreateTable();
  Exec("CREATE TABLE items (id int PRIMARY KEY)");
  Exec("INSERT INTO schema_migrations VALUES (1, false)");
  ASSERT_TRUE(OpenJob()->RecordJobBaseline("run-1").ok());  // at 1
  // "The tool" migrates to 2: a new revision, nothing to compare with.
  Exec("ALTER TABLE items ADD COLUMN name text");
  Exec("UPDATE schema_migrations SET version = 2");
  auto fresh = OpenJob()->CheckJobResult("run-1", false);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_TRUE(fresh->schema_drift.empty());
  // A second run from 2 back to 1, whose downgrade forgets the column.
  ASSERT_TRUE(OpenJob()->RecordJobBaseline("run-2").ok());
  Exec("UPDATE schema_migrations SET version = 1");
  auto back = OpenJob()->CheckJobResult("run-2", false);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_FALSE(back->schema_drift.empty());
  EXPECT_NE(back->schema_drift[0].find("name"), std::string::npos) << back->schema_drift[0];
  // The downgrade done right: the schema recorded at 1.
  Exec("ALTER TABLE items DROP COLUMN name");
  auto right = OpenJob()->CheckJobResult("run-2", false);
  ASSERT_TRUE(right.ok());
  EXPECT_TRUE(right->schema_drift.empty()) << right->schema_drift[0];
  // verify.schema Ignore: not compared.
  Exec("ALTER TABLE items ADD COLUMN name text");
  MigratorOptions options = Options();
  options.version_table = "schema_migrations";
  options.version_layout = core::kVersionLayoutGolangMigrate;
  options.verify_schema = false;
  auto ignoring = Migrator::Open(engine_url_, {}, std::move(options));
  ASSERT_TRUE(ignoring.ok());
  auto ignored = ignoring.value()->CheckJobResult("run-2", false);
  ASSERT_TRUE(ignored.ok());
  EXPECT_TRUE(ignored->schema_drift.empty());
}

TEST_F(VersionLayoutTest, TheFilesEngineRefusesAnotherLayout) {
  WriteBase();
  MigratorOptions options = Options();
  options.version_table = "schema_migrations";
  options.version_layout = core::kVersionLayoutGolangMigrate;
  auto files = LoadMigrationDirectory(dir_ + "/m");
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  auto m = Migrator::Open(engine_url_, std::move(files).value(), std::move(options));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Query("SELECT to_regclass('schema_migrations') IS NULL"), "t");
}

}  // namespace
}  // namespace schemaop::database
