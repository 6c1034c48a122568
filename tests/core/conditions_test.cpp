#include "core/conditions.h"

#include <gtest/gtest.h>

namespace schemaop::core {
namespace {

Condition Make(const char* type, ConditionStatus status, const char* reason, const char* message,
               std::int64_t generation = 1) {
  Condition c;
  c.type = type;
  c.status = status;
  c.reason = reason;
  c.message = message;
  c.observed_generation = generation;
  return c;
}

TEST(SetCondition, AddsNewConditionWithTransitionTimeTruncatedToSeconds) {
  std::vector<Condition> conditions;
  EXPECT_TRUE(SetCondition(conditions, Make("Ready", ConditionStatus::kFalse, "Progressing", "m"),
                           Timestamp{10'500}));
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0].last_transition_time, Timestamp{10'000});
}

TEST(SetCondition, TransitionTimeChangesOnlyWhenStatusChanges) {
  std::vector<Condition> conditions;
  (void)SetCondition(conditions, Make("Ready", ConditionStatus::kFalse, "A", "one", 1),
                     Timestamp::FromSeconds(100));
  // Same status, other reason/message/generation: updated in place, time kept.
  EXPECT_TRUE(SetCondition(conditions, Make("Ready", ConditionStatus::kFalse, "B", "two", 2),
                           Timestamp::FromSeconds(200)));
  EXPECT_EQ(conditions[0].reason, "B");
  EXPECT_EQ(conditions[0].message, "two");
  EXPECT_EQ(conditions[0].observed_generation, 2);
  EXPECT_EQ(conditions[0].last_transition_time, Timestamp::FromSeconds(100));
  // Identical: nothing changes.
  EXPECT_FALSE(SetCondition(conditions, Make("Ready", ConditionStatus::kFalse, "B", "two", 2),
                            Timestamp::FromSeconds(300)));
  // Status flips: time moves.
  EXPECT_TRUE(SetCondition(conditions, Make("Ready", ConditionStatus::kTrue, "B", "two", 2),
                           Timestamp::FromSeconds(400)));
  EXPECT_EQ(conditions[0].last_transition_time, Timestamp::FromSeconds(400));
}

TEST(SetCondition, KeepsOrderAndIgnoresCallerTransitionTime) {
  std::vector<Condition> conditions;
  (void)SetCondition(conditions, Make("Ready", ConditionStatus::kFalse, "A", ""), Timestamp{});
  (void)SetCondition(conditions, Make("Stalled", ConditionStatus::kFalse, "A", ""), Timestamp{});
  Condition c = Make("Ready", ConditionStatus::kFalse, "A", "");
  c.last_transition_time = Timestamp::FromSeconds(999);
  EXPECT_FALSE(SetCondition(conditions, c, Timestamp::FromSeconds(5)));
  EXPECT_EQ(conditions[0].type, "Ready");
  EXPECT_EQ(conditions[1].type, "Stalled");
  EXPECT_EQ(conditions[0].last_transition_time, Timestamp{});
}

TEST(FindCondition, FindsByTypeOrReturnsNull) {
  std::vector<Condition> conditions;
  (void)SetCondition(conditions, Make("Ready", ConditionStatus::kTrue, "Succeeded", ""),
                     Timestamp{});
  ASSERT_NE(FindCondition(conditions, "Ready"), nullptr);
  EXPECT_EQ(FindCondition(conditions, "Stalled"), nullptr);
  EXPECT_TRUE(IsConditionTrue(conditions, "Ready"));
  EXPECT_FALSE(IsConditionTrue(conditions, "Stalled"));
}

TEST(Rfc3339, FormatsAndParsesRoundTrip) {
  EXPECT_EQ(FormatRfc3339(Timestamp{0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(Timestamp{1'700'000'000'250}), "2023-11-14T22:13:20.250Z");
  EXPECT_EQ(FormatRfc3339(Timestamp::FromSeconds(951782400)), "2000-02-29T00:00:00Z");
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{1'700'000'000'000},
                          std::int64_t{1'700'000'000'123}, std::int64_t{-86'400'000},
                          std::int64_t{4'102'444'800'000}}) {
    auto parsed = ParseRfc3339(FormatRfc3339(Timestamp{ms}));
    ASSERT_TRUE(parsed.has_value()) << ms;
    EXPECT_EQ(parsed->unix_millis, ms);
  }
  EXPECT_EQ(ParseRfc3339("2024-05-01T14:00:00+02:00")->unix_millis,
            ParseRfc3339("2024-05-01T12:00:00Z")->unix_millis);
  EXPECT_EQ(ParseRfc3339("2024-05-01T12:00:00.5Z")->unix_millis % 1000, 500);
}

TEST(Rfc3339, RejectsMalformedText) {
  for (const char* bad : {"", "2024-05-01", "2024-05-01 12:00:00Z", "2024-13-01T00:00:00Z",
                          "2024-05-01T12:00:00", "2024-05-01T12:00:00Zjunk", "2024-05-01T25:00:00Z",
                          "2024-05-01T12:00:00.Z"}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

TEST(ConditionStatusNames, RoundTrip) {
  for (auto s : {ConditionStatus::kTrue, ConditionStatus::kFalse, ConditionStatus::kUnknown}) {
    EXPECT_EQ(ParseConditionStatus(ConditionStatusName(s)), s);
  }
  EXPECT_FALSE(ParseConditionStatus("true").has_value());
}

TEST(ReasonForCode, MapsEngineErrorsToReasons) {
  EXPECT_STREQ(ReasonForCode(Code::kUnknownRevision, "X"), reasons::kUnknownRevision);
  EXPECT_STREQ(ReasonForCode(Code::kAmbiguousRevision, "X"), reasons::kUnknownRevision);
  EXPECT_STREQ(ReasonForCode(Code::kParseError, "X"), reasons::kInvalidMigrations);
  EXPECT_STREQ(ReasonForCode(Code::kCycleDetected, "X"), reasons::kInvalidMigrations);
  EXPECT_STREQ(ReasonForCode(Code::kUnreachable, "X"), reasons::kDatabaseUnreachable);
  EXPECT_STREQ(ReasonForCode(Code::kLockHeld, "X"), reasons::kLockHeld);
  EXPECT_STREQ(ReasonForCode(Code::kVerificationFailed, "X"), reasons::kVerificationFailed);
  EXPECT_STREQ(ReasonForCode(Code::kHttpError, "X"), "X");
}

}  // namespace
}  // namespace schemaop::core
