#include "database/row_guard.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace schemaop::database::internal {

std::vector<RelationRows> CountRelationRows(pqxx::transaction_base& tx,
                                            const std::string& version_table) {
  // Inheritance and partitioning both live in pg_inherits; `up` walks every
  // relation to its ancestors, and the root is the ancestor with no parent.
  auto tables = tx.exec_params(
      "WITH RECURSIVE up(child, parent) AS ("
      "  SELECT inhrelid, inhparent FROM pg_inherits"
      "  UNION SELECT up.child, i.inhparent FROM up JOIN pg_inherits i ON i.inhrelid = up.parent) "
      "SELECT c.oid::bigint, n.nspname, c.relname, r.oid::bigint, rn.nspname, r.relname "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "CROSS JOIN LATERAL (SELECT coalesce((SELECT min(up.parent) FROM up WHERE up.child = c.oid "
      "  AND NOT EXISTS (SELECT 1 FROM pg_inherits p WHERE p.inhrelid = up.parent)), c.oid) AS root) t "
      "JOIN pg_class r ON r.oid = t.root JOIN pg_namespace rn ON rn.oid = r.relnamespace "
      "WHERE c.relkind = 'r' "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'schemaop') "
      "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
      "AND NOT (c.relname = $1 AND n.nspname = current_schema()) ORDER BY 2, 3",
      version_table);
  std::vector<RelationRows> out;
  if (tables.empty()) {
    return out;
  }
  std::string query;
  for (const auto& row : tables) {
    RelationRows rel;
    rel.oid = static_cast<std::uint32_t>(row[0].as<std::int64_t>());
    rel.schema = row[1].as<std::string>();
    rel.name = row[2].as<std::string>();
    rel.root_oid = static_cast<std::uint32_t>(row[3].as<std::int64_t>());
    rel.root_schema = row[4].as<std::string>();
    rel.root_name = row[5].as<std::string>();
    if (!query.empty()) {
      query += " UNION ALL ";
    }
    query += "SELECT " + std::to_string(rel.oid) + "::bigint, count(*) FROM ONLY " +
             tx.quote_name(rel.schema) + "." + tx.quote_name(rel.name);
    out.push_back(std::move(rel));
  }
  std::map<std::uint32_t, std::int64_t> counts;
  for (const auto& row : tx.exec(query)) {
    counts[static_cast<std::uint32_t>(row[0].as<std::int64_t>())] = row[1].as<std::int64_t>();
  }
  for (auto& rel : out) {
    rel.rows = counts[rel.oid];
  }
  return out;
}

namespace {

// Splits `text` at dots outside double quotes; unquoted parts fold to lower
// case, quoted ones keep their case ("" is a literal quote).
std::vector<std::string> IdentifierParts(const std::string& text) {
  std::vector<std::string> parts(1);
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      if (quoted && i + 1 < text.size() && text[i + 1] == '"') {
        parts.back() += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == '.' && !quoted) {
      parts.emplace_back();
    } else if (quoted) {
      parts.back() += c;
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      parts.back() += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return parts;
}

bool Declared(const std::vector<std::pair<std::string, std::string>>& declared,
              const std::string& schema, const std::string& name) {
  return std::any_of(declared.begin(), declared.end(), [&](const auto& d) {
    return d.second == name && (d.first.empty() || d.first == schema);
  });
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseDeclaredLoss(
    const std::set<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& name : names) {
    auto parts = IdentifierParts(name);
    if (parts.size() == 1) {
      out.emplace_back("", parts[0]);
    } else if (parts.size() == 2) {
      out.emplace_back(parts[0], parts[1]);
    } else {
      // A name with a dot that was not quoted: keep it whole as a last resort.
      out.emplace_back("", name);
    }
  }
  return out;
}

std::vector<std::string> FindRowLoss(
    const std::vector<RelationRows>& before, const std::vector<RelationRows>& after,
    const std::vector<std::pair<std::string, std::string>>& declared_loss) {
  struct Tree {
    std::pair<std::string, std::string> root;  // (schema, name): names may hold dots
    std::int64_t rows = 0;
    std::map<std::uint32_t, const RelationRows*> members;
    bool declared = false;
  };
  std::map<std::uint32_t, Tree> trees;
  for (const auto& rel : before) {
    Tree& tree = trees[rel.root_oid];
    tree.root = {rel.root_schema, rel.root_name};
    tree.rows += rel.rows;
    tree.members[rel.oid] = &rel;
    tree.declared = tree.declared || Declared(declared_loss, rel.schema, rel.name) ||
                    Declared(declared_loss, rel.root_schema, rel.root_name);
  }
  std::vector<std::string> losses;
  for (const auto& [root_oid, tree] : trees) {
    if (tree.declared || tree.rows == 0) {
      continue;
    }
    std::int64_t rows_after = 0;
    std::set<std::uint32_t> members_left;
    for (const auto& rel : after) {
      const bool member = tree.members.count(rel.oid) != 0;
      if (member) {
        members_left.insert(rel.oid);
      }
      // Same tree, a former member wherever it is now, or a relation new to
      // this run that took the old tree's name (rebuilt and swapped in).
      const bool replaced_by_name =
          trees.count(rel.root_oid) == 0 &&
          std::make_pair(rel.root_schema, rel.root_name) == tree.root;
      if (rel.root_oid == root_oid || member || replaced_by_name) {
        rows_after += rel.rows;
      }
    }
    if (rows_after >= tree.rows) {
      continue;
    }
    std::string what = "table " + tree.root.first + "." + tree.root.second + " had " +
                       std::to_string(tree.rows) + " rows before the run and " +
                       std::to_string(rows_after) + " after";
    if (members_left.empty()) {
      what += " (the table was dropped)";
    } else if (tree.members.size() > 1) {
      std::string dropped;
      for (const auto& [oid, rel] : tree.members) {
        if (members_left.count(oid) == 0 && rel->rows > 0) {
          dropped += (dropped.empty() ? "" : ", ") + rel->Qualified() + " (" +
                     std::to_string(rel->rows) + " rows)";
        }
      }
      what += dropped.empty() ? " (counted over its partitions/child tables)"
                              : " (dropped: " + dropped + ")";
    }
    losses.push_back(what);
  }
  return losses;
}

}  // namespace schemaop::database::internal
