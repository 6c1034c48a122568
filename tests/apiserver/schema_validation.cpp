// Structural-schema pruning, defaulting and validation for custom resources,
// following apiextensions-apiserver: messages and field paths are shaped like
// the real server's so that clients and kubectl output look the same.

#include <cmath>
#include <regex>

#include "internal.h"

namespace schemaop::apiserver {

namespace {

bool PreservesUnknown(const Json& schema) {
  return schema.value("x-kubernetes-preserve-unknown-fields", false);
}

bool IsEmbeddedResource(const Json& schema) {
  return schema.value("x-kubernetes-embedded-resource", false);
}

void PruneNode(const Json& schema, Json& value) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    const Json props = schema.value("properties", Json::object());
    const bool has_additional = schema.contains("additionalProperties") &&
                                schema["additionalProperties"].is_object();
    for (auto it = value.begin(); it != value.end();) {
      const std::string key = it.key();
      if (IsEmbeddedResource(schema) &&
          (key == "apiVersion" || key == "kind" || key == "metadata")) {
        ++it;
        continue;
      }
      const Json* child_schema = nullptr;
      if (props.contains(key)) {
        child_schema = &props[key];
      } else if (has_additional) {
        child_schema = &schema["additionalProperties"];
      }
      if (child_schema == nullptr) {
        if (PreservesUnknown(schema) ||
            (schema.contains("additionalProperties") && schema["additionalProperties"] == true)) {
          ++it;
        } else {
          it = value.erase(it);
        }
        continue;
      }
      if (it.value().is_null() && !child_schema->value("nullable", false)) {
        it = value.erase(it);
        continue;
      }
      PruneNode(*child_schema, it.value());
      ++it;
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (Json& item : value) {
      PruneNode(schema["items"], item);
    }
  }
}

void DefaultNode(const Json& schema, Json& value) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    if (schema.contains("properties")) {
      for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
        if (!value.contains(it.key()) && it.value().contains("default")) {
          value[it.key()] = it.value()["default"];
        }
        if (value.contains(it.key())) {
          DefaultNode(it.value(), value[it.key()]);
        }
      }
    }
    if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
      const Json& extra = schema["additionalProperties"];
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!schema.value("properties", Json::object()).contains(it.key())) {
          DefaultNode(extra, it.value());
        }
      }
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (Json& item : value) {
      DefaultNode(schema["items"], item);
    }
  }
}

// Go's %v rendering of a JSON value inside "Invalid value: ..." messages.
std::string GoValue(const Json& value) {
  if (value.is_string()) return value.dump();
  if (value.is_object()) return "\"object\"";
  if (value.is_array()) return "\"array\"";
  return value.dump();
}

std::string TypeName(const Json& value) {
  if (value.is_string()) return "string";
  if (value.is_boolean()) return "boolean";
  if (value.is_number_integer() || value.is_number_unsigned()) return "integer";
  if (value.is_number()) return "number";
  if (value.is_object()) return "object";
  if (value.is_array()) return "array";
  return "null";
}

bool TypeMatches(const std::string& type, const Json& value) {
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "integer") {
    return value.is_number_integer() || value.is_number_unsigned() ||
           (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
  }
  if (type == "number") return value.is_number();
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  return true;
}

class Validator {
 public:
  std::vector<FieldError> errors;

  void Validate(const Json& schema, const Json& value, const std::string& path) {
    if (!schema.is_object()) return;
    if (value.is_null()) {
      if (!schema.value("nullable", false) && schema.contains("type")) {
        Add("FieldValueTypeInvalid", path,
            "Invalid value: \"null\": " + path + " in body must be of type " +
                schema["type"].get<std::string>() + ": \"null\"");
      }
      return;
    }
    if (schema.value("x-kubernetes-int-or-string", false)) {
      if (!value.is_string() && !value.is_number_integer() && !value.is_number_unsigned()) {
        Add("FieldValueTypeInvalid", path,
            "Invalid value: " + GoValue(value) + ": " + path +
                " in body must be of type integer,string: \"" + TypeName(value) + "\"");
        return;
      }
    } else if (schema.contains("type") && schema["type"].is_string()) {
      const std::string type = schema["type"].get<std::string>();
      if (!TypeMatches(type, value)) {
        Add("FieldValueTypeInvalid", path,
            "Invalid value: \"" + TypeName(value) + "\": " + path +
                " in body must be of type " + type + ": \"" + TypeName(value) + "\"");
        return;
      }
    }
    if (schema.contains("enum") && schema["enum"].is_array()) {
      bool found = false;
      std::string supported;
      for (const Json& allowed : schema["enum"]) {
        if (allowed == value) found = true;
        supported += (supported.empty() ? "" : ", ") + allowed.dump();
      }
      if (!found) {
        Add("FieldValueNotSupported", path,
            "Unsupported value: " + value.dump() + ": supported values: " + supported);
      }
    }
    if (value.is_string()) {
      const std::string text = value.get<std::string>();
      if (schema.contains("pattern")) {
        const std::string pattern = schema["pattern"].get<std::string>();
        bool ok = true;
        try {
          ok = std::regex_search(text, std::regex(pattern, std::regex::ECMAScript));
        } catch (const std::regex_error&) {
          ok = true;  // A pattern std::regex cannot compile is not enforced.
        }
        if (!ok) {
          Add("FieldValueInvalid", path,
              "Invalid value: " + value.dump() + ": " + path + " in body should match '" +
                  pattern + "'");
        }
      }
      if (schema.contains("minLength") && text.size() < schema["minLength"].get<std::size_t>()) {
        Add("FieldValueInvalid", path,
            "Invalid value: " + value.dump() + ": " + path + " in body should be at least " +
                schema["minLength"].dump() + " chars long");
      }
      if (schema.contains("maxLength") && text.size() > schema["maxLength"].get<std::size_t>()) {
        Add("FieldValueTooLong", path,
            "Too long: may not be more than " + schema["maxLength"].dump() + " bytes");
      }
    }
    if (value.is_number()) {
      const double number = value.get<double>();
      if (schema.contains("minimum")) {
        const double min = schema["minimum"].get<double>();
        const bool exclusive = schema.value("exclusiveMinimum", false);
        if (exclusive ? number <= min : number < min) {
          Add("FieldValueInvalid", path,
              "Invalid value: " + value.dump() + ": " + path + " in body should be greater than " +
                  (exclusive ? "" : "or equal to ") + schema["minimum"].dump());
        }
      }
      if (schema.contains("maximum")) {
        const double max = schema["maximum"].get<double>();
        const bool exclusive = schema.value("exclusiveMaximum", false);
        if (exclusive ? number >= max : number > max) {
          Add("FieldValueInvalid", path,
              "Invalid value: " + value.dump() + ": " + path + " in body should be less than " +
                  (exclusive ? "" : "or equal to ") + schema["maximum"].dump());
        }
      }
    }
    if (value.is_array()) {
      if (schema.contains("minItems") && value.size() < schema["minItems"].get<std::size_t>()) {
        Add("FieldValueInvalid", path,
            "Invalid value: " + std::to_string(value.size()) + ": " + path +
                " in body should have at least " + schema["minItems"].dump() + " items");
      }
      if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<std::size_t>()) {
        Add("FieldValueTooMany", path,
            "Too many: " + std::to_string(value.size()) + ": must have at most " +
                schema["maxItems"].dump() + " items");
      }
      if (schema.contains("items")) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          Validate(schema["items"], value[i], path + "[" + std::to_string(i) + "]");
        }
      }
    }
    if (value.is_object()) {
      if (schema.contains("required") && schema["required"].is_array()) {
        for (const Json& name : schema["required"]) {
          if (name.is_string() && !value.contains(name.get<std::string>())) {
            Add("FieldValueRequired", Join(path, name.get<std::string>()), "Required value");
          }
        }
      }
      const Json props = schema.value("properties", Json::object());
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (props.contains(it.key())) {
          Validate(props[it.key()], it.value(), Join(path, it.key()));
        } else if (schema.contains("additionalProperties") &&
                   schema["additionalProperties"].is_object()) {
          Validate(schema["additionalProperties"], it.value(), Join(path, it.key()));
        }
      }
      if (schema.contains("minProperties") &&
          value.size() < schema["minProperties"].get<std::size_t>()) {
        Add("FieldValueInvalid", path,
            "Invalid value: " + std::to_string(value.size()) + ": " + path +
                " in body should have at least " + schema["minProperties"].dump() +
                " properties");
      }
    }
  }

 private:
  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  void Add(const std::string& type, const std::string& field, const std::string& detail) {
    errors.push_back({type, field, detail});
  }
};

}  // namespace

void PruneAndDefault(const Json& schema, Json& object) {
  if (!schema.is_object() || !object.is_object()) return;
  Json root_schema = schema;
  // The root always keeps apiVersion, kind and metadata.
  root_schema["x-kubernetes-embedded-resource"] = true;
  PruneNode(root_schema, object);
  DefaultNode(schema, object);
}

std::vector<FieldError> ValidateAgainstSchema(const Json& schema, const Json& object) {
  Validator validator;
  if (!schema.is_object() || !object.is_object()) return validator.errors;
  Json body = object;
  body.erase("apiVersion");
  body.erase("kind");
  body.erase("metadata");
  Json root_schema = schema;
  if (root_schema.contains("properties")) {
    root_schema["properties"].erase("metadata");
    root_schema["properties"].erase("apiVersion");
    root_schema["properties"].erase("kind");
  }
  if (root_schema.contains("required")) {
    Json required = Json::array();
    for (const Json& name : root_schema["required"]) {
      if (name != "metadata" && name != "apiVersion" && name != "kind") required.push_back(name);
    }
    root_schema["required"] = required;
  }
  validator.Validate(root_schema, body, "");
  return validator.errors;
}

}  // namespace schemaop::apiserver
