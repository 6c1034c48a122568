#pragma once
// Durations, written as Go's time.ParseDuration (and so kubectl) writes
// them: "10s", "500ms", "5m", "1h", "1m30s". One parser for every place a
// user writes a duration: SchemaMigration spec.lockTimeout and
// spec.statementTimeout, the local commands' --lock-wait, --lock-timeout,
// --statement-timeout and `wait --timeout`, and `schemaop controller`'s
// --lease-duration, --renew-deadline, --retry-period, --resync-period and
// their SCHEMAOP_* environment twins.
//
// The grammar is the CRD's pattern for spec.lockTimeout:
// `^(0|([0-9]+(ms|s|m|h))+)$`: whole numbers only (no sign, no fraction, no
// exponent, no spaces), at most 2^50 ms in all. Pure; no I/O.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace schemaop::core {

// The largest duration accepted, in milliseconds (about 35,700 years).
inline constexpr std::int64_t kMaxDurationMillis = std::int64_t{1} << 50;

// "0", or one or more <digits><unit> with unit ms|s|m|h ("1m30s", "500ms").
// kInvalidArgument otherwise.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// What a number without a unit means for a flag.
enum class BareNumber {
  kReject,   // "10" is an error that asks for a unit (every flag since issue 11)
  kSeconds,  // "10" and "0.5" are seconds: the local commands' duration
             // flags, documented in seconds before they took units
};

// Parses the value of a duration flag. `flag` names it in errors, e.g.
// "--lock-timeout" or "--lease-duration (or SCHEMAOP_LEASE_DURATION)".
// kInvalidArgument naming the flag, the value and an example:
//   --lock-timeout: "10" needs a unit, e.g. 10s
//   --lock-wait: "-5s" must not be negative
//   --lease-duration: "fast" is not a duration: use e.g. 500ms, 10s, 5m, 1h or 1m30s
Result<std::chrono::milliseconds> ParseDurationFlag(std::string_view flag, std::string_view value,
                                                    BareNumber bare = BareNumber::kReject);

}  // namespace schemaop::core
