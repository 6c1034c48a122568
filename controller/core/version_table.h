#pragma once
// The one rule for a version table name (spec.database.versionTable,
// --version-table, database::MigratorOptions::version_table): a plain
// lower-case SQL identifier of at most 63 bytes, `^[a-z_][a-z0-9_]{0,62}$`.
// The engine writes it into SQL unquoted, so anything PostgreSQL would fold,
// quote or qualify is refused; the CRD's OpenAPI pattern is this expression
// (tests/core/version_table_test.cpp holds both to one list of names).
#include <string_view>

namespace schemaop::core {

inline constexpr char kVersionTablePattern[] = "^[a-z_][a-z0-9_]{0,62}$";
inline constexpr char kVersionTableRule[] =
    "a plain lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)";

bool IsValidVersionTableName(std::string_view name);

}  // namespace schemaop::core
