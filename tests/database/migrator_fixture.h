#pragma once
// The fixture of the engine tests (migrator_test.cpp, migrator_faults_test.cpp,
// migrator_invariants_test.cpp): a scratch database per test and small
// synthetic migration files in its directory.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "database/migrator.h"
#include "support/engine_fixture.h"

namespace schemaop::database {

class MigratorTest : public testing::EngineTest {
 protected:
  MigratorTest() : EngineTest("engine_", "engine", "test") {}

  // r1: items (3 rows).
  void WriteBase() {
    Write("001_r1.sql",
          testing::MigrationText(
              "r1", "", "items",
              "-- migrate:up\nCREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);\n"
              "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');\n\n"
              "-- migrate:down\nDROP TABLE items;\n"));
  }
  // Opens the engine and runs to `target`, which must succeed (null, with a
  // failed expectation, otherwise).
  std::unique_ptr<Migrator> OpenAt(const std::string& target) {
    auto m = Open();
    if (m == nullptr) {
      return nullptr;
    }
    auto report = m->Run(target);
    EXPECT_TRUE(report.ok() && report->outcome == RunOutcome::kSucceeded)
        << (report.ok() ? report->status.ToString() : report.status().ToString());
    return report.ok() && report->outcome == RunOutcome::kSucceeded ? std::move(m) : nullptr;
  }
  // Opens the engine with `options`, runs to r1 (which must succeed), then
  // to head: the report of the run to head (none, with a failed
  // expectation, when the engine or a run fails to report).
  std::optional<RunReport> UpgradeFromR1(MigratorOptions options) {
    auto m = Open(std::move(options));
    if (m == nullptr) {
      return std::nullopt;
    }
    auto to_r1 = m->Run("r1");
    EXPECT_TRUE(to_r1.ok() && to_r1->outcome == RunOutcome::kSucceeded)
        << (to_r1.ok() ? to_r1->status.ToString() : to_r1.status().ToString());
    if (!to_r1.ok() || to_r1->outcome != RunOutcome::kSucceeded) {
      return std::nullopt;
    }
    auto to_head = m->Run("head");
    EXPECT_TRUE(to_head.ok()) << to_head.status().ToString();
    return to_head.ok() ? std::optional<RunReport>(std::move(to_head).value()) : std::nullopt;
  }
  // r2 after r1 (revision r2, file 002_r2.sql) with `body` as its sections.
  void WriteR2(const std::string& message, const std::string& body) {
    Write("002_r2.sql", testing::MigrationText("r2", "r1", message, body));
  }
};

}  // namespace schemaop::database
