#pragma once

// Authentication and RBAC authorization of the test API server, pure logic
// over JSON (no store, no network) so it can be unit-tested.
//
// Modelled on k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac (rbac.go),
// pkg/apis/rbac/v1/evaluation_helpers.go and
// k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go:
//  - a request is allowed when any rule of a role bound to the user (by a
//    ClusterRoleBinding, or by a RoleBinding in the request's namespace)
//    matches; there are no deny rules;
//  - the group system:masters is allowed everything (the real server's
//    privileged group);
//  - a rule matches when its verbs, apiGroups, resources
//    ("resource/subresource", "*", "*/subresource") and resourceNames (empty
//    means any) match; nonResourceURLs rules (exact, or a prefix ending in
//    "*") apply only to non-resource requests and only from ClusterRoles.
//  Not modelled: aggregated ClusterRoles, escalate/bind checks on writes of
//  RBAC objects, impersonation.

#include <optional>
#include <string>
#include <vector>

#include "internal.h"

namespace schemaop::apiserver {

struct UserInfo {
  std::string name;
  std::vector<std::string> groups;
};

// The user of a ServiceAccount token: system:serviceaccount:NS:NAME in
// system:serviceaccounts, system:serviceaccounts:NS and system:authenticated.
UserInfo ServiceAccountUser(const std::string& ns, const std::string& name);

// authorizer.Attributes of one request.
struct RequestAttributes {
  bool resource_request = true;
  std::string verb;  // get list watch create update patch delete deletecollection
  std::string api_group;
  std::string resource;  // plural
  std::string subresource;
  std::string namespace_;
  std::string name;
  std::string path;  // non-resource requests
};

// The RBAC objects stored in the server (each a full object as stored).
struct RbacObjects {
  std::vector<Json> cluster_roles;
  std::vector<Json> cluster_role_bindings;
  std::vector<Json> roles;          // all namespaces
  std::vector<Json> role_bindings;  // all namespaces
};

bool RbacRuleAllows(const Json& rule, const RequestAttributes& request);
// Whether `binding`'s subjects include `user` (ServiceAccount subjects
// without a namespace take `binding_namespace`, as the real server does).
bool BindingAppliesTo(const Json& binding, const UserInfo& user,
                      const std::string& binding_namespace);

struct Decision {
  bool allowed = false;
  // Why nothing applied, when a binding referenced a missing role (the
  // real RBAC authorizer's "RBAC: role.rbac.authorization.k8s.io ... not
  // found"); empty otherwise.
  std::string reason;
};
Decision Authorize(const RbacObjects& rbac, const UserInfo& user, const RequestAttributes& request);

// 403 Forbidden as the real server renders it, e.g.
// secrets "db" is forbidden: User "system:serviceaccount:a:b" cannot get
// resource "secrets" in API group "" in the namespace "drawing"
ApiError Forbidden(const UserInfo& user, const RequestAttributes& request,
                   const std::string& reason = "");
// 401 as the real server renders it (message "Unauthorized").
ApiError Unauthorized();

// One line of a kube-apiserver --token-auth-file: token,user,uid[,"g1,g2"].
struct StaticToken {
  std::string token;
  UserInfo user;
};
std::optional<StaticToken> ParseTokenFileLine(const std::string& line, std::string* error);

}  // namespace schemaop::apiserver
