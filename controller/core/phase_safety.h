#pragma once
// Expand/contract phases (design §3.1): which statements are not safe in a
// `phase:expand` section, where the old application is still writing. Pure:
// looks at the statement's bare words only (core/sql_splitter.h), so it can
// say "probably unsafe" but never proves a statement safe; its findings are
// warnings, not errors.
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/migration_file.h"

namespace schemaop::core {

// Why `words` (SqlBareWords of one statement) is unsafe while the old
// application runs: a table rewrite, a whole-table scan or index build under
// a lock that blocks its writes, or a change that breaks it (a drop or a
// rename). `created_here` holds the upper-cased names of tables created
// earlier in the same file's expand sections: statements on those are safe,
// the old application does not know them. nullopt when nothing was found.
std::optional<std::string> ExpandHazard(const std::vector<std::string>& words,
                                        const std::set<std::string>& created_here);

// The table a `CREATE TABLE [IF NOT EXISTS] name` statement creates, as its
// first bare word (upper-cased; a quoted name is not seen), or empty.
std::string CreatedTable(const std::vector<std::string>& words);

// What `schemaop plan` shows for one step (design §3.1): its sections per
// phase, e.g. "expand 3 (1 batch), window 2, contract 1"; empty when every
// section of `direction` is in the window.
std::string DescribePhases(const MigrationFile& file, Direction direction);

}  // namespace schemaop::core
