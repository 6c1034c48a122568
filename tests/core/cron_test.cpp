// core/cron and core/maintenance_window: parsing the five fields (and
// refusing hostile input), next occurrences in UTC and in zones with DST,
// and the decision whether a run may start now.
#include "core/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/civil_time.h"
#include "core/maintenance_window.h"
#include "core/zoneinfo_fixture.h"

namespace schemaop::core {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kHour = 3600;

std::int64_t At(std::int64_t y, unsigned m, unsigned d, int hh, int mm) {
  return DaysFromCivil(y, m, d) * 86400 + hh * kHour + mm * 60;
}

TimeZone Zone(const std::string& name) { return testing::SystemZone(name); }

CronSchedule Cron(const std::string& text) {
  auto parsed = CronSchedule::Parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  return parsed.ok() ? parsed.value() : CronSchedule::Parse("* * * * *").value();
}

const TimeZone kUtc = TimeZone::Fixed("UTC", 0);

std::int64_t NextUtc(const std::string& text, std::int64_t after) {
  return Cron(text).Next(after, kUtc).value_or(-1);
}

TEST(CronTest, ParsesTheStandardForms) {
  const std::int64_t t = At(2026, 12, 1, 10, 7);  // a Tuesday
  EXPECT_EQ(NextUtc("* * * * *", t), t + 60);
  EXPECT_EQ(NextUtc("*/15 * * * *", t), At(2026, 12, 1, 10, 15));
  EXPECT_EQ(NextUtc("0 2 * * *", t), At(2026, 12, 2, 2, 0));
  EXPECT_EQ(NextUtc("0 2 * * SAT", t), At(2026, 12, 5, 2, 0));
  EXPECT_EQ(NextUtc("0 2 * * sat", t), At(2026, 12, 5, 2, 0));
  EXPECT_EQ(NextUtc("0 2 * * 6", t), At(2026, 12, 5, 2, 0));
  EXPECT_EQ(NextUtc("0 2 * * 7", t), At(2026, 12, 6, 2, 0));  // 7 = Sunday
  EXPECT_EQ(NextUtc("0 2 * * 0", t), At(2026, 12, 6, 2, 0));
  EXPECT_EQ(NextUtc("0 2 * * FRI-SUN", t), At(2026, 12, 4, 2, 0));
  EXPECT_EQ(NextUtc("0 2 * * 5-7", t), At(2026, 12, 4, 2, 0));
  EXPECT_EQ(NextUtc("30 1-5/2 * * *", t), At(2026, 12, 2, 1, 30));
  EXPECT_EQ(NextUtc("0 0 1 JAN,jul *", t), At(2027, 1, 1, 0, 0));
  EXPECT_EQ(NextUtc("0 0 29 2 *", t), At(2028, 2, 29, 0, 0));
  EXPECT_EQ(NextUtc("0,30 10 * * *", t), At(2026, 12, 1, 10, 30));
  EXPECT_EQ(NextUtc("  0\t2  * *   *  ", t), At(2026, 12, 2, 2, 0));
  EXPECT_EQ(NextUtc("0 12 * * *", At(2026, 12, 1, 12, 0)),
            At(2026, 12, 2, 12, 0));  // strictly after
}

TEST(CronTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  const std::int64_t t = At(2026, 12, 1, 10, 0);  // Tuesday the 1st
  // Vixie cron: "on the 15th, and on every Friday".
  EXPECT_EQ(NextUtc("0 0 15 * FRI", t), At(2026, 12, 4, 0, 0));
  EXPECT_EQ(NextUtc("0 0 15 * FRI", At(2026, 12, 12, 0, 0)), At(2026, 12, 15, 0, 0));
  // One side starting with '*' (even */n) makes it AND.
  EXPECT_EQ(NextUtc("0 0 * * FRI", t), At(2026, 12, 4, 0, 0));
  EXPECT_EQ(NextUtc("0 0 */2 * FRI", t), At(2026, 12, 11, 0, 0));  // odd days that are Fridays
  EXPECT_EQ(NextUtc("0 0 13 * */7", t), At(2026, 12, 13, 0, 0));   // the 13th AND a Sunday
}

TEST(CronTest, MatchesABruteForceSearchInUtc) {
  std::mt19937 rng(15);
  const char* fields[][6] = {
      {"*", "0", "*/7", "5-50/5", "0,15,45", "59"}, {"*", "0", "2", "*/6", "1-5", "22,23"},
      {"*", "1", "15", "*/10", "28-31", "1,31"},    {"*", "*", "2", "JAN-MAR", "*/4", "12"},
      {"*", "MON", "1-5", "0,6", "SUN", "*/3"},
  };
  for (int round = 0; round < 300; ++round) {
    std::string text;
    for (int f = 0; f < 5; ++f) {
      text += std::string(f == 0 ? "" : " ") + fields[f][rng() % 6];
    }
    const CronSchedule s = Cron(text);
    const std::int64_t start = At(2026, 1, 1, 0, 0) + (rng() % (400 * 86400));
    const std::int64_t horizon = start + 3 * 366 * 86400;
    std::int64_t brute = -1;
    for (std::int64_t m = (start / 60 + 1) * 60; m < horizon; m += 60) {
      if (s.MatchesLocal(m)) {
        brute = m;
        break;
      }
    }
    const std::int64_t next = s.Next(start, kUtc).value_or(-1);
    if (brute == -1) {
      EXPECT_TRUE(next == -1 || next >= horizon) << text << " after " << start;
      if (next != -1) {
        EXPECT_TRUE(s.MatchesLocal(next)) << text;
      }
    } else {
      EXPECT_EQ(next, brute) << text << " after " << start;
    }
  }
}

TEST(CronTest, RefusesBadSchedulesWithTheField) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "expected 5 fields"},
      {"0 2 * *", "got 4"},
      {"0 2 * * * *", "got 6"},
      {"60 2 * * *", "minute field \"60\": 60 is out of range 0-59"},
      {"0 24 * * *", "hour field"},
      {"0 2 0 * *", "day-of-month field"},
      {"0 2 32 * *", "out of range 1-31"},
      {"0 2 * 13 *", "month field"},
      {"0 2 * * 8", "day-of-week field"},
      {"0 2 * * MONDAY", "3-letter name"},
      {"0 2 * FOO *", "3-letter name"},
      {"0 2 * * 5-1", "backwards"},
      {"0 2 * * SAT-FRI", "backwards"},
      {"*/0 2 * * *", "step"},
      {"*/-1 2 * * *", "step"},
      {"5/10 2 * * *", "a step needs a range"},
      {"0,,5 2 * * *", "empty list element"},
      {"0 2 * * MON,", "empty list element"},
      {"-1 2 * * *", "not a number"},
      {"0 2 30 2 *", "never fire"},
      {"0 2 31 4,6,9,11 *", "never fire"},
      {"@daily", "macros"},
      {"0 2 * * * ; rm -rf /", "got 9"},
      {"99999999999999999999 * * * *", "not a number"},
      {"0x10 2 * * *", "not a number"},
  };
  for (const Case& c : cases) {
    auto parsed = CronSchedule::Parse(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.says)) << c.text;
  }
  EXPECT_FALSE(CronSchedule::Parse(std::string(300, '*')).ok());
  // Feb 30 with a weekday restricted is possible (OR): every Monday of February.
  EXPECT_TRUE(CronSchedule::Parse("0 2 30 2 MON").ok());
}

TEST(CronTest, SpringForwardRunsASkippedTimeAfterTheGap) {
  const TimeZone berlin = Zone("Europe/Berlin");
  const CronSchedule s = Cron("30 2 * * *");
  // 2026-03-28 02:30 CET = 01:30 UTC; on the 29th 02:30 does not exist and
  // fires at 03:30 CEST = 01:30 UTC; on the 30th 02:30 CEST = 00:30 UTC.
  EXPECT_EQ(s.Next(At(2026, 3, 27, 12, 0), berlin), At(2026, 3, 28, 1, 30));
  EXPECT_EQ(s.Next(At(2026, 3, 28, 1, 30), berlin), At(2026, 3, 29, 1, 30));
  EXPECT_EQ(s.Next(At(2026, 3, 29, 1, 30), berlin), At(2026, 3, 30, 0, 30));
  // Every minute of the skipped hour collapses onto the hour after it, once.
  const CronSchedule hourly = Cron("0 * * * *");
  EXPECT_EQ(hourly.Next(At(2026, 3, 29, 0, 0), berlin), At(2026, 3, 29, 1, 0));  // 03:00 CEST
  EXPECT_EQ(hourly.Next(At(2026, 3, 29, 1, 0), berlin), At(2026, 3, 29, 2, 0));  // 04:00 CEST
}

TEST(CronTest, FallBackRunsARepeatedTimeOnce) {
  const TimeZone berlin = Zone("Europe/Berlin");
  const CronSchedule s = Cron("30 2 * * *");
  // 2026-10-25: 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET);
  // only the first fires.
  EXPECT_EQ(s.Next(At(2026, 10, 24, 12, 0), berlin), At(2026, 10, 25, 0, 30));
  EXPECT_EQ(s.Next(At(2026, 10, 25, 0, 30), berlin), At(2026, 10, 26, 1, 30));
  const CronSchedule hourly = Cron("0 * * * *");
  EXPECT_EQ(hourly.Next(At(2026, 10, 25, 0, 0), berlin), At(2026, 10, 25, 2, 0));  // 03:00 CET
}

TEST(MaintenanceWindowTest, DurationBounds) {
  EXPECT_EQ(ParseWindowDuration("2h").value(), 7200);
  EXPECT_EQ(ParseWindowDuration("1h30m").value(), 5400);
  EXPECT_EQ(ParseWindowDuration("168h").value(), 7 * 86400);
  EXPECT_THAT(ParseWindowDuration("0").status().message(), HasSubstr("greater than 0"));
  EXPECT_THAT(ParseWindowDuration("0s").status().message(), HasSubstr("greater than 0"));
  EXPECT_THAT(ParseWindowDuration("169h").status().message(), HasSubstr("at most 7 days"));
  EXPECT_THAT(ParseWindowDuration("-2h").status().message(), HasSubstr("not a duration"));
  EXPECT_THAT(ParseWindowDuration("2 hours").status().message(), HasSubstr("not a duration"));
  EXPECT_THAT(ParseWindowDuration("1500ms").status().message(), HasSubstr("whole seconds"));
  EXPECT_FALSE(ParseWindowDuration("99999999999999999999h").ok());
}

TEST(MaintenanceWindowTest, InsideOutsideAndTheFit) {
  const CronSchedule s = Cron("0 2 * * SAT");
  const std::int64_t sat = At(2026, 12, 5, 2, 0);
  // Before: closed, next start Saturday 02:00.
  WindowDecision d = DecideWindow(s, kUtc, 7200, sat - 60, 0);
  EXPECT_FALSE(d.open);
  EXPECT_FALSE(d.inside);
  EXPECT_EQ(d.next_start, sat);
  // At the start and inside: open; at the end: closed again.
  EXPECT_TRUE(DecideWindow(s, kUtc, 7200, sat, 0).open);
  EXPECT_TRUE(DecideWindow(s, kUtc, 7200, sat + 7199, 0).open);
  d = DecideWindow(s, kUtc, 7200, sat + 7200, 0);
  EXPECT_FALSE(d.open);
  EXPECT_EQ(d.next_start, sat + 7 * 86400);
  // Inside, but the estimate does not fit in what is left.
  d = DecideWindow(s, kUtc, 7200, sat + 3600, 3601);
  EXPECT_FALSE(d.open);
  EXPECT_TRUE(d.inside);
  EXPECT_EQ(d.window_end, sat + 7200);
  EXPECT_EQ(d.next_start, sat + 7 * 86400);
  EXPECT_TRUE(DecideWindow(s, kUtc, 7200, sat + 3600, 3600).open);
  // An estimate longer than every window: never.
  d = DecideWindow(s, kUtc, 7200, sat - 60, 7201);
  EXPECT_FALSE(d.open);
  EXPECT_EQ(d.next_start, std::nullopt);
}

TEST(MaintenanceWindowTest, TouchingWindowsAreOne) {
  // Every hour for an hour: one endless window.
  const CronSchedule s = Cron("0 * * * *");
  EXPECT_TRUE(DecideWindow(s, kUtc, 3600, At(2026, 12, 1, 10, 59), 5 * kHour).open);
  // Hours 1-3 for an hour each: one window 01:00-04:00.
  const CronSchedule night = Cron("0 1-3 * * *");
  WindowDecision d = DecideWindow(night, kUtc, 3600, At(2026, 12, 1, 1, 30), 2 * kHour);
  EXPECT_TRUE(d.open);
  d = DecideWindow(night, kUtc, 3600, At(2026, 12, 1, 2, 30), 2 * kHour);
  EXPECT_FALSE(d.open);
  EXPECT_EQ(d.window_end, At(2026, 12, 1, 4, 0));
  EXPECT_EQ(d.next_start, At(2026, 12, 2, 1, 0));
}

TEST(MaintenanceWindowTest, AWindowAcrossFallBackLastsItsRealDuration) {
  const TimeZone berlin = Zone("Europe/Berlin");
  // 02:00 CEST on 2026-10-25 = 00:00 UTC; two real hours end at 02:00 UTC,
  // which is 03:00 CET on the wall clock.
  const CronSchedule s = Cron("0 2 * * *");
  const std::int64_t start = At(2026, 10, 25, 0, 0);
  EXPECT_TRUE(DecideWindow(s, berlin, 7200, start + 7199, 0).open);
  WindowDecision d = DecideWindow(s, berlin, 7200, start + 7200, 0);
  EXPECT_FALSE(d.open);
  EXPECT_EQ(d.next_start, At(2026, 10, 26, 1, 0));  // 02:00 CET
  EXPECT_EQ(FormatLocal(start + 7200, berlin), "2026-10-25 03:00 Europe/Berlin (UTC+01:00)");
  // In the repeated hour (second 02:30, CET) the window is still open.
  EXPECT_TRUE(DecideWindow(s, berlin, 7200, At(2026, 10, 25, 1, 30), 1799).open);
  EXPECT_FALSE(DecideWindow(s, berlin, 7200, At(2026, 10, 25, 1, 30), 1801).open);
}

TEST(MaintenanceWindowTest, ASpringForwardWindowStartsAfterTheGap) {
  const TimeZone berlin = Zone("Europe/Berlin");
  const CronSchedule s = Cron("30 2 * * SUN");
  // 02:30 is skipped on 2026-03-29: the window opens at 03:30 CEST.
  WindowDecision d = DecideWindow(s, berlin, 3600, At(2026, 3, 29, 0, 0), 0);
  EXPECT_EQ(d.next_start, At(2026, 3, 29, 1, 30));
  EXPECT_EQ(FormatLocal(*d.next_start, berlin), "2026-03-29 03:30 Europe/Berlin (UTC+02:00)");
  EXPECT_TRUE(DecideWindow(s, berlin, 3600, At(2026, 3, 29, 2, 29), 0).open);
  EXPECT_FALSE(DecideWindow(s, berlin, 3600, At(2026, 3, 29, 2, 30), 0).open);
}

TEST(MaintenanceWindowTest, FormatsSeconds) {
  EXPECT_EQ(FormatSeconds(0), "0s");
  EXPECT_EQ(FormatSeconds(-5), "0s");
  EXPECT_EQ(FormatSeconds(7200), "2h");
  EXPECT_EQ(FormatSeconds(5430), "1h30m30s");
  EXPECT_EQ(FormatSeconds(42), "42s");
}

}  // namespace
}  // namespace schemaop::core
