// reconcile::SchemaMigrationFromJson / SchemaMigrationToJson on any JSON
// document (what an API server or a user's manifest could hand the
// controller). Properties: decoding never throws (a wrong type is a Status);
// an accepted object encodes, the encoding decodes again, and encoding that
// gives the same JSON (decode -> encode -> decode is stable). The spec and
// status halves are checked the same way on their own.
#include <nlohmann/json.hpp>

#include <string>

#include "fuzz_targets.h"
#include "reconcile/schema_migration_json.h"

namespace schemaop::fuzz {
namespace {

template <typename Decode, typename Encode>
void RoundTrip(const nlohmann::json& document, Decode decode, Encode encode, const char* what) {
  const auto first = decode(document);
  if (!first.ok()) {
    SCHEMAOP_FUZZ_CHECK(!first.status().message().empty(),
                        std::string(what) + ": error without a message");
    return;
  }
  const nlohmann::json encoded = encode(first.value());
  const auto second = decode(encoded);
  SCHEMAOP_FUZZ_CHECK(second.ok(), std::string(what) + ": its own encoding " + encoded.dump() +
                                       " does not decode: " + second.status().ToString());
  const nlohmann::json reencoded = encode(second.value());
  SCHEMAOP_FUZZ_CHECK(reencoded == encoded, std::string(what) + ": " + encoded.dump() +
                                                " re-encodes as " + reencoded.dump());
}

}  // namespace

void SchemaMigrationJson(std::string_view input) {
  const nlohmann::json document =
      nlohmann::json::parse(input.begin(), input.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return;
  }
  RoundTrip(document, reconcile::SchemaMigrationFromJson, reconcile::SchemaMigrationToJson,
            "SchemaMigration");
  RoundTrip(document, reconcile::SpecFromJson, reconcile::SpecToJson, "spec");
  RoundTrip(document, reconcile::StatusFromJson, reconcile::StatusToJson, "status");
  if (document.is_object() && document.contains("spec")) {
    RoundTrip(document["spec"], reconcile::SpecFromJson, reconcile::SpecToJson, "spec field");
  }
  if (document.is_object() && document.contains("status")) {
    RoundTrip(document["status"], reconcile::StatusFromJson, reconcile::StatusToJson,
              "status field");
  }
}

}  // namespace schemaop::fuzz
