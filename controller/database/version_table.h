#pragma once
// The Alembic version table (design §4.1): one row per head, no row is base,
// created exactly as Alembic creates it so Alembic and schemaop can take
// turns. The name is checked by core::IsValidVersionTableName before any SQL
// is built with it. Internal header: libpqxx types; include only from
// controller/database.
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace schemaop::database::internal {

// Alembic's DDL: CREATE TABLE IF NOT EXISTS <table> (version_num VARCHAR(32)
// NOT NULL, CONSTRAINT <table>_pkc PRIMARY KEY (version_num)), no `;`.
std::string CreateVersionTableSql(const std::string& table);

// golang-migrate's table says a migration failed half-way (dirty = true):
// the database is at no revision a tool or the operator may build on.
// Runtime::FromException makes it kMigrationFailed, never transient.
class DirtyVersionTable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The revisions in the version table, sorted; empty when the table does
// not exist or has no row (base). `layout` (core/version_table.h): Alembic
// reads every `version_num`; GolangMigrate reads the one `version` and
// throws DirtyVersionTable when its `dirty` is true. Throws pqxx errors.
std::vector<std::string> ReadVersions(pqxx::transaction_base& tx, const std::string& table,
                                      std::string_view layout);

struct Runtime;
// ReadVersions on the migration session; errors as a Status.
core::Result<std::vector<std::string>> LoadVersions(Runtime& rt);

// Replaces the rows with `versions` (creating the table when needed).
void WriteVersions(pqxx::transaction_base& tx, const std::string& table,
                   const std::vector<std::string>& versions);

}  // namespace schemaop::database::internal
