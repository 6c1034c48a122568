#pragma once
// The phases of a plan in status (design §3.1, §5.2) <-> JSON:
// status.plan.steps[].phases {expand, window, contract: section numbers}
// and status.run / status.lastRun phaseSeconds {expand, window, contract}.
// Internal to status_json.cpp (brings in nlohmann/json.hpp).
#include <optional>
#include <string>

#include "reconcile/json_reader.h"

namespace schemaop::reconcile::json_internal {

// Absent (null) when the step has no phases.
json StepPhasesToJson(const core::StepPhases& phases);
void ReadStepPhases(Reader& r, const json& step, const std::string& path,
                    core::StepPhases& out);

json PhaseSecondsToJson(const core::PhaseSeconds& seconds);
void ReadPhaseSeconds(Reader& r, const json& parent, const std::string& path,
                      std::optional<core::PhaseSeconds>& out);

}  // namespace schemaop::reconcile::json_internal
