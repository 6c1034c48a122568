#pragma once
// The drawing application's data for the pg tests of its revision chain
// (drawing_chain_test.cpp: the SQL files through the engine;
// drawing_alembic_test.cpp: the Alembic migrations through real Alembic;
// drawing_phases_test.cpp, drawing_turns_test.cpp).
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "database/migrator.h"
#include "support/pg_test_env.h"

namespace schemaop::database {

using Rows = std::vector<std::pair<long long, std::string>>;  // (id, md5 of the whole row)

// Components with every shape the original columns allow: NULLs, empty
// strings, quotes, backslashes, newlines, non-ASCII text, 100-character
// values and the integer extremes. `with_instance` fills instance_identifier
// (revision 9bc6a98f1c12 and later).
inline std::string InsertComponentsSql(int drawings, int components, bool with_instance) {
  const std::string n = std::to_string(components);
  const std::string d = std::to_string(drawings);
  std::string sql =
      "INSERT INTO drawings (name, created_at, updated_at) "
      "SELECT 'drawing ' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', "
      "       timestamptz '2024-02-01 00:00:00+00' + g * interval '1 minute' "
      "FROM generate_series(1, " + d + ") AS g;\n"
      "INSERT INTO components (drawing_id, component_type, description, material_type, quantity, "
      "                        created_at, updated_at" +
      std::string(with_instance ? ", instance_identifier" : "") +
      ") "
      "SELECT 1 + g % " + d + ", "
      "  CASE g % 9 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'null' WHEN 3 THEN repeat('t', 100) "
      "    ELSE (ARRAY['resistor', 'capacitor', 'bolt', 'plate', 'Ventil «ß» ✓'])[1 + g % 5] END, "
      "  CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN E'line\\nbreak \"quoted\" \\\\ back\\tslash' "
      "    WHEN 2 THEN '{\"not\": \"json\"}' ELSE 'part ' || g END, "
      "  CASE g % 11 WHEN 0 THEN NULL ELSE repeat('m', 1 + g % 100) END, "
      "  CASE g % 13 WHEN 0 THEN NULL WHEN 1 THEN 2147483647 WHEN 2 THEN -2147483648 "
      "    ELSE g % 1000 - 500 END, "
      "  timestamptz '2024-03-01 00:00:00+00' + g * interval '1 second', "
      "  timestamptz '2024-04-01 00:00:00.123456+00' + g * interval '1 second'" +
      std::string(with_instance ? ", CASE WHEN g % 3 = 0 THEN NULL ELSE 'R' || g END" : "") +
      " FROM generate_series(1, " + n + ") AS g;\n";
  return sql;
}

// Every row of `table` with a hash of all its columns, computed in SQL.
inline Rows SnapshotRows(pqxx::connection& db, const std::string& table) {
  Rows rows;
  pqxx::nontransaction tx(db);
  for (const auto& row : tx.exec("SELECT id, md5(t::text) FROM " + table + " AS t ORDER BY id")) {
    rows.emplace_back(row[0].as<long long>(), row[1].as<std::string>());
  }
  return rows;
}

inline void ExpectSameRows(const Rows& before, const Rows& after, const std::string& table) {
  ASSERT_EQ(before.size(), after.size()) << table << ": row count changed";
  std::size_t differing = 0;
  std::optional<long long> first;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (before[i] != after[i]) {
      ++differing;
      if (!first) {
        first = before[i].first;
      }
    }
  }
  EXPECT_EQ(differing, 0u) << table << ": " << differing << " rows differ, first id "
                           << first.value_or(-1);
}

// The engine on `url` with migrations/drawing, no backups (they have their
// own tests); null after a failed ASSERT-style expectation.
inline std::unique_ptr<Migrator> OpenDrawingMigrator(
    const std::string& url, const std::string& actor,
    core::RunPhase phase = core::RunPhase::kAll) {
  auto files = LoadMigrationDirectory(schemaop::testing::SourceDir() + "/migrations/drawing");
  EXPECT_TRUE(files.ok()) << files.status().ToString();
  if (!files.ok()) {
    return nullptr;
  }
  MigratorOptions options;
  options.backup_policy = BackupPolicy::kNever;
  options.pg_bin_dir = schemaop::testing::HarnessBinDir();
  options.actor = actor;
  options.phase = phase;
  auto migrator = Migrator::Open(url, std::move(files).value(), std::move(options));
  EXPECT_TRUE(migrator.ok()) << migrator.status().ToString();
  return migrator.ok() ? std::move(migrator).value() : nullptr;
}

}  // namespace schemaop::database
