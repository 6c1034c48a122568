// core::ParseDuration (spec.lockTimeout, spec.statementTimeout): any text gives
// a value or kInvalidArgument; a value is never negative and never above the
// documented cap; the text "0" and only digit+unit sequences are accepted.
#include <chrono>
#include <cstdint>
#include <string>

#include "core/schema_migration.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {

void Duration(std::string_view input) {
  const auto parsed = core::ParseDuration(input);
  if (!parsed.ok()) {
    SCHEMAOP_FUZZ_CHECK(parsed.status().code() == core::Code::kInvalidArgument,
                        parsed.status().ToString());
    return;
  }
  const std::int64_t ms = parsed.value().count();
  SCHEMAOP_FUZZ_CHECK(ms >= 0, "negative duration for '" + std::string(input) + "'");
  SCHEMAOP_FUZZ_CHECK(ms <= (std::int64_t{1} << 50),
                      "duration above the cap for '" + std::string(input) + "'");
  SCHEMAOP_FUZZ_CHECK(!input.empty(), "empty text accepted");
  for (char c : input) {
    const bool allowed = (c >= '0' && c <= '9') || c == 'm' || c == 's' || c == 'h';
    SCHEMAOP_FUZZ_CHECK(allowed, "accepted '" + std::string(input) + "'");
  }
  // Writing the value back in milliseconds parses to the same value.
  const auto again = core::ParseDuration(std::to_string(ms) + "ms");
  SCHEMAOP_FUZZ_CHECK(again.ok() && again.value().count() == ms,
                      "'" + std::string(input) + "' = " + std::to_string(ms) +
                          "ms does not parse back");
}

}  // namespace schemaop::fuzz
