#pragma once
// Maintenance windows (spec.maintenanceWindow, issue 15 item 3): when a run
// may start. Pure: the caller passes the time zone (loaded from tzdata by
// manager/time_zones.h), the clock reading and the downtime estimate.
//
// A window opens at each time the cron `schedule` fires in `timeZone` and
// lasts `duration` of real elapsed time (so a 2h window opening at 02:00 on
// the night clocks go back ends at 03:00 wall-clock time). Windows that
// overlap or touch count as one. A run may start at `now` only when `now`
// is inside a window and the estimated downtime fits in what is left of it
// (design §6.6: no run starts outside a window). A run already started is
// never stopped by the window's end.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cron.h"
#include "core/time_zone.h"

namespace schemaop::core {

inline constexpr char kDefaultWindowTimeZone[] = "UTC";
// The longest window: 7 days.
inline constexpr std::int64_t kMaxWindowSeconds = 7 * 86400;

struct MaintenanceWindowSpec {
  std::string schedule;                            // 5-field cron
  std::string duration;                            // "2h", "30m", "1h30m"
  std::string time_zone = kDefaultWindowTimeZone;  // IANA name
  bool operator==(const MaintenanceWindowSpec& o) const {
    return schedule == o.schedule && duration == o.duration && time_zone == o.time_zone;
  }
};

// The field errors of spec.maintenanceWindow as (path, message) pairs, e.g.
// ("spec.maintenanceWindow.schedule", "invalid schedule \"0 25 * * *\": hour
// field ..."). Only the zone's spelling is checked here; whether the zone
// exists in the tzdata is checked where it is loaded.
std::vector<std::pair<std::string, std::string>> CheckMaintenanceWindow(
    const MaintenanceWindowSpec& window);

// spec.maintenanceWindow.duration in seconds: a duration (core/duration.h)
// greater than 0 and at most 7 days, in whole seconds. kInvalidArgument
// with the reason.
Result<std::int64_t> ParseWindowDuration(std::string_view text);

struct WindowDecision {
  bool open = false;            // a run may start now
  bool inside = false;          // now is inside a window (maybe with too little left)
  std::int64_t window_end = 0;  // when inside: the end of that window (UTC s)
  // When not open: the start of the next window long enough for the
  // estimate (UTC s); nullopt when no window within a year is long enough.
  std::optional<std::int64_t> next_start;
};

// Whether a run with `estimate_seconds` of downtime (0: no estimate) may
// start at UTC second `now`.
WindowDecision DecideWindow(const CronSchedule& schedule, const TimeZone& zone,
                            std::int64_t duration_seconds, std::int64_t now,
                            std::int64_t estimate_seconds);

// "2h", "1h30m", "45s", "0s": whole seconds, largest units first.
std::string FormatSeconds(std::int64_t seconds);
// The wall-clock time of `utc` in `zone`, e.g.
// "2026-03-29 03:30 Europe/Berlin (UTC+02:00)".
std::string FormatLocal(std::int64_t utc, const TimeZone& zone);

}  // namespace schemaop::core
