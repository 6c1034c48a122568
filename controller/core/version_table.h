#pragma once
// The one rule for a version table name (spec.database.versionTable,
// --version-table, database::MigratorOptions::version_table): a plain
// lower-case SQL identifier of at most 63 bytes, `^[a-z_][a-z0-9_]{0,62}$`.
// The engine writes it into SQL unquoted, so anything PostgreSQL would fold,
// quote or qualify is refused; the CRD's OpenAPI pattern is this expression
// (tests/core/version_table_test.cpp holds both to one list of names).
#include <optional>
#include <string_view>

namespace schemaop::core {

inline constexpr char kVersionTablePattern[] = "^[a-z_][a-z0-9_]{0,62}$";
inline constexpr char kVersionTableRule[] =
    "a plain lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)";

bool IsValidVersionTableName(std::string_view name);

// The layout of the version table (spec.database.versionLayout, design
// §10.8): what the operator reads the database's revision from.
//   Alembic        `version_num` rows, one per head; no row is base. The
//                  engine's own files write this layout.
//   GolangMigrate  golang-migrate's `version bigint, dirty boolean`, one row
//                  (read only, with executor Job). A dirty row is a
//                  migration that failed half-way: never a revision.
inline constexpr char kVersionLayoutAlembic[] = "Alembic";
inline constexpr char kVersionLayoutGolangMigrate[] = "GolangMigrate";
bool IsVersionLayout(std::string_view layout);

// A golang-migrate version as its table reads back: a decimal number of 1
// to 18 digits without leading zeros (a bigint; its file names start with
// it, e.g. 20240301120000). "0005" is refused: the table would say "5", and
// the target would never be reached.
inline constexpr char kGolangMigrateVersionPattern[] = "^(0|[1-9][0-9]{0,17})$";
bool IsGolangMigrateVersion(std::string_view version);

// The order of two golang-migrate versions (the order it applies them in):
// negative, zero or positive as a is below, equal to or above b; nullopt
// when either is not a version.
std::optional<int> CompareGolangMigrateVersions(std::string_view a, std::string_view b);

}  // namespace schemaop::core
