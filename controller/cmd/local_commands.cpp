// The local mode: `schemaop current|heads|history|plan|upgrade|downgrade|
// stamp|verify|backup|restore|wait` against --database and --migrations,
// so CI jobs and laptops use the same engine as the operator.
#include <CLI/CLI.hpp>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cmd/command_registry.h"
#include "core/database_url.h"
#include "database/migrator.h"

namespace schemaop::cmd {
namespace {

using core::Code;

struct LocalOptions {
  std::string database_url;
  std::string migrations_dir = "migrations";
  std::string backup = "downgrade";
  std::string backup_dir = "backups";
  int backup_retention = 5;
  std::string pg_bin_dir;
  std::vector<std::string> allow_row_loss;
  bool allow_changed = false;
  bool allow_schema_drift = false;
  double lock_wait_seconds = 60;
  double lock_timeout_seconds = 10;
  double statement_timeout_seconds = 0;
  std::vector<std::string> checks;  // NAME=SQL
  std::string version_table = "alembic_version";
  bool quiet = false;
  // Subcommand arguments.
  std::string target;
  bool sql = false;
  std::string file;
  std::string at_least;
  double wait_timeout_seconds = 300;
  int history_limit = 20;
};

int ExitCodeFor(const core::Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kInvalidArgument:
    case Code::kParseError:
    case Code::kNotFound:
    case Code::kDuplicateRevision:
    case Code::kUnknownParent:
    case Code::kCycleDetected:
    case Code::kMultipleHeads:
    case Code::kMultipleBases:
    case Code::kAmbiguousRevision:
    case Code::kUnknownRevision:
    case Code::kRangeError:
      return kExitUsage;
    case Code::kUnreachable:
      return kExitUnreachable;
    case Code::kLockHeld:
      return kExitLockHeld;
    case Code::kChecksumMismatch:
      return kExitChecksum;
    case Code::kTimeout:
      return kExitWaitTimeout;
    case Code::kBackupFailed:
      return kExitBackupFailed;
    default:
      return kExitFailed;
  }
}

int Fail(const core::Status& status) {
  std::cerr << "error: " << status.message() << " [" << core::CodeName(status.code()) << "]\n";
  return ExitCodeFor(status);
}

std::string Actor() {
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
  return user + "@" + host + " (cli)";
}

std::string Versions(const std::vector<std::string>& versions) {
  if (versions.empty()) {
    return "base";
  }
  std::string out;
  for (const auto& version : versions) {
    out += (out.empty() ? "" : ", ") + version;
  }
  return out;
}

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

core::Result<database::MigratorOptions> BuildOptions(const LocalOptions& local) {
  database::MigratorOptions options;
  if (local.lock_wait_seconds < 0 || local.lock_timeout_seconds < 0 ||
      local.statement_timeout_seconds < 0) {
    return core::Status(Code::kInvalidArgument,
                        "--lock-wait, --lock-timeout and --statement-timeout must not be negative");
  }
  options.lock_wait = Millis(local.lock_wait_seconds);
  options.lock_timeout = Millis(local.lock_timeout_seconds);
  options.statement_timeout = Millis(local.statement_timeout_seconds);
  options.actor = Actor();
  options.version_table = local.version_table;
  options.allow_changed = local.allow_changed;
  options.allow_row_loss = local.allow_row_loss;
  options.verify_schema = !local.allow_schema_drift;
  if (local.backup == "always") {
    options.backup_policy = database::BackupPolicy::kAlways;
  } else if (local.backup == "downgrade") {
    options.backup_policy = database::BackupPolicy::kDowngrade;
  } else {
    options.backup_policy = database::BackupPolicy::kNever;
  }
  options.backup_dir = local.backup_dir;
  options.backup_retention = local.backup_retention;
  options.pg_bin_dir = local.pg_bin_dir;
  for (const auto& check : local.checks) {
    auto eq = check.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == check.size()) {
      return core::Status(Code::kInvalidArgument,
                          "--check '" + check + "' must be NAME=SQL (SQL returning one boolean)");
    }
    options.checks.push_back({check.substr(0, eq), check.substr(eq + 1)});
  }
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

// Files are needed by most commands; `current`, `backup`, `restore` can do
// without them, so a missing directory is only an error when `required`.
core::Result<std::vector<core::MigrationFile>> LoadFiles(const LocalOptions& local, bool required) {
  std::error_code ec;
  if (!required && !std::filesystem::is_directory(local.migrations_dir, ec)) {
    return std::vector<core::MigrationFile>();
  }
  auto files = database::LoadMigrationDirectory(local.migrations_dir);
  if (files.ok() && files->empty() && required) {
    return core::Status(Code::kNotFound, "no *.sql migration files in '" + local.migrations_dir +
                                             "' (pass --migrations DIR)");
  }
  if (files.ok() && !local.quiet) {
    for (const auto& file : *files) {
      for (const auto& warning : file.warnings) {
        std::cerr << "warning: " << warning << "\n";
      }
    }
  }
  return files;
}

core::Result<std::unique_ptr<database::Migrator>> OpenMigrator(const LocalOptions& local,
                                                               bool files_required) {
  if (local.database_url.empty()) {
    return core::Status(Code::kInvalidArgument,
                        "no database given: pass --database URL or set DATABASE_URL");
  }
  auto options = BuildOptions(local);
  if (!options.ok()) {
    return options.status();
  }
  auto files = LoadFiles(local, files_required);
  if (!files.ok()) {
    return files.status();
  }
  return database::Migrator::Open(local.database_url, std::move(files).value(),
                                  std::move(options).value());
}

void PrintPlan(const core::Plan& plan) {
  std::cout << "plan: " << Versions(plan.from_versions) << " -> " << Versions(plan.to_versions);
  if (plan.empty()) {
    std::cout << " (nothing to do)\n";
    return;
  }
  std::cout << " in " << plan.steps.size() << " step(s)\n";
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    std::cout << "  " << (i + 1) << ". "
              << (step.direction == core::Direction::kUp ? "upgrade  " : "downgrade") << " "
              << step.revision << "  (then at " << Versions(step.versions_after) << ")\n";
  }
}

int RunCommand(const LocalOptions& local, core::PlanMode mode) {
  auto migrator = OpenMigrator(local, /*files_required=*/true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  auto report = (*migrator)->Run(local.target, mode);
  if (!report.ok()) {
    return Fail(report.status());
  }
  const auto& r = *report;
  if (r.recovered) {
    std::cout << "recovered: " << *r.recovered << "\n";
  }
  if (!local.quiet) {
    PrintPlan(r.plan);
  }
  if (r.backup) {
    std::cout << "backup: " << r.backup->path << " (" << r.backup->bytes << " bytes, sha256 "
              << r.backup->sha256 << ")\n";
  }
  std::cout << "outcome: " << database::RunOutcomeName(r.outcome) << "; database at "
            << Versions(r.final_versions) << " (" << r.steps_applied << " step(s) applied, "
            << r.total_duration.count() << " ms total, " << r.sql_duration.count() << " ms SQL)\n";
  switch (r.outcome) {
    case database::RunOutcome::kNothingToDo:
    case database::RunOutcome::kSucceeded:
      return kExitOk;
    case database::RunOutcome::kRolledBack:
      std::cerr << "error: " << r.status.message() << " [" << core::CodeName(r.status.code())
                << "]\nthe database was rolled back to " << Versions(r.from_versions) << "\n";
      return r.status.code() == Code::kUnreachable ? kExitUnreachable : kExitFailed;
    case database::RunOutcome::kFailed:
      std::cerr << "error: " << r.status.message() << " [" << core::CodeName(r.status.code())
                << "]\nthe database is NOT back at " << Versions(r.from_versions)
                << "; it is at " << Versions(r.final_versions)
                << (r.backup ? "; backup: " + r.backup->path : std::string()) << "\n";
      return kExitNotRolledBack;
  }
  return kExitFailed;
}

int Current(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, /*files_required=*/false);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  auto versions = (*migrator)->CurrentVersions();
  if (!versions.ok()) {
    return Fail(versions.status());
  }
  const auto& graph = (*migrator)->graph();
  std::set<std::string> heads;
  if (graph.size() > 0) {
    auto list = graph.Heads();
    heads.insert(list.begin(), list.end());
  }
  if (versions->empty()) {
    std::cout << "base (no revision applied)\n";
  }
  for (const auto& version : *versions) {
    std::cout << version;
    if (heads.count(version) != 0) {
      std::cout << " (head)";
    } else if (graph.size() > 0 && !graph.Contains(version)) {
      std::cout << " (unknown to " << local.migrations_dir << ")";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

int Heads(const LocalOptions& local) {
  auto files = LoadFiles(local, true);
  if (!files.ok()) {
    return Fail(files.status());
  }
  auto graph = database::BuildRevisionGraph(*files);
  if (!graph.ok()) {
    return Fail(graph.status());
  }
  for (const auto& head : graph->Heads()) {
    std::cout << head << " (head)  " << graph->Get(head).message << "\n";
  }
  return kExitOk;
}

int History(const LocalOptions& local) {
  auto files = LoadFiles(local, true);
  if (!files.ok()) {
    return Fail(files.status());
  }
  auto graph = database::BuildRevisionGraph(*files);
  if (!graph.ok()) {
    return Fail(graph.status());
  }
  std::vector<std::string> current;
  std::unique_ptr<database::Migrator> migrator;
  if (!local.database_url.empty()) {
    auto opened = OpenMigrator(local, true);
    if (!opened.ok()) {
      return Fail(opened.status());
    }
    migrator = std::move(opened).value();
    auto versions = migrator->CurrentVersions();
    if (!versions.ok()) {
      return Fail(versions.status());
    }
    current = *versions;
  }
  auto order = graph->TopologicalOrder();
  std::reverse(order.begin(), order.end());
  auto heads = graph->Heads();
  for (const auto& id : order) {
    const auto& node = graph->Get(id);
    std::string parents = node.parents.empty() ? "<base>" : Versions(node.parents);
    std::cout << parents << " -> " << id;
    if (std::find(heads.begin(), heads.end(), id) != heads.end()) {
      std::cout << " (head)";
    }
    if (std::find(current.begin(), current.end(), id) != current.end()) {
      std::cout << " (current)";
    }
    std::cout << ", " << node.message << "\n";
  }
  if (migrator) {
    auto runs = migrator->History(local.history_limit);
    if (!runs.ok()) {
      return Fail(runs.status());
    }
    if (!runs->empty()) {
      std::cout << "\nruns (newest first):\n";
    }
    for (const auto& run : *runs) {
      std::cout << "  #" << run.id << " " << run.started_at << " " << run.direction << " "
                << Versions(run.from_versions) << " -> " << Versions(run.to_versions) << " "
                << run.outcome << " by " << run.actor;
      if (!run.error.empty()) {
        std::cout << ": " << run.error;
      }
      std::cout << "\n";
    }
  }
  return kExitOk;
}

int PlanCommand(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  auto plan = (*migrator)->Plan(local.target);
  if (!plan.ok()) {
    return Fail(plan.status());
  }
  if (local.sql) {
    auto sql = (*migrator)->OfflineSql(*plan);
    if (!sql.ok()) {
      return Fail(sql.status());
    }
    std::cout << *sql;
    return kExitOk;
  }
  PrintPlan(*plan);
  return kExitOk;
}

int StampCommand(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  core::Status status = (*migrator)->Stamp(local.target);
  if (!status.ok()) {
    return Fail(status);
  }
  auto versions = (*migrator)->CurrentVersions();
  std::cout << "stamped; database at " << (versions.ok() ? Versions(*versions) : "?") << "\n";
  return kExitOk;
}

int VerifyCommand(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  auto report = (*migrator)->Verify();
  if (!report.ok()) {
    return Fail(report.status());
  }
  std::cout << "database at " << Versions(report->versions) << "\n";
  for (const auto& problem : report->problems) {
    std::cout << "problem: " << problem << "\n";
  }
  if (!report->ok()) {
    std::cerr << "error: verification found " << report->problems.size() << " problem(s)\n";
    return kExitFailed;
  }
  std::cout << "ok\n";
  return kExitOk;
}

int BackupCommand(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, false);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  auto backup = (*migrator)->Backup();
  if (!backup.ok()) {
    return Fail(backup.status());
  }
  std::cout << "backup: " << backup->path << " (" << backup->bytes << " bytes, sha256 "
            << backup->sha256 << ")\n";
  return kExitOk;
}

int RestoreCommand(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, false);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  core::Status status = (*migrator)->Restore(local.file);
  if (!status.ok()) {
    return Fail(status);
  }
  auto versions = (*migrator)->CurrentVersions();
  std::cout << "restored " << local.file << "; database at "
            << (versions.ok() ? Versions(*versions) : "?") << "\n";
  return kExitOk;
}

int WaitCommand(const LocalOptions& local) {
  if (local.wait_timeout_seconds < 0) {
    return Fail(core::Status(Code::kInvalidArgument, "--timeout must not be negative"));
  }
  auto migrator = OpenMigrator(local, true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  core::Status status = (*migrator)->WaitAtLeast(local.at_least, Millis(local.wait_timeout_seconds));
  if (!status.ok()) {
    return Fail(status);
  }
  return kExitOk;
}

}  // namespace

void RegisterLocalCommands(CLI::App& app, CommandRegistry& registry) {
  // Owned by the handlers, which outlive parsing.
  auto local = std::make_shared<LocalOptions>();
  app.add_option("--database", local->database_url,
                 "PostgreSQL URL, e.g. postgresql://user:pass@host:5432/db (or DATABASE_URL)")
      ->envname("DATABASE_URL");
  app.add_option("--migrations", local->migrations_dir, "directory of *.sql migration files")
      ->capture_default_str();
  app.add_option("--backup", local->backup, "when to pg_dump before a run")
      ->check(CLI::IsMember({"always", "downgrade", "never"}))
      ->capture_default_str();
  app.add_option("--backup-retention", local->backup_retention,
                 "backups of this database kept in --backup-dir (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--backup-dir", local->backup_dir, "where backups are written")
      ->capture_default_str();
  app.add_option("--pg-bin-dir", local->pg_bin_dir,
                 "directory with pg_dump/pg_restore (default: PATH)");
  app.add_option("--allow-row-loss", local->allow_row_loss,
                 "TABLE whose row count may drop (repeatable)");
  app.add_flag("--allow-changed", local->allow_changed,
               "run although an applied migration file changed");
  app.add_flag("--allow-schema-drift", local->allow_schema_drift,
               "do not compare the schema with the one recorded for the revision reached");
  app.add_option("--lock-wait", local->lock_wait_seconds,
                 "seconds to wait for another run's migration lock")
      ->capture_default_str();
  app.add_option("--lock-timeout", local->lock_timeout_seconds,
                 "PostgreSQL lock_timeout in seconds (0 = none)")
      ->capture_default_str();
  app.add_option("--statement-timeout", local->statement_timeout_seconds,
                 "PostgreSQL statement_timeout in seconds (0 = none)")
      ->capture_default_str();
  app.add_option("--check", local->checks,
                 "NAME=SQL verification check returning one boolean (repeatable)");
  app.add_option("--version-table", local->version_table, "version table name")
      ->capture_default_str();
  app.add_flag("-q,--quiet", local->quiet, "print only results and errors");

  auto add = [&](const char* name, const char* help, std::function<int()> handler) {
    CLI::App* sub = app.add_subcommand(name, help);
    registry.handlers.emplace_back(sub, std::move(handler));
    return sub;
  };
  add("current", "show the revision(s) in the version table", [local] { return Current(*local); });
  add("heads", "show the head revision(s) of the migration files", [local] { return Heads(*local); });
  add("history", "show the revision chain and recent runs", [local] { return History(*local); })
      ->add_option("--limit", local->history_limit, "number of runs to show")
      ->capture_default_str();
  auto* plan = add("plan", "show the steps to TARGET without running them",
                   [local] { return PlanCommand(*local); });
  plan->add_option("target", local->target, "revision, prefix, head, heads, base, +N, -N")->required();
  plan->add_flag("--sql", local->sql, "print the SQL instead of the steps");
  add("upgrade", "upgrade to TARGET", [local] { return RunCommand(*local, core::PlanMode::kUpgrade); })
      ->add_option("target", local->target, "revision, prefix, head, heads, +N")
      ->required();
  add("downgrade", "downgrade to TARGET",
      [local] { return RunCommand(*local, core::PlanMode::kDowngrade); })
      ->add_option("target", local->target, "revision, prefix, base, -N")
      ->required();
  add("stamp", "set the version table to REV without running SQL",
      [local] { return StampCommand(*local); })
      ->add_option("revision", local->target, "revision, head, heads, base")
      ->required();
  add("verify", "check the database against the files and the checks",
      [local] { return VerifyCommand(*local); });
  add("backup", "pg_dump -Fc the database into --backup-dir", [local] { return BackupCommand(*local); });
  add("restore", "pg_restore a backup (--clean --if-exists --single-transaction)",
      [local] { return RestoreCommand(*local); })
      ->add_option("file", local->file, "backup file")
      ->required();
  auto* wait = add("wait", "wait until the database is at REV or later",
                   [local] { return WaitCommand(*local); });
  wait->add_option("--at-least", local->at_least, "revision")->required();
  wait->add_option("--timeout", local->wait_timeout_seconds, "seconds")->capture_default_str();
}

}  // namespace schemaop::cmd
