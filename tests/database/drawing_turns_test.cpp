// schemaop and Alembic take turns on ONE database (issue 10 item 6): the
// drawing chain with phases (migrations/drawing) and its Alembic equivalent
// (migrations/drawing-alembic) each move a database the other left, at
// every revision, up and down. Each schemaop run compares the schema it
// reaches with the fingerprint it recorded for that revision (design §4.6),
// so a difference either side leaves fails the run; the components come
// back exactly as they were.
#include <gtest/gtest.h>

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "database/migrator.h"
#include "database/process.h"
#include "drawing_data.h"
#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::database {
namespace {

class DrawingTurnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = schemaop::testing::CreateScratchDatabase(
        schemaop::testing::DatabaseNameForCurrentTest("drawing_turns_"));
    db_ = std::make_unique<pqxx::connection>(url_);
  }

  void Schemaop(const std::string& target) {
    auto migrator = OpenDrawingMigrator(url_, "drawing_turns_test");
    ASSERT_NE(migrator, nullptr);
    auto report = migrator->Run(target);
    ASSERT_TRUE(report.ok()) << "schemaop to " << target << ": " << report.status().ToString();
    ASSERT_EQ(report->outcome, RunOutcome::kSucceeded)
        << "schemaop to " << target << ": " << report->status.ToString();
    EXPECT_EQ(Version(), target);
  }

  void Alembic(const std::string& verb, const std::string& target) {
    const auto result = internal::RunProcess(
        "alembic",
        {"-c", schemaop::testing::SourceDir() + "/migrations/drawing-alembic/alembic.ini", verb,
         target},
        {{"DATABASE_URL", url_}, {"PYTHONDONTWRITEBYTECODE", "1"}});
    ASSERT_TRUE(result.started && result.exit_code == 0)
        << "alembic " << verb << " " << target << " (exit " << result.exit_code
        << "; the `alembic` command comes from scripts/setup):\n"
        << result.output;
    EXPECT_EQ(Version(), target);
  }

  std::string Version() {
    return schemaop::testing::QueryValue(url_, "SELECT string_agg(version_num, ',') FROM alembic_version");
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> db_;
};

TEST_F(DrawingTurnsTest, SchemaopAndAlembicMoveEachOthersDatabaseUpAndDown) {
  Schemaop("9bc6a98f1c12");
  schemaop::testing::ExecSql(url_, InsertComponentsSql(20, 2000, /*with_instance=*/true));
  const Rows before = SnapshotRows(*db_, "components");

  Alembic("upgrade", "add_flexible_schemas");   // a database schemaop left at 9bc6a98f1c12
  Schemaop("seed_default_schemas");             // expand, window, contract on Alembic's
  Alembic("downgrade", "add_flexible_schemas");  // schemaop's head, back
  Schemaop("seed_default_schemas");             // the head's schema as recorded before
  Schemaop("add_flexible_schemas");             // as recorded when Alembic had left it
  Alembic("upgrade", "seed_default_schemas");
  Alembic("downgrade", "9bc6a98f1c12");
  Schemaop("seed_default_schemas");
  Alembic("downgrade", "add_flexible_schemas");
  Schemaop("9bc6a98f1c12");                     // as recorded at the start
  EXPECT_EQ(schemaop::testing::QueryValue(
                url_, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'components_%'"),
            "0");
  ExpectSameRows(before, SnapshotRows(*db_, "components"), "components");
}

}  // namespace
}  // namespace schemaop::database
