#include "core/migration_run.h"

#include <cstddef>

namespace schemaop::core {

const char* RunOutcomeName(RunOutcome outcome) {
  static constexpr const char* kNames[] = {"nothing-to-do", "succeeded", "rolled-back", "failed"};
  auto index = static_cast<std::size_t>(outcome);
  return index < sizeof kNames / sizeof kNames[0] ? kNames[index] : "unknown";
}

}  // namespace schemaop::core
