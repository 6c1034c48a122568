#pragma once

// Internal building blocks of the test API server. Pure functions over JSON
// (selectors, patches, schema validation, JSONPath, tables) are declared here
// so they can be unit-tested without a network.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace schemaop::apiserver {

using Json = nlohmann::json;

// A Kubernetes API error, rendered as a metav1.Status.
struct ApiError {
  int code = 500;
  std::string reason;
  std::string message;
  Json details = Json::object();

  Json ToStatus() const;
};

ApiError NotFound(const std::string& group, const std::string& plural,
                  const std::string& name);
ApiError AlreadyExists(const std::string& group, const std::string& plural,
                       const std::string& name);
ApiError Conflict(const std::string& group, const std::string& plural,
                  const std::string& name, const std::string& why);
ApiError BadRequest(const std::string& message);
ApiError MethodNotAllowed(const std::string& message);
ApiError Expired(const std::string& message);
// Reason derived from an HTTP code as the real apiserver does.
std::string ReasonForCode(int code);

// One field error, as k8s.io/apimachinery/pkg/util/validation/field.Error.
struct FieldError {
  std::string type;    // FieldValueRequired, FieldValueInvalid, ...
  std::string field;   // spec.targetRevision
  std::string detail;  // full message after the field path
};
// "<Kind>.<group> \"name\" is invalid: ..." with details.causes.
ApiError Invalid(const std::string& kind, const std::string& group,
                 const std::string& name, const std::vector<FieldError>& errors);

// ---- Selectors -----------------------------------------------------------

struct Requirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kEquals;
  std::vector<std::string> values;
};

struct LabelSelector {
  std::vector<Requirement> requirements;
  bool Matches(const Json& labels) const;  // labels: object or null
  bool empty() const { return requirements.empty(); }
};
// Parses "a=b,c!=d,e in (x,y),f notin (z),g,!h". Error on bad syntax.
std::optional<LabelSelector> ParseLabelSelector(const std::string& text,
                                                std::string* error);

struct FieldSelector {
  std::vector<Requirement> requirements;  // only =, ==, !=
  bool Matches(const Json& object) const;
};
std::optional<FieldSelector> ParseFieldSelector(const std::string& text,
                                                std::string* error);

// ---- Patches -------------------------------------------------------------

// RFC 7386.
Json MergePatch(const Json& target, const Json& patch);
// RFC 6902. Errors (bad pointer, failed test) are returned as a message.
std::optional<Json> JsonPatch(const Json& target, const Json& operations,
                              std::string* error);
// Strategic merge patch, simplified: like a merge patch, except that lists
// of objects with a well-known merge key (name, containerPort, mountPath,
// type, ip, devicePath) are merged element-wise ("$patch": "delete" removes
// an element), and directive keys ("$setElementOrder/...", "$retainKeys",
// "$deleteFromPrimitiveList/...") are dropped.
Json StrategicMergePatch(const Json& target, const Json& patch);
// Server-side apply simplified: objects merged recursively, everything else
// (lists included) replaced; nothing is removed.
Json ApplyMerge(const Json& target, const Json& applied);

// Parses JSON, or YAML when the text is not JSON (for apply-patch+yaml).
std::optional<Json> ParseJsonOrYaml(const std::string& text, std::string* error);

// ---- Structural schema ---------------------------------------------------

// Removes fields unknown to the schema (unless
// x-kubernetes-preserve-unknown-fields) and nulls that are not nullable,
// then applies defaults. `object` is the whole custom resource; apiVersion,
// kind and metadata are left alone.
void PruneAndDefault(const Json& schema, Json& object);
// Validates type, required, enum, pattern, minimum/maximum (+exclusive),
// minLength/maxLength, minItems/maxItems, format-free. Paths are rendered
// like the real server: spec.workloads[0].kind.
std::vector<FieldError> ValidateAgainstSchema(const Json& schema,
                                              const Json& object);

// ---- JSONPath (printer columns) -----------------------------------------

// Evaluates simple JSONPath expressions: .a.b, [n], [*],
// [?(@.k=="v")] (also @.k.sub and single quotes), optionally wrapped in {}.
std::vector<Json> EvalJsonPath(const Json& root, const std::string& path,
                               std::string* error);

// k8s.io/apimachinery/pkg/util/duration.HumanDuration.
std::string HumanDuration(std::int64_t seconds);

// RFC 3339 UTC now, seconds precision, and its parse (epoch seconds).
std::string NowRfc3339();
std::optional<std::int64_t> ParseRfc3339(const std::string& text);

// DNS-1123 subdomain check used for object names.
bool IsDns1123Subdomain(const std::string& name);

// managedFields of Update operations (managed_fields.cpp): the manager a
// write is recorded under (the fieldManager parameter, else the User-Agent
// up to its first '/'), and the entry recording what `next` changed from
// `current` (written into next.metadata.managedFields).
std::string UpdateManagerOf(const std::string& field_manager, const std::string& user_agent);
void RecordUpdateFields(const Json& current, Json& next, const std::string& manager,
                        const std::string& api_version, const std::string& subresource);

std::string Base64Encode(const std::string& data);
std::optional<std::string> Base64Decode(const std::string& text);

}  // namespace schemaop::apiserver
