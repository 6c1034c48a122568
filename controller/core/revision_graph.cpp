#include "core/revision_graph.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <utility>

#include "core/migration_file.h"

namespace schemaop::core {
namespace {

constexpr std::size_t kMaxListedRevisions = 10;
constexpr std::size_t kMaxTypoDistance = 2;

std::string Join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += item;
  }
  return out;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

Result<RevisionGraph> RevisionGraph::Build(std::vector<RevisionNode> nodes) {
  RevisionGraph graph;
  for (RevisionNode& node : nodes) {
    if (node.id.empty()) {
      return Status(Code::kInvalidArgument, "a revision has an empty id");
    }
    // A parent listed twice is the same edge; keep the first mention.
    std::vector<std::string> parents;
    for (std::string& parent : node.parents) {
      if (std::find(parents.begin(), parents.end(), parent) == parents.end()) {
        parents.push_back(std::move(parent));
      }
    }
    node.parents = std::move(parents);
    node.children.clear();
    std::string id = node.id;
    if (!graph.nodes_.emplace(id, std::move(node)).second) {
      return Status(Code::kDuplicateRevision,
                    "revision " + id +
                        " is defined more than once; every revision id must be "
                        "unique (rename one of them)");
    }
  }
  for (auto& [id, node] : graph.nodes_) {
    for (const std::string& parent : node.parents) {
      auto it = graph.nodes_.find(parent);
      if (it == graph.nodes_.end()) {
        return Status(Code::kUnknownParent,
                      "revision " + id + " has down_revision " + parent +
                          ", which no migration defines; add the missing file or fix the "
                          "down_revision header");
      }
      it->second.children.push_back(id);
    }
  }
  for (auto& entry : graph.nodes_) {
    std::sort(entry.second.children.begin(), entry.second.children.end());
  }

  // Iterative depth-first search along parent edges; a grey node reached
  // again closes a cycle, which is reported from the path on the stack.
  enum class Colour { kWhite, kGrey, kBlack };
  std::map<std::string_view, Colour> colour;
  for (const auto& entry : graph.nodes_) {
    colour[entry.first] = Colour::kWhite;
  }
  for (const auto& entry : graph.nodes_) {
    if (colour[entry.first] != Colour::kWhite) {
      continue;
    }
    // (node, index of the next parent to visit)
    std::vector<std::pair<const RevisionNode*, std::size_t>> stack;
    stack.emplace_back(&entry.second, 0);
    colour[entry.first] = Colour::kGrey;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == node->parents.size()) {
        colour[node->id] = Colour::kBlack;
        stack.pop_back();
        continue;
      }
      const std::string& parent = node->parents[next++];
      const Colour parent_colour = colour[parent];
      if (parent_colour == Colour::kGrey) {
        std::vector<std::string> cycle;
        auto start = std::find_if(stack.begin(), stack.end(),
                                  [&](const auto& frame) { return frame.first->id == parent; });
        for (auto it = start; it != stack.end(); ++it) {
          cycle.push_back(it->first->id);
        }
        cycle.push_back(parent);
        return Status(Code::kCycleDetected,
                      "revision cycle: " + Join(cycle, " -> ") +
                          " (each arrow is a down_revision); break the cycle by fixing one of "
                          "those down_revision headers");
      }
      if (parent_colour == Colour::kWhite) {
        colour[parent] = Colour::kGrey;
        stack.emplace_back(&graph.nodes_.find(parent)->second, 0);
      }
    }
  }
  return graph;
}

bool RevisionGraph::Contains(std::string_view id) const { return nodes_.find(id) != nodes_.end(); }

const RevisionNode& RevisionGraph::Get(std::string_view id) const {
  auto it = nodes_.find(id);
  assert(it != nodes_.end());
  return it->second;
}

std::vector<std::string> RevisionGraph::Heads() const {
  std::vector<std::string> heads;
  for (const auto& [id, node] : nodes_) {
    if (node.children.empty()) {
      heads.push_back(id);
    }
  }
  return heads;
}

std::vector<std::string> RevisionGraph::Bases() const {
  std::vector<std::string> bases;
  for (const auto& [id, node] : nodes_) {
    if (node.parents.empty()) {
      bases.push_back(id);
    }
  }
  return bases;
}

std::vector<std::string> RevisionGraph::Ids() const {
  std::vector<std::string> ids;
  ids.reserve(nodes_.size());
  std::transform(nodes_.begin(), nodes_.end(), std::back_inserter(ids),
                 [](const auto& entry) { return entry.first; });
  return ids;
}

std::set<std::string> RevisionGraph::Reachable(
    std::string_view id, std::vector<std::string> RevisionNode::*edges) const {
  std::set<std::string> seen;
  std::vector<std::string> pending = {std::string(id)};
  while (!pending.empty()) {
    const std::string current = std::move(pending.back());
    pending.pop_back();
    auto it = nodes_.find(current);
    if (it == nodes_.end()) {
      continue;
    }
    for (const std::string& next : it->second.*edges) {
      if (seen.insert(next).second) {
        pending.push_back(next);
      }
    }
  }
  return seen;
}

std::set<std::string> RevisionGraph::Ancestors(std::string_view id) const {
  return Reachable(id, &RevisionNode::parents);
}

std::set<std::string> RevisionGraph::Descendants(std::string_view id) const {
  return Reachable(id, &RevisionNode::children);
}

bool RevisionGraph::IsAncestor(std::string_view ancestor, std::string_view id) const {
  return Ancestors(id).count(std::string(ancestor)) > 0;
}

std::vector<std::string> RevisionGraph::TopologicalOrder() const {
  // Kahn's algorithm with an ordered ready set: deterministic by id.
  std::map<std::string_view, std::size_t> missing_parents;
  std::set<std::string_view> ready;
  for (const auto& [id, node] : nodes_) {
    missing_parents[id] = node.parents.size();
    if (node.parents.empty()) {
      ready.insert(id);
    }
  }
  std::vector<std::string> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    const std::string_view id = *ready.begin();
    ready.erase(ready.begin());
    order.emplace_back(id);
    for (const std::string& child : nodes_.find(id)->second.children) {
      if (--missing_parents[child] == 0) {
        ready.insert(child);
      }
    }
  }
  return order;
}

Result<std::string> RevisionGraph::ResolveId(std::string_view id_or_prefix) const {
  if (id_or_prefix.empty()) {
    return Status(Code::kUnknownRevision, "empty revision id; give a revision id or a prefix");
  }
  if (Contains(id_or_prefix)) {
    return std::string(id_or_prefix);
  }
  std::vector<std::string> matches;
  for (auto it = nodes_.lower_bound(id_or_prefix);
       it != nodes_.end() && it->first.compare(0, id_or_prefix.size(), id_or_prefix) == 0; ++it) {
    matches.push_back(it->first);
  }
  if (matches.size() == 1) {
    return matches.front();
  }
  const std::string quoted = "'" + std::string(id_or_prefix) + "'";
  if (matches.size() > 1) {
    return Status(Code::kAmbiguousRevision, "revision prefix " + quoted +
                                                " is ambiguous: it matches " + Join(matches) +
                                                "; give more characters");
  }
  if (nodes_.empty()) {
    return Status(Code::kUnknownRevision,
                  "unknown revision " + quoted + ": there are no migrations at all");
  }
  std::vector<std::string> listed;
  std::string what = "known revisions";
  if (nodes_.size() <= kMaxListedRevisions) {
    listed = Ids();
  } else {
    what = "close matches";
    for (const auto& entry : nodes_) {
      // Compare with the id cut near the typed length, so a typo in a
      // prefix still finds the revision it was meant to be a prefix of.
      bool similar = false;
      const std::size_t typed = id_or_prefix.size();
      for (std::size_t length = typed > 2 ? typed - 2 : 1; length <= typed + 2; ++length) {
        similar = similar || EditDistance(std::string_view(entry.first).substr(0, length),
                                          id_or_prefix) <= kMaxTypoDistance;
      }
      if (similar && listed.size() < kMaxListedRevisions) {
        listed.push_back(entry.first);
      }
    }
  }
  std::string message = "unknown revision " + quoted + " (no revision has this id or prefix)";
  if (!listed.empty()) {
    message += "; " + what + ": " + Join(listed);
  } else {
    message += "; " + std::to_string(nodes_.size()) +
               " revisions are known, list them with `schemaop history`";
  }
  return Status(Code::kUnknownRevision, message);
}

Result<RevisionGraph> BuildGraph(const std::vector<MigrationFile>& files) {
  std::map<std::string, const MigrationFile*> by_id;
  std::vector<RevisionNode> nodes;
  nodes.reserve(files.size());
  for (const MigrationFile& file : files) {
    auto [it, inserted] = by_id.emplace(file.revision, &file);
    if (!inserted) {
      return Status(Code::kDuplicateRevision,
                    "revision " + file.revision + " is defined twice, in " +
                        it->second->source_name + " and in " + file.source_name +
                        "; every revision id must be unique (rename one of them)");
    }
    nodes.push_back(RevisionNode{file.revision, file.down_revisions, {}, file.message});
  }
  for (const MigrationFile& file : files) {
    for (const std::string& parent : file.down_revisions) {
      if (by_id.count(parent) == 0) {
        return Status(Code::kUnknownParent,
                      file.source_name + ": revision " + file.revision + " has down_revision " +
                          parent +
                          ", which no migration file defines; add the missing file or fix the "
                          "down_revision header");
      }
    }
  }
  return RevisionGraph::Build(std::move(nodes));
}

}  // namespace schemaop::core
