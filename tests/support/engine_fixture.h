#pragma once
// The migration engine on a scratch database (pg tier): ScratchDatabaseTest
// plus the options and the Migrator a test runs with. For test binaries that
// link schemaop_database (tests/database).
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "database/migrator.h"
#include "support/pg_fixture.h"
#include "support/pg_test_env.h"

namespace schemaop::testing {

// Options of a test run: `actor`, no automatic backup (backups have their
// own tests), backups into dir/backups with the harness's pg_dump.
inline database::MigratorOptions EngineOptions(const std::string& dir, const std::string& actor) {
  database::MigratorOptions options;
  options.actor = actor;
  options.backup_policy = database::BackupPolicy::kNever;
  options.backup_dir = dir + "/backups";
  options.pg_bin_dir = HarnessBinDir();
  return options;
}

class EngineTest : public ScratchDatabaseTest {
 protected:
  EngineTest(std::string prefix, std::string tag, std::string actor)
      : ScratchDatabaseTest(std::move(prefix), std::move(tag)), actor_(std::move(actor)) {}

  void SetUp() override {
    ScratchDatabaseTest::SetUp();
    engine_url_ = url_;
  }

  // EngineOptions with a 30 s lock wait.
  database::MigratorOptions Options() {
    auto options = EngineOptions(dir_, actor_);
    options.lock_wait = std::chrono::milliseconds(30000);
    return options;
  }

  // The engine over the files in dir_/m, connected with engine_url_ (null,
  // with a failed expectation, when the files or the connection fail).
  std::unique_ptr<database::Migrator> Open(database::MigratorOptions options) {
    auto files = database::LoadMigrationDirectory(dir_ + "/m");
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    if (!files.ok()) {
      return nullptr;
    }
    auto migrator =
        database::Migrator::Open(engine_url_, std::move(files).value(), std::move(options));
    EXPECT_TRUE(migrator.ok()) << migrator.status().ToString();
    return migrator.ok() ? std::move(migrator).value() : nullptr;
  }
  std::unique_ptr<database::Migrator> Open() { return Open(Options()); }

  std::string engine_url_;  // what the engine connects with (url_ unless a test needs more)

 private:
  std::string actor_;
};

}  // namespace schemaop::testing
