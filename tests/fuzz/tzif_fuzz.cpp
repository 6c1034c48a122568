// core::TimeZone::FromTzif (the system tzdata's files) and core::ParsePosixTz
// (their footers): any bytes give a zone or kInvalidArgument; an accepted
// zone's offsets stay within RFC 8536's bounds and within OffsetRangeFrom,
// and converting local times back always terminates.
#include <cstdint>
#include <string>

#include "core/time_zone.h"
#include "fuzz_targets.h"

namespace schemaop::fuzz {

void Tzif(std::string_view input) {
  if (const auto rule = core::ParsePosixTz(input); rule.ok()) {
    SCHEMAOP_FUZZ_CHECK(
        rule.value().std_offset >= -25 * 3600 && rule.value().std_offset <= 25 * 3600,
        "POSIX offset out of range");
  }
  const auto zone = core::TimeZone::FromTzif("Fuzz/Zone", input);
  if (!zone.ok()) {
    SCHEMAOP_FUZZ_CHECK(zone.status().code() == core::Code::kInvalidArgument,
                        zone.status().ToString());
    return;
  }
  const core::TimeZone& z = zone.value();
  const auto [lo, hi] = z.OffsetRangeFrom(0);
  for (std::int64_t t :
       {std::int64_t{-2'000'000'000}, std::int64_t{0}, std::int64_t{1'774'746'000},
        std::int64_t{1'792'890'000}, std::int64_t{4'102'444'800}, std::int64_t{253'402'300'799}}) {
    const std::int32_t off = z.OffsetAt(t);
    SCHEMAOP_FUZZ_CHECK(off >= -89999 && off <= 93599, "offset out of range");
    if (t >= 0) {
      SCHEMAOP_FUZZ_CHECK(off >= lo && off <= hi, "offset outside OffsetRangeFrom(0)");
    }
    (void)z.FromLocal(z.ToLocal(t));
    (void)z.FromLocal(t);
  }
}

}  // namespace schemaop::fuzz
