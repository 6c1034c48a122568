// metadata.managedFields for Update operations (PUT and the non-apply
// PATCHes), as the real API server records them: the manager is the
// `fieldManager` query parameter, else the User-Agent up to its first '/'
// (kube-apiserver's prefixFromUserAgent); every field the write changed
// becomes owned by that manager's Update entry (per subresource, which the
// entry names) and is taken from every other entry; an entry left owning
// nothing is dropped. fieldsV1 uses the "f:" keys of FieldsV1; a list is
// owned as a whole (the real server's "k:"/"v:" list keys are not modelled).
#include <string>
#include <vector>

#include "internal.h"

namespace schemaop::apiserver {
namespace {

using Path = std::vector<std::string>;

// The fields a user writes: not the server-owned metadata, not
// apiVersion/kind, and status only through the status subresource.
bool Tracked(const std::string& key, const std::string& subresource, bool top) {
  if (!top) return true;
  if (key == "apiVersion" || key == "kind") return false;
  if (key == "status") return subresource == "status";
  return subresource != "status";
}

void Diff(const Json& before, const Json& after, Path& path, const std::string& subresource,
          std::vector<Path>& out) {
  const bool top = path.empty();
  if (before.is_object() && after.is_object()) {
    for (auto it = after.begin(); it != after.end(); ++it) {
      if (!Tracked(it.key(), subresource, top)) continue;
      if (top && it.key() == "metadata") {
        for (const char* field : {"labels", "annotations"}) {
          path = {"metadata", field};
          Diff(before.value("metadata", Json::object()).value(field, Json()),
               it.value().value(field, Json()), path, subresource, out);
        }
        path.clear();
        continue;
      }
      path.push_back(it.key());
      Diff(before.contains(it.key()) ? before[it.key()] : Json(), it.value(), path, subresource,
           out);
      path.pop_back();
    }
    return;
  }
  if (before != after && !after.is_null()) out.push_back(path);
}

void Own(Json& fields, const Path& path) {
  Json* node = &fields;
  for (const std::string& key : path) {
    if (!node->is_object()) *node = Json::object();
    node = &(*node)["f:" + key];
  }
  if (!node->is_object()) *node = Json::object();
}

// Removes `path` (and everything under it) from `fields`, then empty parents.
bool Disown(Json& fields, const Path& path, std::size_t at = 0) {
  if (!fields.is_object()) return false;
  const std::string key = "f:" + path[at];
  if (!fields.contains(key)) return false;
  if (at + 1 == path.size()) {
    fields.erase(key);
    return true;
  }
  const bool removed = Disown(fields[key], path, at + 1);
  if (removed && fields[key].is_object() && fields[key].empty()) fields.erase(key);
  return removed;
}

}  // namespace

std::string UpdateManagerOf(const std::string& field_manager, const std::string& user_agent) {
  if (!field_manager.empty()) return field_manager;
  std::string prefix = user_agent.substr(0, user_agent.find('/'));
  if (prefix.size() > 128) prefix.resize(128);
  return prefix;
}

void RecordUpdateFields(const Json& current, Json& next, const std::string& manager,
                        const std::string& api_version, const std::string& subresource) {
  if (manager.empty()) return;
  std::vector<Path> changed;
  Path path;
  Diff(current, next, path, subresource, changed);
  if (changed.empty()) return;
  Json managed = Json::array();
  Json mine = Json::object();
  for (Json entry : current.value("metadata", Json::object()).value("managedFields", Json::array())) {
    const bool same = entry.value("manager", "") == manager &&
                      entry.value("operation", "") == "Update" &&
                      entry.value("subresource", "") == subresource;
    Json fields = entry.value("fieldsV1", Json::object());
    if (same) {
      mine = fields;
      continue;
    }
    for (const Path& p : changed) Disown(fields, p);
    if (fields.empty()) continue;
    entry["fieldsV1"] = fields;
    managed.push_back(entry);
  }
  for (const Path& p : changed) Own(mine, p);
  Json entry = {{"manager", manager},       {"operation", "Update"},
                {"apiVersion", api_version}, {"time", NowRfc3339()},
                {"fieldsType", "FieldsV1"},  {"fieldsV1", mine}};
  if (!subresource.empty()) entry["subresource"] = subresource;
  managed.push_back(entry);
  next["metadata"]["managedFields"] = managed;
}

}  // namespace schemaop::apiserver
