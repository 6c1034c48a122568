// The local mode: `schemaop current|heads|history|plan|upgrade|downgrade|
// rehearse|stamp|verify|backup|restore|wait` against --database and --migrations
// (and `import-alembic`, import_alembic_command.cpp),
// so CI jobs and laptops use the same engine as the operator.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cmd/command_registry.h"
#include "cmd/import_alembic_command.h"
#include "cmd/local_options.h"
#include "core/phase_safety.h"
#include "core/database_url.h"
#include "database/migrator.h"

namespace schemaop::cmd {
namespace {

using core::Code;

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

}  // namespace

int Fail(const core::Status& status) {
  std::cerr << "error: " << status.message()
            << (status.code() == Code::kLockHeld && status.detail() == "lock"
                    ? ", or raise --lock-wait"
                    : "")
            << " [" << core::CodeName(status.code()) << "]\n";
  return ExitCodeFor(status);
}

namespace {

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

core::Result<std::unique_ptr<database::Migrator>> OpenMigrator(
    const LocalOptions& local, bool files_required,
    std::shared_ptr<database::RunCancel> cancel = nullptr) {
  if (local.database_url.empty()) {
    return core::Status(Code::kInvalidArgument,
                        "no database given: pass --database URL or set DATABASE_URL");
  }
  auto files = LoadFiles(local, files_required);
  if (!files.ok()) {
    return files.status();
  }
  database::MigratorOptions options = BuildOptions(local);
  options.cancel = std::move(cancel);
  return database::Migrator::Open(local.database_url, std::move(files).value(),
                                  std::move(options));
}

// --max-duration (design §4.7): after that long the run is cancelled; the
// engine cancels only a run that has not committed, and rolls it back.
class MaxDuration {
 public:
  MaxDuration(std::chrono::milliseconds limit, const std::string& text) {
    if (limit.count() <= 0) {
      return;
    }
    cancel_ = std::make_shared<database::RunCancel>();
    timer_ = std::thread([this, limit, text] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
        cancel_->Request(core::Status(
            Code::kDowntimeExceeded, "the run had not committed after --max-duration (" +
                                         text + ")"));
      }
    });
  }
  ~MaxDuration() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (timer_.joinable()) {
      timer_.join();
    }
  }
  const std::shared_ptr<database::RunCancel>& cancel() const { return cancel_; }

 private:
  std::shared_ptr<database::RunCancel> cancel_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread timer_;
};

// With `files`, each step's sections outside the window (design §3.1).
void PrintPlan(const core::Plan& plan, const std::vector<core::MigrationFile>* files = nullptr) {
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
    for (std::size_t f = 0; files != nullptr && f < files->size(); ++f) {
      const std::string phases = core::DescribePhases((*files)[f], step.direction);
      if ((*files)[f].revision == step.revision && !phases.empty()) {
        std::cout << "       phases: " << phases << "\n";
      }
    }
  }
}

int RunCommand(const LocalOptions& local, core::PlanMode mode) {
  MaxDuration max_duration(local.max_duration_ms, local.max_duration);
  auto migrator = OpenMigrator(local, /*files_required=*/true, max_duration.cancel());
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
  if (r.phases != "all" && r.outcome != database::RunOutcome::kNothingToDo) {
    std::cout << "phase: " << r.phases << "\n";
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
  if (local.progress) {
    // Design §4.11: from the database alone (run_log and the run's backend).
    auto progress = (*migrator)->Progress();
    if (!progress.ok()) {
      return Fail(progress.status());
    }
    std::cout << (*progress ? core::DescribeProgress(**progress) : "no run in progress\n");
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
  // The digest is status.plan.planHash of a SchemaMigration with the same
  // files and database (design §9): what spec.approvedPlanHash approves.
  auto planned = (*migrator)->PlanAndDigest(local.target);
  if (!planned.ok()) {
    return Fail(planned.status());
  }
  if (local.sql) {
    auto sql = (*migrator)->OfflineSql(planned->plan);
    if (!sql.ok()) {
      return Fail(sql.status());
    }
    std::cout << *sql;
    return kExitOk;
  }
  PrintPlan(planned->plan, &(*migrator)->migrations());
  if (!planned->plan.empty()) {
    if (planned->schedule.HasExpand() || planned->schedule.HasContract()) {
      // Design §3.1: the sections of each phase, REV#N (Nth section of the
      // step) and REV(version) (its version rows); the operator's
      // status.plan.phases lists the same.
      std::vector<std::string> revisions;
      for (const auto& step : planned->plan.steps) {
        revisions.push_back(step.revision);
      }
      for (const auto& line : core::DescribeSchedule(planned->schedule, revisions)) {
        std::cout << "  " << line << "\n";
      }
    }
    std::cout << "plan hash: " << planned->digest << "\n";
  }
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
  auto migrator = OpenMigrator(local, true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  core::Status status = (*migrator)->WaitAtLeast(local.at_least, local.wait_timeout_ms);
  if (!status.ok()) {
    return Fail(status);
  }
  return kExitOk;
}

void PrintStepTimes(const char* title, const std::vector<database::RehearsalStepTime>& steps) {
  std::cout << title << ":\n";
  for (std::size_t i = 0; i < steps.size(); ++i) {
    std::cout << "  " << (i + 1) << ". "
              << (steps[i].direction == core::Direction::kUp ? "upgrade  " : "downgrade") << " "
              << steps[i].revision << "  " << steps[i].sql.count() << " ms SQL\n";
  }
}

// `rehearse TARGET` (design §4.10): the plan forward and back on a scratch
// copy; this database is only read.
int RehearseCommand(const LocalOptions& local) {
  auto migrator = OpenMigrator(local, true);
  if (!migrator.ok()) {
    return Fail(migrator.status());
  }
  database::RehearsalOptions options;
  options.rehearsal_url = local.rehearsal_url;
  if (options.rehearsal_url.empty()) {
    const char* env = std::getenv("SCHEMAOP_REHEARSAL_URL");
    options.rehearsal_url = env != nullptr ? env : "";
  }
  options.backup = local.backup_when;
  auto report = (*migrator)->Rehearse(local.target, core::PlanMode::kAuto, options);
  if (!report.ok()) {
    return Fail(report.status());
  }
  const auto& r = *report;
  PrintPlan(r.plan);
  if (r.plan.empty()) {
    return kExitOk;
  }
  std::cout << "plan digest: " << r.plan_digest << "\n";
  for (const auto& name : r.removed_leftovers) {
    std::cout << "removed the scratch database " << name << " of an interrupted rehearsal\n";
  }
  std::cout << "copied into " << r.scratch_database << " in " << r.copy_duration.count()
            << " ms (pg_dump " << r.dump_duration.count() << " ms)\n";
  PrintStepTimes("forward", r.forward_steps);
  PrintStepTimes("reverse", r.reverse_steps);
  std::cout << "SQL: forward " << r.forward_sql.count() << " ms, reverse " << r.reverse_sql.count()
            << " ms\npredicted write-downtime: " << r.predicted_downtime.count()
            << " ms (the run, lock to unlock" << (r.backup_counted ? ", plus a backup" : "")
            << "; draining the pods not included)\n";
  std::cout << "scratch database " << r.scratch_database
            << (r.scratch_dropped ? " dropped" : " NOT dropped (the next rehearsal removes it)")
            << "\n";
  if (!r.succeeded) {
    std::cerr << "error: rehearsal failed (" << r.failed_stage << "): " << r.status.message()
              << " [" << core::CodeName(r.status.code()) << "]\nthe database was not changed\n";
    return kExitFailed;
  }
  std::cout << "outcome: rehearsal succeeded; the database was not changed\n";
  return kExitOk;
}

}  // namespace

void RegisterLocalCommands(CLI::App& app, CommandRegistry& registry) {
  // Owned by the handlers, which outlive parsing.
  auto local = std::make_shared<LocalOptions>();
  registry.local_options = AddLocalOptions(app, *local);

  auto add = [&](const char* name, const char* help, std::function<int()> handler) {
    CLI::App* sub = app.add_subcommand(name, help);
    registry.handlers.emplace_back(sub, [local, handler = std::move(handler)] {
      if (core::Status s = Resolve(*local); !s.ok()) {
        return Fail(s);
      }
      return handler();
    });
    return sub;
  };
  add("current", "show the revision(s) in the version table", [local] { return Current(*local); })
      ->add_flag("--progress", local->progress,
                 "also show where a run in progress stands (step, statement, rows)");
  add("heads", "show the head revision(s) of the migration files", [local] { return Heads(*local); });
  add("history", "show the revision chain and recent runs", [local] { return History(*local); })
      ->add_option("--limit", local->history_limit, "number of runs to show")
      ->capture_default_str();
  auto* plan = add("plan", "show the steps to TARGET without running them",
                   [local] { return PlanCommand(*local); });
  plan->add_option("target", local->target, "revision, prefix, head, heads, base, +N, -N")->required();
  plan->add_flag("--sql", local->sql, "print the SQL instead of the steps");
  const std::string phase_help =
      "run one phase of the plan: expand (beside the running application), window (writers "
      "stopped; moves the version table) or contract (application back); default: every "
      "phase still pending, in order";
  auto* upgrade = add("upgrade", "upgrade to TARGET",
                      [local] { return RunCommand(*local, core::PlanMode::kUpgrade); });
  upgrade->add_option("target", local->target, "revision, prefix, head, heads, +N")->required();
  upgrade->add_option("--phase", local->phase, phase_help)->type_name("PHASE");
  auto* downgrade = add("downgrade", "downgrade to TARGET",
                        [local] { return RunCommand(*local, core::PlanMode::kDowngrade); });
  downgrade->add_option("target", local->target, "revision, prefix, base, -N")->required();
  downgrade->add_option("--phase", local->phase, phase_help)->type_name("PHASE");
  auto* rehearse = add("rehearse", "run the plan to TARGET and back on a scratch copy of the database",
                       [local] { return RehearseCommand(*local); });
  rehearse->add_option("target", local->target, "revision, prefix, head, heads, base, +N, -N")
      ->required();
  rehearse->add_option("--rehearsal-url", local->rehearsal_url,
                       "server and role (CREATEDB) for the scratch database; default the "
                       "database's own (also $SCHEMAOP_REHEARSAL_URL)");
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
  wait->add_option("--timeout", local->wait_timeout,
                   "how long to wait (e.g. 90s, 10m; a bare number is seconds)")
      ->type_name("DURATION")
      ->capture_default_str();
  auto* import_alembic =
      add("import-alembic", "convert an Alembic versions directory into schemaop migration files",
          [local] { return ImportAlembicCommand(*local); });
  import_alembic->add_option("dir", local->import_dir, "the Alembic versions/ directory")
      ->required();
  import_alembic->add_option("--out", local->import_out,
                             "directory for the converted files (default: --migrations)");
  import_alembic->add_option("--alembic", local->alembic_program,
                             "the alembic command (default: alembic on PATH)");
}

}  // namespace schemaop::cmd
