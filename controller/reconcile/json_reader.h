#pragma once
// Internal to the SchemaMigration JSON mapping (schema_migration_json.cpp for
// the object and its spec, status_json.cpp for the status): the typed field
// reader and the pieces both sides use. Not for other includers (it brings
// in nlohmann/json.hpp).
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/schema_migration.h"
#include "core/status.h"

namespace schemaop::reconcile::json_internal {

using core::Code;
using core::Status;
using nlohmann::json;

// Reads typed fields with a path for messages; the first problem wins.
class Reader {
 public:
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  const json* Object(const json& parent, const char* key, const std::string& path) {
    return Typed(parent, key, path, &json::is_object, "expected an object");
  }

  const json* Array(const json& parent, const char* key, const std::string& path) {
    return Typed(parent, key, path, &json::is_array, "expected an array");
  }

  void String(const json& parent, const char* key, const std::string& path, std::string& out) {
    Scalar(parent, key, path, &json::is_string, "expected a string", out);
  }

  template <typename Int>
  void Integer(const json& parent, const char* key, const std::string& path, Int& out) {
    Scalar(parent, key, path, &json::is_number_integer, "expected an integer", out);
  }

  void Number(const json& parent, const char* key, const std::string& path, double& out) {
    Scalar(parent, key, path, &json::is_number, "expected a number", out);
  }

  void Bool(const json& parent, const char* key, const std::string& path, bool& out) {
    Scalar(parent, key, path, &json::is_boolean, "expected a boolean", out);
  }

  void Time(const json& parent, const char* key, const std::string& path,
            std::optional<core::Timestamp>& out) {
    std::string text;
    String(parent, key, path, text);
    if (text.empty()) {
      return;
    }
    out = core::ParseRfc3339(text);
    if (!out) {
      Fail(path, "expected an RFC 3339 time, got '" + text + "'");
    }
  }

  void Strings(const json& parent, const char* key, const std::string& path,
               std::vector<std::string>& out) {
    const json* array = Array(parent, key, path);
    if (array == nullptr) {
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (!(*array)[i].is_string()) {
        Fail(path + "[" + std::to_string(i) + "]", "expected a string");
        return;
      }
      out.push_back((*array)[i].get<std::string>());
    }
  }

  // Calls each(item, item_path) for every element of the array parent[key];
  // the elements must be objects (the first one that is not fails).
  template <typename Each>
  void Objects(const json& parent, const char* key, const std::string& path, Each each) {
    const json* array = Array(parent, key, path);
    if (array == nullptr) {
      return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!(*array)[i].is_object()) {
        Fail(item_path, "expected an object");
        return;
      }
      each((*array)[i], item_path);
    }
  }

  void Fail(const std::string& path, const std::string& message) {
    if (status_.ok()) {
      status_ = Status(Code::kInvalidArgument, path + ": " + message);
    }
  }

 private:
  using TypeCheck = bool (json::*)() const noexcept;

  // parent[key] when present and of the type `is_type` checks; null when
  // absent, and when of another type (then with `expected` recorded).
  const json* Typed(const json& parent, const char* key, const std::string& path,
                    TypeCheck is_type, const char* expected) {
    const json* value = Find(parent, key);
    if (value != nullptr && !(value->*is_type)()) {
      Fail(path, expected);
      return nullptr;
    }
    return value;
  }

  template <typename T>
  void Scalar(const json& parent, const char* key, const std::string& path, TypeCheck is_type,
              const char* expected, T& out) {
    if (const json* value = Typed(parent, key, path, is_type, expected)) {
      out = value->get<T>();
    }
  }

  static const json* Find(const json& parent, const char* key) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }

  Status status_;
};

inline void ReadCondition(Reader& r, const json& j, const std::string& path, core::Condition& c) {
  r.String(j, "type", path + ".type", c.type);
  std::string status;
  r.String(j, "status", path + ".status", status);
  if (auto parsed = core::ParseConditionStatus(status)) {
    c.status = *parsed;
  } else if (!status.empty()) {
    r.Fail(path + ".status", "expected True, False or Unknown");
  }
  r.Integer(j, "observedGeneration", path + ".observedGeneration", c.observed_generation);
  std::optional<core::Timestamp> time;
  r.Time(j, "lastTransitionTime", path + ".lastTransitionTime", time);
  c.last_transition_time = time.value_or(core::Timestamp{});
  r.String(j, "reason", path + ".reason", c.reason);
  r.String(j, "message", path + ".message", c.message);
}

// `out` starts empty (a fresh spec or run).
inline void ReadWorkloadRefs(Reader& r, const json& parent, const std::string& path,
                      std::vector<core::WorkloadRef>& out) {
  r.Objects(parent, "workloads", path, [&](const json& item, const std::string& item_path) {
    core::WorkloadRef ref;
    r.String(item, "kind", item_path + ".kind", ref.kind);
    r.String(item, "name", item_path + ".name", ref.name);
    r.String(item, "apiVersion", item_path + ".apiVersion", ref.api_version);
    r.String(item, "jobs", item_path + ".jobs", ref.jobs);
    out.push_back(std::move(ref));
  });
}

inline void PutTime(json& j, const char* key, const std::optional<core::Timestamp>& time) {
  if (time) {
    j[key] = core::FormatRfc3339(*time);
  }
}

inline json WorkloadRefsToJson(const std::vector<core::WorkloadRef>& refs) {
  json list = json::array();
  for (const core::WorkloadRef& w : refs) {
    json item = {{"kind", w.kind}, {"name", w.name}};
    if (!w.api_version.empty()) {
      item["apiVersion"] = w.api_version;  // left out for built-in kinds without one
    }
    if (!w.jobs.empty()) {
      item["jobs"] = w.jobs;
    }
    list.push_back(std::move(item));
  }
  return list;
}

}  // namespace schemaop::reconcile::json_internal
