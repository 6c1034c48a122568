#pragma once
// Cron schedules (spec.maintenanceWindow.schedule), evaluated in an IANA time
// zone. Pure: no clock, no I/O.
//
// The standard five fields, minute hour day-of-month month day-of-week, each
// `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of
// those; months JAN-DEC and weekdays SUN-SAT by name (any case); weekday 0
// and 7 are Sunday (so FRI-SUN is Friday to Sunday). As in Vixie cron (and cronie, and Kubernetes
// CronJobs): when both day-of-month and day-of-week are restricted (neither starts with
// `*`), a day matches if EITHER matches; otherwise both must.
//
// Time zones (core/time_zone.h): the schedule is read in wall-clock time of
// the zone. A time skipped when clocks go forward (02:30 on a 02:00 -> 03:00
// day) fires at the instant it would have had before the jump, i.e. moved
// forward by the gap (03:30 new time); a time repeated when clocks go back
// fires once, at its first occurrence.
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/time_zone.h"

namespace schemaop::core {

class CronSchedule {
 public:
  // kInvalidArgument naming the field and the fix, e.g.
  //   hour field "25": 25 is out of range 0-23
  //   expected 5 fields (minute hour day-of-month month day-of-week), got 6
  // A schedule that can never fire (day 31 in February only) is refused too.
  static Result<CronSchedule> Parse(std::string_view text);

  // Whether the local minute that contains `local` (local seconds) matches.
  bool MatchesLocal(std::int64_t local) const;
  // The first matching local minute at or after `local` (rounded up to a
  // whole minute); nullopt if none within ten years.
  std::optional<std::int64_t> NextLocal(std::int64_t local) const;
  // The first UTC second after `after_utc` at which the schedule fires in
  // `zone`; nullopt if none within ten years.
  std::optional<std::int64_t> Next(std::int64_t after_utc, const TimeZone& zone) const;

 private:
  bool DayMatches(std::int64_t y, unsigned m, unsigned d) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = true;
  bool weekdays_star_ = true;
};

}  // namespace schemaop::core
