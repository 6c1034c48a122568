// Maintenance windows: the duration field and the decision whether a run
// may start now (core/maintenance_window.h).
#include "core/maintenance_window.h"

#include <algorithm>
#include <cstdio>

#include "core/civil_time.h"
#include "core/duration.h"

namespace schemaop::core {
namespace {

// Windows that overlap or touch are followed for at most this many starts
// (a schedule firing every minute with a 2-minute window is one endless
// window; 2000 starts cover 33 hours of it).
constexpr int kMaxChainedStarts = 2000;
// The next long-enough window is looked for among this many windows, and
// no further than a year ahead.
constexpr int kMaxWindowsAhead = 2000;
constexpr std::int64_t kYear = 366 * 86400;

// The end of the run of overlapping or touching windows that starts at
// `start`, followed until it reaches `enough` (UTC seconds).
std::int64_t ChainEnd(const CronSchedule& schedule, const TimeZone& zone, std::int64_t duration,
                      std::int64_t start, std::int64_t enough) {
  std::int64_t end = start + duration;
  std::int64_t current = start;
  for (int i = 0; i < kMaxChainedStarts && end < enough; ++i) {
    const std::optional<std::int64_t> next = schedule.Next(current, zone);
    if (!next || *next > end) {
      break;
    }
    end = std::max(end, *next + duration);
    current = *next;
  }
  return end;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> CheckMaintenanceWindow(
    const MaintenanceWindowSpec& window) {
  std::vector<std::pair<std::string, std::string>> errors;
  auto quote = [](const std::string& text) { return "\"" + text.substr(0, 64) + "\""; };
  if (window.schedule.empty()) {
    errors.emplace_back("spec.maintenanceWindow.schedule",
                        "required: a 5-field cron schedule, e.g. \"0 2 * * SAT\"");
  } else if (auto cron = CronSchedule::Parse(window.schedule); !cron.ok()) {
    errors.emplace_back(
        "spec.maintenanceWindow.schedule",
        "invalid schedule " + quote(window.schedule) + ": " + cron.status().message());
  }
  if (window.duration.empty()) {
    errors.emplace_back("spec.maintenanceWindow.duration", "required, e.g. 2h");
  } else if (auto d = ParseWindowDuration(window.duration); !d.ok()) {
    errors.emplace_back("spec.maintenanceWindow.duration",
                        "invalid duration " + quote(window.duration) + ": " + d.status().message());
  }
  if (auto bad = CheckZoneName(window.time_zone)) {
    errors.emplace_back("spec.maintenanceWindow.timeZone",
                        "invalid time zone " + quote(window.time_zone) + ": " + *bad);
  }
  return errors;
}

Result<std::int64_t> ParseWindowDuration(std::string_view text) {
  auto parsed = ParseDuration(text);
  if (!parsed.ok()) {
    return Status(Code::kInvalidArgument, "\"" + std::string(text.substr(0, 40)) +
                                              "\" is not a duration: use e.g. 30m, 2h or 1h30m");
  }
  const std::int64_t ms = parsed.value().count();
  if (ms <= 0) {
    return Status(Code::kInvalidArgument, "must be greater than 0, e.g. 2h");
  }
  if (ms > kMaxWindowSeconds * 1000) {
    return Status(Code::kInvalidArgument, "must be at most 7 days (168h)");
  }
  if (ms % 1000 != 0) {
    return Status(Code::kInvalidArgument, "must be whole seconds, e.g. 2h or 90s");
  }
  return ms / 1000;
}

WindowDecision DecideWindow(const CronSchedule& schedule, const TimeZone& zone,
                            std::int64_t duration_seconds, std::int64_t now,
                            std::int64_t estimate_seconds) {
  const std::int64_t estimate = std::max<std::int64_t>(estimate_seconds, 0);
  WindowDecision d;
  // Windows are [start, start + duration): the one holding `now` started
  // after now - duration.
  const std::optional<std::int64_t> first = schedule.Next(now - duration_seconds, zone);
  if (first && *first <= now) {
    d.inside = true;
    d.window_end = ChainEnd(schedule, zone, duration_seconds, *first, now + estimate);
    if (d.window_end - now >= estimate) {
      d.open = true;
      return d;
    }
  }
  std::int64_t from = d.inside ? d.window_end : now;
  for (int i = 0; i < kMaxWindowsAhead; ++i) {
    const std::optional<std::int64_t> start = schedule.Next(from, zone);
    if (!start || *start - now > kYear) {
      break;
    }
    const std::int64_t end = ChainEnd(schedule, zone, duration_seconds, *start, *start + estimate);
    if (end - *start >= estimate) {
      d.next_start = *start;
      break;
    }
    from = end;
  }
  return d;
}

std::string FormatSeconds(std::int64_t seconds) {
  if (seconds <= 0) {
    return "0s";
  }
  std::string out;
  const std::int64_t h = seconds / 3600;
  const std::int64_t m = seconds % 3600 / 60;
  const std::int64_t s = seconds % 60;
  if (h > 0) {
    out += std::to_string(h) + "h";
  }
  if (m > 0) {
    out += std::to_string(m) + "m";
  }
  if (s > 0) {
    out += std::to_string(s) + "s";
  }
  return out;
}

std::string FormatLocal(std::int64_t utc, const TimeZone& zone) {
  const std::int32_t offset = zone.OffsetAt(utc);
  const CivilTime t = CivilFromSeconds(utc + offset);
  const std::int32_t abs_offset = offset < 0 ? -offset : offset;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d %s (UTC%c%02d:%02d)",
                static_cast<long long>(t.year), t.month, t.day, t.hour, t.minute,
                zone.name().substr(0, 40).c_str(), offset < 0 ? '-' : '+', abs_offset / 3600,
                abs_offset % 3600 / 60);
  return buf;
}

}  // namespace schemaop::core
