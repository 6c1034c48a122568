// Errors, selectors, patches, JSONPath and time helpers of the test API
// server. Pure functions; see internal.h.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <chrono>
#include <ctime>
#include <regex>
#include <sstream>

#include "internal.h"

namespace schemaop::apiserver {

// ---- Errors --------------------------------------------------------------

Json ApiError::ToStatus() const {
  Json status = {{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", Json::object()},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", reason},
                 {"code", code}};
  if (!details.empty()) {
    status["details"] = details;
  }
  return status;
}

namespace {
std::string Qualified(const std::string& group, const std::string& plural) {
  return group.empty() ? plural : plural + "." + group;
}
Json Details(const std::string& group, const std::string& plural,
             const std::string& name) {
  Json details = {{"name", name}, {"kind", plural}};
  if (!group.empty()) {
    details["group"] = group;
  }
  return details;
}
}  // namespace

std::string ReasonForCode(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "BadRequest";
  }
}

ApiError NotFound(const std::string& group, const std::string& plural,
                  const std::string& name) {
  return {404, "NotFound",
          Qualified(group, plural) + " \"" + name + "\" not found",
          Details(group, plural, name)};
}

ApiError AlreadyExists(const std::string& group, const std::string& plural,
                       const std::string& name) {
  return {409, "AlreadyExists",
          Qualified(group, plural) + " \"" + name + "\" already exists",
          Details(group, plural, name)};
}

ApiError Conflict(const std::string& group, const std::string& plural,
                  const std::string& name, const std::string& why) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + Qualified(group, plural) +
              " \"" + name + "\": " + why,
          Details(group, plural, name)};
}

ApiError BadRequest(const std::string& message) {
  return {400, "BadRequest", message, Json::object()};
}

ApiError MethodNotAllowed(const std::string& message) {
  return {405, "MethodNotAllowed", message, Json::object()};
}

ApiError Expired(const std::string& message) {
  return {410, "Expired", message, Json::object()};
}

ApiError Invalid(const std::string& kind, const std::string& group,
                 const std::string& name, const std::vector<FieldError>& errors) {
  std::string qualified_kind = group.empty() ? kind : kind + "." + group;
  std::string list;
  Json causes = Json::array();
  for (const FieldError& e : errors) {
    std::string one = e.field.empty() ? e.detail : e.field + ": " + e.detail;
    list += (list.empty() ? "" : ", ") + one;
    causes.push_back({{"reason", e.type}, {"message", e.detail}, {"field", e.field}});
  }
  if (errors.size() > 1) {
    list = "[" + list + "]";
  }
  Json details = {{"name", name}, {"kind", kind}, {"causes", causes}};
  if (!group.empty()) {
    details["group"] = group;
  }
  return {422, "Invalid",
          qualified_kind + " \"" + name + "\" is invalid: " + list, details};
}

// ---- Selectors -----------------------------------------------------------

namespace {

std::string Trim(const std::string& s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTopLevel(const std::string& text) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string current;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

bool ValidLabelKey(const std::string& key) {
  static const std::regex kKey(
      R"(^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$)");
  return std::regex_match(key, kKey);
}

}  // namespace

std::optional<LabelSelector> ParseLabelSelector(const std::string& text,
                                                std::string* error) {
  LabelSelector selector;
  if (Trim(text).empty()) {
    return selector;
  }
  static const std::regex kSet(R"(^\s*(\S+)\s+(in|notin)\s*\(([^)]*)\)\s*$)");
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string part = Trim(raw);
    Requirement req;
    std::smatch m;
    if (std::regex_match(part, m, kSet)) {
      req.key = m[1];
      req.op = m[2] == "in" ? Requirement::Op::kIn : Requirement::Op::kNotIn;
      std::stringstream values(m[3].str());
      std::string v;
      while (std::getline(values, v, ',')) {
        req.values.push_back(Trim(v));
      }
    } else if (size_t p = part.find("!="); p != std::string::npos) {
      req.key = Trim(part.substr(0, p));
      req.op = Requirement::Op::kNotEquals;
      req.values = {Trim(part.substr(p + 2))};
    } else if (size_t q = part.find("=="); q != std::string::npos) {
      req.key = Trim(part.substr(0, q));
      req.values = {Trim(part.substr(q + 2))};
    } else if (size_t r = part.find('='); r != std::string::npos) {
      req.key = Trim(part.substr(0, r));
      req.values = {Trim(part.substr(r + 1))};
    } else if (!part.empty() && part[0] == '!') {
      req.key = Trim(part.substr(1));
      req.op = Requirement::Op::kDoesNotExist;
    } else {
      req.key = part;
      req.op = Requirement::Op::kExists;
    }
    if (!ValidLabelKey(req.key)) {
      if (error) *error = "unable to parse requirement: invalid label key \"" + req.key + "\"";
      return std::nullopt;
    }
    selector.requirements.push_back(std::move(req));
  }
  return selector;
}

namespace {
bool RequirementMatches(const Requirement& req, const std::optional<std::string>& value) {
  switch (req.op) {
    case Requirement::Op::kEquals:
      return value && *value == req.values.at(0);
    case Requirement::Op::kNotEquals:
      return !value || *value != req.values.at(0);
    case Requirement::Op::kIn:
      return value && std::find(req.values.begin(), req.values.end(), *value) != req.values.end();
    case Requirement::Op::kNotIn:
      return !value || std::find(req.values.begin(), req.values.end(), *value) == req.values.end();
    case Requirement::Op::kExists:
      return value.has_value();
    case Requirement::Op::kDoesNotExist:
      return !value.has_value();
  }
  return false;
}
}  // namespace

bool LabelSelector::Matches(const Json& labels) const {
  for (const Requirement& req : requirements) {
    std::optional<std::string> value;
    if (labels.is_object() && labels.contains(req.key) && labels[req.key].is_string()) {
      value = labels[req.key].get<std::string>();
    }
    if (!RequirementMatches(req, value)) {
      return false;
    }
  }
  return true;
}

std::optional<FieldSelector> ParseFieldSelector(const std::string& text,
                                                std::string* error) {
  FieldSelector selector;
  if (Trim(text).empty()) {
    return selector;
  }
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string part = Trim(raw);
    Requirement req;
    if (size_t p = part.find("!="); p != std::string::npos) {
      req.key = Trim(part.substr(0, p));
      req.op = Requirement::Op::kNotEquals;
      req.values = {Trim(part.substr(p + 2))};
    } else if (size_t q = part.find("=="); q != std::string::npos) {
      req.key = Trim(part.substr(0, q));
      req.values = {Trim(part.substr(q + 2))};
    } else if (size_t r = part.find('='); r != std::string::npos) {
      req.key = Trim(part.substr(0, r));
      req.values = {Trim(part.substr(r + 1))};
    } else {
      if (error) *error = "invalid selector: '" + text + "'; can't understand '" + part + "'";
      return std::nullopt;
    }
    selector.requirements.push_back(std::move(req));
  }
  return selector;
}

bool FieldSelector::Matches(const Json& object) const {
  for (const Requirement& req : requirements) {
    const Json* node = &object;
    std::stringstream path(req.key);
    std::string segment;
    bool found = true;
    while (std::getline(path, segment, '.')) {
      if (!node->is_object() || !node->contains(segment)) {
        found = false;
        break;
      }
      node = &(*node)[segment];
    }
    std::optional<std::string> value;
    if (found) {
      value = node->is_string() ? node->get<std::string>() : node->dump();
    } else if (req.key == "metadata.namespace") {
      value = "";
    }
    if (!RequirementMatches(req, value)) {
      return false;
    }
  }
  return true;
}

// ---- Patches -------------------------------------------------------------

Json MergePatch(const Json& target, const Json& patch) {
  if (!patch.is_object()) {
    return patch;
  }
  Json result = target.is_object() ? target : Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      result.erase(it.key());
    } else {
      result[it.key()] = MergePatch(result.contains(it.key()) ? result[it.key()] : Json(),
                                    it.value());
    }
  }
  return result;
}

namespace {
std::optional<std::string> MergeKeyOf(const Json& list) {
  for (const char* key : {"name", "containerPort", "mountPath", "type", "ip", "devicePath"}) {
    bool all = !list.empty();
    for (const Json& item : list) {
      if (!item.is_object() || !item.contains(key)) {
        all = false;
        break;
      }
    }
    if (all) return std::string(key);
  }
  return std::nullopt;
}
}  // namespace

Json StrategicMergePatch(const Json& target, const Json& patch) {
  if (!patch.is_object()) return patch;
  if (patch.value("$patch", "") == "replace") {
    Json replaced = patch;
    replaced.erase("$patch");
    return replaced;
  }
  Json result = target.is_object() ? target : Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    if (!key.empty() && key[0] == '$') continue;
    const Json& value = it.value();
    if (value.is_null()) {
      result.erase(key);
      continue;
    }
    if (value.is_array() && result.contains(key) && result[key].is_array()) {
      Json patch_items = value;
      Json current = result[key];
      std::optional<std::string> merge_key = MergeKeyOf(patch_items);
      if (merge_key && (current.empty() || MergeKeyOf(current) == merge_key)) {
        for (const Json& item : patch_items) {
          auto match = std::find_if(current.begin(), current.end(), [&](const Json& c) {
            return c[*merge_key] == item[*merge_key];
          });
          if (item.value("$patch", "") == "delete") {
            if (match != current.end()) current.erase(match);
          } else if (match != current.end()) {
            *match = StrategicMergePatch(*match, item);
          } else {
            current.push_back(StrategicMergePatch(Json::object(), item));
          }
        }
        result[key] = current;
        continue;
      }
    }
    result[key] = StrategicMergePatch(result.contains(key) ? result[key] : Json(), value);
  }
  return result;
}

Json ApplyMerge(const Json& target, const Json& applied) {
  if (!applied.is_object() || !target.is_object()) {
    return applied;
  }
  Json result = target;
  for (auto it = applied.begin(); it != applied.end(); ++it) {
    result[it.key()] =
        result.contains(it.key()) ? ApplyMerge(result[it.key()], it.value()) : it.value();
  }
  return result;
}

std::optional<Json> JsonPatch(const Json& target, const Json& operations,
                              std::string* error) {
  if (!operations.is_array()) {
    if (error) *error = "json: cannot unmarshal object into Go value of type jsonpatch.Patch";
    return std::nullopt;
  }
  Json doc = target;
  for (const Json& op : operations) {
    if (!op.is_object() || !op.contains("op") || !op["op"].is_string() ||
        !op.contains("path") || !op["path"].is_string()) {
      if (error) *error = "invalid JSON patch operation: " + op.dump();
      return std::nullopt;
    }
    const std::string name = op["op"].get<std::string>();
    const std::string path = op["path"].get<std::string>();
    try {
      Json::json_pointer pointer(path);
      if (name == "test") {
        if (!doc.contains(pointer) || doc.at(pointer) != op.value("value", Json())) {
          if (error) *error = "testing value " + path + " failed: test failed";
          return std::nullopt;
        }
      } else if (name == "add" || name == "replace" || name == "remove" ||
                 name == "move" || name == "copy") {
        Json value;
        if (name == "move" || name == "copy") {
          Json::json_pointer from(op.value("from", std::string()));
          if (!doc.contains(from)) {
            if (error) *error = name + " operation does not apply: doc is missing from path: " + from.to_string();
            return std::nullopt;
          }
          value = doc.at(from);
          if (name == "move") {
            doc = doc.patch(Json::array({{{"op", "remove"}, {"path", from.to_string()}}}));
          }
        } else if (name != "remove") {
          if (!op.contains("value")) {
            if (error) *error = name + " operation missing value for path " + path;
            return std::nullopt;
          }
          value = op["value"];
        }
        if ((name == "replace" || name == "remove") && !doc.contains(pointer)) {
          if (error) *error = name + " operation does not apply: doc is missing path: \"" + path + "\"";
          return std::nullopt;
        }
        Json single = {{"op", name == "move" || name == "copy" ? "add" : name}, {"path", path}};
        if (name != "remove") single["value"] = value;
        doc = doc.patch(Json::array({single}));
      } else {
        if (error) *error = "Unexpected kind: " + name;
        return std::nullopt;
      }
    } catch (const Json::exception& e) {
      if (error) *error = std::string(name) + " operation does not apply: " + e.what();
      return std::nullopt;
    }
  }
  return doc;
}

namespace {
Json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) {
        obj[kv.first.as<std::string>()] = YamlToJson(kv.second);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) {
        arr.push_back(YamlToJson(item));
      }
      return arr;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") {  // quoted
        return text;
      }
      static const std::regex kInt(R"(^[-+]?[0-9]+$)");
      static const std::regex kFloat(R"(^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$)");
      if (text == "true" || text == "True") return true;
      if (text == "false" || text == "False") return false;
      if (text == "null" || text == "~" || text.empty()) return nullptr;
      if (std::regex_match(text, kInt)) {
        try {
          return std::stoll(text);
        } catch (...) {
          return text;
        }
      }
      if (std::regex_match(text, kFloat)) return std::stod(text);
      return text;
    }
    default:
      return nullptr;
  }
}
}  // namespace

std::optional<Json> ParseJsonOrYaml(const std::string& text, std::string* error) {
  Json parsed = Json::parse(text, nullptr, false);
  if (!parsed.is_discarded()) {
    return parsed;
  }
  try {
    return YamlToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    if (error) *error = std::string("error decoding YAML: ") + e.what();
    return std::nullopt;
  }
}

// ---- JSONPath ------------------------------------------------------------

namespace {

Json Lookup(const Json& node, const std::string& dotted) {
  const Json* current = &node;
  std::stringstream path(dotted);
  std::string segment;
  while (std::getline(path, segment, '.')) {
    if (segment.empty()) continue;
    if (!current->is_object() || !current->contains(segment)) return Json();
    current = &(*current)[segment];
  }
  return *current;
}

std::string ScalarText(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

std::vector<Json> EvalJsonPath(const Json& root, const std::string& raw_path,
                               std::string* error) {
  std::string path = Trim(raw_path);
  if (!path.empty() && path.front() == '{' && path.back() == '}') {
    path = path.substr(1, path.size() - 2);
  }
  if (!path.empty() && path[0] == '$') path = path.substr(1);
  std::vector<Json> current = {root};
  size_t i = 0;
  while (i < path.size()) {
    std::vector<Json> next;
    if (path[i] == '.') {
      ++i;
      size_t end = i;
      while (end < path.size() && path[end] != '.' && path[end] != '[') ++end;
      std::string key = path.substr(i, end - i);
      i = end;
      if (key.empty()) continue;
      for (const Json& node : current) {
        if (key == "*") {
          if (node.is_object() || node.is_array()) {
            for (const Json& child : node) next.push_back(child);
          }
        } else if (node.is_object() && node.contains(key)) {
          next.push_back(node[key]);
        }
      }
    } else if (path[i] == '[') {
      size_t end = path.find(']', i);
      // A filter may contain ']' inside quotes; find the closing ")]".
      if (path.compare(i, 3, "[?(") == 0) end = path.find(")]", i) + 1;
      if (end == std::string::npos || end == 0) {
        if (error) *error = "unterminated [ in JSONPath " + raw_path;
        return {};
      }
      std::string inner = path.substr(i + 1, end - i - 1);
      i = end + 1;
      if (inner == "*") {
        for (const Json& node : current) {
          if (node.is_array() || node.is_object()) {
            for (const Json& child : node) next.push_back(child);
          }
        }
      } else if (inner.size() > 3 && inner[0] == '?') {
        static const std::regex kFilter(
            R"re(^\?\(\s*@\.([A-Za-z0-9_.\-]+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([^)\s]+))\s*\)$)re");
        std::smatch m;
        if (!std::regex_match(inner, m, kFilter)) {
          if (error) *error = "unsupported JSONPath filter " + inner;
          return {};
        }
        std::string want = m[3].matched ? m[3].str() : m[4].matched ? m[4].str() : m[5].str();
        bool equals = m[2] == "==";
        for (const Json& node : current) {
          if (!node.is_array()) continue;
          for (const Json& item : node) {
            Json got = Lookup(item, m[1]);
            if (got.is_null()) continue;
            if ((ScalarText(got) == want) == equals) next.push_back(item);
          }
        }
      } else if (inner.size() > 2 && (inner[0] == '\'' || inner[0] == '"')) {
        std::string key = inner.substr(1, inner.size() - 2);
        for (const Json& node : current) {
          if (node.is_object() && node.contains(key)) next.push_back(node[key]);
        }
      } else {
        long index = 0;
        try {
          index = std::stol(inner);
        } catch (...) {
          if (error) *error = "unsupported JSONPath index " + inner;
          return {};
        }
        for (const Json& node : current) {
          if (!node.is_array()) continue;
          long n = static_cast<long>(node.size());
          long at = index < 0 ? n + index : index;
          if (at >= 0 && at < n) next.push_back(node[at]);
        }
      }
    } else {
      if (error) *error = "unexpected character in JSONPath " + raw_path;
      return {};
    }
    current = std::move(next);
  }
  return current;
}

// ---- Time ----------------------------------------------------------------

std::string HumanDuration(std::int64_t seconds) {
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  std::int64_t minutes = seconds / 60;
  if (minutes < 10) {
    std::int64_t s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m"
                  : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  std::int64_t hours = minutes / 60;
  if (hours < 8) {
    std::int64_t m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h"
                  : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    std::int64_t h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  std::int64_t years = hours / 24 / 365;
  if (years < 8) {
    std::int64_t d = (hours / 24) % 365;
    return d == 0 ? std::to_string(years) + "y"
                  : std::to_string(years) + "y" + std::to_string(d) + "d";
  }
  return std::to_string(years) + "y";
}

std::string NowRfc3339() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> ParseRfc3339(const std::string& text) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

bool IsDns1123Subdomain(const std::string& name) {
  static const std::regex kSubdomain(
      R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$)");
  return name.size() <= 253 && std::regex_match(name, kSubdomain);
}

namespace {
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(const std::string& data) {
  std::string out;
  std::size_t i = 0;
  while (i + 2 < data.size()) {
    unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += kBase64Alphabet[n & 63];
    i += 3;
  }
  if (i + 1 == data.size()) {
    unsigned n = static_cast<unsigned char>(data[i]) << 16;
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    unsigned n = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += kBase64Alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(const std::string& text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const char* at = std::strchr(kBase64Alphabet, c);
    if (at == nullptr || c == '\0') return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(at - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace schemaop::apiserver
