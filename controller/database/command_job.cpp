// The Job executor's database side (design §10.4): the baseline a migration
// Job is judged against, and the judgement. The operator reads the version
// table itself; the Job's output is never trusted. The baseline lives in
// schemaop.job_baseline, so a restarted controller judges against the same
// record (it is written once per run key and never replaced: re-recording
// after the Job ran would take the damage for the baseline).
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "database/migrator_impl.h"
#include "database/row_guard.h"
#include "database/schema_fingerprint.h"
#include "database/version_table.h"

namespace schemaop::database {
namespace {

using core::Code;
using core::Status;
using json = nlohmann::json;

std::string BaselineTable() { return std::string(internal::kSchema) + ".job_baseline"; }

json RowsToJson(const std::vector<internal::RelationRows>& rows) {
  json out = json::array();
  for (const auto& r : rows) {
    out.push_back({r.oid, r.schema, r.name, r.rows, r.root_oid, r.root_schema, r.root_name});
  }
  return out;
}

std::vector<internal::RelationRows> RowsFromJson(const json& in) {
  std::vector<internal::RelationRows> rows;
  for (const json& r : in) {
    internal::RelationRows row;
    row.oid = r.at(0).get<std::uint32_t>();
    row.schema = r.at(1).get<std::string>();
    row.name = r.at(2).get<std::string>();
    row.rows = r.at(3).get<std::int64_t>();
    row.root_oid = r.at(4).get<std::uint32_t>();
    row.root_schema = r.at(5).get<std::string>();
    row.root_name = r.at(6).get<std::string>();
    rows.push_back(std::move(row));
  }
  return rows;
}

json FingerprintToJson(const internal::SchemaFingerprint& fingerprint) {
  json objects = json::array();
  for (const auto& [key, definition] : fingerprint.objects) {
    objects.push_back({key, definition});
  }
  return objects;
}

internal::SchemaFingerprint FingerprintFromJson(const json& objects) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const json& item : objects) {
    pairs.emplace_back(item.at(0).get<std::string>(), item.at(1).get<std::string>());
  }
  return internal::FingerprintOf(std::move(pairs));
}

void CreateBaselineTable(pqxx::work& tx) {
  tx.exec("CREATE TABLE IF NOT EXISTS " + BaselineTable() +
          " (run_key text PRIMARY KEY, versions text[] NOT NULL, rows jsonb NOT NULL, "
          "fingerprint jsonb NOT NULL, digest char(64) NOT NULL, "
          "recorded_at timestamptz NOT NULL DEFAULT now())");
}

struct StoredBaseline {
  std::vector<std::string> versions;
  std::vector<internal::RelationRows> rows;
  internal::SchemaFingerprint fingerprint;
};

std::optional<StoredBaseline> ReadBaseline(pqxx::transaction_base& tx, const std::string& key) {
  auto found = tx.exec_params(
      "SELECT array_to_json(versions)::text, rows::text, fingerprint::text "
      "FROM " +
          BaselineTable() + " WHERE run_key = $1",
      key);
  if (found.empty()) {
    return std::nullopt;
  }
  StoredBaseline b;
  b.versions = json::parse(found[0][0].as<std::string>()).get<std::vector<std::string>>();
  b.rows = RowsFromJson(json::parse(found[0][1].as<std::string>()));
  b.fingerprint = FingerprintFromJson(json::parse(found[0][2].as<std::string>()));
  return b;
}

// A failure of the operator's own reads around a Job (design §10.4). What
// may pass (a lost connection, a deadlock or serialization failure, a lock
// or statement timeout, a shutdown, a lack of resources: libpqxx's
// transaction_rollback and insufficient_resources, else SQLSTATE classes
// 08, 40, 53, 57, 58 and 55P03) is kUnreachable, retried with the writers
// at zero; anything else (a version table not in the layout it was named
// with, a missing privilege) would fail again, so it is kMigrationFailed
// and the run goes to its undo and the backup instead of waiting for ever.
// (libpqxx 6.4 leaves sqlstate() empty for some of its subclasses, hence
// the types first.)
Status JobCheckFailure(internal::Runtime& rt, const std::exception& error,
                       const std::string& context) {
  Status status = rt.FromException(error, context, Code::kMigrationFailed);
  const std::string& state = status.detail();
  const auto in_class = [&state](const char* prefix) { return state.rfind(prefix, 0) == 0; };
  const bool passes = dynamic_cast<const pqxx::transaction_rollback*>(&error) != nullptr ||
                      dynamic_cast<const pqxx::insufficient_resources*>(&error) != nullptr ||
                      (state.size() == 5 && (in_class("08") || in_class("40") || in_class("53") ||
                                             in_class("57") || in_class("58") || state == "55P03"));
  if (status.code() == Code::kMigrationFailed && passes) {
    return Status(Code::kUnreachable, status.message(), status.detail());
  }
  return status;
}

}  // namespace

core::Result<Migrator::JobBaselineRecord> Migrator::RecordJobBaseline(const std::string& run_key) {
  internal::Runtime& rt = *impl_;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  if (Status schema = rt.EnsureSchema(); !schema.ok()) {
    return schema;
  }
  try {
    pqxx::work tx(rt.session->conn());
    CreateBaselineTable(tx);
    std::optional<StoredBaseline> stored = ReadBaseline(tx, run_key);
    if (!stored) {
      StoredBaseline b;
      b.versions = internal::ReadVersions(tx, rt.VersionTable(), rt.options.version_layout);
      b.rows = internal::CountRelationRows(tx, rt.VersionTable());
      b.fingerprint = internal::ReadSchemaFingerprint(tx, rt.VersionTable());
      tx.exec_params("INSERT INTO " + BaselineTable() +
                         " (run_key, versions, rows, fingerprint, digest) VALUES ($1, "
                         "ARRAY(SELECT json_array_elements_text($2::json)), $3::jsonb, $4::jsonb, "
                         "$5) ON CONFLICT (run_key) DO NOTHING",
                     run_key, json(b.versions).dump(), RowsToJson(b.rows).dump(),
                     FingerprintToJson(b.fingerprint).dump(), b.fingerprint.digest);
      stored = ReadBaseline(tx, run_key);  // the winner's record, if another won
    }
    tx.commit();
    JobBaselineRecord out;
    out.versions = stored->versions;
    out.fingerprint_digest = stored->fingerprint.digest;
    out.relations = static_cast<std::int64_t>(stored->rows.size());
    return out;
  } catch (const std::exception& error) {
    return JobCheckFailure(rt, error, "recording the row counts and schema before the Job");
  }
}

core::Result<Migrator::JobCheckReport> Migrator::CheckJobResult(const std::string& run_key,
                                                                bool compare_schema) {
  internal::Runtime& rt = *impl_;
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  try {
    pqxx::read_transaction tx(rt.session->conn());
    auto exists = tx.exec("SELECT to_regclass('" + BaselineTable() + "') IS NOT NULL");
    std::optional<StoredBaseline> stored;
    if (exists[0][0].as<bool>()) {
      stored = ReadBaseline(tx, run_key);
    }
    if (!stored) {
      return Status(Code::kNotFound,
                    "no baseline was recorded for this run (schemaop.job_baseline)");
    }
    JobCheckReport report;
    report.versions = internal::ReadVersions(tx, rt.VersionTable(), rt.options.version_layout);
    const std::set<std::string> allowed(rt.options.allow_row_loss.begin(),
                                        rt.options.allow_row_loss.end());
    report.row_loss =
        internal::FindRowLoss(stored->rows, internal::CountRelationRows(tx, rt.VersionTable()),
                              internal::ParseDeclaredLoss(allowed));
    // The reference: the start's schema (an undo), or the schema an earlier
    // run recorded at the revision reached (a revision seen before).
    std::optional<StoredBaseline> reference;
    if (compare_schema) {
      reference = stored;
    } else if (rt.options.verify_schema) {
      auto earlier = tx.exec_params(
          "SELECT run_key FROM " + BaselineTable() +
              " WHERE run_key <> $1 AND versions = "
              "ARRAY(SELECT json_array_elements_text($2::json)) "
              "ORDER BY recorded_at DESC LIMIT 1",
          run_key, json(report.versions).dump());
      if (!earlier.empty()) {
        reference = ReadBaseline(tx, earlier[0][0].as<std::string>());
      }
    }
    if (reference) {
      const auto live = internal::ReadSchemaFingerprint(tx, rt.VersionTable());
      if (live.digest != reference->fingerprint.digest) {
        auto drift = internal::DescribeDrift(live, reference->fingerprint,
                                             internal::VersionsText(reference->versions));
        drift.resize(std::min<std::size_t>(drift.size(), 10));
        report.schema_drift = std::move(drift);
        if (report.schema_drift.empty()) {
          report.schema_drift.push_back("the schema fingerprint differs from the one recorded");
        }
      }
    }
    return report;
  } catch (const std::exception& error) {
    return JobCheckFailure(rt, error, "checking the database after the Job");
  }
}

core::Result<int> Migrator::EndSessions(const std::string& application_name,
                                        std::chrono::milliseconds wait) {
  internal::Runtime& rt = *impl_;
  if (application_name.empty()) {
    return Status(Code::kInvalidArgument, "no application_name to end the sessions of");
  }
  if (Status connected = rt.EnsureSession(); !connected.ok()) {
    return connected;
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  int terminated = 0;
  try {
    for (;;) {
      pqxx::nontransaction tx(rt.session->conn());
      // pg_terminate_backend interrupts a running statement (pg_sleep
      // included) and rolls its transaction back; a session of the same
      // role may be terminated without superuser (the tool and the
      // operator use the same Secret).
      auto rows = tx.exec_params(
          "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
          "WHERE application_name = $1 AND datname = current_database() "
          "AND pid <> pg_backend_pid()",
          application_name);
      if (rows.empty()) {
        return terminated;
      }
      terminated += static_cast<int>(rows.size());
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status(Code::kTimeout,
                      std::to_string(rows.size()) + " session(s) of " + application_name +
                          " are still in the database after pg_terminate_backend");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  } catch (const std::exception& error) {
    return rt.FromException(error, "ending the sessions of the Job", Code::kUnreachable);
  }
}

}  // namespace schemaop::database
