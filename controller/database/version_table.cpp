#include "database/version_table.h"

#include "core/version_table.h"
#include "database/runtime.h"

namespace schemaop::database::internal {

std::string CreateVersionTableSql(const std::string& table) {
  return "CREATE TABLE IF NOT EXISTS " + table + " (version_num VARCHAR(32) NOT NULL, CONSTRAINT " +
         table + "_pkc PRIMARY KEY (version_num))";
}

std::vector<std::string> ReadVersions(pqxx::transaction_base& tx, const std::string& table,
                                      std::string_view layout) {
  std::vector<std::string> versions;
  if (!TableExists(tx, table)) {
    return versions;
  }
  if (layout == core::kVersionLayoutGolangMigrate) {
    // Another tool's table by this name (dbmate's, Rails' `version varchar`)
    // is named, never read as if it were golang-migrate's.
    const auto columns = tx.exec_params1(
        "SELECT count(*) FILTER (WHERE attname = 'version' AND atttypid IN ('int2'::regtype, "
        "'int4'::regtype, 'int8'::regtype)), count(*) FILTER (WHERE attname = 'dirty' AND "
        "atttypid = 'bool'::regtype) FROM pg_attribute WHERE attrelid = to_regclass($1) AND "
        "attnum > 0 AND NOT attisdropped",
        table);
    if (columns[0].as<int>() != 1 || columns[1].as<int>() != 1) {
      throw UnusableVersionTable(
          table + " has no integer `version` and boolean `dirty` columns: it is not "
                  "golang-migrate's table; check spec.database.versionTable and versionLayout",
          "foreign-version-table");
    }
    // golang-migrate keeps one row (it deletes and inserts in one
    // transaction); more than one is not its table.
    const auto rows = tx.exec("SELECT version::text, dirty FROM " + table);
    if (rows.size() > 1) {
      throw UnusableVersionTable(table + " has " + std::to_string(rows.size()) +
                                     " rows, not golang-migrate's one; check "
                                     "spec.database.versionTable and versionLayout",
                                 "foreign-version-table");
    }
    for (const auto& row : rows) {
      const std::string version = row[0].as<std::string>();
      if (row[1].as<bool>()) {
        throw UnusableVersionTable(
            table + " marks version " + version +
                " dirty: a golang-migrate migration failed half-way and the database is at no "
                "revision. Repair the schema, then run `migrate force VERSION` with the version "
                "it now matches, and retry",
            "dirty-version-table");
      }
      versions.push_back(version);
    }
    return versions;
  }
  for (const auto& row : tx.exec("SELECT version_num FROM " + table + " ORDER BY 1")) {
    versions.push_back(row[0].as<std::string>());
  }
  return versions;
}

core::Result<std::vector<std::string>> LoadVersions(Runtime& rt) {
  try {
    pqxx::read_transaction tx(rt.session->conn());
    return ReadVersions(tx, rt.VersionTable(), rt.options.version_layout);
  } catch (const std::exception& error) {
    return rt.FromException(error, "cannot read " + rt.VersionTable(), core::Code::kInternal);
  }
}

void WriteVersions(pqxx::transaction_base& tx, const std::string& table,
                   const std::vector<std::string>& versions) {
  tx.exec(CreateVersionTableSql(table));
  tx.exec("DELETE FROM " + table);
  for (const auto& version : versions) {
    tx.exec_params("INSERT INTO " + table + " (version_num) VALUES ($1)", version);
  }
}

}  // namespace schemaop::database::internal
