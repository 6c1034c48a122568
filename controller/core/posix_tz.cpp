// ParsePosixTz: the POSIX TZ strings of TZif footers (RFC 8536 §3.3).
#include <cctype>
#include <string>
#include <string_view>

#include "core/time_zone.h"

namespace schemaop::core {
namespace {

class TzParser {
 public:
  explicit TzParser(std::string_view text) : s_(text) {}

  bool AtEnd() const { return i_ == s_.size(); }
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Eat(char c) {
    if (!Peek(c)) {
      return false;
    }
    ++i_;
    return true;
  }

  // <...> (letters, digits, '+', '-') or three or more letters.
  bool Name() {
    if (Eat('<')) {
      const std::size_t start = i_;
      while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) != 0 ||
                                s_[i_] == '+' || s_[i_] == '-')) {
        ++i_;
      }
      return i_ - start >= 3 && Eat('>');
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_])) != 0) {
      ++i_;
    }
    return i_ - start >= 3;
  }

  bool Number(int max_digits, int max, int& out) {
    int digits = 0;
    out = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])) != 0) {
      if (++digits > max_digits) {
        return false;
      }
      out = out * 10 + (s_[i_++] - '0');
    }
    return digits > 0 && out <= max;
  }

  // [+-]hh[:mm[:ss]] with hours up to max_hours, in seconds.
  bool Time(int max_hours, std::int32_t& out) {
    int sign = 1;
    if (Eat('-')) {
      sign = -1;
    } else {
      Eat('+');
    }
    int h = 0;
    int m = 0;
    int sec = 0;
    if (!Number(3, max_hours, h)) {
      return false;
    }
    if (Eat(':') && (!Number(2, 59, m) || (Eat(':') && !Number(2, 59, sec)))) {
      return false;
    }
    out = sign * (h * 3600 + m * 60 + sec);
    return true;
  }

  bool Date(PosixTzRule::Date& d) {
    using Kind = PosixTzRule::Date::Kind;
    if (Eat('M')) {
      d.kind = Kind::kMonthWeekDay;
      if (!Number(2, 12, d.month) || d.month < 1 || !Eat('.') || !Number(1, 5, d.week) ||
          d.week < 1 || !Eat('.') || !Number(1, 6, d.day)) {
        return false;
      }
    } else if (Eat('J')) {
      d.kind = Kind::kJulianNoLeap;
      if (!Number(3, 365, d.day) || d.day < 1) {
        return false;
      }
    } else {
      d.kind = Kind::kZeroBased;
      if (!Number(3, 365, d.day)) {
        return false;
      }
    }
    d.time = 7200;
    return !Eat('/') || Time(167, d.time);
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

Result<PosixTzRule> ParsePosixTz(std::string_view text) {
  auto bad = [&](const char* what) {
    return Status(Code::kInvalidArgument,
                  "POSIX TZ rule \"" + std::string(text.substr(0, 64)) + "\": " + what);
  };
  TzParser p(text);
  PosixTzRule rule;
  std::int32_t posix_offset = 0;
  if (!p.Name()) {
    return bad("bad standard-time name");
  }
  if (!p.Time(24, posix_offset)) {
    return bad("bad standard-time offset");
  }
  rule.std_offset = -posix_offset;
  if (p.AtEnd()) {
    return rule;
  }
  if (!p.Name()) {
    return bad("bad daylight-time name");
  }
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (!p.AtEnd() && !p.Peek(',')) {
    if (!p.Time(24, posix_offset)) {
      return bad("bad daylight-time offset");
    }
    rule.dst_offset = -posix_offset;
  }
  if (p.AtEnd()) {
    // No rule: POSIX leaves it to the implementation; glibc and tzcode use
    // the US rules.
    rule.start = {PosixTzRule::Date::Kind::kMonthWeekDay, 3, 2, 0, 7200};
    rule.end = {PosixTzRule::Date::Kind::kMonthWeekDay, 11, 1, 0, 7200};
    return rule;
  }
  if (!p.Eat(',') || !p.Date(rule.start) || !p.Eat(',') || !p.Date(rule.end) || !p.AtEnd()) {
    return bad("bad daylight-time rule (expected ,start[/time],end[/time])");
  }
  return rule;
}

}  // namespace schemaop::core
