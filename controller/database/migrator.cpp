// The command layer, part 1 (design §4): opening a Migrator, its files, and
// the read-only commands (current, plan, digest, identity, wait, history).
// Run and recovery: command_run.cpp; stamp, verify, backup, restore:
// command_admin.cpp; offline SQL: offline_sql.cpp.
#include "database/migrator.h"

#include <algorithm>
#include <thread>

#include "core/version_table.h"
#include "database/executor.h"
#include "database/migrator_impl.h"
#include "database/run_log.h"
#include "database/run_phases.h"
#include "database/version_table.h"

namespace schemaop::database {

using Clock = std::chrono::steady_clock;
using core::Code;
using core::Status;

namespace internal {

core::Result<DatabaseState> ReadState(Runtime& rt) {
  auto archive = LoadArchive(rt);
  if (!archive.ok()) {
    return archive.status();
  }
  auto merged = rt.scripts.MergedGraph(*archive);
  if (!merged.ok()) {
    return merged.status();
  }
  auto current = LoadVersions(rt);
  if (!current.ok()) {
    return current.status();
  }
  return DatabaseState{std::move(archive).value(), std::move(merged).value(),
                       std::move(current).value()};
}

}  // namespace internal

namespace {

Status CheckOptions(const MigratorOptions& options) {
  if (!core::IsValidVersionTableName(options.version_table)) {
    return Status(Code::kInvalidArgument, "version table name '" + options.version_table +
                                              "' is not " + core::kVersionTableRule +
                                              "; use e.g. alembic_version");
  }
  if (!core::IsVersionLayout(options.version_layout)) {
    return Status(Code::kInvalidArgument, "version table layout '" + options.version_layout +
                                              "' is not Alembic or GolangMigrate");
  }
  if (options.lock_wait.count() < 0 || options.lock_timeout.count() < 0 ||
      options.statement_timeout.count() < 0) {
    return Status(Code::kInvalidArgument, "timeouts must not be negative");
  }
  for (const auto& check : options.checks) {
    if (check.name.empty() || check.sql.empty()) {
      return Status(Code::kInvalidArgument, "a check needs a name and SQL (NAME=SQL)");
    }
  }
  return Status::Ok();
}

}  // namespace

Migrator::Migrator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Migrator::~Migrator() {
  if (impl_) {
    impl_->lock.Release(*impl_);
  }
}

core::Result<std::unique_ptr<Migrator>> Migrator::Open(const std::string& database_url,
                                                       std::vector<core::MigrationFile> files,
                                                       MigratorOptions options) {
  if (Status valid = CheckOptions(options); !valid.ok()) {
    return valid;
  }
  if (!files.empty() && options.version_layout != core::kVersionLayoutAlembic) {
    // The engine's runs write Alembic's layout: another tool's table is
    // only read, for the Job executor's checks (opened without files).
    return Status(Code::kInvalidArgument, "the version table layout " + options.version_layout +
                                              " is read only without migration files (executor "
                                              "Job); the engine's own files use Alembic's");
  }
  auto info = internal::ParseConnInfo(database_url, options.ca_certificate_pem);
  if (!info.ok()) {
    return info.status();
  }
  auto impl = std::make_unique<Impl>();
  impl->info = std::move(info).value();
  impl->options = std::move(options);
  for (const auto& [key, value] : impl->info.params) {
    if (internal::IsSecretParameter(key)) {
      impl->scrubber.AddSecret(value);
    }
  }
  std::unique_ptr<Migrator> migrator(new Migrator(std::move(impl)));
  Status files_ok = migrator->SetMigrations(std::move(files));
  if (!files_ok.ok()) {
    return files_ok;
  }
  Impl& rt = *migrator->impl_;
  auto session = rt.OpenSession();
  if (!session.ok()) {
    return session.status();
  }
  rt.session = std::move(session).value();
  rt.Emit("connected", "connected to " + rt.info.redacted);
  return migrator;
}

Status Migrator::SetMigrations(std::vector<core::MigrationFile> files) {
  return impl_->scripts.Set(std::move(files));
}

Status Migrator::LoadMigrations(const std::string& directory) {
  auto files = LoadMigrationDirectory(directory);
  if (!files.ok()) {
    return files.status();
  }
  return SetMigrations(std::move(files).value());
}

const std::vector<core::MigrationFile>& Migrator::migrations() const {
  return impl_->scripts.files();
}
const core::RevisionGraph& Migrator::graph() const { return impl_->scripts.graph(); }
const std::string& Migrator::redacted_url() const { return impl_->info.redacted; }

core::Result<std::vector<std::string>> Migrator::CurrentVersions() {
  if (Status connected = impl_->EnsureSession(); !connected.ok()) {
    return connected;
  }
  return internal::LoadVersions(*impl_);
}

core::Result<core::Plan> Migrator::Plan(std::string_view target, core::PlanMode mode) {
  if (Status connected = impl_->EnsureSession(); !connected.ok()) {
    return connected;
  }
  auto state = internal::ReadState(*impl_);
  if (!state.ok()) {
    return state.status();
  }
  return impl_->scripts.MakePlan(target, mode, state->merged, state->current);
}

core::Result<std::string> Migrator::PlanDigest(const core::Plan& plan) {
  if (Status connected = impl_->EnsureSession(); !connected.ok()) {
    return connected;
  }
  auto archive = internal::LoadArchive(*impl_);
  if (!archive.ok()) {
    return archive.status();
  }
  return impl_->scripts.PlanDigest(plan, *archive);
}

core::Result<Migrator::PlanWithDigest> Migrator::PlanAndDigest(std::string_view target,
                                                               core::PlanMode mode) {
  if (Status connected = impl_->EnsureSession(); !connected.ok()) {
    return connected;
  }
  auto state = internal::ReadState(*impl_);
  if (!state.ok()) {
    return state.status();
  }
  auto plan = impl_->scripts.MakePlan(target, mode, state->merged, state->current);
  if (!plan.ok()) {
    return plan.status();
  }
  auto digest = impl_->scripts.PlanDigest(*plan, state->archive);
  if (!digest.ok()) {
    return digest.status();
  }
  auto schedule = internal::ScheduleOf(*impl_, state->archive, plan->steps);
  if (!schedule.ok()) {
    return schedule.status();
  }
  std::string pending_contract;
  if (plan->empty()) {
    // The same decision a run at the target makes (DecidePhaseRun).
    auto last = internal::ReadLastEffectiveRun(*impl_);
    if (!last.ok()) {
      return last.status();
    }
    auto pending = internal::DecidePhaseRun(*impl_, state->archive, core::RunPhase::kAll, *plan,
                                            "", *last);
    if (!pending.ok()) {
      return pending.status();
    }
    if (pending->nothing_to_do.empty() && pending->first == core::RunPhase::kContract) {
      pending_contract = pending->digest;
    }
  }
  return PlanWithDigest{std::move(plan).value(), std::move(digest).value(),
                        std::move(schedule).value(), std::move(pending_contract)};
}

core::Result<std::string> Migrator::DatabaseIdentity() {
  Impl& rt = *impl_;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  std::string server;
  try {
    // pg_control_system() names the cluster whatever address reached it; a
    // role without EXECUTE on it falls back to the server's own address.
    // (A subtransaction, not a bare SAVEPOINT: libpqxx closes the outer
    // transaction object on any error raised through it.)
    pqxx::work tx(rt.session->conn());
    try {
      pqxx::subtransaction identity(tx, "identity");
      server =
          "sysid:" + identity.exec1("SELECT system_identifier::text FROM pg_control_system()")[0]
                         .as<std::string>();
      identity.commit();
    } catch (const pqxx::sql_error&) {
      server = "addr:" + tx.exec1(
                               "SELECT coalesce(host(inet_server_addr()), 'socket:' || "
                               "current_setting('unix_socket_directories')) || ':' || "
                               "current_setting('port')")[0]
                             .as<std::string>();
    }
    auto row = tx.exec1(
        "SELECT d.oid::text, d.datname FROM pg_database d WHERE d.datname = current_database()");
    server += "|db:" + row[0].as<std::string>() + ":" + row[1].as<std::string>();
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read the database's identity", Code::kInternal);
  }
  return Sha256Hex(server);
}

core::Result<std::string> Migrator::CurrentDatabaseName() {
  Impl& rt = *impl_;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  try {
    pqxx::read_transaction tx(rt.session->conn());
    return tx.exec1("SELECT current_database()")[0].as<std::string>();
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read the database's name", Code::kInternal);
  }
}

Status Migrator::WaitAtLeast(std::string_view revision, std::chrono::milliseconds timeout) {
  Impl& rt = *impl_;
  auto resolved = rt.scripts.graph().ResolveId(revision);
  if (!resolved.ok()) {
    return resolved.status();
  }
  auto deadline = Clock::now() + timeout;
  bool announced = false;
  for (;;) {
    auto state = internal::ReadState(rt);
    if (!state.ok()) {
      return state.status();
    }
    const std::vector<std::string>& current = state->current;
    for (const auto& version : current) {
      if (version == *resolved || (state->merged.Contains(version) &&
                                   state->merged.Ancestors(version).count(*resolved) != 0)) {
        rt.Emit("ready", "the database is at " + internal::VersionsText(current) + ", at least " +
                             *resolved);
        return Status::Ok();
      }
    }
    auto now = Clock::now();
    if (now >= deadline) {
      return Status(Code::kTimeout, "the database is still at " + internal::VersionsText(current) +
                                        " after " + std::to_string(timeout.count() / 1000) +
                                        " s, not yet at " + *resolved +
                                        " or later; is a migration running? (raise --timeout)");
    }
    if (!announced) {
      rt.Emit("waiting", "the database is at " + internal::VersionsText(current) +
                             "; waiting for " + *resolved);
      announced = true;
    }
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(500), deadline - now));
  }
}

core::Result<std::vector<RunLogEntry>> Migrator::History(int limit) {
  return internal::ReadHistory(*impl_, limit);
}

}  // namespace schemaop::database
