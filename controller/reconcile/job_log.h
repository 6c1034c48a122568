#pragma once
// A Job's log as it may appear in an Event or in status (design §10.2):
// scrubbed of every secret BEFORE it is cut (so a secret across the cut
// cannot leave half of itself), then the last `max_bytes` of it, starting
// at a line (or at least a UTF-8 character) boundary, with control
// characters other than newline and tab replaced by '?', so a tool's
// terminal escapes cannot rewrite what `kubectl describe` shows.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/database_url.h"

namespace schemaop::reconcile {

inline constexpr std::size_t kJobLogExcerptBytes = 2048;

std::string JobLogExcerpt(std::string_view log, const core::SecretScrubber& scrubber,
                          std::size_t max_bytes = kJobLogExcerptBytes);

}  // namespace schemaop::reconcile
