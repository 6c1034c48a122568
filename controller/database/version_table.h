#pragma once
// The version table. Written in Alembic's layout (design §4.1): one row per
// head, no row is base, created exactly as Alembic creates it so Alembic and
// schemaop can take turns; read also in golang-migrate's (design §10.8). The
// name is checked by core::IsValidVersionTableName before any SQL
// is built with it. Internal header: libpqxx types; include only from
// controller/database.
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace schemaop::database::internal {

// Alembic's DDL: CREATE TABLE IF NOT EXISTS <table> (version_num VARCHAR(32)
// NOT NULL, CONSTRAINT <table>_pkc PRIMARY KEY (version_num)), no `;`.
std::string CreateVersionTableSql(const std::string& table);

// The version table cannot be read as a revision: golang-migrate's says a
// migration failed half-way (dirty = true: the database is at no revision
// a tool or the operator may build on), or the table is not in the layout
// it was named with. Runtime::FromException makes it kMigrationFailed with
// `detail`, never transient.
class UnusableVersionTable : public std::runtime_error {
 public:
  UnusableVersionTable(const std::string& message, std::string detail)
      : std::runtime_error(message), detail_(std::move(detail)) {}
  const std::string& detail() const { return detail_; }

 private:
  std::string detail_;
};

// The revisions in the version table, sorted; empty when the table does
// not exist or has no row (base). `layout` (core/version_table.h): Alembic
// reads every `version_num`; GolangMigrate checks the columns (an integer
// `version`, a boolean `dirty`), reads the one row, and throws
// UnusableVersionTable when `dirty` is true, when there is more than one
// row or when the columns are not golang-migrate's. Throws pqxx errors.
std::vector<std::string> ReadVersions(pqxx::transaction_base& tx, const std::string& table,
                                      std::string_view layout);

struct Runtime;
// ReadVersions on the migration session; errors as a Status.
core::Result<std::vector<std::string>> LoadVersions(Runtime& rt);

// Replaces the rows with `versions` (creating the table when needed).
void WriteVersions(pqxx::transaction_base& tx, const std::string& table,
                   const std::vector<std::string>& versions);

}  // namespace schemaop::database::internal
