#include "core/revision_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/migration_file.h"
#include "graph_fixtures.h"

namespace schemaop::core {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeGraph;

Status BuildError(const std::vector<std::pair<std::string, std::vector<std::string>>>& edges) {
  std::vector<RevisionNode> nodes;
  for (const auto& [id, parents] : edges) {
    nodes.push_back(RevisionNode{id, parents, {}, ""});
  }
  Result<RevisionGraph> graph = RevisionGraph::Build(std::move(nodes));
  EXPECT_FALSE(graph.ok());
  return graph.ok() ? Status::Ok() : graph.status();
}

TEST(RevisionGraphTest, LinearChain) {
  const RevisionGraph graph = MakeGraph({{"c", {"b"}}, {"a", {}}, {"b", {"a"}}});
  EXPECT_EQ(graph.size(), 3u);
  EXPECT_THAT(graph.Heads(), ElementsAre("c"));
  EXPECT_THAT(graph.Bases(), ElementsAre("a"));
  EXPECT_THAT(graph.TopologicalOrder(), ElementsAre("a", "b", "c"));
  EXPECT_THAT(graph.Ancestors("c"), ElementsAre("a", "b"));
  EXPECT_THAT(graph.Ancestors("a"), IsEmpty());
  EXPECT_THAT(graph.Descendants("a"), ElementsAre("b", "c"));
  EXPECT_THAT(graph.Descendants("c"), IsEmpty());
  EXPECT_THAT(graph.Get("b").children, ElementsAre("c"));
  EXPECT_THAT(graph.Get("b").parents, ElementsAre("a"));
  EXPECT_EQ(graph.Get("b").message, "message of b");
  EXPECT_TRUE(graph.Contains("a"));
  EXPECT_FALSE(graph.Contains("d"));
  EXPECT_TRUE(graph.IsAncestor("a", "c"));
  EXPECT_FALSE(graph.IsAncestor("c", "a"));
  EXPECT_FALSE(graph.IsAncestor("a", "a"));
  EXPECT_THAT(graph.Ids(), ElementsAre("a", "b", "c"));
}

TEST(RevisionGraphTest, EmptyGraph) {
  const RevisionGraph graph = MakeGraph({});
  EXPECT_EQ(graph.size(), 0u);
  EXPECT_THAT(graph.Heads(), IsEmpty());
  EXPECT_THAT(graph.Bases(), IsEmpty());
  EXPECT_THAT(graph.TopologicalOrder(), IsEmpty());
}

TEST(RevisionGraphTest, BranchesMergesAndSeveralBases) {
  //   a - b - c --- m - n
  //        \       /
  //         d ----'        x - y   (second base)
  const RevisionGraph graph = MakeGraph({{"a", {}},
                                         {"b", {"a"}},
                                         {"c", {"b"}},
                                         {"d", {"b"}},
                                         {"m", {"c", "d"}},
                                         {"n", {"m"}},
                                         {"x", {}},
                                         {"y", {"x"}}});
  EXPECT_THAT(graph.Heads(), ElementsAre("n", "y"));
  EXPECT_THAT(graph.Bases(), ElementsAre("a", "x"));
  EXPECT_THAT(graph.Get("b").children, ElementsAre("c", "d"));
  EXPECT_THAT(graph.Ancestors("m"), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(graph.Descendants("d"), ElementsAre("m", "n"));
  // Parents first, ties by id.
  EXPECT_THAT(graph.TopologicalOrder(), ElementsAre("a", "b", "c", "d", "m", "n", "x", "y"));
}

TEST(RevisionGraphTest, TopologicalOrderPutsParentsFirstEvenWhenIdsSortOtherwise) {
  const RevisionGraph graph = MakeGraph({{"z", {}}, {"a", {"z"}}, {"m", {"a"}}, {"b", {"z"}}});
  EXPECT_THAT(graph.TopologicalOrder(), ElementsAre("z", "a", "b", "m"));
}

TEST(RevisionGraphTest, DuplicateRevision) {
  const Status status = BuildError({{"a", {}}, {"a", {}}});
  EXPECT_EQ(status.code(), Code::kDuplicateRevision);
  EXPECT_THAT(status.message(), HasSubstr("revision a is defined more than once"));
}

TEST(RevisionGraphTest, UnknownParentNamesBoth) {
  const Status status = BuildError({{"a", {}}, {"b", {"ghost"}}});
  EXPECT_EQ(status.code(), Code::kUnknownParent);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("revision b"), HasSubstr("ghost")));
}

TEST(RevisionGraphTest, CycleNamesTheRevisionsInIt) {
  const Status status = BuildError({{"base", {}}, {"a", {"c"}}, {"b", {"a"}}, {"c", {"b"}}});
  EXPECT_EQ(status.code(), Code::kCycleDetected);
  EXPECT_THAT(status.message(), HasSubstr("a -> c -> b -> a"));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("base")));
}

TEST(RevisionGraphTest, SelfParentIsACycle) {
  const Status status = BuildError({{"a", {"a"}}});
  EXPECT_EQ(status.code(), Code::kCycleDetected);
  EXPECT_THAT(status.message(), HasSubstr("a -> a"));
}

TEST(RevisionGraphTest, CycleBehindAValidPrefix) {
  // x is fine; the cycle p -> q -> p is reachable from it.
  const Status status = BuildError({{"x", {"p"}}, {"p", {"q"}}, {"q", {"p"}}});
  EXPECT_EQ(status.code(), Code::kCycleDetected);
  EXPECT_THAT(status.message(), HasSubstr("p -> q -> p"));
}

TEST(RevisionGraphTest, DuplicateParentIsOneEdge) {
  const RevisionGraph graph = MakeGraph({{"a", {}}, {"b", {"a", "a"}}});
  EXPECT_THAT(graph.Get("b").parents, ElementsAre("a"));
  EXPECT_THAT(graph.Get("a").children, ElementsAre("b"));
}

TEST(RevisionGraphTest, ResolveIdExactAndUniquePrefix) {
  const RevisionGraph graph = MakeGraph({{"9bc6a98f1c12", {}},
                                         {"add_flexible_schemas", {"9bc6a98f1c12"}},
                                         {"add_flexible", {"9bc6a98f1c12"}}});
  EXPECT_EQ(*graph.ResolveId("9bc6a98f1c12"), "9bc6a98f1c12");
  EXPECT_EQ(*graph.ResolveId("9b"), "9bc6a98f1c12");
  // An exact id wins over being a prefix of another id.
  EXPECT_EQ(*graph.ResolveId("add_flexible"), "add_flexible");
  EXPECT_EQ(*graph.ResolveId("add_flexible_s"), "add_flexible_schemas");
}

TEST(RevisionGraphTest, ResolveIdAmbiguousListsCandidates) {
  const RevisionGraph graph = MakeGraph({{"abc1", {}}, {"abc2", {"abc1"}}, {"xyz", {"abc2"}}});
  const Result<std::string> result = graph.ResolveId("abc");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kAmbiguousRevision);
  EXPECT_THAT(result.status().message(), HasSubstr("abc1, abc2"));
  EXPECT_THAT(result.status().message(), ::testing::Not(HasSubstr("xyz")));
}

TEST(RevisionGraphTest, ResolveIdUnknownListsKnownRevisions) {
  const RevisionGraph graph = MakeGraph({{"a1", {}}, {"b2", {"a1"}}});
  const Result<std::string> result = graph.ResolveId("zzz");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnknownRevision);
  EXPECT_THAT(result.status().message(),
              AllOf(HasSubstr("'zzz'"), HasSubstr("known revisions: a1, b2")));
  EXPECT_EQ(graph.ResolveId("").status().code(), Code::kUnknownRevision);
  EXPECT_EQ(MakeGraph({}).ResolveId("a").status().code(), Code::kUnknownRevision);
}

TEST(RevisionGraphTest, ResolveIdUnknownInLargeGraphListsCloseOnes) {
  std::vector<std::pair<std::string, std::vector<std::string>>> edges = {{"rev_00", {}}};
  for (int i = 1; i < 30; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "rev_%02d", i);
    char parent[16];
    std::snprintf(parent, sizeof parent, "rev_%02d", i - 1);
    edges.push_back({id, {parent}});
  }
  edges.push_back({"seed_default_schemas", {"rev_29"}});
  const RevisionGraph graph = MakeGraph(edges);
  const Result<std::string> result = graph.ResolveId("seed_defualt");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("close matches: seed_default_schemas"));
  EXPECT_THAT(result.status().message(), ::testing::Not(HasSubstr("rev_05")));
}

MigrationFile File(std::string name, std::string revision, std::vector<std::string> parents) {
  MigrationFile file;
  file.source_name = std::move(name);
  file.revision = std::move(revision);
  file.down_revisions = std::move(parents);
  return file;
}

TEST(BuildGraphTest, FromMigrationFiles) {
  Result<RevisionGraph> graph = BuildGraph({File("a.sql", "a", {}), File("b.sql", "b", {"a"})});
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_THAT(graph->Heads(), ElementsAre("b"));
}

TEST(BuildGraphTest, DuplicateNamesBothFiles) {
  Result<RevisionGraph> graph = BuildGraph({File("one.sql", "a", {}), File("two.sql", "a", {})});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), Code::kDuplicateRevision);
  EXPECT_THAT(graph.status().message(), AllOf(HasSubstr("one.sql"), HasSubstr("two.sql")));
}

TEST(BuildGraphTest, UnknownParentNamesTheFile) {
  Result<RevisionGraph> graph = BuildGraph({File("b.sql", "b", {"a"})});
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), Code::kUnknownParent);
  EXPECT_THAT(graph.status().message(), AllOf(HasSubstr("b.sql"), HasSubstr("down_revision a")));
}

}  // namespace
}  // namespace schemaop::core
