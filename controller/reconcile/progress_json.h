#pragma once
// status.progress <-> JSON (design §6.8), kept apart from
// status_json.cpp, which calls these.
#include <nlohmann/json_fwd.hpp>
#include <optional>

#include "core/run_progress.h"
#include "core/schema_migration.h"

namespace schemaop::reconcile {

// `j` is the value of status.progress. A field of the wrong JSON type is
// returned (path relative to status.progress, e.g. "step").
std::optional<core::FieldError> ProgressFromJson(const nlohmann::json& j,
                                                 core::RunProgress& out);
nlohmann::json ProgressToJson(const core::RunProgress& progress);

}  // namespace schemaop::reconcile
