#include "cmd/local_options.h"

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/duration.h"

namespace schemaop::cmd {
namespace {

using core::Code;

// "$USER@host"
std::string UserAtHost() {
  std::string user;
  if (const char* env = std::getenv("USER"); env != nullptr && *env != '\0') {
    user = env;
  } else if (const passwd* pw = getpwuid(getuid()); pw != nullptr) {
    user = pw->pw_name;
  } else {
    user = "uid" + std::to_string(getuid());
  }
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) {
    std::snprintf(host, sizeof host, "unknown-host");
  }
  return user + "@" + host;
}

std::string Actor() { return UserAtHost() + " (cli)"; }

struct DurationFlag {
  const char* flag;
  const std::string* text;
  std::chrono::milliseconds* value;
};

}  // namespace

std::vector<CLI::Option*> AddLocalOptions(CLI::App& app, LocalOptions& local) {
  // DATABASE_URL is read by Resolve, not by CLI11: an option CLI11 filled
  // from the environment would count as given, and `schemaop controller`
  // must not be refused because the shell has DATABASE_URL set.
  auto duration = [&app](const char* name, std::string& value, const std::string& help) {
    return app.add_option(name, value, help + "; a bare number is seconds")
        ->type_name("DURATION")
        ->capture_default_str();
  };
  return {
      app.add_option("--database", local.database_url,
                     "PostgreSQL URL, e.g. postgresql://user:pass@host:5432/db (default: "
                     "$DATABASE_URL; prefer it, arguments are visible in ps)"),
      app.add_option("--migrations", local.migrations_dir, "directory of *.sql migration files")
          ->capture_default_str(),
      app.add_option("--backup", local.backup,
                     "when upgrade/downgrade pg_dump first: " +
                         core::EnumChoices(core::kBackupWhenNames) + " (any case)")
          ->capture_default_str(),
      app.add_option("--backup-retention", local.backup_retention,
                     "backups of this database kept in --backup-dir (0 = all)")
          ->check(CLI::NonNegativeNumber)
          ->capture_default_str(),
      app.add_option("--backup-dir", local.backup_dir, "where backups are written")
          ->capture_default_str(),
      app.add_option("--pg-bin-dir", local.pg_bin_dir,
                     "directory with pg_dump/pg_restore (default: PATH)"),
      app.add_option("--allow-row-loss", local.allow_row_loss,
                     "TABLE whose row count may drop (repeatable)"),
      app.add_flag("--allow-changed", local.allow_changed,
                   "run although an applied migration file changed"),
      app.add_flag("--fence", local.fence,
                   "if a schemaop process that is gone (a frozen or cut-off host) still holds the "
                   "migration lock, terminate its database sessions first (docs/design.md §4.2); only "
                   "when you know it is dead"),
      app.add_flag("--allow-schema-drift", local.allow_schema_drift,
                   "do not compare the schema with the one recorded for the revision reached"),
      duration("--lock-wait", local.lock_wait,
               "how long to wait for another run's migration lock (e.g. 30s, 5m)"),
      duration("--lock-timeout", local.lock_timeout,
               "PostgreSQL lock_timeout (e.g. 10s, 500ms; 0 = none)"),
      duration("--statement-timeout", local.statement_timeout,
               "PostgreSQL statement_timeout (e.g. 5m, 1h; 0 = none)"),
      duration("--max-duration", local.max_duration,
               "upgrade/downgrade: cancel the run and roll it back when it has not committed "
               "after this long (e.g. 10m; 0 = none)"),
      app.add_option("--check", local.checks,
                     "NAME=SQL verification check returning one boolean (repeatable)"),
      app.add_option("--version-table", local.version_table, "version table name")
          ->capture_default_str(),
      app.add_flag("-q,--quiet", local.quiet, "print only results and errors"),
  };
}

core::Status Resolve(LocalOptions& local) {
  if (local.database_url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL"); env != nullptr) {
      local.database_url = env;
    }
  }
  const DurationFlag durations[] = {
      {"--lock-wait", &local.lock_wait, &local.lock_wait_ms},
      {"--lock-timeout", &local.lock_timeout, &local.lock_timeout_ms},
      {"--statement-timeout", &local.statement_timeout, &local.statement_timeout_ms},
      {"--max-duration", &local.max_duration, &local.max_duration_ms},
      {"wait --timeout", &local.wait_timeout, &local.wait_timeout_ms},
  };
  for (const DurationFlag& d : durations) {
    auto parsed = core::ParseDurationFlag(d.flag, *d.text, core::BareNumber::kSeconds);
    if (!parsed.ok()) {
      return parsed.status();
    }
    *d.value = parsed.value();
  }
  auto backup = core::ParseEnum(core::kBackupWhenNames, local.backup, core::Case::kIgnore);
  if (!backup) {
    return core::Status(Code::kInvalidArgument,
                        "--backup: \"" + local.backup + "\" is not one of " +
                            core::EnumChoices(core::kBackupWhenNames) + " (any case)");
  }
  local.backup_when = *backup;
  local.run_phase = core::RunPhase::kAll;
  if (!local.phase.empty()) {
    auto phase = core::ParseRunPhase(local.phase);
    if (!phase || *phase == core::RunPhase::kAll) {
      return core::Status(Code::kInvalidArgument,
                          "--phase: \"" + local.phase +
                              "\" is not a phase; use --phase expand, --phase window or --phase "
                              "contract, or leave it out to run every phase in order");
    }
    local.run_phase = *phase;
  }
  local.parsed_checks.clear();
  for (const auto& check : local.checks) {
    auto eq = check.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == check.size()) {
      return core::Status(Code::kInvalidArgument,
                          "--check '" + check + "' must be NAME=SQL (SQL returning one boolean)");
    }
    local.parsed_checks.push_back({check.substr(0, eq), check.substr(eq + 1)});
  }
  return core::Status();
}

database::MigratorOptions BuildOptions(const LocalOptions& local) {
  database::MigratorOptions options;
  options.lock_wait = local.lock_wait_ms;
  options.lock_timeout = local.lock_timeout_ms;
  options.statement_timeout = local.statement_timeout_ms;
  options.actor = Actor();
  // Every CLI session names its process; --fence may end another schemaop's.
  options.session_owner = "cli:" + UserAtHost() + ":" + std::to_string(static_cast<long>(getpid()));
  if (local.fence) {
    options.fence_prefix = "schemaop:";
  }
  options.version_table = local.version_table;
  options.allow_changed = local.allow_changed;
  options.allow_row_loss = local.allow_row_loss;
  options.verify_schema = !local.allow_schema_drift;
  options.backup_policy = local.backup_when;  // database::BackupPolicy is core::BackupWhen
  options.backup_dir = local.backup_dir;
  options.backup_retention = local.backup_retention;
  options.pg_bin_dir = local.pg_bin_dir;
  options.checks = local.parsed_checks;
  options.phase = local.run_phase;
  if (!local.quiet) {
    options.on_progress = [](const database::ProgressEvent& event) {
      if (event.phase == "server-error") {
        return;  // may hold row values; the error itself is printed reduced
      }
      std::cout << "[" << event.phase << "] " << event.message << std::endl;
    };
  }
  return options;
}

}  // namespace schemaop::cmd
