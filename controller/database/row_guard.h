#pragma once
// The row-count guard (docs/cli.md, "What a run does", step 5). Invariant: a run
// never commits a state in which rows that existed before it are gone,
// unless the loss was declared. Rows are counted per relation identity
// (pg_class OID), in every schema the migration role can see, and grouped by
// inheritance/partition tree, so:
//   - fewer rows in a tree (DELETE, TRUNCATE, a cascade, a trigger) is a loss;
//   - a relation whose OID disappears with rows is a loss (DROP TABLE, DROP
//     SCHEMA ... CASCADE, DROP OWNED), unless a relation with the same
//     schema-qualified name holds at least as many rows afterwards (the
//     rebuild-and-swap pattern);
//   - a rename, a move to another schema, a detached partition, or rows
//     moved between partitions/children of one tree are not a loss.
// Declared loss names tables as users write them: `t`, `s.t`, `"Mixed"`.
//
// Internal header: libpqxx types; include only from controller/database.
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace schemaop::database::internal {

struct RelationRows {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
  std::int64_t rows = 0;        // rows of this relation only (FROM ONLY)
  std::uint32_t root_oid = 0;   // top of its inheritance/partition tree (itself if none)
  std::string root_schema;      // schema and name of that top relation
  std::string root_name;
  std::string Root() const { return root_schema + "." + root_name; }
  std::string Qualified() const { return schema + "." + name; }
};

// Every ordinary table (logged, unlogged, partitions, inheritance children)
// outside pg_catalog, information_schema, pg_toast, temporary schemas and
// schemaop, except the version table `version_table` of current_schema().
// Throws pqxx exceptions.
std::vector<RelationRows> CountRelationRows(pqxx::transaction_base& tx,
                                            const std::string& version_table);

// Declared-loss names parsed as SQL identifiers: `Users` -> ("", "users"),
// `"Users"` -> ("", "Users"), `s.t` -> ("s", "t"). An empty schema matches
// any schema.
std::vector<std::pair<std::string, std::string>> ParseDeclaredLoss(
    const std::set<std::string>& names);

// One line per tree that lost rows (before -> after), naming the relation,
// both counts and the fix; empty when nothing was lost. Pure.
std::vector<std::string> FindRowLoss(
    const std::vector<RelationRows>& before, const std::vector<RelationRows>& after,
    const std::vector<std::pair<std::string, std::string>>& declared_loss);

}  // namespace schemaop::database::internal
