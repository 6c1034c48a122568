#pragma once
// The local commands' global options (--database, --migrations, --backup,
// the durations, ...): their definitions, their validation and the engine
// options they become. Every local command takes all of them, so scripts can
// share one prefix; options of one subcommand (`plan --sql`, `history
// --limit`, `wait --at-least/--timeout`) are rejected by the others.
// `schemaop controller` rejects all of them (controller_command.cpp).
#include <chrono>
#include <string>
#include <vector>

#include "core/phase_schedule.h"
#include "core/spec_enums.h"
#include "core/status.h"
#include "database/migrator.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace schemaop::cmd {

// The options as written; Resolve() fills the typed values at the end.
struct LocalOptions {
  std::string database_url;  // --database, else $DATABASE_URL (read by Resolve)
  std::string migrations_dir = "migrations";
  std::string backup = core::kBackupWhenNames[0].name;  // any case
  std::string backup_dir = "backups";
  int backup_retention = 5;
  std::string pg_bin_dir;
  std::vector<std::string> allow_row_loss;
  bool allow_changed = false;
  bool fence = false;
  bool allow_schema_drift = false;
  std::string lock_wait = "60s";
  std::string lock_timeout = "10s";
  std::string statement_timeout = "0";
  // upgrade/downgrade: cancel and roll back a run that has not committed
  // after this long (design §4.7; 0 = no limit).
  std::string max_duration = "0";
  std::vector<std::string> checks;  // NAME=SQL
  std::string version_table = "alembic_version";
  bool quiet = false;
  // Subcommand arguments.
  std::string target;
  bool sql = false;
  std::string file;
  std::string at_least;
  std::string rehearsal_url;  // rehearse --rehearsal-url
  std::string wait_timeout = "300s";
  int history_limit = 20;
  bool progress = false;  // current --progress
  std::string import_dir;                  // import-alembic DIR
  std::string import_out;                  // import-alembic --out (default: migrations_dir)
  std::string alembic_program = "alembic";  // import-alembic --alembic
  std::string phase;      // upgrade/downgrade --phase (empty: every phase)
  // Typed by Resolve().
  core::BackupWhen backup_when = core::BackupWhen::kDowngrade;
  core::RunPhase run_phase = core::RunPhase::kAll;
  std::chrono::milliseconds lock_wait_ms{0};
  std::chrono::milliseconds lock_timeout_ms{0};
  std::chrono::milliseconds statement_timeout_ms{0};
  std::chrono::milliseconds max_duration_ms{0};
  std::chrono::milliseconds wait_timeout_ms{0};
  std::vector<database::UserCheck> parsed_checks;
};

// Adds the global options to `app`; returns them (for modes that must
// reject them). `local` must outlive parsing and the handlers.
std::vector<CLI::Option*> AddLocalOptions(CLI::App& app, LocalOptions& local);

// Validates the options after parsing, before anything is opened
// (kInvalidArgument naming the flag and the value). Durations are Go-style
// with a unit (core/duration.h); a bare number is seconds, as these flags
// were documented before they took units. --backup is BackupWhen's CRD
// spelling in any case.
core::Status Resolve(LocalOptions& local);

// Prints "error: MESSAGE [CODE]" to stderr; returns the exit code for the
// status (docs/cli.md, exit codes).
int Fail(const core::Status& status);

// The engine options of a resolved LocalOptions (actor "$USER@host (cli)").
database::MigratorOptions BuildOptions(const LocalOptions& local);

}  // namespace schemaop::cmd
