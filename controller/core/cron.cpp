// CronSchedule: parsing of the five fields and next-occurrence search.
#include "core/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "core/civil_time.h"

namespace schemaop::core {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kSearchYears = 10;

struct FieldSpec {
  const char* name;
  int min;
  int max;                   // day-of-week: 7 accepted as Sunday
  const char* const* names;  // 3-letter names for min.., or nullptr
  const char* example;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, nullptr, "0, */15 or 0,30"},
    {"hour", 0, 23, nullptr, "2, 1-5 or */6"},
    {"day-of-month", 1, 31, nullptr, "1, 1-7 or */2"},
    {"month", 1, 12, kMonthNames, "1, JAN-MAR or */3"},
    {"day-of-week", 0, 7, kDayNames, "SAT, MON-FRI or 0,6"},
}};

Status FieldError(const FieldSpec& f, std::string_view item, const std::string& what) {
  return Status(Code::kInvalidArgument, std::string(f.name) + " field \"" +
                                            std::string(item.substr(0, 40)) + "\": " + what +
                                            " (write it like " + f.example + ")");
}

// A number or (month, day-of-week) a name; -1 when it is neither.
int ParseValue(const FieldSpec& f, std::string_view text) {
  if (text.empty() || text.size() > 4) {
    return -1;
  }
  if (std::isdigit(static_cast<unsigned char>(text[0])) != 0) {
    int v = 0;
    for (char c : text) {
      if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }
  if (f.names == nullptr || text.size() != 3) {
    return -1;
  }
  const int count = f.max - f.min + (f.names == kDayNames ? 0 : 1);
  for (int i = 0; i < count; ++i) {
    bool same = true;
    for (int k = 0; k < 3; ++k) {
      same = same && std::toupper(static_cast<unsigned char>(text[k])) == f.names[i][k];
    }
    if (same) {
      return f.min + i;
    }
  }
  return -1;
}

// One comma-separated item: *, */n, a, a-b, a-b/n. Sets bits of `out`
// (indexed by value) and says whether it started with '*'.
Status ParseItem(const FieldSpec& f, std::string_view item, std::vector<bool>& out) {
  if (item.empty()) {
    return FieldError(f, item, "empty list element");
  }
  std::string_view range = item;
  int step = 1;
  if (const std::size_t slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    const std::string_view step_text = item.substr(slash + 1);
    step = step_text.empty() || std::isdigit(static_cast<unsigned char>(step_text[0])) == 0
               ? -1
               : ParseValue(FieldSpec{f.name, 0, 0, nullptr, f.example}, step_text);
    if (step <= 0) {
      return FieldError(f, item, "the step after '/' must be a positive number");
    }
    if (range != "*" && range.find('-') == std::string_view::npos) {
      return FieldError(f, item, "a step needs a range or '*' before the '/'");
    }
  }
  int lo = f.min;
  int hi = f.max == 7 ? 6 : f.max;
  if (range != "*") {
    const std::size_t dash = range.find('-');
    lo = ParseValue(f, range.substr(0, dash));
    hi = dash == std::string_view::npos ? lo : ParseValue(f, range.substr(dash + 1));
    if (f.max == 7 && dash != std::string_view::npos && hi == 0 && lo > 0) {
      hi = 7;  // FRI-SUN, 5-0: Sunday as the end of a range is day 7
    }
    if (lo < 0 || hi < 0) {
      return FieldError(f, item,
                        f.names != nullptr ? "not a number or a 3-letter name" : "not a number");
    }
    if (const int v = lo < f.min || lo > f.max ? lo : hi; v < f.min || v > f.max) {
      return FieldError(f, item,
                        std::to_string(v) + " is out of range " + std::to_string(f.min) + "-" +
                            std::to_string(f.max));
    }
    if (lo > hi) {
      return FieldError(f, item, "the range goes backwards (cron ranges do not wrap around)");
    }
  }
  for (int v = lo; v <= hi; v += step) {
    out[static_cast<std::size_t>(f.max == 7 && v == 7 ? 0 : v)] = true;
  }
  return Status::Ok();
}

// Splits on blanks (spaces and tabs).
std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
      ++i;
    }
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
      ++i;
    }
    if (i > start) {
      fields.push_back(text.substr(start, i - start));
    }
  }
  return fields;
}

template <std::size_t N>
void CopyBits(const std::vector<bool>& from, std::bitset<N>& to) {
  for (std::size_t i = 0; i < N && i < from.size(); ++i) {
    to[i] = from[i];
  }
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view text) {
  if (text.size() > 256) {
    return Status(Code::kInvalidArgument, "longer than 256 characters");
  }
  if (!text.empty() && text[0] == '@') {
    return Status(Code::kInvalidArgument,
                  "macros like @daily are not supported; write the 5 fields, e.g. \"0 2 * * *\"");
  }
  const std::vector<std::string_view> fields = SplitFields(text);
  if (fields.size() != 5) {
    return Status(Code::kInvalidArgument,
                  "expected 5 fields (minute hour day-of-month month day-of-week), got " +
                      std::to_string(fields.size()) + ", e.g. \"0 2 * * SAT\"");
  }
  CronSchedule s;
  std::array<std::vector<bool>, 5> bits;
  for (std::size_t k = 0; k < 5; ++k) {
    bits[k].assign(64, false);
    std::string_view rest = fields[k];
    while (true) {
      const std::size_t comma = rest.find(',');
      if (Status st = ParseItem(kFields[k], rest.substr(0, comma), bits[k]); !st.ok()) {
        return st;
      }
      if (comma == std::string_view::npos) {
        break;
      }
      rest = rest.substr(comma + 1);
    }
  }
  CopyBits(bits[0], s.minutes_);
  CopyBits(bits[1], s.hours_);
  CopyBits(bits[2], s.days_);
  CopyBits(bits[3], s.months_);
  CopyBits(bits[4], s.weekdays_);
  s.days_star_ = fields[2][0] == '*';
  s.weekdays_star_ = fields[4][0] == '*';
  // Only day-of-month can make a schedule impossible, when weekdays do not
  // widen it: some chosen day must exist in some chosen month (29 February
  // counts).
  if (!s.days_star_ && s.weekdays_star_) {
    bool possible = false;
    for (unsigned m = 1; m <= 12; ++m) {
      for (unsigned d = 1; d <= (m == 2 ? 29u : DaysInMonth(2001, m)); ++d) {
        possible = possible || (s.months_[m] && s.days_[d]);
      }
    }
    if (!possible) {
      return Status(Code::kInvalidArgument,
                    "the day-of-month never occurs in the chosen months (e.g. 30 or 31 in "
                    "February): the schedule would never fire");
    }
  }
  return s;
}

bool CronSchedule::DayMatches(std::int64_t y, unsigned m, unsigned d) const {
  const bool dom = days_[d];
  const bool dow = weekdays_[static_cast<std::size_t>(WeekdayOfDays(DaysFromCivil(y, m, d)))];
  if (days_star_ || weekdays_star_) {
    return dom && dow;
  }
  return dom || dow;
}

bool CronSchedule::MatchesLocal(std::int64_t local) const {
  const CivilTime t = CivilFromSeconds(local);
  return months_[t.month] && DayMatches(t.year, t.month, t.day) &&
         hours_[static_cast<std::size_t>(t.hour)] && minutes_[static_cast<std::size_t>(t.minute)];
}

std::optional<std::int64_t> CronSchedule::NextLocal(std::int64_t local) const {
  std::int64_t days = FloorDiv(local, kDay);
  std::int64_t minute = FloorDiv(local - days * kDay + 59, 60);  // rounded up
  if (minute >= 1440) {
    ++days;
    minute = 0;
  }
  std::int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  CivilFromDays(days, y, m, d);
  const std::int64_t last_year = y + kSearchYears;
  while (y <= last_year) {
    if (!months_[m] || !DayMatches(y, m, d)) {
      // The next day (a whole month ahead when the month does not match).
      days = months_[m] ? days + 1 : DaysFromCivil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1);
      CivilFromDays(days, y, m, d);
      minute = 0;
      continue;
    }
    for (; minute < 1440; ++minute) {
      if (hours_[static_cast<std::size_t>(minute / 60)] &&
          minutes_[static_cast<std::size_t>(minute % 60)]) {
        return days * kDay + minute * 60;
      }
    }
    CivilFromDays(++days, y, m, d);
    minute = 0;
  }
  return std::nullopt;
}

std::optional<std::int64_t> CronSchedule::Next(std::int64_t after_utc, const TimeZone& zone) const {
  // A local time c shows at a UTC instant in [c - max_offset, c - min_offset]
  // (offsets in force from `after_utc` on), so candidates are scanned in
  // local order from the first that can lie after `after_utc` until none
  // can beat the best found: the local -> UTC map is not monotonic across
  // a forward jump.
  const auto [min_offset, max_offset] = zone.OffsetRangeFrom(after_utc - 2 * kDay);
  std::optional<std::int64_t> best;
  std::optional<std::int64_t> c = NextLocal(after_utc + min_offset + 1);
  while (c) {
    if (best && *c - max_offset >= *best) {
      break;
    }
    const std::int64_t utc = zone.FromLocal(*c);
    if (utc > after_utc && (!best || utc < *best)) {
      best = utc;
    }
    c = NextLocal(*c + 60);
  }
  return best;
}

}  // namespace schemaop::core
