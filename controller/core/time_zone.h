#pragma once
// IANA time zones without the C library's global state (localtime_r needs
// TZ, which is process-wide and not safe to switch between threads): a
// TimeZone is an immutable value built from the bytes of a TZif file
// (RFC 8536, versions 1 to 4, as /usr/share/zoneinfo/<zone> of the tzdata
// package holds them), including the POSIX TZ rule of its footer that
// covers every time after the last listed transition. Pure: the caller
// reads the file (manager/time_zones.h in the controller); a TimeZone is
// safe to share between threads.
//
// Times are whole seconds: "UTC seconds" since the Unix epoch, and "local
// seconds", the wall-clock time of the zone counted as if it were UTC (so
// 2026-03-29 02:30 local is DaysFromCivil(2026, 3, 29) * 86400 + 9000).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace schemaop::core {

// From `at` (UTC seconds) on, the zone is `offset` seconds east of UTC.
struct ZoneTransition {
  std::int64_t at = 0;
  std::int32_t offset = 0;
  bool operator==(const ZoneTransition& o) const { return at == o.at && offset == o.offset; }
};

// A POSIX TZ string as TZif footers write it ("CET-1CEST,M3.5.0,M10.5.0/3",
// "<+03>-3", "EST5EDT,M3.2.0,M11.1.0"), with the RFC 8536 extensions (rule
// times from -167 to 167 hours). Offsets here are east of UTC, the opposite
// sign of the string.
struct PosixTzRule {
  struct Date {
    enum class Kind { kJulianNoLeap, kZeroBased, kMonthWeekDay };  // Jn, n, Mm.w.d
    Kind kind = Kind::kMonthWeekDay;
    int month = 0;             // Mm.w.d
    int week = 0;              // 1..5 (5: the last)
    int day = 0;               // weekday 0..6 (Sunday = 0), or the day of Jn / n
    std::int32_t time = 7200;  // local seconds after midnight, default 02:00
  };
  std::int32_t std_offset = 0;
  bool has_dst = false;
  std::int32_t dst_offset = 0;
  Date start;  // DST starts (written in standard time)
  Date end;    // DST ends (written in daylight time)
};
// kInvalidArgument with what is wrong.
Result<PosixTzRule> ParsePosixTz(std::string_view text);

class TimeZone {
 public:
  // A zone that is always `offset_seconds` east of UTC ("UTC": 0).
  static TimeZone Fixed(std::string name, std::int32_t offset_seconds);
  // The zone of a TZif file's bytes. kInvalidArgument naming `name` and the
  // defect (bad magic, truncated, unsorted transitions, leap seconds, ...).
  static Result<TimeZone> FromTzif(std::string name, std::string_view bytes);

  const std::string& name() const { return name_; }
  // Seconds east of UTC at UTC second `utc`.
  std::int32_t OffsetAt(std::int64_t utc) const;
  std::int64_t ToLocal(std::int64_t utc) const { return utc + OffsetAt(utc); }
  // The UTC second of local wall-clock time `local`. A time that occurs
  // twice (the hour repeated when clocks go back) gives the earlier
  // instant; a time skipped when clocks go forward gives the instant it
  // would have had with the offset in force before the jump, i.e. it is
  // moved forward by the length of the gap (02:30 on a 02:00 -> 03:00 day
  // is 03:30 new time), as mktime and java.time do.
  std::int64_t FromLocal(std::int64_t local) const;
  // The transitions with lo < at <= hi, ascending (footer rules expanded).
  std::vector<ZoneTransition> TransitionsIn(std::int64_t lo, std::int64_t hi) const;
  // The smallest and largest offset the zone has from UTC second `utc` on.
  std::pair<std::int32_t, std::int32_t> OffsetRangeFrom(std::int64_t utc) const;

 private:
  TimeZone() = default;
  std::int32_t RuleOffsetAt(std::int64_t utc) const;
  void RuleTransitions(std::int64_t lo, std::int64_t hi, std::vector<ZoneTransition>& out) const;

  std::string name_;
  std::int32_t initial_offset_ = 0;          // before the first transition
  std::vector<ZoneTransition> transitions_;  // strictly ascending
  std::optional<PosixTzRule> rule_;          // after the last transition
};

// Why `name` is not spelled like an IANA zone name ("Europe/Berlin", "UTC",
// "America/Argentina/Buenos_Aires", "Etc/GMT+1"), or nullopt when it is:
// 1 to 64 characters of letters, digits, '_', '+' and '-' in '/'-separated
// parts, none starting with '-' (no '.', so it cannot leave the zoneinfo
// directory), and not the leap-second trees right/ and posix/.
std::optional<std::string> CheckZoneName(std::string_view name);

}  // namespace schemaop::core
