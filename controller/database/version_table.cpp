#include "database/version_table.h"

#include "database/runtime.h"

namespace schemaop::database::internal {

std::string CreateVersionTableSql(const std::string& table) {
  return "CREATE TABLE IF NOT EXISTS " + table + " (version_num VARCHAR(32) NOT NULL, CONSTRAINT " +
         table + "_pkc PRIMARY KEY (version_num))";
}

std::vector<std::string> ReadVersions(pqxx::transaction_base& tx, const std::string& table) {
  std::vector<std::string> versions;
  if (!TableExists(tx, table)) {
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
    return ReadVersions(tx, rt.VersionTable());
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
