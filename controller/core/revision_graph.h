#pragma once
// The revision graph knows nothing about databases (conventions §2): data
// structures and graph algorithms only, with typed errors (Status codes
// kDuplicateRevision, kUnknownParent, kCycleDetected, kMultipleHeads,
// kAmbiguousRevision, kUnknownRevision, kRangeError).
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace schemaop::core {

struct MigrationFile;

struct RevisionNode {
  std::string id;
  std::vector<std::string> parents;   // down_revisions
  std::vector<std::string> children;  // filled by Build, sorted
  std::string message;
};

class RevisionGraph {
 public:
  // Validates: unique ids, every parent known, no cycle. Multiple heads and
  // bases are allowed here (branches); operations that need one say so.
  static Result<RevisionGraph> Build(std::vector<RevisionNode> nodes);

  bool Contains(std::string_view id) const;
  const RevisionNode& Get(std::string_view id) const;  // precondition: Contains
  std::vector<std::string> Heads() const;              // sorted
  std::vector<std::string> Bases() const;              // sorted
  std::size_t size() const { return nodes_.size(); }

  // All revisions that `id` depends on, excluding itself.
  std::set<std::string> Ancestors(std::string_view id) const;
  // All revisions that depend on `id`, excluding itself.
  std::set<std::string> Descendants(std::string_view id) const;
  // Every revision in an order where parents come before children; ties
  // broken by id so the order is deterministic.
  std::vector<std::string> TopologicalOrder() const;

  // Resolves a full id or a unique prefix of one. Unknown or ambiguous gives
  // kUnknownRevision / kAmbiguousRevision whose message lists the candidates.
  Result<std::string> ResolveId(std::string_view id_or_prefix) const;

  // True when `ancestor` is a strict ancestor of `id` (both must be known).
  bool IsAncestor(std::string_view ancestor, std::string_view id) const;
  // Every revision id, sorted.
  std::vector<std::string> Ids() const;

 private:
  // Every revision reachable from `id` along `edges` (parents or children),
  // excluding `id` itself.
  std::set<std::string> Reachable(std::string_view id,
                                  std::vector<std::string> RevisionNode::*edges) const;

  std::map<std::string, RevisionNode, std::less<>> nodes_;
};

// Builds the graph of parsed migration files (one node per file). A duplicate
// revision names both files; an unknown parent names the file that refers to
// it.
Result<RevisionGraph> BuildGraph(const std::vector<MigrationFile>& files);

}  // namespace schemaop::core
