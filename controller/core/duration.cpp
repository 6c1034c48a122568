#include "core/duration.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace schemaop::core {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The value as shown in an error: quoted, at most 40 characters, control
// and non-ASCII bytes as '?', so hostile input cannot garble a terminal.
std::string Shown(std::string_view value) {
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    out += (c < 0x20 || c >= 0x7f) ? '?' : static_cast<char>(c);
  }
  return out + (value.size() > 40 ? "...\"" : "\"");
}

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsDigit);
}

// "12" or "0.25" (seconds, as the local flags took them before they had
// units) in milliseconds, rounded half up; nullopt for anything else
// (signs, exponents, "5.", ".5") or above the cap.
std::optional<std::int64_t> BareSecondsMillis(std::string_view text) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (!AllDigits(whole) || (dot != std::string_view::npos && !AllDigits(fraction))) {
    return std::nullopt;
  }
  std::int64_t seconds = 0;
  for (char c : whole) {
    seconds = seconds * 10 + (c - '0');
    if (seconds > kMaxDurationMillis / 1000) {
      return std::nullopt;
    }
  }
  std::int64_t millis = seconds * 1000;
  std::int64_t scale = 100;
  for (std::size_t i = 0; i < fraction.size() && i < 3; ++i, scale /= 10) {
    millis += (fraction[i] - '0') * scale;
  }
  if (fraction.size() > 3 && fraction[3] >= '5') {
    ++millis;
  }
  if (millis > kMaxDurationMillis) {
    return std::nullopt;
  }
  return millis;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto invalid = [&text]() {
    return Status(Code::kInvalidArgument,
                  "invalid duration '" + std::string(text) +
                      "': use <number><unit> with unit ms, s, m or h (e.g. 10s, 1m30s), or 0");
  };
  if (text == "0") {
    return std::chrono::milliseconds(0);
  }
  if (text.empty()) {
    return invalid();
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t number = 0;
    const std::size_t start = i;
    while (i < text.size() && IsDigit(text[i])) {
      number = number * 10 + (text[i] - '0');
      if (number > kMaxDurationMillis) {
        return invalid();
      }
      ++i;
    }
    if (i == start) {
      return invalid();
    }
    std::int64_t unit = 0;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 's') {
      unit = 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unit = 3600 * 1000;
      ++i;
    } else {
      return invalid();
    }
    // Checked before multiplying: number * unit alone can overflow int64
    // (found by tests/fuzz: 299999990999999m).
    if (number > (kMaxDurationMillis - total) / unit) {
      return invalid();
    }
    total += number * unit;
  }
  return std::chrono::milliseconds(total);
}

Result<std::chrono::milliseconds> ParseDurationFlag(std::string_view flag, std::string_view value,
                                                    BareNumber bare) {
  const std::string prefix = std::string(flag) + ": " + Shown(value);
  if (auto parsed = ParseDuration(value); parsed.ok()) {
    return parsed;
  }
  if (bare == BareNumber::kSeconds) {
    if (auto millis = BareSecondsMillis(value)) {
      return std::chrono::milliseconds(*millis);
    }
  }
  if (value.empty()) {
    return Status(Code::kInvalidArgument, prefix + " is empty: give a duration, e.g. 10s");
  }
  if (value.front() == '-') {
    return Status(Code::kInvalidArgument, prefix + " must not be negative");
  }
  if (AllDigits(value) && value.size() <= 15) {
    return Status(Code::kInvalidArgument,
                  prefix + " needs a unit, e.g. " + std::string(value) + "s");
  }
  return Status(Code::kInvalidArgument,
                prefix +
                    " is not a duration: use e.g. 500ms, 10s, 5m, 1h or 1m30s (whole "
                    "numbers with unit ms, s, m or h; at most " +
                    std::to_string(kMaxDurationMillis / 3'600'000) + "h)");
}

}  // namespace schemaop::core
