// core/duration: the one duration parser of the CRD, the local commands and
// `schemaop controller`, against well-formed and hostile input.
#include "core/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace schemaop::core {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(ParseDurationTest, AcceptsGoStyleDurations) {
  EXPECT_EQ(ParseDuration("0").value(), milliseconds(0));
  EXPECT_EQ(ParseDuration("10s").value(), std::chrono::seconds(10));
  EXPECT_EQ(ParseDuration("5m").value(), std::chrono::minutes(5));
  EXPECT_EQ(ParseDuration("1h").value(), std::chrono::hours(1));
  EXPECT_EQ(ParseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(ParseDuration("1m30s").value(), std::chrono::seconds(90));
  EXPECT_EQ(ParseDuration("1h2m3s4ms").value(), milliseconds(3723004));
  EXPECT_EQ(ParseDuration("0s").value(), milliseconds(0));
  EXPECT_EQ(ParseDuration("007s").value(), std::chrono::seconds(7));
}

TEST(ParseDurationTest, RejectsHostileInput) {
  for (const char* bad : {"",
                          "10",
                          "s",
                          "-1s",
                          "+1s",
                          "1e9s",
                          "1.5s",
                          "10 s",
                          " 10s",
                          "10s ",
                          "10sx",
                          "10S",
                          "5d",
                          "1us",
                          "1m30",
                          "0x10s",
                          "ms",
                          "1hh",
                          "9223372036854775807ms",
                          "99999999999999999999s",
                          "1125899906842625ms",
                          "312749975h",
                          "\xff",
                          "10s\n"}) {
    auto parsed = ParseDuration(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument) << bad;
    }
  }
  EXPECT_FALSE(ParseDuration(std::string("1m\0s", 4)).ok());
  // The cap itself is accepted, one more is not.
  EXPECT_EQ(ParseDuration("1125899906842624ms").value(), milliseconds(kMaxDurationMillis));
  EXPECT_FALSE(ParseDuration("1125899906842624ms1ms").ok());
}

TEST(ParseDurationFlagTest, BareNumberNeedsAUnitByDefault) {
  auto parsed = ParseDurationFlag("--lock-timeout", "10");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), "--lock-timeout: \"10\" needs a unit, e.g. 10s");
  // "0" needs none.
  EXPECT_EQ(ParseDurationFlag("--lock-timeout", "0").value(), milliseconds(0));
  EXPECT_EQ(ParseDurationFlag("--lock-timeout", "1m30s").value(), std::chrono::seconds(90));
}

TEST(ParseDurationFlagTest, BareNumberAsSecondsWhereDocumentedSo) {
  const auto seconds = BareNumber::kSeconds;
  EXPECT_EQ(ParseDurationFlag("--lock-wait", "60", seconds).value(), std::chrono::seconds(60));
  EXPECT_EQ(ParseDurationFlag("--lock-wait", "0.2", seconds).value(), milliseconds(200));
  EXPECT_EQ(ParseDurationFlag("--lock-wait", "0.0015", seconds).value(), milliseconds(2));
  EXPECT_EQ(ParseDurationFlag("--lock-wait", "1.0004", seconds).value(), milliseconds(1000));
  EXPECT_EQ(ParseDurationFlag("--lock-wait", "10s", seconds).value(), std::chrono::seconds(10));
  for (const char* bad : {"-1", "+1", "1e3", "1.", ".5", "1.5s", "0x10", "1,5", "10 ", "",
                          "1125899906843", "99999999999999999999"}) {
    EXPECT_FALSE(ParseDurationFlag("--lock-wait", bad, seconds).ok()) << bad;
  }
  EXPECT_EQ(ParseDurationFlag("--lock-wait", "1125899906842", seconds).value(),
            milliseconds(1125899906842000));
}

TEST(ParseDurationFlagTest, ErrorsNameTheFlagTheValueAndAnExample) {
  auto negative = ParseDurationFlag("--lock-wait", "-5s", BareNumber::kSeconds);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().message(), "--lock-wait: \"-5s\" must not be negative");

  auto empty = ParseDurationFlag("--retry-period (or SCHEMAOP_RETRY_PERIOD)", "");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(),
              HasSubstr("--retry-period (or SCHEMAOP_RETRY_PERIOD): \"\" is empty"));

  for (const char* bad : {"1e9s", "10sx", "ten minutes", "1.5s", "999999999999h"}) {
    auto parsed = ParseDurationFlag("--lease-duration", bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("--lease-duration: \"" + std::string(bad) + "\" is not a duration"));
    EXPECT_THAT(parsed.status().message(), HasSubstr("e.g. 500ms, 10s, 5m, 1h or 1m30s"));
  }
  // A long digit string is not echoed back with an "s" appended.
  auto huge = ParseDurationFlag("--lock-timeout", "99999999999999999999");
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.status().message(), HasSubstr("is not a duration"));
}

TEST(ParseDurationFlagTest, HostileValuesAreShownShortAndPrintable) {
  auto parsed = ParseDurationFlag("--lock-timeout", std::string(200, 'x') + "\x1b[2J");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr(std::string(40, 'x') + "...\""));
  EXPECT_EQ(parsed.status().message().find('\x1b'), std::string::npos);
  auto control = ParseDurationFlag("--lock-timeout", "1\ns");
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.status().message(), HasSubstr("\"1?s\""));
}

}  // namespace
}  // namespace schemaop::core
