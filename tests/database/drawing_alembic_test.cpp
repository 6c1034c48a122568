// migrations/drawing-alembic (the drawing chain written as Alembic
// migrations, issue 13 item 4) run by the real `alembic` command against the
// harness PostgreSQL as the non-superuser owner: at every revision, up and
// down, its schema fingerprint equals the one the engine reaches with the SQL
// files (migrations/drawing), and the data survives the round trip as the
// SQL chain promises. The URL reaches alembic through DATABASE_URL only.
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "database/migrator.h"
#include "database/process.h"
#include "database/schema_fingerprint.h"
#include "drawing_data.h"
#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::database {
namespace {

const std::vector<std::string> kChain = {"5e2f8d4b7a10", "9bc6a98f1c12", "add_flexible_schemas",
                                         "seed_default_schemas"};

std::string AlembicIni() {
  return schemaop::testing::SourceDir() + "/migrations/drawing-alembic/alembic.ini";
}

class DrawingAlembicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = schemaop::testing::DatabaseNameForCurrentTest("dal_");
    alembic_url_ = schemaop::testing::CreateScratchDatabase(name.substr(0, 55) + "_a");
    files_url_ = schemaop::testing::CreateScratchDatabase(name.substr(0, 55) + "_f");
    alembic_db_ = std::make_unique<pqxx::connection>(alembic_url_);
  }

  // Runs `alembic -c alembic.ini ARGS` with the URL in the environment only
  // (and no __pycache__ written into the source tree).
  internal::ProcessResult Alembic(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"-c", AlembicIni()};
    argv.insert(argv.end(), args.begin(), args.end());
    return internal::RunProcess("alembic", argv,
                                {{"DATABASE_URL", alembic_url_}, {"PYTHONDONTWRITEBYTECODE", "1"}});
  }

  void AlembicOk(const std::vector<std::string>& args) {
    const auto result = Alembic(args);
    ASSERT_TRUE(result.started && result.exit_code == 0)
        << "alembic " << args[0] << " " << args[1] << " (exit " << result.exit_code
        << "; the `alembic` command comes from scripts/setup):\n"
        << result.output;
  }

  // The engine on the files database, run to `target`.
  void FilesTo(const std::string& target) {
    auto files = LoadMigrationDirectory(schemaop::testing::SourceDir() + "/migrations/drawing");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    MigratorOptions options;
    options.backup_policy = BackupPolicy::kNever;
    options.pg_bin_dir = schemaop::testing::HarnessBinDir();
    options.actor = "drawing_alembic_test";
    auto migrator = Migrator::Open(files_url_, std::move(files).value(), std::move(options));
    ASSERT_TRUE(migrator.ok()) << migrator.status().ToString();
    auto report = (*migrator)->Run(target);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  }

  static internal::SchemaFingerprint Fingerprint(const std::string& url) {
    pqxx::connection connection(url);
    pqxx::read_transaction tx(connection);
    return internal::ReadSchemaFingerprint(tx, "alembic_version");
  }

  // Both databases are at `revision` (empty: base) with the same schema.
  void ExpectSameSchemaAt(const std::string& revision) {
    const std::string expected = revision.empty() ? "<no rows>" : revision;
    const std::string version_sql = "SELECT string_agg(version_num, ',') FROM alembic_version";
    const std::string alembic_version = schemaop::testing::QueryValue(alembic_url_, version_sql);
    EXPECT_TRUE(alembic_version == expected || (revision.empty() && alembic_version == "<null>"))
        << "alembic's version table: " << alembic_version << ", expected " << expected;
    const auto from_alembic = Fingerprint(alembic_url_);
    const auto from_files = Fingerprint(files_url_);
    std::string drift;
    for (const auto& line : internal::DescribeDrift(from_alembic, from_files, "the SQL files")) {
      drift += "\n  " + line;
    }
    EXPECT_EQ(from_alembic.digest, from_files.digest)
        << "at " << (revision.empty() ? "base" : revision) << ", alembic's schema:" << drift;
    EXPECT_FALSE(from_alembic.objects.empty() && !revision.empty());
  }

  void Exec(const std::string& sql) { schemaop::testing::ExecSql(alembic_url_, sql); }

  std::string Value(const std::string& sql) {
    return schemaop::testing::QueryValue(alembic_url_, sql);
  }

  std::string alembic_url_;
  std::string files_url_;
  std::unique_ptr<pqxx::connection> alembic_db_;
};

TEST_F(DrawingAlembicTest, EveryRevisionUpAndDownHasTheSqlFilesSchema) {
  for (const auto& revision : kChain) {
    AlembicOk({"upgrade", revision});
    FilesTo(revision);
    ExpectSameSchemaAt(revision);
  }
  for (std::size_t i = kChain.size() - 1; i-- > 0;) {
    AlembicOk({"downgrade", kChain[i]});
    FilesTo(kChain[i]);
    ExpectSameSchemaAt(kChain[i]);
  }
  AlembicOk({"downgrade", "base"});
  FilesTo("base");
  ExpectSameSchemaAt("");
  EXPECT_EQ(Value("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = 'public' AND c.relkind <> 'i' AND c.relname <> 'alembic_version'"),
            "0");
}

TEST_F(DrawingAlembicTest, RoundTripBaseToHeadToBaseKeepsEveryComponent) {
  AlembicOk({"upgrade", kChain[1]});
  Exec(InsertComponentsSql(40, 3000, /*with_instance=*/true));
  const Rows components_before = SnapshotRows(*alembic_db_, "components");
  const Rows drawings_before = SnapshotRows(*alembic_db_, "drawings");
  ASSERT_EQ(components_before.size(), 3000u);

  AlembicOk({"upgrade", "head"});
  EXPECT_EQ(Value("SELECT count(*) FROM components WHERE schema_id IS NULL "
                  "OR (dynamic_data ->> 'quantity')::integer IS DISTINCT FROM quantity "
                  "OR (dynamic_data ->> 'component_type') IS DISTINCT FROM component_type"),
            "0");
  EXPECT_EQ(Value("SELECT count(*) FROM component_schema_fields"), "4");

  AlembicOk({"downgrade", kChain[1]});
  ExpectSameRows(components_before, SnapshotRows(*alembic_db_, "components"), "components");
  ExpectSameRows(drawings_before, SnapshotRows(*alembic_db_, "drawings"), "drawings");
  EXPECT_EQ(Value("SELECT to_regclass('component_schemas') IS NULL"), "t");
}

// The runbook's promise: after the upgrade dynamic_data is the source of
// truth, so the downgrade carries edits made through it (and components
// created with only dynamic_data) back into the original columns.
TEST_F(DrawingAlembicTest, DowngradeCarriesDynamicDataEditsBack) {
  AlembicOk({"upgrade", kChain[1]});
  Exec(InsertComponentsSql(2, 10, /*with_instance=*/false));
  AlembicOk({"upgrade", "head"});
  Exec("UPDATE components SET dynamic_data = jsonb_set(dynamic_data, '{quantity}', '7') "
          "WHERE id = 3");
  Exec("INSERT INTO components (drawing_id, schema_id, dynamic_data) SELECT 1, id, "
          "'{\"component_type\": \"bolt\", \"quantity\": \"12\"}' FROM component_schemas");

  AlembicOk({"downgrade", "add_flexible_schemas"});
  EXPECT_EQ(Value("SELECT quantity FROM components WHERE id = 3"), "7");
  EXPECT_EQ(Value("SELECT component_type || ' ' || quantity FROM components WHERE id = 11"),
            "bolt 12");
  EXPECT_EQ(Value("SELECT count(*) FROM components WHERE dynamic_data IS NOT NULL "
                  "OR schema_id IS NOT NULL"),
            "0");
  EXPECT_EQ(Value("SELECT count(*) FROM component_schemas"), "0");
}

// A value that does not fit its column stops the downgrade with the SQL
// file's message, and nothing changes (the revision's transaction rolls back).
TEST_F(DrawingAlembicTest, DowngradeRefusesAValueThatDoesNotFitAndChangesNothing) {
  AlembicOk({"upgrade", kChain[1]});
  Exec(InsertComponentsSql(1, 5, /*with_instance=*/false));
  AlembicOk({"upgrade", "head"});
  Exec("UPDATE components SET dynamic_data = jsonb_set(dynamic_data, '{quantity}', '\"many\"') "
          "WHERE id = 2");
  const Rows before = SnapshotRows(*alembic_db_, "components");

  const auto result = Alembic({"downgrade", "add_flexible_schemas"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("do not fit the original columns"), std::string::npos)
      << result.output;
  EXPECT_EQ(Value("SELECT version_num FROM alembic_version"), "seed_default_schemas");
  ExpectSameRows(before, SnapshotRows(*alembic_db_, "components"), "components");
  EXPECT_EQ(Value("SELECT count(*) FROM component_schemas"), "1");
}

}  // namespace
}  // namespace schemaop::database
