#include "rbac.h"

#include <algorithm>
#include <sstream>

namespace schemaop::apiserver {

namespace {

std::vector<std::string> Strings(const Json& rule, const char* field) {
  std::vector<std::string> out;
  if (rule.contains(field) && rule[field].is_array()) {
    for (const Json& item : rule[field]) {
      if (item.is_string()) out.push_back(item.get<std::string>());
    }
  }
  return out;
}

bool Has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool HasOrStar(const std::vector<std::string>& list, const std::string& value) {
  return Has(list, "*") || Has(list, value);
}

std::string StringField(const Json& object, const char* a, const char* b) {
  if (!object.contains(a) || !object[a].is_object()) return "";
  const Json& inner = object[a];
  return inner.contains(b) && inner[b].is_string() ? inner[b].get<std::string>() : "";
}

// Go's %q for the strings that occur here (names, verbs, paths).
std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

bool NonResourceUrlMatches(const std::vector<std::string>& urls, const std::string& path) {
  for (const std::string& url : urls) {
    if (url == "*" || url == path) return true;
    if (!url.empty() && url.back() == '*' && path.rfind(url.substr(0, url.size() - 1), 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

UserInfo ServiceAccountUser(const std::string& ns, const std::string& name) {
  return {"system:serviceaccount:" + ns + ":" + name,
          {"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}};
}

bool RbacRuleAllows(const Json& rule, const RequestAttributes& request) {
  if (!HasOrStar(Strings(rule, "verbs"), request.verb)) return false;
  if (!request.resource_request) {
    return NonResourceUrlMatches(Strings(rule, "nonResourceURLs"), request.path);
  }
  if (!HasOrStar(Strings(rule, "apiGroups"), request.api_group)) return false;
  const std::string combined =
      request.subresource.empty() ? request.resource : request.resource + "/" + request.subresource;
  const std::vector<std::string> resources = Strings(rule, "resources");
  const bool resource_matches =
      std::any_of(resources.begin(), resources.end(), [&](const std::string& resource) {
        return resource == "*" || resource == combined ||
               (!request.subresource.empty() && resource == "*/" + request.subresource);
      });
  if (!resource_matches) return false;
  const std::vector<std::string> names = Strings(rule, "resourceNames");
  return names.empty() || Has(names, request.name);
}

bool BindingAppliesTo(const Json& binding, const UserInfo& user,
                      const std::string& binding_namespace) {
  if (!binding.contains("subjects") || !binding["subjects"].is_array()) return false;
  for (const Json& subject : binding["subjects"]) {
    if (!subject.is_object()) continue;
    const std::string kind = subject.value("kind", "");
    const std::string name = subject.value("name", "");
    if (kind == "User" && name == user.name) return true;
    if (kind == "Group" && Has(user.groups, name)) return true;
    if (kind == "ServiceAccount") {
      std::string ns = subject.value("namespace", "");
      if (ns.empty()) ns = binding_namespace;
      if (!ns.empty() && "system:serviceaccount:" + ns + ":" + name == user.name) return true;
    }
  }
  return false;
}

Decision Authorize(const RbacObjects& rbac, const UserInfo& user,
                   const RequestAttributes& request) {
  Decision decision;
  if (Has(user.groups, "system:masters")) {
    decision.allowed = true;
    return decision;
  }
  std::vector<std::string> missing;
  auto find = [](const std::vector<Json>& objects, const std::string& ns,
                 const std::string& name) -> const Json* {
    auto it = std::find_if(objects.begin(), objects.end(), [&](const Json& object) {
      return StringField(object, "metadata", "name") == name &&
             StringField(object, "metadata", "namespace") == ns;
    });
    return it == objects.end() ? nullptr : &*it;
  };
  // Rules of the role a binding (in namespace `ns`, "" for a
  // ClusterRoleBinding) refers to; nonResourceURLs only from ClusterRoles.
  auto allows = [&](const Json& binding, const std::string& ns) {
    const std::string kind = StringField(binding, "roleRef", "kind");
    const std::string name = StringField(binding, "roleRef", "name");
    const Json* role = nullptr;
    if (kind == "ClusterRole") {
      role = find(rbac.cluster_roles, "", name);
      if (role == nullptr) {
        missing.push_back("clusterrole.rbac.authorization.k8s.io " + Quote(name) + " not found");
      }
    } else if (kind == "Role" && !ns.empty()) {
      role = find(rbac.roles, ns, name);
      if (role == nullptr) {
        missing.push_back("role.rbac.authorization.k8s.io " + Quote(name) + " not found");
      }
    }
    if (role == nullptr || !role->contains("rules") || !(*role)["rules"].is_array()) return false;
    if (!request.resource_request && kind != "ClusterRole") return false;
    const Json& rules = (*role)["rules"];
    return std::any_of(rules.begin(), rules.end(), [&](const Json& rule) {
      return rule.is_object() && RbacRuleAllows(rule, request);
    });
  };
  for (const Json& binding : rbac.cluster_role_bindings) {
    if (BindingAppliesTo(binding, user, "") && allows(binding, "")) {
      decision.allowed = true;
      return decision;
    }
  }
  if (request.resource_request && !request.namespace_.empty()) {
    for (const Json& binding : rbac.role_bindings) {
      if (StringField(binding, "metadata", "namespace") != request.namespace_) continue;
      if (BindingAppliesTo(binding, user, request.namespace_) &&
          allows(binding, request.namespace_)) {
        decision.allowed = true;
        return decision;
      }
    }
  }
  if (!missing.empty()) {
    decision.reason = "RBAC: ";
    if (missing.size() > 1) decision.reason += "[";
    for (std::size_t i = 0; i < missing.size(); ++i) {
      decision.reason += (i > 0 ? ", " : "") + missing[i];
    }
    if (missing.size() > 1) decision.reason += "]";
  }
  return decision;
}

ApiError Forbidden(const UserInfo& user, const RequestAttributes& request,
                   const std::string& reason) {
  std::string why;
  if (!request.resource_request) {
    why = "User " + Quote(user.name) + " cannot " + request.verb + " path " + Quote(request.path);
  } else {
    const std::string resource = request.subresource.empty()
                                     ? request.resource
                                     : request.resource + "/" + request.subresource;
    why = "User " + Quote(user.name) + " cannot " + request.verb + " resource " + Quote(resource) +
          " in API group " + Quote(request.api_group) +
          (request.namespace_.empty() ? " at the cluster scope"
                                      : " in the namespace " + Quote(request.namespace_));
  }
  if (!reason.empty()) why += ": " + reason;
  // apierrors.NewForbidden(GroupResource{group, resource}, name, err).
  std::string message;
  Json details = Json::object();
  if (!request.resource_request || request.resource.empty()) {
    message = "forbidden: " + why;
  } else {
    const std::string qualified =
        request.api_group.empty() ? request.resource : request.resource + "." + request.api_group;
    message = qualified + (request.name.empty() ? "" : " " + Quote(request.name)) +
              " is forbidden: " + why;
    if (!request.name.empty()) details["name"] = request.name;
    if (!request.api_group.empty()) details["group"] = request.api_group;
    details["kind"] = request.resource;
  }
  return {403, "Forbidden", message, details};
}

ApiError Unauthorized() { return {401, "Unauthorized", "Unauthorized", Json::object()}; }

std::optional<StaticToken> ParseTokenFileLine(const std::string& line, std::string* error) {
  // CSV with an optional quoted last field holding comma-separated groups.
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  fields.push_back(field);
  if (quoted || fields.size() < 3 || fields[0].empty() || fields[1].empty()) {
    if (error) *error = "expected token,user,uid[,\"group1,group2\"]";
    return std::nullopt;
  }
  StaticToken token;
  token.token = fields[0];
  token.user.name = fields[1];
  if (fields.size() >= 4) {
    std::istringstream groups(fields[3]);
    std::string group;
    while (std::getline(groups, group, ',')) {
      if (!group.empty()) token.user.groups.push_back(group);
    }
  }
  token.user.groups.push_back("system:authenticated");
  return token;
}

}  // namespace schemaop::apiserver
