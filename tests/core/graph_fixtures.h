#pragma once
// Small revision graphs shared by the graph and planner tests.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/revision_graph.h"

namespace schemaop::core::testing {

// {"b", {"a"}} is revision b with down_revision a.
inline RevisionGraph MakeGraph(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& edges) {
  std::vector<RevisionNode> nodes;
  for (const auto& [id, parents] : edges) {
    nodes.push_back(RevisionNode{id, parents, {}, "message of " + id});
  }
  Result<RevisionGraph> graph = RevisionGraph::Build(std::move(nodes));
  EXPECT_TRUE(graph.ok()) << graph.status().ToString();
  return graph.ok() ? std::move(graph).value() : RevisionGraph{};
}

}  // namespace schemaop::core::testing
