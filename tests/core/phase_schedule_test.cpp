// The phase rule (design §3.1): expand is the longest prefix of expand
// sections in plan order, contract the longest suffix of contract sections,
// the window everything between; each step's version rows are moved into
// the window, so the version table moves at the window and never in
// expand or contract.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/phase_schedule.h"

namespace schemaop::core {
namespace {

using ::testing::ElementsAre;

constexpr SectionPhase E = SectionPhase::kExpand;
constexpr SectionPhase W = SectionPhase::kWindow;
constexpr SectionPhase C = SectionPhase::kContract;

std::vector<std::string> Lines(const std::vector<std::vector<SectionPhase>>& steps) {
  std::vector<std::string> revisions;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    revisions.push_back("r" + std::to_string(s + 1));
  }
  return DescribeSchedule(SchedulePhases(steps), revisions);
}

TEST(PhaseScheduleTest, OneStepWithEveryPhase) {
  EXPECT_THAT(Lines({{E, E, W, C}}),
              ElementsAre("expand: r1#1 r1#2", "window: r1#3 r1(version)", "contract: r1#4"));
}

TEST(PhaseScheduleTest, NoPhasesIsAllWindowAsBefore) {
  EXPECT_THAT(Lines({{W, W}, {W}}),
              ElementsAre("expand:", "window: r1#1 r1#2 r1(version) r2#1 r2(version)",
                          "contract:"));
  const PhaseSchedule schedule = SchedulePhases({{W, W}, {W}});
  EXPECT_FALSE(schedule.HasExpand());
  EXPECT_FALSE(schedule.HasContract());
}

// Two steps: step 1's expand and step 2's expand are both in the prefix
// only when nothing else lies between them.
TEST(PhaseScheduleTest, MultiStepExpandPrefixAndContractSuffix) {
  EXPECT_THAT(Lines({{E}, {E, W, C}}),
              ElementsAre("expand: r1#1 r2#1", "window: r1(version) r2#2 r2(version)",
                          "contract: r2#3"));
  EXPECT_THAT(Lines({{E, W, C}, {E, W, C}}),
              ElementsAre("expand: r1#1",
                          "window: r1#2 r1#3 r1(version) r2#1 r2#2 r2(version)",
                          "contract: r2#3"));
}

// An expand section after a window section runs in the window (safe, not
// optimal); a contract section before one too. File order is kept.
TEST(PhaseScheduleTest, ExpandAfterWindowRunsInTheWindow) {
  EXPECT_THAT(Lines({{W}, {E, W}}),
              ElementsAre("expand:", "window: r1#1 r1(version) r2#1 r2#2 r2(version)",
                          "contract:"));
  EXPECT_THAT(Lines({{C}, {W}}),
              ElementsAre("expand:", "window: r1#1 r1(version) r2#1 r2(version)",
                          "contract:"));
}

// Steps lying wholly in the contract suffix are stamped at the window's
// end, in plan order; wholly-expand steps at its start.
TEST(PhaseScheduleTest, StampsAreMovedIntoTheWindow) {
  EXPECT_THAT(Lines({{E, W}, {C}, {C}}),
              ElementsAre("expand: r1#1", "window: r1#2 r1(version) r2(version) r3(version)",
                          "contract: r2#1 r3#1"));
  EXPECT_THAT(Lines({{E}, {E}}),
              ElementsAre("expand: r1#1 r2#1", "window: r1(version) r2(version)", "contract:"));
  EXPECT_THAT(Lines({{C}, {C}}),
              ElementsAre("expand:", "window: r1(version) r2(version)", "contract: r1#1 r2#1"));
}

// A downgrade is scheduled by the same rule over its down sections,
// children first (the planner's order).
TEST(PhaseScheduleTest, DowngradeUsesTheSameRule) {
  EXPECT_THAT(Lines({{E, W}, {W, C}}),
              ElementsAre("expand: r1#1", "window: r1#2 r1(version) r2#1 r2(version)",
                          "contract: r2#2"));
}

TEST(PhaseScheduleTest, CursorsNameUnits) {
  const PhaseSchedule schedule = SchedulePhases({{E, W}, {C}});
  // Units: r1#1 | r1#2 r1(v) r2(v) | r2#1
  EXPECT_EQ(schedule.window_begin, 1u);
  EXPECT_EQ(schedule.contract_begin, 4u);
  EXPECT_EQ(schedule.IndexOf(0, 1), 1u);
  EXPECT_EQ(schedule.IndexOf(0, 2), 2u);  // r1's stamp: one past its sections
  EXPECT_EQ(schedule.IndexOf(1, 1), 3u);  // r2's stamp
  EXPECT_EQ(schedule.IndexOf(1, 0), 4u);
  EXPECT_EQ(schedule.IndexOf(2, 0), schedule.units.size());  // the end of the plan
  EXPECT_EQ(schedule.Begin(RunPhase::kContract), 4u);
  EXPECT_EQ(schedule.End(RunPhase::kExpand), 1u);
  EXPECT_EQ(schedule.End(RunPhase::kAll), 5u);
}

TEST(PhaseScheduleTest, PhaseNames) {
  EXPECT_EQ(ParseRunPhase("expand"), RunPhase::kExpand);
  EXPECT_EQ(ParseRunPhase("window"), RunPhase::kWindow);
  EXPECT_EQ(ParseRunPhase("contract"), RunPhase::kContract);
  EXPECT_EQ(ParseRunPhase("all"), RunPhase::kAll);
  EXPECT_EQ(ParseRunPhase("Expand"), std::nullopt);
  EXPECT_EQ(ParseRunPhase(""), std::nullopt);
}

TEST(PhaseScheduleTest, EmptyPlan) {
  const PhaseSchedule schedule = SchedulePhases({});
  EXPECT_TRUE(schedule.units.empty());
  EXPECT_FALSE(schedule.HasExpand());
  EXPECT_FALSE(schedule.HasContract());
}

}  // namespace
}  // namespace schemaop::core
