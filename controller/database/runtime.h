#pragma once
// The engine's runtime (Alembic's MigrationContext, design §4): the parsed
// connection, the options, the migration session, the advisory lock, the
// migration files and the progress channel, shared by every part of the
// engine. Internal header: libpqxx types; include only from
// controller/database.
//
// The layers over it: the script layer (script_set.h: files, archive copies,
// graph, plan), the bookkeeping (version_table.h, revision_archive.h,
// run_log.h, advisory_lock.h), execution (executor.h, verifier.h,
// recovery.h), backup_restore.h, and the command layer (class Migrator,
// command_*.cpp).
#include <chrono>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/database_url.h"
#include "core/migration_file.h"
#include "core/status.h"
#include "database/advisory_lock.h"
#include "database/migrator.h"
#include "database/pg_session.h"
#include "database/script_set.h"

namespace schemaop::database::internal {

// schemaop's own schema: revision_archive, run_log, schema_fingerprint.
inline constexpr const char* kSchema = "schemaop";

struct Runtime {
  ConnInfo info;
  MigratorOptions options;
  // Every secret parameter of the URL, built once when the migrator opens.
  core::SecretScrubber scrubber;
  std::unique_ptr<Session> session;
  AdvisoryLock lock;
  ScriptSet scripts;
  std::chrono::nanoseconds sql_time{0};  // migration SQL of the current run

  // Reports progress (message scrubbed) when options.on_progress is set.
  void Emit(const std::string& phase, const std::string& message, int step_index = -1,
            const std::string& revision = {}, core::Direction direction = core::Direction::kUp,
            int section_index = -1, int statement_index = -1) const;

  // The migration session after a lost connection is dead for good
  // (reactivation is inhibited, so a reconnect never happens behind a
  // transaction's back). Between operations a fresh session is safe: it
  // carries no state but the settings Session::Open applies.
  core::Status EnsureSession();

  // A new session with the configured timeouts (the lock's own session).
  core::Result<std::unique_ptr<Session>> OpenSession() const;

  // The returned status carries no row values (WithoutRowValues); the
  // server's whole message, scrubbed of the password, goes only to a
  // "server-error" progress event, which the controller logs at debug level.
  core::Status FromException(const std::exception& error, const std::string& context,
                             core::Code code = core::Code::kMigrationFailed) const;

  const std::string& VersionTable() const { return options.version_table; }

  // pg_dump / pg_restore inside options.pg_bin_dir, else found on PATH.
  std::string Tool(const std::string& name) const;

  // Creates (or upgrades) the schemaop schema and its tables; what the role
  // lacks is named with its GRANT first (managed PostgreSQL).
  core::Status EnsureSchema();
};

// ---- small shared helpers ---------------------------------------------

std::string Join(const std::vector<std::string>& items, const std::string& separator);
// "base" for no versions, else the versions joined by ", ".
std::string VersionsText(const std::vector<std::string>& versions);
// "upgrade" / "downgrade".
const char* DirectionWord(core::Direction direction);
// "upgrade", "downgrade" or "mixed".
std::string PlanDirection(const core::Plan& plan);
bool TableExists(pqxx::transaction_base& tx, const std::string& name);
// A text[] column selected as array_to_json(column)::text.
std::vector<std::string> TextArray(const pqxx::field& json_text);
// The current time, UTC, RFC 3339 (seconds).
std::string UtcTimestampRfc3339();

}  // namespace schemaop::database::internal
