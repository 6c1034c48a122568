#pragma once
// status.rehearsal (design §6.7): the last rehearsal of spec.rehearse,
// keyed by the plan it rehearsed, so one plan is rehearsed once.
#include <cstdint>
#include <optional>
#include <string>

#include "core/conditions.h"

namespace schemaop::core {

struct RehearsalStatus {
  std::string outcome;      // kOutcomeSucceeded | kOutcomeFailed
  std::string plan_digest;  // status.run.planDigest of the plan rehearsed (the key)
  // The generation it served: a failed rehearsal blocks its plan only for
  // this generation, so a spec edit (e.g. a fixed check) rehearses again.
  std::int64_t generation = 0;
  std::string from;         // FormatVersions of the start and target
  std::string to;
  double sql_seconds = 0;                 // the forward run's SQL
  double predicted_downtime_seconds = 0;  // the forward run, plus a backup when one is taken
  std::optional<Timestamp> finish_time;
  std::string reason;   // RehearsalFailed when it failed
  std::string message;  // what failed (stage and the engine's message), or a summary
  bool operator==(const RehearsalStatus& o) const {
    return outcome == o.outcome && plan_digest == o.plan_digest && generation == o.generation &&
           from == o.from && to == o.to &&
           sql_seconds == o.sql_seconds &&
           predicted_downtime_seconds == o.predicted_downtime_seconds &&
           finish_time == o.finish_time && reason == o.reason && message == o.message;
  }
};

}  // namespace schemaop::core
