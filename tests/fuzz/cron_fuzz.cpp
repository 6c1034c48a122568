// core::CronSchedule (spec.maintenanceWindow.schedule): any text gives a
// schedule or kInvalidArgument with a message; an accepted schedule's next
// occurrence lies after the start, matches, and no minute before it (in the
// last day) matches; in a zone east of UTC, Next stays after the start; an
// open window is inside one.
#include <cstdint>
#include <functional>
#include <string>

#include "core/cron.h"
#include "core/maintenance_window.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {

void Cron(std::string_view input) {
  const auto parsed = core::CronSchedule::Parse(input);
  if (!parsed.ok()) {
    SCHEMAOP_FUZZ_CHECK(parsed.status().code() == core::Code::kInvalidArgument,
                        parsed.status().ToString());
    SCHEMAOP_FUZZ_CHECK(!parsed.status().message().empty(), "empty message");
    return;
  }
  const core::CronSchedule& s = parsed.value();
  const core::TimeZone utc = core::TimeZone::Fixed("UTC", 0);
  // 2026-09-21 plus up to 400 days, chosen by the input.
  const std::int64_t start =
      1'790'000'000 + static_cast<std::int64_t>(std::hash<std::string_view>{}(input) % 34'560'000);
  const auto next = s.Next(start, utc);
  if (next) {
    SCHEMAOP_FUZZ_CHECK(*next > start, "next not after the start for '" + std::string(input) + "'");
    SCHEMAOP_FUZZ_CHECK(*next % 60 == 0, "next not on a minute");
    SCHEMAOP_FUZZ_CHECK(s.MatchesLocal(*next), "next does not match '" + std::string(input) + "'");
    for (std::int64_t m = std::max<std::int64_t>((start / 60 + 1) * 60, *next - 86400); m < *next;
         m += 60) {
      SCHEMAOP_FUZZ_CHECK(!s.MatchesLocal(m),
                          "an earlier minute matches '" + std::string(input) + "'");
    }
  }
  static const core::TimeZone east = core::TimeZone::Fixed("Etc/GMT-1", 3600);
  const auto in_zone = s.Next(start, east);
  SCHEMAOP_FUZZ_CHECK(!in_zone || *in_zone > start, "zone next not after the start");
  const core::WindowDecision d = core::DecideWindow(s, utc, 3600, start, 1800);
  SCHEMAOP_FUZZ_CHECK(!d.open || d.inside, "open outside a window");
  SCHEMAOP_FUZZ_CHECK(!d.next_start || *d.next_start > start, "next window not after now");
}

}  // namespace schemaop::fuzz
