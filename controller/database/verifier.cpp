#include "database/verifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/sql_splitter.h"
#include "database/runtime.h"

namespace schemaop::database::internal {
namespace {

using core::Code;
using core::Status;

std::string FingerprintTable() { return std::string(kSchema) + ".schema_fingerprint"; }

Status CheckResultShape(const UserCheck& check, const pqxx::result& result,
                        const std::string& when) {
  constexpr pqxx::oid kBoolOid = 16;
  if (result.size() != 1 || result.columns() != 1 || result.column_type(0) != kBoolOid) {
    return Status(
        Code::kVerificationFailed,
        "check '" + check.name +
            "' must return exactly one boolean (one row, one "
            "boolean column) but returned " +
            std::to_string(result.size()) + " row(s) of " + std::to_string(result.columns()) +
            " column(s)" +
            (result.columns() == 1 && result.column_type(0) != kBoolOid ? " of another type" : ""));
  }
  if (result[0][0].is_null() || !result[0][0].as<bool>()) {
    return Status(Code::kVerificationFailed, "check '" + check.name + "' returned " +
                                                 (result[0][0].is_null() ? "NULL" : "false") + " " +
                                                 when);
  }
  return Status::Ok();
}

// Up to ten differing objects, one list.
std::string DriftList(const SchemaFingerprint& live, const SchemaFingerprint& recorded,
                      const std::string& label) {
  auto drift = DescribeDrift(live, recorded, label);
  std::string listed;
  for (std::size_t i = 0; i < drift.size() && i < 10; ++i) {
    listed += (i == 0 ? "" : "; ") + drift[i];
  }
  if (drift.size() > 10) {
    listed += "; and " + std::to_string(drift.size() - 10) + " more";
  }
  return listed;
}

void AddIndexAndRunProblems(pqxx::transaction_base& tx, std::vector<std::string>* problems) {
  for (const auto& row : tx.exec(
           "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i "
           "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE NOT i.indisvalid ORDER BY 1")) {
    problems->push_back("index " + row[0].as<std::string>() +
                        " is INVALID (a failed CREATE INDEX CONCURRENTLY); re-run the "
                        "migration, which rebuilds it");
  }
  if (TableExists(tx, std::string(kSchema) + ".run_log")) {
    for (const auto& row : tx.exec(std::string("SELECT id, actor FROM ") + kSchema +
                                   ".run_log WHERE outcome = 'running'")) {
      problems->push_back("run " + row[0].as<std::string>() + " by " + row[1].as<std::string>() +
                          " is still marked running (in progress, or interrupted: the "
                          "next upgrade/downgrade recovers it)");
    }
  }
}

}  // namespace

std::string FingerprintKey(const std::vector<std::string>& versions) {
  std::vector<std::string> sorted = versions;
  std::sort(sorted.begin(), sorted.end());
  return sorted.empty() ? std::string("base") : Join(sorted, ",");
}

std::string BoundaryKey(const std::vector<std::string>& versions, const std::string& tag,
                        const std::string& plan_digest) {
  return FingerprintKey(versions) + "|" + tag + ":" + plan_digest.substr(0, 16);
}

std::optional<SchemaFingerprint> RecordedFingerprint(pqxx::transaction_base& tx,
                                                     const std::vector<std::string>& versions) {
  return RecordedFingerprintAt(tx, FingerprintKey(versions));
}

std::optional<SchemaFingerprint> RecordedFingerprintAt(pqxx::transaction_base& tx,
                                                       const std::string& key) {
  if (!TableExists(tx, FingerprintTable())) {
    return std::nullopt;
  }
  auto rows =
      tx.exec_params("SELECT objects::text FROM " + FingerprintTable() + " WHERE versions = $1",
                     key);
  if (rows.empty()) {
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> objects;
  for (const auto& item : nlohmann::json::parse(rows[0][0].as<std::string>())) {
    objects.emplace_back(item.at(0).get<std::string>(), item.at(1).get<std::string>());
  }
  return FingerprintOf(std::move(objects));
}

void RecordFingerprint(pqxx::transaction_base& tx, const std::vector<std::string>& versions,
                       const SchemaFingerprint& fingerprint, std::int64_t run_id) {
  RecordFingerprintAt(tx, FingerprintKey(versions), fingerprint, run_id);
}

void RecordFingerprintAt(pqxx::transaction_base& tx, const std::string& key,
                         const SchemaFingerprint& fingerprint, std::int64_t run_id) {
  nlohmann::json objects = nlohmann::json::array();
  for (const auto& [key, definition] : fingerprint.objects) {
    objects.push_back({key, definition});
  }
  tx.exec_params("INSERT INTO " + FingerprintTable() +
                     " (versions, digest, objects, run_id) "
                     "VALUES ($1, $2, $3::jsonb, NULLIF($4, 0)) ON CONFLICT (versions) DO UPDATE "
                     "SET digest = EXCLUDED.digest, objects = EXCLUDED.objects, "
                     "run_id = EXCLUDED.run_id, recorded_at = now()",
                 key, fingerprint.digest, objects.dump(), run_id);
}

Status CheckSchema(pqxx::transaction_base& tx, const std::vector<std::string>& versions,
                   const SchemaFingerprint& live) {
  auto recorded = RecordedFingerprint(tx, versions);
  if (!recorded || recorded->digest == live.digest) {
    return Status::Ok();
  }
  return Status(Code::kSchemaDrift,
                "schema drift at " + VersionsText(versions) + ": " +
                    DriftList(live, *recorded, VersionsText(versions)) +
                    ". The schema differs from the one recorded when the database was last at "
                    "that revision (a down section that forgets an object, or a change made by "
                    "hand). Fix the migration, or accept the difference with "
                    "--allow-schema-drift / spec.verify.schema: Ignore",
                "schema-drift");
}

Status CheckSchemaAt(pqxx::transaction_base& tx, const std::string& key, const std::string& label,
                     const SchemaFingerprint& live) {
  auto recorded = RecordedFingerprintAt(tx, key);
  if (!recorded || recorded->digest == live.digest) {
    return Status::Ok();
  }
  return Status(Code::kSchemaDrift,
                "schema drift " + label + ": " + DriftList(live, *recorded, label) +
                    ". The schema changed between two phases of this plan (by hand, or by "
                    "another tool); nothing was executed. Undo the change, or accept it with "
                    "--allow-schema-drift / spec.verify.schema: Ignore",
                "schema-drift");
}

Status CheckRowLoss(pqxx::transaction_base& tx, const std::string& version_table,
                    const RowBaseline& baseline, const std::string& when) {
  auto after = CountRelationRows(tx, version_table);
  if (baseline.writers_may_run) {
    // Beside the application only a vanished relation counts: a surviving
    // one keeps at least its count from the start.
    for (auto& relation : after) {
      for (const auto& before : baseline.counts_before) {
        if (before.oid == relation.oid) {
          relation.rows = std::max(relation.rows, before.rows);
        }
      }
    }
  }
  auto losses =
      FindRowLoss(baseline.counts_before, after, ParseDeclaredLoss(baseline.row_loss_allowed));
  if (losses.empty()) {
    return Status::Ok();
  }
  return Status(Code::kVerificationFailed,
                "row-count check failed " + when + ": " + Join(losses, "; ") +
                    ". If the loss is intended, list the table in the revision's "
                    "down_row_loss header or pass --allow-row-loss (spec.verify.allowRowLoss)");
}

Status RunCheck(const Runtime& rt, pqxx::dbtransaction& tx, const UserCheck& check,
                const std::string& when) {
  auto statements = core::SplitSqlStatements(check.sql);
  if (statements.size() != 1) {
    return Status(Code::kVerificationFailed,
                  "check '" + check.name +
                      "' must be exactly one statement (a query returning "
                      "one boolean) but has " +
                      std::to_string(statements.size()));
  }
  pqxx::result result;
  try {
    pqxx::subtransaction sub(tx, "schemaop_check");
    sub.exec("SET LOCAL transaction_read_only = on");
    result = sub.exec(check.sql);
    sub.abort();
  } catch (const pqxx::sql_error& error) {
    if (error.sqlstate() == "25006") {
      return Status(Code::kVerificationFailed,
                    "check '" + check.name + "' tried to write (" + error.sqlstate() +
                        " read_only_sql_transaction); a check must be a read-only query. "
                        "Nothing it did was kept",
                    error.sqlstate());
    }
    return rt.FromException(error, "check '" + check.name + "' failed with an error " + when,
                            Code::kVerificationFailed);
  }
  return CheckResultShape(check, result, when);
}

Status VerifyInTransaction(const Runtime& rt, pqxx::work& tx, const RowBaseline& baseline,
                           const std::vector<std::string>& reached,
                           std::optional<SchemaFingerprint>* live_out) {
  rt.Emit("verifying", "verifying row counts, schema and " +
                           std::to_string(rt.options.checks.size()) + " check(s)");
  try {
    if (rt.options.verify_row_counts) {
      Status rows = CheckRowLoss(tx, rt.VersionTable(), baseline, "after the migration");
      if (!rows.ok()) {
        return rows;
      }
    }
    auto live = ReadSchemaFingerprint(tx, rt.VersionTable());
    if (rt.options.verify_schema) {
      Status schema = CheckSchema(tx, reached, live);
      if (!schema.ok()) {
        return schema;
      }
    }
    *live_out = std::move(live);
  } catch (const std::exception& error) {
    return rt.FromException(error, "verification failed", Code::kVerificationFailed);
  }
  for (const auto& check : rt.options.checks) {
    Status checked = RunCheck(rt, tx, check, "after the migration");
    if (!checked.ok()) {
      return checked;
    }
  }
  return Status::Ok();
}

Status VerifyAtBoundary(const Runtime& rt, pqxx::work& tx, const RowBaseline& baseline,
                        bool checks, std::optional<SchemaFingerprint>* live_out) {
  rt.Emit("verifying", std::string("verifying row counts") +
                           (checks ? " and " + std::to_string(rt.options.checks.size()) +
                                         " check(s)"
                                   : std::string()) +
                           " at the end of the phase");
  try {
    if (rt.options.verify_row_counts) {
      Status rows = CheckRowLoss(tx, rt.VersionTable(), baseline, "at the end of the phase");
      if (!rows.ok()) {
        return rows;
      }
    }
    *live_out = ReadSchemaFingerprint(tx, rt.VersionTable());
  } catch (const std::exception& error) {
    return rt.FromException(error, "verification failed", Code::kVerificationFailed);
  }
  for (const auto& check : checks ? rt.options.checks : std::vector<UserCheck>{}) {
    Status checked = RunCheck(rt, tx, check, "at the end of the phase");
    if (!checked.ok()) {
      return checked;
    }
  }
  return Status::Ok();
}

core::Result<std::vector<std::string>> DatabaseProblems(Runtime& rt,
                                                        const std::vector<std::string>& current) {
  std::vector<std::string> problems;
  try {
    pqxx::read_transaction tx(rt.session->conn());
    AddIndexAndRunProblems(tx, &problems);
  } catch (const std::exception& error) {
    return rt.FromException(error, "verify failed", Code::kInternal);
  }
  try {
    pqxx::read_transaction tx(rt.session->conn());
    if (rt.options.verify_schema) {
      auto live = ReadSchemaFingerprint(tx, rt.VersionTable());
      Status schema = CheckSchema(tx, current, live);
      if (!schema.ok()) {
        problems.push_back(schema.message());
      }
    }
    for (const auto& check : rt.options.checks) {
      Status checked = RunCheck(rt, tx, check, "at " + VersionsText(current));
      if (!checked.ok()) {
        problems.push_back(checked.message());
      }
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "verify failed", Code::kInternal);
  }
  return problems;
}

}  // namespace schemaop::database::internal
