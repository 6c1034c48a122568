#include "core/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "graph_fixtures.h"

namespace schemaop::core {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeGraph;
using Versions = std::vector<std::string>;

// a - b - c - d
RevisionGraph Linear() { return MakeGraph({{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"d", {"c"}}}); }

// a - b - c
//      \  (d branches off b)
//       d          (heads c and d)
RevisionGraph Branched() {
  return MakeGraph({{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"d", {"b"}}});
}

// a - b - c - m - n
//      \     /  (d branches off b, m merges c and d)
//       d --'
RevisionGraph Merged() {
  return MakeGraph(
      {{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"d", {"b"}}, {"m", {"c", "d"}}, {"n", {"m"}}});
}

// a        x - y   (two bases, heads a and y)
RevisionGraph TwoBases() { return MakeGraph({{"a", {}}, {"x", {}}, {"y", {"x"}}}); }

// "d-:c" style summary of a plan: revision, direction, rows after.
std::vector<std::string> Steps(const Plan& plan) {
  std::vector<std::string> out;
  for (const PlanStep& step : plan.steps) {
    std::string rows;
    for (const std::string& row : step.versions_after) {
      rows += (rows.empty() ? "" : ",") + row;
    }
    out.push_back(step.revision + (step.direction == Direction::kUp ? "+" : "-") + ":" + rows);
  }
  return out;
}

Plan PlanOk(const RevisionGraph& graph, const Versions& current, std::string_view target,
            PlanMode mode = PlanMode::kAuto) {
  Result<Plan> plan = PlanMigration(graph, current, target, mode);
  EXPECT_TRUE(plan.ok()) << target << ": " << plan.status().ToString();
  return plan.ok() ? std::move(plan).value() : Plan{};
}

Status PlanError(const RevisionGraph& graph, const Versions& current, std::string_view target,
                 PlanMode mode = PlanMode::kAuto) {
  Result<Plan> plan = PlanMigration(graph, current, target, mode);
  EXPECT_FALSE(plan.ok()) << target << " planned although it should not";
  return plan.ok() ? Status::Ok() : plan.status();
}

Versions TargetOk(const RevisionGraph& graph, const Versions& current, std::string_view target) {
  Result<Versions> resolved = ResolveTarget(graph, current, target);
  EXPECT_TRUE(resolved.ok()) << target << ": " << resolved.status().ToString();
  return resolved.ok() ? *resolved : Versions{"<error>"};
}

Status TargetError(const RevisionGraph& graph, const Versions& current, std::string_view target) {
  Result<Versions> resolved = ResolveTarget(graph, current, target);
  EXPECT_FALSE(resolved.ok()) << target << " resolved although it should not";
  return resolved.ok() ? Status::Ok() : resolved.status();
}

// ---------------------------------------------------------------- linear

TEST(PlannerTest, LinearUpgradeFromBaseToHead) {
  const Plan plan = PlanOk(Linear(), {}, "head");
  EXPECT_THAT(plan.from_versions, IsEmpty());
  EXPECT_THAT(plan.to_versions, ElementsAre("d"));
  EXPECT_THAT(Steps(plan), ElementsAre("a+:a", "b+:b", "c+:c", "d+:d"));
  EXPECT_TRUE(plan.HasUpgrade());
  EXPECT_FALSE(plan.HasDowngrade());
  EXPECT_FALSE(plan.empty());
}

TEST(PlannerTest, LinearUpgradeFromMiddle) {
  const Plan plan = PlanOk(Linear(), {"b"}, "d");
  EXPECT_THAT(plan.from_versions, ElementsAre("b"));
  EXPECT_THAT(Steps(plan), ElementsAre("c+:c", "d+:d"));
}

TEST(PlannerTest, LinearDowngradeToRevision) {
  const Plan plan = PlanOk(Linear(), {"d"}, "b");
  EXPECT_THAT(Steps(plan), ElementsAre("d-:c", "c-:b"));
  EXPECT_THAT(plan.to_versions, ElementsAre("b"));
  EXPECT_TRUE(plan.HasDowngrade());
  EXPECT_FALSE(plan.HasUpgrade());
}

TEST(PlannerTest, LinearDowngradeToBase) {
  const Plan plan = PlanOk(Linear(), {"d"}, "base");
  EXPECT_THAT(Steps(plan), ElementsAre("d-:c", "c-:b", "b-:a", "a-:"));
  EXPECT_THAT(plan.to_versions, IsEmpty());
}

TEST(PlannerTest, AlreadyAtTargetIsAnEmptyPlan) {
  for (const char* target : {"d", "head", "heads", "+0", "-0"}) {
    const Plan plan = PlanOk(Linear(), {"d"}, target);
    EXPECT_TRUE(plan.empty()) << target;
    EXPECT_THAT(plan.from_versions, ElementsAre("d"));
    EXPECT_THAT(plan.to_versions, ElementsAre("d"));
  }
  const Plan at_base = PlanOk(Linear(), {}, "base");
  EXPECT_TRUE(at_base.empty());
  EXPECT_THAT(at_base.to_versions, IsEmpty());
  // Already there is fine whatever the mode.
  EXPECT_TRUE(PlanOk(Linear(), {"b"}, "b", PlanMode::kUpgrade).empty());
  EXPECT_TRUE(PlanOk(Linear(), {"b"}, "b", PlanMode::kDowngrade).empty());
}

TEST(PlannerTest, DuplicateCurrentRowsAreOneVersion) {
  const Plan plan = PlanOk(Linear(), {"c", "c"}, "d");
  EXPECT_THAT(plan.from_versions, ElementsAre("c"));
  EXPECT_THAT(Steps(plan), ElementsAre("d+:d"));
}

TEST(PlannerTest, PrefixTargetAndSurroundingSpaces) {
  const RevisionGraph graph = MakeGraph({{"9bc6a98f1c12", {}},
                                         {"add_flexible_schemas", {"9bc6a98f1c12"}},
                                         {"seed_default_schemas", {"add_flexible_schemas"}}});
  const Plan plan = PlanOk(graph, {"seed_default_schemas"}, " 9bc ");
  EXPECT_THAT(Steps(plan), ElementsAre("seed_default_schemas-:add_flexible_schemas",
                                       "add_flexible_schemas-:9bc6a98f1c12"));
}

// ------------------------------------------------------------ modes

TEST(PlannerTest, UpgradeModeRefusesADowngrade) {
  const Status status = PlanError(Linear(), {"d"}, "b", PlanMode::kUpgrade);
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("'b'"), HasSubstr("use downgrade")));
  EXPECT_EQ(PlanError(Linear(), {"d"}, "base", PlanMode::kUpgrade).code(), Code::kInvalidArgument);
}

TEST(PlannerTest, DowngradeModeRefusesAnUpgrade) {
  const Status status = PlanError(Linear(), {"b"}, "head", PlanMode::kDowngrade);
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("use upgrade"));
  // A revision on another branch is an upgrade target (adds a branch).
  EXPECT_THAT(PlanError(Branched(), {"c"}, "d", PlanMode::kDowngrade).message(),
              HasSubstr("use upgrade"));
}

TEST(PlannerTest, ModesAllowTheirOwnDirection) {
  EXPECT_THAT(Steps(PlanOk(Linear(), {"b"}, "c", PlanMode::kUpgrade)), ElementsAre("c+:c"));
  EXPECT_THAT(Steps(PlanOk(Linear(), {"c"}, "b", PlanMode::kDowngrade)), ElementsAre("c-:b"));
}

TEST(PlannerTest, PlanModeName) {
  EXPECT_EQ(PlanModeName(PlanMode::kAuto), "auto");
  EXPECT_EQ(PlanModeName(PlanMode::kUpgrade), "upgrade");
  EXPECT_EQ(PlanModeName(PlanMode::kDowngrade), "downgrade");
}

// ---------------------------------------------------------- branches

TEST(PlannerTest, HeadWithSeveralHeadsIsAnError) {
  const Status status = PlanError(Branched(), {"b"}, "head");
  EXPECT_EQ(status.code(), Code::kMultipleHeads);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("c, d"), HasSubstr("heads")));
}

TEST(PlannerTest, HeadsUpgradesEveryBranch) {
  const Plan plan = PlanOk(Branched(), {}, "heads");
  EXPECT_THAT(Steps(plan), ElementsAre("a+:a", "b+:b", "c+:c", "d+:c,d"));
  EXPECT_THAT(plan.to_versions, ElementsAre("c", "d"));
}

TEST(PlannerTest, UpgradeToOtherBranchAddsABranchRow) {
  const Plan plan = PlanOk(Branched(), {"c"}, "d", PlanMode::kUpgrade);
  EXPECT_THAT(Steps(plan), ElementsAre("d+:c,d"));
  EXPECT_THAT(plan.from_versions, ElementsAre("c"));
  EXPECT_THAT(plan.to_versions, ElementsAre("c", "d"));
}

TEST(PlannerTest, DowngradeOneBranchKeepsTheOther) {
  const Plan plan = PlanOk(Branched(), {"c", "d"}, "b");
  // Children first; the branch point b becomes a row only once neither
  // branch builds on it.
  EXPECT_THAT(Steps(plan), ElementsAre("d-:c", "c-:b"));
  EXPECT_THAT(plan.to_versions, ElementsAre("b"));
}

TEST(PlannerTest, DowngradeBranchedToBase) {
  const Plan plan = PlanOk(Branched(), {"c", "d"}, "base");
  EXPECT_THAT(Steps(plan), ElementsAre("d-:c", "c-:b", "b-:a", "a-:"));
}

TEST(PlannerTest, DowngradeToRevisionOnOneBranchLeavesTheOtherHead) {
  // a - b - c - c2, with d on the other branch.
  const RevisionGraph graph =
      MakeGraph({{"a", {}}, {"b", {"a"}}, {"c", {"b"}}, {"c2", {"c"}}, {"d", {"b"}}});
  const Plan plan = PlanOk(graph, {"c2", "d"}, "c");
  EXPECT_THAT(Steps(plan), ElementsAre("c2-:c,d"));
  EXPECT_THAT(plan.to_versions, ElementsAre("c", "d"));
}

// ------------------------------------------------------------ merges

TEST(PlannerTest, UpgradeThroughAMergeReplacesBothParents) {
  const Plan plan = PlanOk(Merged(), {"c", "d"}, "head");
  EXPECT_THAT(Steps(plan), ElementsAre("m+:m", "n+:n"));
  EXPECT_THAT(plan.from_versions, ElementsAre("c", "d"));
}

TEST(PlannerTest, UpgradeFromOneBranchThroughTheMerge) {
  const Plan plan = PlanOk(Merged(), {"c"}, "head");
  EXPECT_THAT(Steps(plan), ElementsAre("d+:c,d", "m+:m", "n+:n"));
}

TEST(PlannerTest, UpgradeFromBaseThroughTheMerge) {
  const Plan plan = PlanOk(Merged(), {}, "n");
  EXPECT_THAT(Steps(plan), ElementsAre("a+:a", "b+:b", "c+:c", "d+:c,d", "m+:m", "n+:n"));
}

TEST(PlannerTest, DowngradeBelowAMergeUnmerges) {
  const Plan plan = PlanOk(Merged(), {"n"}, "m");
  EXPECT_THAT(Steps(plan), ElementsAre("n-:m"));
  // To one parent of the merge: the other parent stays applied (Alembic).
  const Plan to_c = PlanOk(Merged(), {"n"}, "c");
  EXPECT_THAT(Steps(to_c), ElementsAre("n-:m", "m-:c,d"));
  EXPECT_THAT(to_c.to_versions, ElementsAre("c", "d"));
}

TEST(PlannerTest, DowngradeFromMergeToBranchPoint) {
  const Plan plan = PlanOk(Merged(), {"n"}, "b");
  EXPECT_THAT(Steps(plan), ElementsAre("n-:m", "m-:c,d", "d-:c", "c-:b"));
  EXPECT_THAT(plan.to_versions, ElementsAre("b"));
}

// --------------------------------------------------- several bases

TEST(PlannerTest, SeveralBases) {
  const RevisionGraph graph = TwoBases();
  EXPECT_EQ(PlanError(graph, {}, "head").code(), Code::kMultipleHeads);
  EXPECT_THAT(Steps(PlanOk(graph, {}, "heads")), ElementsAre("a+:a", "x+:a,x", "y+:a,y"));
  EXPECT_THAT(Steps(PlanOk(graph, {"a", "y"}, "base")), ElementsAre("y-:a,x", "x-:a", "a-:"));
  EXPECT_THAT(Steps(PlanOk(graph, {"a"}, "y")), ElementsAre("x+:a,x", "y+:a,y"));
  const Status status = TargetError(graph, {}, "+1");
  EXPECT_EQ(status.code(), Code::kMultipleBases);
  EXPECT_THAT(status.message(), HasSubstr("a, x"));
}

TEST(PlannerTest, EmptyGraph) {
  const RevisionGraph graph = MakeGraph({});
  EXPECT_TRUE(PlanOk(graph, {}, "head").empty());
  EXPECT_TRUE(PlanOk(graph, {}, "heads").empty());
  EXPECT_TRUE(PlanOk(graph, {}, "base").empty());
  EXPECT_EQ(PlanError(graph, {}, "head+1").code(), Code::kNotFound);
  EXPECT_EQ(PlanError(graph, {}, "+1").code(), Code::kRangeError);
}

// ------------------------------------------------- relative targets

TEST(ResolveTargetTest, RelativeToCurrent) {
  const RevisionGraph graph = Linear();
  EXPECT_THAT(TargetOk(graph, {"b"}, "+1"), ElementsAre("c"));
  EXPECT_THAT(TargetOk(graph, {"b"}, "+2"), ElementsAre("d"));
  EXPECT_THAT(TargetOk(graph, {"b"}, "-1"), ElementsAre("a"));
  EXPECT_THAT(TargetOk(graph, {"b"}, "-2"), IsEmpty());
  EXPECT_THAT(TargetOk(graph, {}, "+1"), ElementsAre("a"));
  EXPECT_THAT(TargetOk(graph, {}, "+4"), ElementsAre("d"));
}

TEST(ResolveTargetTest, RelativeToANamedRevision) {
  const RevisionGraph graph = Linear();
  EXPECT_THAT(TargetOk(graph, {}, "c-1"), ElementsAre("b"));
  EXPECT_THAT(TargetOk(graph, {}, "a+3"), ElementsAre("d"));
  EXPECT_THAT(TargetOk(graph, {}, "head-2"), ElementsAre("b"));
  EXPECT_THAT(TargetOk(graph, {}, "base+1"), ElementsAre("a"));
  EXPECT_THAT(TargetOk(graph, {}, "a-1"), IsEmpty());
}

TEST(ResolveTargetTest, PastHeadOrBaseIsARangeError) {
  const RevisionGraph graph = Linear();
  Status status = TargetError(graph, {"b"}, "+3");
  EXPECT_EQ(status.code(), Code::kRangeError);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("'+3'"), HasSubstr("head d"), HasSubstr("+2")));
  status = TargetError(graph, {"b"}, "-3");
  EXPECT_EQ(status.code(), Code::kRangeError);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("below base"), HasSubstr("-2")));
  EXPECT_EQ(TargetError(graph, {}, "-1").code(), Code::kRangeError);
  EXPECT_EQ(TargetError(graph, {}, "d+1").code(), Code::kRangeError);
  EXPECT_EQ(TargetError(graph, {}, "base-1").code(), Code::kRangeError);
}

TEST(ResolveTargetTest, RelativeNeedsOneCurrentVersion) {
  const Status status = TargetError(Branched(), {"c", "d"}, "-1");
  EXPECT_EQ(status.code(), Code::kMultipleHeads);
  EXPECT_THAT(status.message(), HasSubstr("c, d"));
}

TEST(ResolveTargetTest, RelativeWalkThroughForkIsAmbiguous) {
  Status status = TargetError(Branched(), {"b"}, "+1");
  EXPECT_EQ(status.code(), Code::kAmbiguousRevision);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("branch point"), HasSubstr("c, d")));
  status = TargetError(Merged(), {"m"}, "-1");
  EXPECT_EQ(status.code(), Code::kAmbiguousRevision);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("merge"), HasSubstr("c, d")));
}

TEST(ResolveTargetTest, NamedTargets) {
  EXPECT_THAT(TargetOk(Branched(), {}, "heads"), ElementsAre("c", "d"));
  EXPECT_THAT(TargetOk(Linear(), {}, "head"), ElementsAre("d"));
  EXPECT_THAT(TargetOk(Linear(), {"d"}, "base"), IsEmpty());
  EXPECT_THAT(TargetOk(Linear(), {}, "c"), ElementsAre("c"));
}

TEST(ResolveTargetTest, BadTargets) {
  EXPECT_EQ(TargetError(Linear(), {}, "").code(), Code::kInvalidArgument);
  EXPECT_EQ(TargetError(Linear(), {}, "  ").code(), Code::kInvalidArgument);
  EXPECT_EQ(TargetError(Linear(), {}, "+x").code(), Code::kInvalidArgument);
  EXPECT_EQ(TargetError(Linear(), {}, "b+").code(), Code::kInvalidArgument);
  EXPECT_EQ(TargetError(Linear(), {}, "+99999999999").code(), Code::kInvalidArgument);
  EXPECT_EQ(TargetError(Branched(), {}, "heads-1").code(), Code::kInvalidArgument);
  const Status unknown = TargetError(Linear(), {}, "zz");
  EXPECT_EQ(unknown.code(), Code::kUnknownRevision);
  EXPECT_THAT(unknown.message(), HasSubstr("a, b, c, d"));
  EXPECT_EQ(TargetError(Linear(), {}, "zz+1").code(), Code::kUnknownRevision);
  const RevisionGraph prefixes = MakeGraph({{"ab1", {}}, {"ab2", {"ab1"}}});
  EXPECT_EQ(TargetError(prefixes, {}, "ab").code(), Code::kAmbiguousRevision);
}

// ---------------------------------------------- current version errors

TEST(PlannerTest, CurrentVersionMissingFromTheFilesIsNamedWithTheFix) {
  const Status status = PlanError(Linear(), {"e5"}, "head");
  EXPECT_EQ(status.code(), Code::kUnknownRevision);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("database is at revision e5"),
                                      HasSubstr("which no migration file defines"),
                                      HasSubstr("ship the migration file"), HasSubstr("stamp")));
  EXPECT_EQ(TargetError(Linear(), {"e5"}, "+1").code(), Code::kUnknownRevision);
}

TEST(PlannerTest, OverlappingCurrentVersionsAreRejected) {
  const Status status = PlanError(Linear(), {"a", "c"}, "head");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
  EXPECT_THAT(status.message(), AllOf(HasSubstr("a is an ancestor of c"), HasSubstr("stamp")));
}

// ------------------------------------------ exhaustive consistency check

// Independent model: the rows are exactly the applied revisions that no
// applied revision builds on.
std::vector<std::string> HeadsOf(const RevisionGraph& graph, const std::set<std::string>& applied) {
  std::vector<std::string> heads;
  for (const std::string& id : applied) {
    bool has_applied_child = false;
    for (const std::string& child : graph.Get(id).children) {
      has_applied_child = has_applied_child || applied.count(child) > 0;
    }
    if (!has_applied_child) {
      heads.push_back(id);
    }
  }
  return heads;
}

std::set<std::string> Closure(const RevisionGraph& graph, const std::vector<std::string>& rows) {
  std::set<std::string> applied;
  for (const std::string& row : rows) {
    applied.insert(row);
    for (const std::string& ancestor : graph.Ancestors(row)) {
      applied.insert(ancestor);
    }
  }
  return applied;
}

TEST(PlannerTest, EveryPlanKeepsRowsEqualToTheAppliedHeads) {
  // A graph with a branch, a merge, a second base and a dangling branch.
  const RevisionGraph graph = MakeGraph({{"a", {}},
                                         {"b", {"a"}},
                                         {"c", {"b"}},
                                         {"d", {"b"}},
                                         {"e", {"d"}},
                                         {"m", {"c", "e"}},
                                         {"n", {"m"}},
                                         {"f", {"d"}},
                                         {"x", {}},
                                         {"y", {"x"}}});
  std::vector<std::vector<std::string>> starts = {{}};
  for (const std::string& id : graph.Ids()) {
    starts.push_back({id});
  }
  starts.push_back({"c", "e"});
  starts.push_back({"c", "f"});
  starts.push_back({"n", "f", "y"});
  starts.push_back(graph.Heads());
  std::vector<std::string> targets = graph.Ids();
  targets.insert(targets.end(), {"heads", "base"});
  int plans = 0;
  for (const auto& start : starts) {
    for (const std::string& target : targets) {
      const Plan plan = PlanOk(graph, start, target);
      std::set<std::string> applied = Closure(graph, start);
      for (const PlanStep& step : plan.steps) {
        const RevisionNode& node = graph.Get(step.revision);
        if (step.direction == Direction::kUp) {
          ASSERT_EQ(applied.count(step.revision), 0u) << target;
          for (const std::string& parent : node.parents) {
            ASSERT_EQ(applied.count(parent), 1u) << step.revision << " before its parent";
          }
          applied.insert(step.revision);
        } else {
          ASSERT_EQ(applied.count(step.revision), 1u) << target;
          for (const std::string& child : node.children) {
            ASSERT_EQ(applied.count(child), 0u) << step.revision << " before its child";
          }
          applied.erase(step.revision);
        }
        ASSERT_EQ(step.versions_after, HeadsOf(graph, applied))
            << "after " << step.revision << " planning " << target;
      }
      EXPECT_EQ(plan.to_versions, HeadsOf(graph, applied));
      // The target is reached: it and its ancestors are applied, none of
      // its descendants are, and the other branches are left alone.
      if (target == "base") {
        EXPECT_THAT(applied, IsEmpty());
      } else if (target != "heads") {
        EXPECT_EQ(applied.count(target), 1u);
        for (const std::string& descendant : graph.Descendants(target)) {
          EXPECT_EQ(applied.count(descendant), 0u) << target;
        }
      }
      // Re-planning from the result is a no-op.
      EXPECT_TRUE(PlanOk(graph, plan.to_versions, target).empty()) << target;
      ++plans;
    }
  }
  EXPECT_EQ(plans, 15 * 12);  // 15 starting points, 12 targets
}

}  // namespace
}  // namespace schemaop::core
