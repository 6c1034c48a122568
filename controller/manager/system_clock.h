#pragma once
// reconcile::Clock over the system's wall clock (the reconciler writes the
// times it reads into status, so they must be real UTC, not monotonic).
#include <chrono>

#include "reconcile/ports.h"

namespace schemaop::manager {

class SystemClock final : public reconcile::Clock {
 public:
  core::Timestamp Now() override {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return core::Timestamp{
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count()};
  }
};

}  // namespace schemaop::manager
