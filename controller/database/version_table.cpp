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
    // golang-migrate keeps one row (it deletes and inserts in one
    // transaction); more than one is not its table.
    const auto rows = tx.exec("SELECT version::text, dirty FROM " + table);
    if (rows.size() > 1) {
      throw DirtyVersionTable(table + " has " + std::to_string(rows.size()) +
                              " rows, not golang-migrate's one; check spec.database.versionTable "
                              "and versionLayout");
    }
    for (const auto& row : rows) {
      const std::string version = row[0].as<std::string>();
      if (row[1].as<bool>()) {
        throw DirtyVersionTable(
            table + " marks version " + version +
            " dirty: a golang-migrate migration failed half-way and the database is at no "
            "revision. Repair the schema, then run `migrate force VERSION` with the version it "
            "now matches, and retry");
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
