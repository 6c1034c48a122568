#pragma once
// schemaop.run_log (design §4.1, §4.4): one row per run, its plan, its
// progress cursor, its outcome and its run key (exactly once). Internal
// header: libpqxx and nlohmann::json types; include only from
// controller/database.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/planner.h"
#include "core/status.h"
#include "database/migrator.h"
#include "database/row_guard.h"
#include "database/schema_fingerprint.h"

namespace schemaop::database::internal {

struct Runtime;
using json = nlohmann::json;

// Where execution stands: the next unit to run. Every committed transaction
// stores the cursor it leaves behind, so a crash resumes exactly there.
struct Cursor {
  int step = 0;
  int section = 0;
  int statement = 0;
  bool AtStart() const { return step == 0 && section == 0 && statement == 0; }
};

// The plan's and the progress's JSON forms (design §4.1).
json StepsToJson(const std::vector<core::PlanStep>& steps);
std::vector<core::PlanStep> StepsFromJson(const json& steps);
json CountsToJson(const std::vector<RelationRows>& counts);
// Also reads the name-keyed object of runs recorded before counts were kept
// per OID.
std::vector<RelationRows> CountsFromJson(const json& counts);

// Sets the run's progress: `extra` plus phase and cursor.
void WriteProgress(pqxx::transaction_base& tx, std::int64_t run_id, const json& extra,
                   const std::string& phase, Cursor cursor, const std::string& revision);

// Ends the run's row inside `tx` (error and error_code NULL when empty).
void CloseRunIn(pqxx::transaction_base& tx, std::int64_t run_id, const std::string& outcome,
                const std::string& error, const std::string& error_code);

// Ends the run's row in its own transaction, the error scrubbed; a lost
// connection leaves the row 'running' for the next run's recovery.
void CloseRun(Runtime& rt, std::int64_t run_id, const std::string& outcome,
              const std::string& error, core::Code code = core::Code::kMigrationFailed);

// Records a run; with `fingerprint_before`, also the schema of the
// revision the database is at now (the reference for a later downgrade).
core::Result<std::int64_t> InsertRun(Runtime& rt, const std::vector<std::string>& from,
                                     const std::vector<std::string>& to,
                                     const std::string& direction, const json& plan_json,
                                     const std::string& outcome, const std::string& run_key = {},
                                     const SchemaFingerprint* fingerprint_before = nullptr,
                                     Cursor start = {});

// A `stamp` row, ended, inside `tx`.
void InsertStampRun(pqxx::transaction_base& tx, const std::vector<std::string>& from,
                    const std::vector<std::string>& to, const std::string& actor);

// Exactly once: when the run of `run_key` has ended, fills `report` from
// its record (and the database as it is now) and returns true. A run that
// was interrupted before its first commit took no effect and may execute
// again, kMaxInterruptedAttempts times in all.
core::Result<bool> ReplayEndedRun(Runtime& rt, const std::string& run_key, RunReport* report);

// Renames the key of a run interrupted before its first commit, so the same
// run may execute again.
void ReleaseInterruptedKey(Runtime& rt, std::int64_t run_id);

// A row left 'running'.
struct InterruptedRun {
  std::int64_t id = 0;
  std::vector<std::string> from;
  std::vector<std::string> to;
  json plan;
  json progress;
};
core::Result<std::vector<InterruptedRun>> ReadRunningRuns(Runtime& rt);

// The newest `limit` rows, newest first.
core::Result<std::vector<RunLogEntry>> ReadHistory(Runtime& rt, int limit);

}  // namespace schemaop::database::internal
