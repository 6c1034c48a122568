// core/time_zone: the TZif reader and UTC <-> local conversion, against the
// system tzdata (/usr/share/zoneinfo, Debian package tzdata, installed by
// scripts/setup) and against hand-built and hostile TZif bytes.
#include "core/time_zone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/civil_time.h"
#include "core/zoneinfo_fixture.h"

namespace schemaop::core {
namespace {

using ::testing::HasSubstr;

constexpr std::int64_t kHour = 3600;

std::int64_t Local(std::int64_t y, unsigned m, unsigned d, int hh, int mm) {
  return DaysFromCivil(y, m, d) * 86400 + hh * kHour + mm * 60;
}

using testing::ReadZoneFile;
using testing::SystemZone;

void Put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// A TZif v2 file: an empty v1 block, then the given transitions (all of
// local time type `to_type`), types (offset, isdst) and footer.
std::string BuildTzif(const std::vector<std::pair<std::int64_t, int>>& transitions,
                      const std::vector<std::int32_t>& offsets, const std::string& footer,
                      std::uint32_t leapcnt = 0) {
  std::string out;
  auto header = [&](std::uint32_t timecnt, std::uint32_t typecnt, std::uint32_t charcnt,
                    std::uint32_t leaps) {
    out += "TZif2";
    out += std::string(15, '\0');
    for (std::uint32_t v : {0u, 0u, leaps, timecnt, typecnt, charcnt}) {
      Put32(out, v);
    }
  };
  header(0, 1, 1, 0);
  out += std::string(6, '\0') + std::string(1, '\0');  // one type, one char
  header(static_cast<std::uint32_t>(transitions.size()), static_cast<std::uint32_t>(offsets.size()),
         4, leapcnt);
  for (const auto& t : transitions) {
    Put32(out, static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.first) >> 32));
    Put32(out, static_cast<std::uint32_t>(t.first & 0xffffffff));
  }
  for (const auto& t : transitions) {
    out.push_back(static_cast<char>(t.second));
  }
  for (std::int32_t off : offsets) {
    Put32(out, static_cast<std::uint32_t>(off));
    out += std::string(2, '\0');
  }
  out += std::string("XYZ") + '\0';
  out += std::string(leapcnt * 12, '\0');
  out += "\n" + footer + "\n";
  return out;
}

TEST(TimeZoneTest, BerlinOffsetsAroundDst) {
  const TimeZone berlin = SystemZone("Europe/Berlin");
  // 2026-03-29 01:00 UTC clocks go 02:00 -> 03:00; 2026-10-25 01:00 UTC
  // they go 03:00 -> 02:00.
  EXPECT_EQ(berlin.OffsetAt(Local(2026, 3, 29, 0, 59) + 59), kHour);
  EXPECT_EQ(berlin.OffsetAt(Local(2026, 3, 29, 1, 0)), 2 * kHour);
  EXPECT_EQ(berlin.OffsetAt(Local(2026, 10, 25, 0, 59)), 2 * kHour);
  EXPECT_EQ(berlin.OffsetAt(Local(2026, 10, 25, 1, 0)), kHour);
  EXPECT_EQ(berlin.OffsetAt(Local(2026, 12, 1, 12, 0)), kHour);
  // Past the file's last transition (2037): the footer rule.
  EXPECT_EQ(berlin.OffsetAt(Local(2100, 7, 1, 12, 0)), 2 * kHour);
  EXPECT_EQ(berlin.OffsetAt(Local(2100, 1, 1, 12, 0)), kHour);
  EXPECT_EQ(berlin.OffsetAt(Local(2100, 3, 28, 0, 59)), kHour);  // last Sunday: 28th
  EXPECT_EQ(berlin.OffsetAt(Local(2100, 3, 28, 1, 0)), 2 * kHour);
}

TEST(TimeZoneTest, FromLocalOnOrdinaryDays) {
  const TimeZone berlin = SystemZone("Europe/Berlin");
  EXPECT_EQ(berlin.FromLocal(Local(2026, 12, 5, 2, 0)), Local(2026, 12, 5, 1, 0));
  EXPECT_EQ(berlin.FromLocal(Local(2026, 7, 1, 2, 0)), Local(2026, 7, 1, 0, 0));
  const TimeZone kolkata = SystemZone("Asia/Kolkata");
  EXPECT_EQ(kolkata.FromLocal(Local(2026, 7, 1, 5, 30)), Local(2026, 7, 1, 0, 0));
}

TEST(TimeZoneTest, FromLocalMovesSkippedTimesForwardByTheGap) {
  const TimeZone berlin = SystemZone("Europe/Berlin");
  // 02:30 does not exist on 2026-03-29: it is 03:30 CEST = 01:30 UTC.
  EXPECT_EQ(berlin.FromLocal(Local(2026, 3, 29, 2, 30)), Local(2026, 3, 29, 1, 30));
  EXPECT_EQ(berlin.FromLocal(Local(2026, 3, 29, 2, 0)), Local(2026, 3, 29, 1, 0));
  EXPECT_EQ(berlin.FromLocal(Local(2026, 3, 29, 3, 0)), Local(2026, 3, 29, 1, 0));
  EXPECT_EQ(berlin.FromLocal(Local(2026, 3, 29, 1, 59)), Local(2026, 3, 29, 0, 59));
  const TimeZone new_york = SystemZone("America/New_York");
  EXPECT_EQ(new_york.FromLocal(Local(2026, 3, 8, 2, 30)), Local(2026, 3, 8, 7, 30));
}

TEST(TimeZoneTest, FromLocalTakesTheFirstOfARepeatedTime) {
  const TimeZone berlin = SystemZone("Europe/Berlin");
  // 02:30 happens twice on 2026-10-25: 00:30 UTC (CEST) and 01:30 UTC (CET).
  EXPECT_EQ(berlin.FromLocal(Local(2026, 10, 25, 2, 30)), Local(2026, 10, 25, 0, 30));
  EXPECT_EQ(berlin.FromLocal(Local(2026, 10, 25, 3, 0)), Local(2026, 10, 25, 2, 0));
  EXPECT_EQ(berlin.FromLocal(Local(2026, 10, 25, 1, 59)), Local(2026, 10, 24, 23, 59));
  const TimeZone sydney = SystemZone("Australia/Sydney");
  // Southern hemisphere: 2026-04-05 03:00 AEDT -> 02:00 AEST.
  EXPECT_EQ(sydney.FromLocal(Local(2026, 4, 5, 2, 30)), Local(2026, 4, 4, 15, 30));
  EXPECT_EQ(sydney.OffsetAt(Local(2026, 1, 1, 0, 0)), 11 * kHour);
}

TEST(TimeZoneTest, FromLocalRoundTripsEveryQuarterHourOfAYear) {
  const TimeZone berlin = SystemZone("Europe/Berlin");
  for (std::int64_t utc = Local(2026, 1, 1, 0, 0); utc < Local(2027, 1, 1, 0, 0); utc += 15 * 60) {
    const std::int64_t local = berlin.ToLocal(utc);
    const std::int64_t back = berlin.FromLocal(local);
    // Equal, except the second pass of a repeated hour maps to the first.
    if (back != utc) {
      ASSERT_EQ(back, utc - kHour) << utc;
      ASSERT_EQ(berlin.ToLocal(back), local);
    }
  }
}

TEST(TimeZoneTest, FooterRuleAloneGivesDst) {
  // A "slim" file: no transitions, only the footer.
  auto zone = TimeZone::FromTzif("Test/Slim", BuildTzif({}, {3600}, "CET-1CEST,M3.5.0,M10.5.0/3"));
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  EXPECT_EQ(zone.value().OffsetAt(Local(2026, 7, 1, 0, 0)), 2 * kHour);
  EXPECT_EQ(zone.value().OffsetAt(Local(2026, 12, 1, 0, 0)), kHour);
  EXPECT_EQ(zone.value().FromLocal(Local(2026, 3, 29, 2, 30)), Local(2026, 3, 29, 1, 30));
  EXPECT_EQ(zone.value().FromLocal(Local(2026, 10, 25, 2, 30)), Local(2026, 10, 25, 0, 30));
}

TEST(TimeZoneTest, ExplicitTransitionsThenFooter) {
  const std::int64_t t1 = Local(2020, 1, 1, 0, 0);
  auto zone =
      TimeZone::FromTzif("Test/Mixed", BuildTzif({{t1, 1}}, {0, 5 * 3600 + 1800}, "<+0530>-5:30"));
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  EXPECT_EQ(zone.value().OffsetAt(t1 - 1), 0);
  EXPECT_EQ(zone.value().OffsetAt(t1), 5 * 3600 + 1800);
  EXPECT_EQ(zone.value().OffsetAt(Local(2050, 1, 1, 0, 0)), 5 * 3600 + 1800);
}

TEST(TimeZoneTest, RejectsMalformedTzif) {
  const std::string good = BuildTzif({{100, 0}, {200, 1}}, {0, 3600}, "UTC0");
  ASSERT_TRUE(TimeZone::FromTzif("T", good).ok());
  EXPECT_THAT(TimeZone::FromTzif("T", "").status().message(), HasSubstr("not a TZif file"));
  EXPECT_THAT(TimeZone::FromTzif("T", "#!/bin/sh\necho hi\n").status().message(),
              HasSubstr("not a TZif file"));
  EXPECT_THAT(
      TimeZone::FromTzif("T", BuildTzif({{200, 0}, {100, 1}}, {0, 3600}, "")).status().message(),
      HasSubstr("ascending"));
  EXPECT_THAT(TimeZone::FromTzif("T", BuildTzif({{100, 5}}, {0}, "")).status().message(),
              HasSubstr("unknown local time type"));
  EXPECT_THAT(TimeZone::FromTzif("T", BuildTzif({}, {0}, "", 1)).status().message(),
              HasSubstr("leap-second"));
  EXPECT_THAT(TimeZone::FromTzif("T", BuildTzif({}, {200000}, "")).status().message(),
              HasSubstr("out of range"));
  EXPECT_THAT(TimeZone::FromTzif("T", BuildTzif({}, {0}, "Not a rule!")).status().message(),
              HasSubstr("POSIX TZ rule"));
  std::string huge = good;
  huge[44 + 7 + 28] = '\x7f';  // the v2 header's leapcnt, high byte
  EXPECT_FALSE(TimeZone::FromTzif("T", huge).ok());
  // Every truncation of a real file is refused or read, never a crash.
  const std::string berlin = ReadZoneFile("Europe/Berlin");
  for (std::size_t n = 0; n < berlin.size(); ++n) {
    auto z = TimeZone::FromTzif("T", std::string_view(berlin).substr(0, n));
    if (z.ok()) {
      (void)z.value().FromLocal(Local(2026, 3, 29, 2, 30));
    }
  }
}

TEST(TimeZoneTest, ParsesPosixRules) {
  auto cet = ParsePosixTz("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(cet.ok());
  EXPECT_EQ(cet.value().std_offset, 3600);
  EXPECT_EQ(cet.value().dst_offset, 7200);
  EXPECT_EQ(cet.value().end.time, 3 * 3600);
  auto odd = ParsePosixTz("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd.value().std_offset, -3 * 3600);
  EXPECT_EQ(odd.value().start.time, -2 * 3600);
  auto julian = ParsePosixTz("EST5EDT,0/0,J365/25");
  ASSERT_TRUE(julian.ok());
  EXPECT_EQ(julian.value().end.time, 25 * 3600);
  for (const char* bad :
       {"", "C-1", "CET", "CET-1CEST,M13.1.0,M10.5.0", "CET-1CEST,M3.6.0,M1.1.0",
        "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365", "CET-1CEST,366,1", "CET-1CEST,M3.5.0",
        "CET-1CEST,M3.5.0/168,M10.5.0", "CET-25", "<AB>1", "CET-1CEST,M3.5.0,M10.5.0 trailing"}) {
    EXPECT_FALSE(ParsePosixTz(bad).ok()) << bad;
  }
}

TEST(TimeZoneTest, ZoneNamesCannotLeaveTheZoneinfoDirectory) {
  for (const char* good : {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+1",
                           "America/Port-au-Prince", "EST5EDT"}) {
    EXPECT_EQ(CheckZoneName(good), std::nullopt) << good;
  }
  for (const char* bad : {"", "../etc/passwd", "Europe/../../etc/passwd", "/etc/passwd",
                          "Europe//Berlin", "Europe/Berlin/", "right/Europe/Berlin", "posix/UTC",
                          "Europe/Berlin\n", "Europe Berlin", "-rf", "zone.tab", "Ünïcode/Zone"}) {
    EXPECT_NE(CheckZoneName(bad), std::nullopt) << bad;
  }
  EXPECT_NE(CheckZoneName(std::string(65, 'A')), std::nullopt);
}

}  // namespace
}  // namespace schemaop::core
