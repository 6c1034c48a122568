#include "database/run_log.h"

#include "database/runtime.h"
#include "database/verifier.h"
#include "database/version_table.h"

namespace schemaop::database::internal {
namespace {

using core::Code;
using core::Status;

// A run interrupted before its first commit took no effect; its key is
// renamed so the same run may execute again, at most this many times in all.
constexpr int kMaxInterruptedAttempts = 3;
constexpr const char* kInterruptedSuffix = "#interrupted-";

std::string RunLog() { return std::string(kSchema) + ".run_log"; }

Code CodeFromName(const std::string& name) {
  Code code = Code::kMigrationFailed;
  for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
    if (name == core::CodeName(static_cast<Code>(c))) {
      code = static_cast<Code>(c);
    }
  }
  return code;
}

// No row for the key: may it run? Not after kMaxInterruptedAttempts
// interruptions before a first commit.
Status CheckInterruptedAttempts(pqxx::transaction_base& tx, const std::string& run_key) {
  auto interrupted = tx.exec_params1("SELECT count(*) FROM " + RunLog() +
                                         " WHERE left(run_key, length($1) + length($2)) = $1 || $2",
                                     run_key, std::string(kInterruptedSuffix));
  int attempts = interrupted[0].as<int>();
  if (attempts < kMaxInterruptedAttempts) {
    return Status::Ok();
  }
  return Status(Code::kMigrationFailed,
                "this run was interrupted " + std::to_string(attempts) +
                    " times before its first commit (connection lost or the server "
                    "restarted while it ran); it is not started again automatically. "
                    "Look at the server log and schemaop.run_log, then change the spec "
                    "to retry; nothing was executed",
                "interrupted");
}

bool RunKeyColumnExists(pqxx::transaction_base& tx) {
  return TableExists(tx, RunLog()) &&
         !tx.exec("SELECT 1 FROM pg_attribute WHERE attrelid = '" + RunLog() +
                  "'::regclass AND attname = 'run_key' AND NOT attisdropped")
              .empty();
}

}  // namespace

json StepsToJson(const std::vector<core::PlanStep>& steps) {
  json out = json::array();
  for (const auto& step : steps) {
    out.push_back({{"revision", step.revision},
                   {"direction", core::DirectionName(step.direction)},
                   {"versions_after", step.versions_after}});
  }
  return out;
}

std::vector<core::PlanStep> StepsFromJson(const json& steps) {
  std::vector<core::PlanStep> out;
  for (const auto& item : steps) {
    core::PlanStep step;
    step.revision = item.at("revision").get<std::string>();
    step.direction = item.at("direction").get<std::string>() == "up" ? core::Direction::kUp
                                                                     : core::Direction::kDown;
    step.versions_after = item.at("versions_after").get<std::vector<std::string>>();
    out.push_back(std::move(step));
  }
  return out;
}

json CountsToJson(const std::vector<RelationRows>& counts) {
  json out = json::array();
  for (const auto& rel : counts) {
    out.push_back({{"oid", rel.oid},
                   {"schema", rel.schema},
                   {"name", rel.name},
                   {"rows", rel.rows},
                   {"root_oid", rel.root_oid},
                   {"root_schema", rel.root_schema},
                   {"root_name", rel.root_name}});
  }
  return out;
}

// Runs recorded before counts were kept per OID get small made-up OIDs
// (below any user relation's), so they match the live relations by name only.
std::vector<RelationRows> CountsFromJson(const json& counts) {
  std::vector<RelationRows> out;
  if (counts.is_object()) {
    std::uint32_t made_up = 1;
    for (const auto& [qualified, rows] : counts.items()) {
      RelationRows rel;
      auto dot = qualified.find('.');
      rel.schema = qualified.substr(0, dot);
      rel.name = dot == std::string::npos ? qualified : qualified.substr(dot + 1);
      rel.oid = rel.root_oid = made_up++;
      rel.root_schema = rel.schema;
      rel.root_name = rel.name;
      rel.rows = rows.get<std::int64_t>();
      out.push_back(std::move(rel));
    }
    return out;
  }
  for (const auto& item : counts) {
    RelationRows rel;
    rel.oid = item.at("oid").get<std::uint32_t>();
    rel.schema = item.at("schema").get<std::string>();
    rel.name = item.at("name").get<std::string>();
    rel.rows = item.at("rows").get<std::int64_t>();
    rel.root_oid = item.at("root_oid").get<std::uint32_t>();
    rel.root_schema = item.at("root_schema").get<std::string>();
    rel.root_name = item.at("root_name").get<std::string>();
    out.push_back(std::move(rel));
  }
  return out;
}

void WriteProgress(pqxx::transaction_base& tx, std::int64_t run_id, const json& extra,
                   const std::string& phase, Cursor cursor, const std::string& revision) {
  json progress = extra;
  progress["phase"] = phase;
  progress["step"] = cursor.step;
  progress["section"] = cursor.section;
  progress["statement"] = cursor.statement;
  progress["revision"] = revision;
  // "pid": the backend running the run now (design §4.11).
  tx.exec_params("UPDATE " + RunLog() +
                     " SET progress = $2::jsonb || jsonb_build_object('pid', pg_backend_pid()) "
                     "WHERE id = $1",
                 run_id, progress.dump());
}

void CloseRunIn(pqxx::transaction_base& tx, std::int64_t run_id, const std::string& outcome,
                const std::string& error, const std::string& error_code) {
  tx.exec_params("UPDATE " + RunLog() +
                     " SET outcome = $2, error = NULLIF($3, ''), "
                     "error_code = NULLIF($4, ''), finished_at = clock_timestamp() "
                     "WHERE id = $1",
                 run_id, outcome, error, error_code);
}

void CloseRun(Runtime& rt, std::int64_t run_id, const std::string& outcome,
              const std::string& error, Code code) {
  try {
    pqxx::work tx(rt.session->conn());
    CloseRunIn(tx, run_id, outcome, core::ScrubSecret(error, rt.info.password),
               std::string(core::CodeName(code)));
    tx.commit();
  } catch (const std::exception&) {
    // The connection is gone; the row stays 'running' and the next run's
    // recovery closes it.
  }
}

core::Result<std::int64_t> InsertRun(Runtime& rt, const std::vector<std::string>& from,
                                     const std::vector<std::string>& to,
                                     const std::string& direction, const json& plan_json,
                                     const std::string& outcome, const std::string& run_key,
                                     const SchemaFingerprint* fingerprint_before, Cursor start) {
  try {
    pqxx::work tx(rt.session->conn());
    // "pid": the run's backend, for its live progress (design §4.11).
    json progress = {{"phase", "forward"},
                     {"step", start.step},
                     {"section", start.section},
                     {"statement", start.statement},
                     {"pid", rt.session->conn().backendpid()}};
    auto row = tx.exec_params1(
        "INSERT INTO " + RunLog() +
            " (from_versions, to_versions, direction, actor, outcome, plan, progress, "
            "finished_at, run_key) VALUES (string_to_array($1, ','), string_to_array($2, ','), $3, "
            "$4, $5, $6::jsonb, $7::jsonb, CASE WHEN $5 = 'running' THEN NULL ELSE "
            "clock_timestamp() END, NULLIF($8, '')) RETURNING id",
        Join(from, ","), Join(to, ","), direction, rt.options.actor, outcome, plan_json.dump(),
        progress.dump(), run_key);
    if (fingerprint_before != nullptr) {
      RecordFingerprint(tx, from, *fingerprint_before, row[0].as<std::int64_t>());
    }
    tx.commit();
    return row[0].as<std::int64_t>();
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot record the run in schemaop.run_log", Code::kInternal);
  }
}

void InsertStampRun(pqxx::transaction_base& tx, const std::vector<std::string>& from,
                    const std::vector<std::string>& to, const std::string& actor) {
  tx.exec_params("INSERT INTO " + RunLog() +
                     " (from_versions, to_versions, direction, actor, outcome, "
                     "finished_at) VALUES (string_to_array($1, ','), string_to_array($2, ','), "
                     "'stamp', $3, 'succeeded', clock_timestamp())",
                 Join(from, ","), Join(to, ","), actor);
}

core::Result<bool> ReplayEndedRun(Runtime& rt, const std::string& run_key, RunReport* report) {
  try {
    pqxx::read_transaction tx(rt.session->conn());
    if (!RunKeyColumnExists(tx)) {
      return false;  // no run was ever recorded with a key
    }
    auto rows = tx.exec_params(
        "SELECT id, outcome, coalesce(error, ''), coalesce(error_code, ''), "
        "array_to_json(from_versions)::text, array_to_json(to_versions)::text FROM " +
            RunLog() + " WHERE run_key = $1",
        run_key);
    if (rows.empty()) {
      Status may_run = CheckInterruptedAttempts(tx, run_key);
      if (!may_run.ok()) {
        return may_run;
      }
      return false;
    }
    const auto& row = rows[0];
    const std::string outcome = row[1].as<std::string>();
    if (outcome == "running") {
      return false;  // recovery closes it first; cannot be seen under the lock
    }
    report->run_id = row[0].as<std::int64_t>();
    report->from_versions = TextArray(row[4]);
    report->to_versions = TextArray(row[5]);
    report->final_versions = ReadVersions(tx, rt.VersionTable(), rt.options.version_layout);
    report->replayed = true;
    if (outcome == "succeeded") {
      report->outcome = RunOutcome::kSucceeded;
      return true;
    }
    report->outcome = outcome == "rolled_back" ? RunOutcome::kRolledBack : RunOutcome::kFailed;
    report->status =
        Status(CodeFromName(row[3].as<std::string>()), row[2].as<std::string>(), "replayed");
    rt.Emit("replayed", "run " + row[0].as<std::string>() + " of this request already ended (" +
                            outcome + "); nothing executed");
    return true;
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read schemaop.run_log", Code::kInternal);
  }
}

void ReleaseInterruptedKey(Runtime& rt, std::int64_t run_id) {
  try {
    pqxx::work tx(rt.session->conn());
    tx.exec_params("UPDATE " + RunLog() +
                       " SET run_key = run_key || $2 || id WHERE id = $1 AND run_key IS NOT NULL",
                   run_id, std::string(kInterruptedSuffix));
    tx.commit();
  } catch (const std::exception&) {
    // The key stays: the run is then replayed as failed, which is safe.
  }
}

core::Result<std::vector<InterruptedRun>> ReadRunningRuns(Runtime& rt) {
  std::vector<InterruptedRun> runs;
  try {
    pqxx::read_transaction tx(rt.session->conn());
    if (!TableExists(tx, RunLog())) {
      return runs;
    }
    for (const auto& row : tx.exec("SELECT id, array_to_json(from_versions)::text, "
                                   "array_to_json(to_versions)::text, plan::text, progress::text "
                                   "FROM " +
                                   RunLog() + " WHERE outcome = 'running' ORDER BY id")) {
      runs.push_back({row[0].as<std::int64_t>(), TextArray(row[1]), TextArray(row[2]),
                      json::parse(row[3].as<std::string>()),
                      json::parse(row[4].as<std::string>())});
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read schemaop.run_log", Code::kInternal);
  }
  return runs;
}

core::Result<std::vector<RunLogEntry>> ReadHistory(Runtime& rt, int limit) {
  std::vector<RunLogEntry> entries;
  try {
    pqxx::read_transaction tx(rt.session->conn());
    if (!TableExists(tx, RunLog())) {
      return entries;
    }
    const std::string time = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";
    for (const auto& row : tx.exec_params(
             "SELECT id, array_to_json(from_versions)::text, array_to_json(to_versions)::text, "
             "direction, actor, to_char(started_at AT TIME ZONE 'UTC', " +
                 time + "), coalesce(to_char(finished_at AT TIME ZONE 'UTC', " + time +
                 "), ''), outcome, coalesce(error, '') FROM " + RunLog() +
                 " ORDER BY id DESC LIMIT $1",
             limit)) {
      RunLogEntry entry;
      entry.id = row[0].as<std::int64_t>();
      entry.from_versions = TextArray(row[1]);
      entry.to_versions = TextArray(row[2]);
      entry.direction = row[3].as<std::string>();
      entry.actor = row[4].as<std::string>();
      entry.started_at = row[5].as<std::string>();
      entry.finished_at = row[6].as<std::string>();
      entry.outcome = row[7].as<std::string>();
      entry.error = row[8].as<std::string>();
      entries.push_back(std::move(entry));
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read schemaop.run_log", Code::kInternal);
  }
  return entries;
}

}  // namespace schemaop::database::internal
