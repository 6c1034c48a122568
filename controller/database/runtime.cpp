#include "database/runtime.h"

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "database/version_table.h"

namespace schemaop::database::internal {

using core::Code;
using core::Status;

void Runtime::Emit(const std::string& phase, const std::string& message, int step_index,
                   const std::string& revision, core::Direction direction, int section_index,
                   int statement_index) const {
  if (!options.on_progress) {
    return;
  }
  ProgressEvent event;
  event.phase = phase;
  event.message = scrubber.Scrub(message);
  event.step_index = step_index;
  event.revision = revision;
  event.direction = direction;
  event.section_index = section_index;
  event.statement_index = statement_index;
  options.on_progress(event);
}

core::Result<std::unique_ptr<Session>> Runtime::OpenSession() const {
  return Session::Open(info, SessionSettings{options.lock_timeout, options.statement_timeout,
                                             SessionName(options)});
}

Status Runtime::EnsureSession() {
  if (session && session->conn().is_open()) {
    return Status::Ok();
  }
  auto reopened = OpenSession();
  if (!reopened.ok()) {
    return reopened.status();
  }
  session = std::move(reopened).value();
  return Status::Ok();
}

Status Runtime::FromException(const std::exception& error, const std::string& context,
                              Code code) const {
  if (const auto* unusable = dynamic_cast<const UnusableVersionTable*>(&error)) {
    return Status(Code::kMigrationFailed, context + ": " + error.what(), unusable->detail());
  }
  if (dynamic_cast<const pqxx::sql_error*>(&error) != nullptr) {
    Emit("server-error", context + ": " + error.what());
  }
  return StatusFromException(error, context, info.password, code);
}

std::string Runtime::Tool(const std::string& name) const {
  if (options.pg_bin_dir.empty()) {
    return name;
  }
  return (std::filesystem::path(options.pg_bin_dir) / name).string();
}

namespace {

void CreateBookkeepingTables(pqxx::work& tx) {
  const std::string schema = kSchema;
  tx.exec("CREATE SCHEMA IF NOT EXISTS " + schema);
  tx.exec("CREATE TABLE IF NOT EXISTS " + schema +
          ".revision_archive ("
          "revision varchar(32) PRIMARY KEY, "
          "down_revisions text[] NOT NULL, "
          "file_name text NOT NULL, "
          "file_text text NOT NULL, "
          "sha256 char(64) NOT NULL, "
          "applied_at timestamptz NOT NULL DEFAULT now())");
  tx.exec("CREATE TABLE IF NOT EXISTS " + schema +
          ".run_log ("
          "id bigserial PRIMARY KEY, "
          "from_versions text[] NOT NULL, "
          "to_versions text[] NOT NULL, "
          "direction text NOT NULL, "
          "actor text NOT NULL, "
          "started_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
          "finished_at timestamptz, "
          "outcome text NOT NULL CHECK (outcome IN "
          "('running', 'succeeded', 'failed', 'rolled_back')), "
          "error text, "
          "plan jsonb NOT NULL DEFAULT '{}', "
          "progress jsonb NOT NULL DEFAULT '{}')");
  // Exactly once: the operator's run identity, and the failure's code so
  // a replayed outcome keeps its reason.
  tx.exec("ALTER TABLE " + schema +
          ".run_log ADD COLUMN IF NOT EXISTS run_key text, "
          "ADD COLUMN IF NOT EXISTS error_code text");
  tx.exec("CREATE UNIQUE INDEX IF NOT EXISTS run_log_run_key ON " + schema +
          ".run_log (run_key) WHERE run_key IS NOT NULL");
  tx.exec("CREATE TABLE IF NOT EXISTS " + schema +
          ".schema_fingerprint ("
          "versions text PRIMARY KEY, "
          "digest char(64) NOT NULL, "
          "objects jsonb NOT NULL, "
          "run_id bigint, "
          "recorded_at timestamptz NOT NULL DEFAULT now())");
}

}  // namespace

Status Runtime::EnsureSchema() {
  // Managed PostgreSQL: what the role lacks is named with its GRANT.
  if (Status allowed = CheckBookkeepingPrivileges(session->conn(), VersionTable()); !allowed.ok()) {
    return allowed;
  }
  try {
    pqxx::work tx(session->conn());
    CreateBookkeepingTables(tx);
    tx.commit();
  } catch (const std::exception& error) {
    return FromException(
        error, "cannot create the schemaop schema (the role needs CREATE on the database)",
        Code::kMigrationFailed);
  }
  return Status::Ok();
}

// ---- small shared helpers ---------------------------------------------

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

std::string VersionsText(const std::vector<std::string>& versions) {
  return versions.empty() ? "base" : Join(versions, ", ");
}

const char* DirectionWord(core::Direction direction) {
  return direction == core::Direction::kUp ? "upgrade" : "downgrade";
}

std::string PlanDirection(const core::Plan& plan) {
  if (plan.HasUpgrade() && plan.HasDowngrade()) {
    return "mixed";
  }
  return plan.HasDowngrade() ? "downgrade" : "upgrade";
}

bool TableExists(pqxx::transaction_base& tx, const std::string& name) {
  return !tx.exec_params1("SELECT to_regclass($1) IS NULL", name)[0].as<bool>();
}

std::vector<std::string> TextArray(const pqxx::field& json_text) {
  return nlohmann::json::parse(json_text.as<std::string>()).get<std::vector<std::string>>();
}

std::string UtcTimestampRfc3339() {
  std::time_t seconds = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace schemaop::database::internal
