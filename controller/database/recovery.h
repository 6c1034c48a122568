#pragma once
// Recovery (design §4.8): every run_log row left 'running' by a dead process
// is brought to a consistent end under the lock: its undo resumed, closed
// when nothing committed, else resumed forward (undone per failure policy
// when that fails). Internal header; include only from controller/database.
#include <optional>
#include <string>

#include "core/status.h"

namespace schemaop::database::internal {

struct Runtime;

// Must hold the lock. Returns a one-line description per recovered run
// joined by "; ", or nullopt when there was nothing to recover.
core::Result<std::optional<std::string>> RecoverLocked(Runtime& rt);

}  // namespace schemaop::database::internal
