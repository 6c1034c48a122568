#include "core/conditions.h"

#include <cstdio>
#include <tuple>

#include "core/civil_time.h"

namespace schemaop::core {
namespace {

bool ReadDigits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

Timestamp Timestamp::TruncatedToSeconds() const {
  return Timestamp{FloorDiv(unix_millis, 1000) * 1000};
}

std::string FormatRfc3339(Timestamp time) {
  const std::int64_t seconds = FloorDiv(time.unix_millis, 1000);
  const int millis = static_cast<int>(time.unix_millis - seconds * 1000);
  const CivilTime t = CivilFromSeconds(seconds);
  char buffer[64];
  if (millis == 0) {
    std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02d:%02d:%02dZ",
                  static_cast<long long>(t.year), t.month, t.day, t.hour, t.minute, t.second);
  } else {
    std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                  static_cast<long long>(t.year), t.month, t.day, t.hour, t.minute, t.second,
                  millis);
  }
  return buffer;
}

std::optional<Timestamp> ParseRfc3339(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !ReadDigits(text, 0, 4, year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, month) || text[7] != '-' || !ReadDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, minute) || text[16] != ':' || !ReadDigits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int scale = 100;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  std::int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh = 0, om = 0;
    if (!ReadDigits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !ReadDigits(text, pos + 4, 2, om)) {
      return std::nullopt;
    }
    offset_seconds = (oh * 3600 + om * 60) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const std::int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return Timestamp{seconds * 1000 + millis};
}

const char* ConditionStatusName(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      break;
  }
  return "Unknown";
}

std::optional<ConditionStatus> ParseConditionStatus(std::string_view text) {
  if (text == "True") {
    return ConditionStatus::kTrue;
  }
  if (text == "False") {
    return ConditionStatus::kFalse;
  }
  if (text == "Unknown") {
    return ConditionStatus::kUnknown;
  }
  return std::nullopt;
}

bool Condition::operator==(const Condition& o) const {
  return std::tie(type, status, observed_generation, last_transition_time.unix_millis, reason,
                  message) == std::tie(o.type, o.status, o.observed_generation,
                                       o.last_transition_time.unix_millis, o.reason, o.message);
}

bool SetCondition(std::vector<Condition>& conditions, Condition cond, Timestamp now) {
  for (Condition& existing : conditions) {
    if (existing.type != cond.type) {
      continue;
    }
    if (existing.status != cond.status) {
      cond.last_transition_time = now.TruncatedToSeconds();
    } else {
      cond.last_transition_time = existing.last_transition_time;
    }
    if (existing == cond) {
      return false;
    }
    existing = std::move(cond);
    return true;
  }
  cond.last_transition_time = now.TruncatedToSeconds();
  conditions.push_back(std::move(cond));
  return true;
}

const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type) {
  for (const Condition& c : conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

bool IsConditionTrue(const std::vector<Condition>& conditions, std::string_view type) {
  const Condition* c = FindCondition(conditions, type);
  return c != nullptr && c->status == ConditionStatus::kTrue;
}

const char* ReasonForCode(Code code, const char* fallback) {
  switch (code) {
    case Code::kUnknownRevision:
    case Code::kAmbiguousRevision:
    case Code::kMultipleHeads:
    case Code::kRangeError:
      return reasons::kUnknownRevision;
    case Code::kParseError:
    case Code::kDuplicateRevision:
    case Code::kUnknownParent:
    case Code::kCycleDetected:
    case Code::kMultipleBases:
      return reasons::kInvalidMigrations;
    case Code::kInvalidArgument:
      return reasons::kInvalidSpec;
    case Code::kUnreachable:
      return reasons::kDatabaseUnreachable;
    case Code::kLockHeld:
      return reasons::kLockHeld;
    case Code::kChecksumMismatch:
      return reasons::kChecksumMismatch;
    case Code::kMigrationFailed:
      return reasons::kMigrationFailed;
    case Code::kVerificationFailed:
      return reasons::kVerificationFailed;
    case Code::kBackupFailed:
      return reasons::kBackupFailed;
    case Code::kSchemaDrift:
      return reasons::kSchemaDrift;
    case Code::kMigrationsChanged:
      return reasons::kMigrationsChanged;
    case Code::kDowntimeExceeded:
      return reasons::kDowntimeExceeded;
    case Code::kAborted:
      return reasons::kAborted;
    default:
      break;
  }
  return fallback;
}

}  // namespace schemaop::core
