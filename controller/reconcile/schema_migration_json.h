#pragma once
// SchemaMigration <-> JSON with the exact camelCase field names of design §5
// and the CRD (crds/schemaop.dev_schemamigrations.yaml). Unknown fields are
// dropped. Decoding applies the CRD defaults (versionTable, workload kind,
// drainTimeoutSeconds, backup.when, verify.rowCounts, verify.schema,
// failurePolicy) so an object written before a default existed behaves the
// same. Enum-like spec values are kept as strings (core::ValidateSpec
// reports bad ones).
#include <nlohmann/json_fwd.hpp>

#include "core/schema_migration.h"
#include "core/status.h"

namespace schemaop::reconcile {

// A full object (apiVersion/kind/metadata/spec/status). kInvalidArgument
// naming the field (e.g. "spec.drainTimeoutSeconds: expected an integer")
// when a field has the wrong JSON type.
core::Result<core::SchemaMigration> SchemaMigrationFromJson(const nlohmann::json& json);
nlohmann::json SchemaMigrationToJson(const core::SchemaMigration& obj);

core::Result<core::SchemaMigrationSpec> SpecFromJson(const nlohmann::json& spec);
nlohmann::json SpecToJson(const core::SchemaMigrationSpec& spec);

core::Result<core::SchemaMigrationStatus> StatusFromJson(const nlohmann::json& status);
// The body of the `status` field (for PUT .../status wrap it with metadata).
nlohmann::json StatusToJson(const core::SchemaMigrationStatus& status);

inline constexpr char kApiVersion[] = "schemaop.dev/v1alpha1";
inline constexpr char kKind[] = "SchemaMigration";

}  // namespace schemaop::reconcile
