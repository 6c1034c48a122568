// The drawing application's revision chain (migrations/drawing, the runbook's
// chain) driven through the real migration engine against the harness
// PostgreSQL: every down section must give back exactly what its up section
// found, including writes the application made after the upgrade.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "database/migrator.h"
#include "drawing_data.h"
#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::database {
namespace {

constexpr const char* kBaseRevision = "5e2f8d4b7a10";
constexpr const char* kInstanceIdentifier = "9bc6a98f1c12";
constexpr const char* kFlexibleSchemas = "add_flexible_schemas";
constexpr const char* kSeed = "seed_default_schemas";

class DrawingChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = schemaop::testing::CreateScratchDatabase(
        schemaop::testing::DatabaseNameForCurrentTest("drawing_chain_"));
    db_ = std::make_unique<pqxx::connection>(url_);
    OpenMigrator({});
  }

  // (Re)opens the engine; `allow_row_loss` declares tables a run may empty.
  void OpenMigrator(std::vector<std::string> allow_row_loss) {
    auto files = LoadMigrationDirectory(schemaop::testing::SourceDir() + "/migrations/drawing");
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    MigratorOptions options;
    options.backup_policy = BackupPolicy::kNever;  // backups have their own tests
    options.pg_bin_dir = schemaop::testing::HarnessBinDir();
    options.actor = "drawing_chain_test";
    options.allow_row_loss = std::move(allow_row_loss);
    migrator_.reset();
    auto migrator = Migrator::Open(url_, std::move(files).value(), std::move(options));
    ASSERT_TRUE(migrator.ok()) << migrator.status().ToString();
    migrator_ = std::move(migrator).value();
  }

  // Runs to `target` and expects success with exactly `expected_versions` in
  // alembic_version afterwards.
  void RunTo(std::string_view target, const std::vector<std::string>& expected_versions) {
    auto report = migrator_->Run(target);
    ASSERT_TRUE(report.ok()) << "run to " << target << ": " << report.status().ToString();
    ASSERT_EQ(report->outcome, RunOutcome::kSucceeded)
        << "run to " << target << ": " << RunOutcomeName(report->outcome) << ": "
        << report->status.ToString();
    EXPECT_EQ(report->final_versions, expected_versions);
    EXPECT_EQ(VersionRows(), expected_versions) << "alembic_version after run to " << target;
  }

  void Exec(const std::string& sql) {
    pqxx::nontransaction tx(*db_);
    tx.exec(sql);
  }

  // First column of the first row as text; nullopt for SQL NULL.
  std::optional<std::string> Value(const std::string& sql) {
    pqxx::nontransaction tx(*db_);
    const pqxx::row row = tx.exec1(sql);
    if (row[0].is_null()) {
      return std::nullopt;
    }
    return row[0].as<std::string>();
  }

  long long Count(const std::string& sql) {
    const auto value = Value(sql);
    return value ? std::stoll(*value) : -1;
  }

  bool TableExists(const std::string& name) {
    return Value("SELECT to_regclass('public." + name + "') IS NOT NULL") == std::string("t");
  }

  bool ColumnExists(const std::string& table, const std::string& column) {
    return Count("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
                 "AND table_name = '" + table + "' AND column_name = '" + column + "'") == 1;
  }

  // The rows of alembic_version, sorted; empty when the table is absent.
  std::vector<std::string> VersionRows() {
    std::vector<std::string> rows;
    if (!TableExists("alembic_version")) {
      return rows;
    }
    pqxx::nontransaction tx(*db_);
    for (const auto& row : tx.exec("SELECT version_num FROM alembic_version ORDER BY 1")) {
      rows.push_back(row[0].as<std::string>());
    }
    return rows;
  }

  Rows Snapshot(const std::string& table) { return SnapshotRows(*db_, table); }

  std::string url_;
  std::unique_ptr<pqxx::connection> db_;
  std::unique_ptr<Migrator> migrator_;
};

TEST_F(DrawingChainTest, RoundTripBaseToHeadToBaseKeepsEveryComponent) {
  RunTo(kBaseRevision, {kBaseRevision});
  Exec(InsertComponentsSql(1000, 100000, /*with_instance=*/false));
  const Rows components_before = Snapshot("components");
  const Rows drawings_before = Snapshot("drawings");
  ASSERT_EQ(components_before.size(), 100000u);

  RunTo("head", {kSeed});
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE schema_id IS NULL OR dynamic_data IS NULL"), 0);
  // dynamic_data holds exactly the column values, NULLs as JSON null.
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE "
                  "(dynamic_data ->> 'component_type') IS DISTINCT FROM component_type "
                  "OR (dynamic_data ->> 'description') IS DISTINCT FROM description "
                  "OR (dynamic_data ->> 'material_type') IS DISTINCT FROM material_type "
                  "OR (dynamic_data ->> 'quantity')::integer IS DISTINCT FROM quantity "
                  "OR NOT dynamic_data ?& ARRAY['component_type', 'description', "
                  "'material_type', 'quantity']"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM component_schemas WHERE name = 'default' AND is_default"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM component_schema_fields f JOIN component_schemas s "
                  "ON s.id = f.schema_id WHERE s.name = 'default'"),
            4);

  RunTo(kBaseRevision, {kBaseRevision});
  ExpectSameRows(components_before, Snapshot("components"), "components");
  ExpectSameRows(drawings_before, Snapshot("drawings"), "drawings");
  EXPECT_FALSE(TableExists("component_schemas"));
  EXPECT_FALSE(TableExists("component_schema_fields"));
  EXPECT_FALSE(ColumnExists("components", "instance_identifier"));
  EXPECT_FALSE(ColumnExists("components", "schema_id"));
  EXPECT_FALSE(ColumnExists("components", "dynamic_data"));

  // Below the first revision the tables themselves go: a loss the row guard
  // refuses unless it is declared.
  auto refused = migrator_->Run("base");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->outcome, RunOutcome::kRolledBack);
  EXPECT_NE(refused->status.message().find("public.components had 100000 rows before the run and 0 after"),
            std::string::npos)
      << refused->status.message();
  EXPECT_TRUE(TableExists("components"));
  OpenMigrator({"drawings", "components"});
  RunTo("base", {});
  EXPECT_FALSE(TableExists("components"));
  EXPECT_FALSE(TableExists("drawings"));
}

TEST_F(DrawingChainTest, AlembicVersionHasOneRowPerStep) {
  const std::vector<std::string> chain = {kBaseRevision, kInstanceIdentifier, kFlexibleSchemas, kSeed};
  for (const auto& revision : chain) {
    RunTo("+1", {revision});
  }
  // Exactly Alembic's table: version_num varchar(32), the primary key.
  EXPECT_EQ(Value("SELECT data_type || '(' || character_maximum_length || ')' FROM "
                  "information_schema.columns WHERE table_schema = 'public' AND "
                  "table_name = 'alembic_version' AND column_name = 'version_num'"),
            std::string("character varying(32)"));
  EXPECT_EQ(Count("SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                  "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'public.alembic_version'::regclass "
                  "AND i.indisprimary AND a.attname = 'version_num'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
                  "AND table_name = 'alembic_version'"),
            1);
  for (int i = static_cast<int>(chain.size()) - 2; i >= 0; --i) {
    RunTo("-1", {chain[static_cast<std::size_t>(i)]});
  }
  RunTo("-1", {});
}

TEST_F(DrawingChainTest, WritesMadeThroughDynamicDataAfterUpgradeSurviveDowngrade) {
  RunTo(kInstanceIdentifier, {kInstanceIdentifier});
  Exec(InsertComponentsSql(50, 2000, /*with_instance=*/true));
  const Rows before = Snapshot("components");

  RunTo("head", {kSeed});
  // The upgraded application writes only dynamic_data.
  Exec("INSERT INTO components (id, drawing_id, instance_identifier, schema_id, dynamic_data) "
       "SELECT 900001, 1, 'N1', id, '{\"component_type\": \"valve\", \"description\": \"new\", "
       "\"material_type\": \"brass\", \"quantity\": 7}' FROM component_schemas WHERE name = 'default'");
  Exec("INSERT INTO components (id, drawing_id, schema_id, dynamic_data) "
       "SELECT 900002, 2, id, '{\"component_type\": \"gear\", \"quantity\": \"12\"}' "
       "FROM component_schemas WHERE name = 'default'");
  Exec("INSERT INTO components (id, drawing_id, schema_id, dynamic_data) "
       "SELECT 900003, 3, id, '{\"quantity\": 3.0, \"description\": null}' "
       "FROM component_schemas WHERE name = 'default'");
  Exec("INSERT INTO components (id, drawing_id, schema_id, dynamic_data) "
       "SELECT 900004, 4, id, '{\"quantity\": \" \", \"material_type\": \"\"}' "
       "FROM component_schemas WHERE name = 'default'");
  // Edits through dynamic_data; the original columns still hold old values.
  Exec("UPDATE components SET dynamic_data = dynamic_data || "
       "'{\"quantity\": 999, \"description\": \"edited\"}' WHERE id = 10");
  Exec("UPDATE components SET dynamic_data = dynamic_data - 'component_type' WHERE id = 12");
  Exec("UPDATE components SET dynamic_data = jsonb_set(dynamic_data, '{material_type}', 'null') "
       "WHERE id = 14");
  // A schema and a field a user created after the upgrade.
  Exec("INSERT INTO component_schemas (name) VALUES ('pump')");
  Exec("INSERT INTO component_schema_fields (schema_id, field_name, field_type) "
       "SELECT id, 'pressure', 'number' FROM component_schemas WHERE name = 'pump'");
  Exec("INSERT INTO component_schema_fields (schema_id, field_name, field_type) "
       "SELECT id, 'color', 'text' FROM component_schemas WHERE name = 'default'");
  Exec("INSERT INTO components (id, drawing_id, schema_id, dynamic_data) "
       "SELECT 900005, 5, id, '{\"component_type\": \"pump\", \"quantity\": 2, \"pressure\": 3.5}' "
       "FROM component_schemas WHERE name = 'pump'");

  RunTo(kInstanceIdentifier, {kInstanceIdentifier});
  auto row = [this](int id) {
    return Value("SELECT concat_ws('|', coalesce(component_type, '<null>'), "
                 "coalesce(description, '<null>'), coalesce(material_type, '<null>'), "
                 "coalesce(quantity::text, '<null>'), coalesce(instance_identifier, '<null>')) "
                 "FROM components WHERE id = " + std::to_string(id))
        .value_or("<no row>");
  };
  EXPECT_EQ(row(900001), "valve|new|brass|7|N1");
  EXPECT_EQ(row(900002), "gear|<null>|<null>|12|<null>");
  EXPECT_EQ(row(900003), "<null>|<null>|<null>|3|<null>");
  EXPECT_EQ(row(900004), "<null>|<null>||<null>|<null>");
  EXPECT_EQ(row(900005), "pump|<null>|<null>|2|<null>");
  EXPECT_EQ(Value("SELECT description || '|' || quantity FROM components WHERE id = 10"),
            std::string("edited|999"));
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE id = 12 AND component_type IS NULL"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE id = 14 AND material_type IS NULL"), 1);

  // Every other component is exactly as it was before the upgrade.
  Rows expected;
  for (const auto& entry : before) {
    if (entry.first != 10 && entry.first != 12 && entry.first != 14) {
      expected.push_back(entry);
    }
  }
  Rows after;
  for (const auto& entry : Snapshot("components")) {
    if (entry.first < 900000 && entry.first != 10 && entry.first != 12 && entry.first != 14) {
      after.push_back(entry);
    }
  }
  ExpectSameRows(expected, after, "components");
  EXPECT_FALSE(TableExists("component_schemas"));
  EXPECT_FALSE(ColumnExists("components", "dynamic_data"));
}

// The downgrade's window writes only the components whose columns are not
// exactly what dynamic_data holds (design §3.1). Invariant: no column is
// left stale because a value merely resembles it. Each pair below differs
// from what the downgrade must give, however slightly.
TEST_F(DrawingChainTest, DowngradeLeavesNoColumnStaleNextToAValueThatOnlyResemblesIt) {
  RunTo(kInstanceIdentifier, {kInstanceIdentifier});
  Exec(InsertComponentsSql(10, 100, /*with_instance=*/true));
  RunTo("head", {kSeed});
  const std::vector<std::pair<std::string, std::string>> cases = {
      // column values, dynamic_data -> the columns afterwards
      {"component_type = 'a', quantity = 7", "{\"component_type\": \"A\", \"quantity\": \"007\"}"},
      {"component_type = 'a', quantity = 5", "{\"component_type\": \"a\", \"quantity\": \" \"}"},
      {"component_type = 'a', quantity = 5", "{\"component_type\": \"a\"}"},
      {"component_type = 'a', quantity = 5", "{\"quantity\": 5}"},
      {"component_type = 'a ', quantity = 5", "{\"component_type\": \"a\", \"quantity\": 5.0}"},
      {"component_type = NULL, quantity = -5", "{\"component_type\": \"\", \"quantity\": \"+5\"}"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    Exec("UPDATE components SET " + cases[i].first + ", description = NULL, material_type = "
         "NULL, dynamic_data = '" + cases[i].second + "' WHERE id = " + std::to_string(i + 1));
  }
  RunTo(kFlexibleSchemas, {kFlexibleSchemas});
  auto row = [this](std::size_t id) {
    return Value("SELECT concat_ws('|', coalesce(component_type, '<null>'), "
                 "coalesce(quantity::text, '<null>')) FROM components WHERE id = " +
                 std::to_string(id))
        .value_or("<no row>");
  };
  EXPECT_EQ(row(1), "A|7");
  EXPECT_EQ(row(2), "a|<null>");
  EXPECT_EQ(row(3), "a|<null>");
  EXPECT_EQ(row(4), "<null>|5");
  EXPECT_EQ(row(5), "a|5");
  EXPECT_EQ(row(6), "|5");
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE schema_id IS NOT NULL "
                  "OR dynamic_data IS NOT NULL"),
            0);
}

TEST_F(DrawingChainTest, ValueThatDoesNotFitItsColumnStopsDowngradeAndChangesNothing) {
  RunTo(kInstanceIdentifier, {kInstanceIdentifier});
  Exec(InsertComponentsSql(10, 500, /*with_instance=*/true));
  RunTo("head", {kSeed});
  Exec("UPDATE components SET dynamic_data = dynamic_data || '{\"quantity\": \"abc\"}' WHERE id = 42");
  Exec("UPDATE components SET dynamic_data = dynamic_data || '{\"quantity\": 2.5}' WHERE id = 43");
  // Next to a column that rounding 2.5 would give, and a JSON true next to
  // a NULL column: neither may pass as already in step.
  Exec("UPDATE components SET quantity = 3, dynamic_data = dynamic_data || "
       "'{\"quantity\": 2.5}' WHERE id = 44");
  Exec("UPDATE components SET quantity = NULL, dynamic_data = dynamic_data || "
       "'{\"quantity\": true}' WHERE id = 45");
  const Rows before = Snapshot("components");

  auto report = migrator_->Run(kInstanceIdentifier);
  const core::Status status = report.ok() ? report->status : report.status();
  if (report.ok()) {
    EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  }
  EXPECT_NE(status.message().find("id 42: quantity \"abc\" is not an integer"), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find("id 43: quantity 2.5 is not a whole number"), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find("id 44: quantity 2.5 is not a whole number"), std::string::npos)
      << status.ToString();
  EXPECT_NE(status.message().find("id 45: quantity true is not an integer"), std::string::npos)
      << status.ToString();
  EXPECT_EQ(VersionRows(), std::vector<std::string>{kSeed});
  ExpectSameRows(before, Snapshot("components"), "components");
  EXPECT_EQ(Count("SELECT count(*) FROM component_schemas WHERE name = 'default'"), 1);
}

// The downgrade's window gives the seeded schema a reserved name until its
// contract deletes it; a user's schema of that name stops it before
// anything changes.
TEST_F(DrawingChainTest, DowngradeRefusesAUserSchemaWithTheNameItReservesAndChangesNothing) {
  RunTo(kInstanceIdentifier, {kInstanceIdentifier});
  Exec(InsertComponentsSql(10, 500, /*with_instance=*/true));
  RunTo("head", {kSeed});
  Exec("INSERT INTO component_schemas (name) VALUES "
       "('default (being removed by the seed_default_schemas downgrade)')");
  Exec("UPDATE components SET dynamic_data = dynamic_data || '{\"quantity\": 5}' WHERE id = 42");
  const Rows before = Snapshot("components");

  auto report = migrator_->Run(kFlexibleSchemas);
  const core::Status status = report.ok() ? report->status : report.status();
  if (report.ok()) {
    EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  }
  EXPECT_NE(status.message().find("already has a schema named \"default (being removed"),
            std::string::npos)
      << status.ToString();
  EXPECT_EQ(VersionRows(), std::vector<std::string>{kSeed});
  ExpectSameRows(before, Snapshot("components"), "components");
  EXPECT_EQ(Count("SELECT count(*) FROM component_schemas WHERE name = 'default' AND is_default"),
            1);
}

TEST_F(DrawingChainTest, ScenarioAUpgradeFromFlexibleSchemasRunsOnlyTheSeeding) {
  RunTo(kFlexibleSchemas, {kFlexibleSchemas});
  Exec(InsertComponentsSql(20, 3000, /*with_instance=*/true));
  // The runbook's symptoms: tables exist, no default schema, schema_id NULL.
  ASSERT_TRUE(TableExists("component_schemas"));
  ASSERT_EQ(Count("SELECT count(*) FROM component_schemas"), 0);

  auto plan = migrator_->Plan(kSeed);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->steps.size(), 1u);
  EXPECT_EQ(plan->steps[0].revision, kSeed);
  EXPECT_EQ(plan->steps[0].direction, core::Direction::kUp);

  auto report = migrator_->Run(kSeed);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->outcome, RunOutcome::kSucceeded) << report->status.ToString();
  EXPECT_EQ(report->steps_applied, 1);
  EXPECT_EQ(VersionRows(), std::vector<std::string>{kSeed});
  EXPECT_EQ(Count("SELECT count(*) FROM components c JOIN component_schemas s ON s.id = c.schema_id "
                  "WHERE s.name = 'default' AND c.dynamic_data ->> 'component_type' "
                  "IS NOT DISTINCT FROM c.component_type"),
            3000);
}

TEST_F(DrawingChainTest, SeedingRefusesAnExistingDefaultSchemaAndChangesNothing) {
  RunTo(kFlexibleSchemas, {kFlexibleSchemas});
  Exec(InsertComponentsSql(5, 100, /*with_instance=*/true));
  Exec("INSERT INTO component_schemas (name) VALUES ('default')");

  auto report = migrator_->Run(kSeed);
  const core::Status status = report.ok() ? report->status : report.status();
  if (report.ok()) {
    EXPECT_EQ(report->outcome, RunOutcome::kRolledBack);
  }
  EXPECT_NE(status.message().find("already has a schema named \"default\""), std::string::npos)
      << status.ToString();
  EXPECT_EQ(VersionRows(), std::vector<std::string>{kFlexibleSchemas});
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE schema_id IS NOT NULL "
                  "OR dynamic_data IS NOT NULL"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM component_schema_fields"), 0);
}

TEST_F(DrawingChainTest, PartialRollbackToFlexibleSchemasKeepsTablesAndUserSchemas) {
  RunTo(kInstanceIdentifier, {kInstanceIdentifier});
  Exec(InsertComponentsSql(20, 1000, /*with_instance=*/true));
  const Rows before = Snapshot("components");
  RunTo("head", {kSeed});
  Exec("INSERT INTO component_schemas (name) VALUES ('pump')");
  Exec("INSERT INTO component_schema_fields (schema_id, field_name, field_type) "
       "SELECT id, 'pressure', 'number' FROM component_schemas WHERE name = 'pump'");
  Exec("INSERT INTO components (id, drawing_id, schema_id, dynamic_data) "
       "SELECT 5000, 1, id, '{\"component_type\": \"pump\", \"quantity\": 4, \"pressure\": 3.5}' "
       "FROM component_schemas WHERE name = 'pump'");

  RunTo(kFlexibleSchemas, {kFlexibleSchemas});
  EXPECT_TRUE(TableExists("component_schemas"));
  EXPECT_TRUE(TableExists("component_schema_fields"));
  EXPECT_TRUE(ColumnExists("components", "schema_id"));
  EXPECT_TRUE(ColumnExists("components", "dynamic_data"));
  EXPECT_EQ(Count("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                  "WHERE c.relname IN ('idx_components_schema_id', "
                  "'idx_components_dynamic_data_gin') AND i.indisvalid"),
            2);
  // Seed data gone, user data kept.
  EXPECT_EQ(Count("SELECT count(*) FROM component_schemas WHERE name = 'default'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM component_schemas WHERE name = 'pump'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM component_schema_fields"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE id <> 5000 AND "
                  "(schema_id IS NOT NULL OR dynamic_data IS NOT NULL)"),
            0);
  EXPECT_EQ(Value("SELECT component_type || '|' || quantity || '|' || (dynamic_data ->> 'pressure') "
                  "FROM components WHERE id = 5000"),
            std::string("pump|4|3.5"));
  Rows after;
  for (const auto& entry : Snapshot("components")) {
    if (entry.first != 5000) {
      after.push_back(entry);
    }
  }
  // The snapshot now includes schema_id and dynamic_data (both NULL), so
  // compare the revision-9bc6a98f1c12 columns only.
  Rows original_columns;
  {
    pqxx::nontransaction tx(*db_);
    for (const auto& r : tx.exec("SELECT id, md5(ROW(id, drawing_id, component_type, description, "
                                 "material_type, quantity, created_at, updated_at, "
                                 "instance_identifier)::text) FROM components WHERE id <> 5000 "
                                 "ORDER BY id")) {
      original_columns.emplace_back(r[0].as<long long>(), r[1].as<std::string>());
    }
  }
  ExpectSameRows(before, original_columns, "components");

  // And the seeding can be re-applied from here (the runbook's Scenario A).
  RunTo("head", {kSeed});
  EXPECT_EQ(Count("SELECT count(*) FROM components WHERE schema_id IS NULL"), 0);
  EXPECT_EQ(Value("SELECT s.name FROM components c JOIN component_schemas s ON s.id = c.schema_id "
                  "WHERE c.id = 5000"),
            std::string("pump"));
}

}  // namespace
}  // namespace schemaop::database
