// TimeZone: a TZif reader (RFC 8536) and UTC <-> local conversion.
#include "core/time_zone.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/civil_time.h"

namespace schemaop::core {
namespace {

constexpr std::int64_t kDay = 86400;
// RFC 8536: a UTC offset is within -89999 .. 93599 seconds (-25 h .. +26 h).
constexpr std::int32_t kMinOffset = -89999;
constexpr std::int32_t kMaxOffset = 93599;
constexpr std::size_t kHeaderSize = 44;

std::uint32_t Be32(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

std::int64_t Be64(std::string_view b, std::size_t at) {
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(Be32(b, at)) << 32) |
                                   Be32(b, at + 4));
}

struct Header {
  char version = 0;
  std::uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  // Bytes of the data block that follows the header, for 4- or 8-byte times.
  std::uint64_t DataSize(std::uint64_t time_size) const {
    return timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) +
           isstdcnt + isutcnt;
  }
};

bool ReadHeader(std::string_view b, std::size_t at, Header& h) {
  if (b.size() < at + kHeaderSize || b.substr(at, 4) != "TZif") {
    return false;
  }
  h.version = b[at + 4];
  h.isutcnt = Be32(b, at + 20);
  h.isstdcnt = Be32(b, at + 24);
  h.leapcnt = Be32(b, at + 28);
  h.timecnt = Be32(b, at + 32);
  h.typecnt = Be32(b, at + 36);
  h.charcnt = Be32(b, at + 40);
  return true;
}

// Day number of a footer rule's date in `year`.
std::int64_t RuleDay(const PosixTzRule::Date& d, std::int64_t year) {
  const std::int64_t jan1 = DaysFromCivil(year, 1, 1);
  switch (d.kind) {
    case PosixTzRule::Date::Kind::kJulianNoLeap:
      return jan1 + d.day - 1 + (IsLeapYear(year) && d.day >= 60 ? 1 : 0);
    case PosixTzRule::Date::Kind::kZeroBased:
      return jan1 + d.day;
    case PosixTzRule::Date::Kind::kMonthWeekDay:
      break;
  }
  const auto month = static_cast<unsigned>(d.month);
  const std::int64_t first = DaysFromCivil(year, month, 1);
  std::int64_t day = first + (d.day - WeekdayOfDays(first) + 7) % 7 + (d.week - 1) * 7;
  while (day >= first + DaysInMonth(year, month)) {
    day -= 7;
  }
  return day;
}

std::int64_t YearOf(std::int64_t utc) {
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  CivilFromDays(FloorDiv(utc, kDay), y, m, d);
  return y;
}

}  // namespace

TimeZone TimeZone::Fixed(std::string name, std::int32_t offset_seconds) {
  TimeZone z;
  z.name_ = std::move(name);
  z.initial_offset_ = offset_seconds;
  return z;
}

Result<TimeZone> TimeZone::FromTzif(std::string name, std::string_view b) {
  auto bad = [&](const std::string& what) {
    return Status(Code::kInvalidArgument, "time zone " + name + ": " + what);
  };
  Header h;
  if (!ReadHeader(b, 0, h)) {
    return bad("not a TZif file (no \"TZif\" header)");
  }
  std::size_t at = kHeaderSize;
  std::uint64_t time_size = 4;
  if (h.version != 0) {
    if (h.version < '2' || h.version > '9') {
      return bad("unknown TZif version");
    }
    const std::uint64_t v1_size = h.DataSize(4);
    if (v1_size > b.size() - at || !ReadHeader(b, at + v1_size, h)) {
      return bad("truncated TZif file (second header)");
    }
    at += v1_size + kHeaderSize;
    time_size = 8;
  }
  if (h.typecnt == 0 || h.typecnt > 256 || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) ||
      (h.isutcnt != 0 && h.isutcnt != h.typecnt) || h.timecnt > (1u << 20) ||
      h.charcnt > (1u << 20) || h.leapcnt > (1u << 20)) {
    return bad("inconsistent TZif counts");
  }
  if (h.leapcnt != 0) {
    return bad("leap-second (\"right/\") zones are not supported; use the zone without right/");
  }
  if (h.DataSize(time_size) > b.size() - at) {
    return bad("truncated TZif file");
  }
  TimeZone z;
  const std::size_t times = at;
  const std::size_t indexes = times + h.timecnt * time_size;
  const std::size_t types = indexes + h.timecnt;
  std::vector<std::int32_t> offsets;
  offsets.reserve(h.typecnt);
  for (std::uint64_t i = 0; i < h.typecnt; ++i) {
    const auto off = static_cast<std::int32_t>(Be32(b, types + i * 6));
    if (off < kMinOffset || off > kMaxOffset) {
      return bad("UTC offset out of range");
    }
    offsets.push_back(off);
  }
  z.initial_offset_ = offsets[0];
  for (std::uint64_t i = 0; i < h.timecnt; ++i) {
    const std::int64_t t =
        time_size == 8 ? Be64(b, times + i * 8) : static_cast<std::int32_t>(Be32(b, times + i * 4));
    const auto idx = static_cast<unsigned char>(b[indexes + i]);
    if (idx >= h.typecnt) {
      return bad("transition names an unknown local time type");
    }
    if (!z.transitions_.empty() && t <= z.transitions_.back().at) {
      return bad("transitions not in ascending order");
    }
    z.transitions_.push_back({t, offsets[idx]});
  }
  std::size_t footer = at + h.DataSize(time_size);
  if (time_size == 8 && footer < b.size()) {
    const std::size_t end = b.find('\n', footer + 1);
    if (b[footer] != '\n' || end == std::string_view::npos) {
      return bad("malformed TZif footer");
    }
    const std::string_view tz = b.substr(footer + 1, end - footer - 1);
    if (!tz.empty()) {
      auto rule = ParsePosixTz(tz);
      if (!rule.ok()) {
        return bad(rule.status().message());
      }
      const PosixTzRule& r = rule.value();
      if (r.std_offset < kMinOffset || r.std_offset > kMaxOffset ||
          (r.has_dst && (r.dst_offset < kMinOffset || r.dst_offset > kMaxOffset))) {
        return bad("footer UTC offset out of range");
      }
      z.rule_ = r;
    }
  }
  z.name_ = std::move(name);
  return z;
}

std::pair<std::int32_t, std::int32_t> TimeZone::OffsetRangeFrom(std::int64_t utc) const {
  std::int32_t lo = OffsetAt(utc);
  std::int32_t hi = lo;
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc,
                             [](std::int64_t t, const ZoneTransition& z) { return t < z.at; });
  for (; it != transitions_.end(); ++it) {
    lo = std::min(lo, it->offset);
    hi = std::max(hi, it->offset);
  }
  if (rule_) {
    lo = std::min({lo, rule_->std_offset, rule_->has_dst ? rule_->dst_offset : lo});
    hi = std::max({hi, rule_->std_offset, rule_->has_dst ? rule_->dst_offset : hi});
  }
  return {lo, hi};
}

// ----------------------------------------------------------- conversions

void TimeZone::RuleTransitions(std::int64_t lo, std::int64_t hi,
                               std::vector<ZoneTransition>& out) const {
  const PosixTzRule& r = *rule_;
  if (!r.has_dst) {
    return;
  }
  std::vector<std::pair<ZoneTransition, int>> found;  // int: end (0) sorts before start (1)
  for (std::int64_t y = YearOf(lo) - 1; y <= YearOf(hi) + 1; ++y) {
    const std::int64_t start = RuleDay(r.start, y) * kDay + r.start.time - r.std_offset;
    const std::int64_t end = RuleDay(r.end, y) * kDay + r.end.time - r.dst_offset;
    found.push_back({{start, r.dst_offset}, 1});
    found.push_back({{end, r.std_offset}, 0});
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first.at != b.first.at ? a.first.at < b.first.at : a.second < b.second;
  });
  for (const auto& f : found) {
    if (f.first.at > lo && f.first.at <= hi) {
      out.push_back(f.first);
    }
  }
}

std::int32_t TimeZone::RuleOffsetAt(std::int64_t utc) const {
  std::vector<ZoneTransition> around;
  RuleTransitions(utc - 400 * kDay, utc, around);
  return around.empty() ? rule_->std_offset : around.back().offset;
}

std::int32_t TimeZone::OffsetAt(std::int64_t utc) const {
  if (!transitions_.empty() && utc >= transitions_.back().at && rule_) {
    return RuleOffsetAt(utc);
  }
  if (transitions_.empty()) {
    return rule_ ? RuleOffsetAt(utc) : initial_offset_;
  }
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc,
                             [](std::int64_t t, const ZoneTransition& z) { return t < z.at; });
  return it == transitions_.begin() ? initial_offset_ : std::prev(it)->offset;
}

std::vector<ZoneTransition> TimeZone::TransitionsIn(std::int64_t lo, std::int64_t hi) const {
  std::vector<ZoneTransition> out;
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), lo,
                             [](std::int64_t t, const ZoneTransition& z) { return t < z.at; });
  for (; it != transitions_.end() && it->at <= hi; ++it) {
    out.push_back(*it);
  }
  if (rule_) {
    const std::int64_t from = transitions_.empty() ? lo : std::max(lo, transitions_.back().at);
    if (from < hi) {
      RuleTransitions(from, hi, out);
    }
  }
  return out;
}

std::int64_t TimeZone::FromLocal(std::int64_t local) const {
  // Offsets stay within ±26 h, so the instants that can show `local` lie
  // within two days of it; each segment between transitions is checked.
  const std::int64_t lo = local - 2 * kDay;
  const std::int64_t hi = local + 2 * kDay;
  const std::vector<ZoneTransition> ts = TransitionsIn(lo, hi);
  std::int32_t offset = OffsetAt(lo);
  std::int64_t seg_start = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i <= ts.size(); ++i) {
    const std::int64_t seg_end =
        i < ts.size() ? ts[i].at : std::numeric_limits<std::int64_t>::max();
    const std::int64_t utc = local - offset;
    if (utc >= seg_start && utc < seg_end) {
      return utc;  // segments ascend, so the first hit is the earlier instant
    }
    if (i < ts.size()) {
      // Skipped by this forward jump: keep the offset before it.
      if (ts[i].offset > offset && local >= ts[i].at + offset && local < ts[i].at + ts[i].offset) {
        return local - offset;
      }
      seg_start = ts[i].at;
      offset = ts[i].offset;
    }
  }
  return local - OffsetAt(local);  // unreachable for consistent data
}

// ----------------------------------------------------------------- names

std::optional<std::string> CheckZoneName(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return std::string("must be 1 to 64 characters, an IANA name such as Europe/Berlin or UTC");
  }
  if (name.substr(0, 6) == "right/" || name.substr(0, 6) == "posix/") {
    return std::string("the right/ and posix/ trees are not zones; drop the prefix");
  }
  std::size_t part_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '/') {
      if (i == part_start) {
        return std::string("has an empty part; write it like Europe/Berlin");
      }
      if (name[part_start] == '-') {
        return std::string("a part must not start with '-'");
      }
      part_start = i + 1;
      continue;
    }
    const char c = name[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '+' || c == '-';
    if (!ok) {
      return std::string(
          "may contain only letters, digits, '_', '+', '-' and '/', like "
          "Europe/Berlin");
    }
  }
  return std::nullopt;
}

}  // namespace schemaop::core
