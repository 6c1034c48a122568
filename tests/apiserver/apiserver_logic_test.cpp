// Unit tests of the test API server's pure logic: selectors, patches,
// structural schema validation/defaulting, JSONPath, durations.

#include <gtest/gtest.h>

#include "internal.h"
#include "rbac.h"

namespace schemaop::apiserver {
namespace {

TEST(LabelSelectorTest, EqualityAndSetOperators) {
  std::string error;
  auto s = ParseLabelSelector("app=web,tier in (db, cache),env!=prod,team,!legacy", &error);
  ASSERT_TRUE(s) << error;
  EXPECT_TRUE(s->Matches({{"app", "web"}, {"tier", "db"}, {"team", "x"}}));
  EXPECT_FALSE(s->Matches({{"app", "web"}, {"tier", "db"}, {"team", "x"}, {"legacy", "1"}}));
  EXPECT_FALSE(s->Matches({{"app", "web"}, {"tier", "db"}, {"team", "x"}, {"env", "prod"}}));
  EXPECT_FALSE(s->Matches({{"app", "web"}, {"tier", "ui"}, {"team", "x"}}));
  EXPECT_FALSE(s->Matches({{"app", "web"}, {"tier", "db"}}));
  auto notin = ParseLabelSelector("tier notin (db),app==web", &error);
  ASSERT_TRUE(notin);
  EXPECT_TRUE(notin->Matches({{"app", "web"}}));
  EXPECT_FALSE(notin->Matches({{"app", "web"}, {"tier", "db"}}));
  EXPECT_TRUE(ParseLabelSelector("", &error)->Matches(Json()));
  EXPECT_FALSE(ParseLabelSelector("bad key=1", &error));
  EXPECT_NE(error.find("invalid label key"), std::string::npos);
}

TEST(FieldSelectorTest, MetadataName) {
  std::string error;
  auto s = ParseFieldSelector("metadata.name=x", &error);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->Matches({{"metadata", {{"name", "x"}}}}));
  EXPECT_FALSE(s->Matches({{"metadata", {{"name", "y"}}}}));
  auto ne = ParseFieldSelector("metadata.name!=x", &error);
  EXPECT_TRUE(ne->Matches({{"metadata", {{"name", "y"}}}}));
  EXPECT_FALSE(ParseFieldSelector("metadata.name", &error));
}

TEST(PatchTest, MergePatchFollowsRfc7386) {
  Json target = {{"a", "b"}, {"c", {{"d", "e"}, {"f", "g"}}}, {"list", {1, 2}}};
  Json patch = {{"a", "z"}, {"c", {{"f", nullptr}}}, {"list", {3}}};
  Json out = MergePatch(target, patch);
  EXPECT_EQ(out, Json({{"a", "z"}, {"c", {{"d", "e"}}}, {"list", {3}}}));
}

TEST(PatchTest, JsonPatchOpsAndFailedTest) {
  Json doc = {{"metadata", {{"finalizers", {"a", "b"}}}}, {"n", 1}};
  std::string error;
  auto out = JsonPatch(doc,
                       Json::parse(R"([{"op":"test","path":"/n","value":1},
                                       {"op":"remove","path":"/metadata/finalizers/0"},
                                       {"op":"add","path":"/x","value":{"y":2}},
                                       {"op":"replace","path":"/n","value":5}])"),
                       &error);
  ASSERT_TRUE(out) << error;
  EXPECT_EQ((*out)["metadata"]["finalizers"], Json({"b"}));
  EXPECT_EQ((*out)["n"], 5);
  EXPECT_EQ((*out)["x"]["y"], 2);
  EXPECT_FALSE(JsonPatch(doc, Json::parse(R"([{"op":"test","path":"/n","value":2}])"), &error));
  EXPECT_NE(error.find("test failed"), std::string::npos);
  EXPECT_FALSE(JsonPatch(doc, Json::parse(R"([{"op":"replace","path":"/missing","value":2}])"),
                         &error));
}

TEST(PatchTest, StrategicMergeMergesContainersByName) {
  Json target = Json::parse(R"({"spec":{"containers":[
      {"name":"app","image":"a:1","ports":[{"containerPort":80}]},
      {"name":"side","image":"s:1"}]}})");
  Json patch = Json::parse(R"({"spec":{"$setElementOrder/containers":[{"name":"app"},{"name":"side"}],
      "containers":[{"name":"app","image":"a:2"},{"name":"side","$patch":"delete"}]}})");
  Json out = StrategicMergePatch(target, patch);
  ASSERT_EQ(out["spec"]["containers"].size(), 1u);
  EXPECT_EQ(out["spec"]["containers"][0]["image"], "a:2");
  EXPECT_EQ(out["spec"]["containers"][0]["ports"][0]["containerPort"], 80);
  EXPECT_FALSE(out["spec"].contains("$setElementOrder/containers"));
}

const Json kSchema = Json::parse(R"({
  "type":"object","required":["spec"],
  "properties":{
    "spec":{"type":"object","required":["targetRevision"],
      "properties":{
        "targetRevision":{"type":"string","pattern":"^[a-z0-9_]+$"},
        "mode":{"type":"string","enum":["Downgrade","Always"],"default":"Downgrade"},
        "timeout":{"type":"integer","minimum":0,"maximum":10},
        "items":{"type":"array","items":{"type":"object","required":["name"],
                 "properties":{"name":{"type":"string"}}}},
        "free":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}},
    "status":{"type":"object","properties":{"phase":{"type":"string"}}}}})");

TEST(SchemaTest, DefaultsAndPruning) {
  Json obj = {{"apiVersion", "x/v1"}, {"kind", "K"}, {"metadata", {{"name", "n"}}},
              {"spec", {{"targetRevision", "abc"}, {"unknown", 1}, {"free", {{"k", 1}}}}}};
  PruneAndDefault(kSchema, obj);
  EXPECT_EQ(obj["spec"]["mode"], "Downgrade");
  EXPECT_FALSE(obj["spec"].contains("unknown"));
  EXPECT_EQ(obj["spec"]["free"]["k"], 1);
  EXPECT_EQ(obj["metadata"]["name"], "n");
  EXPECT_TRUE(ValidateAgainstSchema(kSchema, obj).empty());
}

TEST(SchemaTest, ErrorsCarryFieldPathsLikeTheRealServer) {
  Json obj = {{"metadata", {{"name", "n"}}},
              {"spec",
               {{"mode", "Sometimes"},
                {"timeout", 11},
                {"items", Json::array({Json::object()})}}}};
  auto errors = ValidateAgainstSchema(kSchema, obj);
  std::map<std::string, std::string> by_field;
  for (const auto& e : errors) by_field[e.field] = e.type + ": " + e.detail;
  EXPECT_EQ(by_field["spec.targetRevision"], "FieldValueRequired: Required value");
  EXPECT_EQ(by_field["spec.mode"],
            "FieldValueNotSupported: Unsupported value: \"Sometimes\": supported values: "
            "\"Downgrade\", \"Always\"");
  EXPECT_EQ(by_field["spec.timeout"],
            "FieldValueInvalid: Invalid value: 11: spec.timeout in body should be less than or "
            "equal to 10");
  EXPECT_EQ(by_field["spec.items[0].name"], "FieldValueRequired: Required value");
  Json bad_type = {{"spec", {{"targetRevision", 5}}}};
  auto type_errors = ValidateAgainstSchema(kSchema, bad_type);
  ASSERT_EQ(type_errors.size(), 1u);
  EXPECT_EQ(type_errors[0].detail,
            "Invalid value: \"integer\": spec.targetRevision in body must be of type string: "
            "\"integer\"");
  Json bad_pattern = {{"spec", {{"targetRevision", "A-B"}}}};
  auto pattern_errors = ValidateAgainstSchema(kSchema, bad_pattern);
  ASSERT_EQ(pattern_errors.size(), 1u);
  EXPECT_NE(pattern_errors[0].detail.find("should match '^[a-z0-9_]+$'"), std::string::npos);

  ApiError invalid = Invalid("SchemaMigration", "schemaop.dev", "x",
                             {{"FieldValueRequired", "spec.targetRevision", "Required value"}});
  EXPECT_EQ(invalid.code, 422);
  EXPECT_EQ(invalid.message,
            "SchemaMigration.schemaop.dev \"x\" is invalid: spec.targetRevision: Required value");
  EXPECT_EQ(invalid.ToStatus()["details"]["causes"][0]["field"], "spec.targetRevision");
}

TEST(JsonPathTest, PrinterColumnExpressions) {
  Json obj = Json::parse(R"({"status":{"currentRevision":"r1","conditions":[
      {"type":"Reconciling","status":"False"},{"type":"Ready","status":"True"}]},
      "spec":{"list":[1,2,3]}})");
  std::string error;
  EXPECT_EQ(EvalJsonPath(obj, ".status.currentRevision", &error), std::vector<Json>{"r1"});
  EXPECT_EQ(EvalJsonPath(obj, R"(.status.conditions[?(@.type=="Ready")].status)", &error),
            std::vector<Json>{"True"});
  EXPECT_EQ(EvalJsonPath(obj, "{.spec.list[1]}", &error), std::vector<Json>{2});
  EXPECT_EQ(EvalJsonPath(obj, ".spec.list[*]", &error).size(), 3u);
  EXPECT_TRUE(EvalJsonPath(obj, ".status.missing", &error).empty());
}

TEST(TimeTest, HumanDurationMatchesKubectl) {
  EXPECT_EQ(HumanDuration(5), "5s");
  EXPECT_EQ(HumanDuration(150), "2m30s");
  EXPECT_EQ(HumanDuration(600), "10m");
  EXPECT_EQ(HumanDuration(3 * 3600 + 60), "3h1m");
  EXPECT_EQ(HumanDuration(3 * 86400), "3d");
  EXPECT_EQ(ParseRfc3339("1970-01-02T00:00:00Z"), 86400);
}

TEST(Base64Test, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "postgres://u:p@h/db"}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("abc"), "YWJj");
  EXPECT_FALSE(Base64Decode("!!"));
}

// ---- RBAC ----------------------------------------------------------------

RequestAttributes Resource(const std::string& verb, const std::string& group,
                           const std::string& resource, const std::string& ns,
                           const std::string& name = "", const std::string& sub = "") {
  RequestAttributes a;
  a.verb = verb;
  a.api_group = group;
  a.resource = resource;
  a.namespace_ = ns;
  a.name = name;
  a.subresource = sub;
  return a;
}

TEST(RbacRuleTest, VerbsGroupsResourcesSubresourcesNamesAndWildcards) {
  const Json rule = Json::parse(R"({"apiGroups":["apps"],"resources":["deployments/scale"],
                                    "verbs":["get","patch"]})");
  EXPECT_TRUE(RbacRuleAllows(rule, Resource("patch", "apps", "deployments", "d", "web", "scale")));
  EXPECT_FALSE(RbacRuleAllows(rule, Resource("update", "apps", "deployments", "d", "web", "scale")));
  // The subresource is a separate target: scale does not grant the object.
  EXPECT_FALSE(RbacRuleAllows(rule, Resource("get", "apps", "deployments", "d", "web")));
  EXPECT_FALSE(RbacRuleAllows(rule, Resource("get", "", "deployments", "d", "web", "scale")));
  // ... nor the object its subresources.
  const Json object_rule = Json::parse(R"({"apiGroups":["schemaop.dev"],
      "resources":["schemamigrations"],"verbs":["*"]})");
  EXPECT_TRUE(RbacRuleAllows(object_rule, Resource("watch", "schemaop.dev", "schemamigrations", "")));
  EXPECT_FALSE(RbacRuleAllows(
      object_rule, Resource("update", "schemaop.dev", "schemamigrations", "d", "x", "status")));
  const Json any_status = Json::parse(R"({"apiGroups":["*"],"resources":["*/status"],"verbs":["update"]})");
  EXPECT_TRUE(RbacRuleAllows(
      any_status, Resource("update", "schemaop.dev", "schemamigrations", "d", "x", "status")));
  EXPECT_FALSE(RbacRuleAllows(any_status, Resource("update", "apps", "deployments", "d", "x", "scale")));
  // resourceNames restrict to named requests: a list has no name.
  const Json named = Json::parse(R"({"apiGroups":[""],"resources":["secrets"],
      "resourceNames":["db"],"verbs":["get","list"]})");
  EXPECT_TRUE(RbacRuleAllows(named, Resource("get", "", "secrets", "d", "db")));
  EXPECT_FALSE(RbacRuleAllows(named, Resource("get", "", "secrets", "d", "other")));
  EXPECT_FALSE(RbacRuleAllows(named, Resource("list", "", "secrets", "d")));
  // nonResourceURLs apply only to non-resource requests.
  const Json urls = Json::parse(R"({"nonResourceURLs":["/metrics","/debug/*"],"verbs":["get"]})");
  RequestAttributes path;
  path.resource_request = false;
  path.verb = "get";
  path.path = "/debug/pprof";
  EXPECT_TRUE(RbacRuleAllows(urls, path));
  path.path = "/other";
  EXPECT_FALSE(RbacRuleAllows(urls, path));
  EXPECT_FALSE(RbacRuleAllows(urls, Resource("get", "", "metrics", "")));
}

TEST(RbacAuthorizeTest, ClusterRoleBindingRoleBindingAndSubjects) {
  RbacObjects rbac;
  rbac.cluster_roles.push_back(Json::parse(R"({"metadata":{"name":"reader"},
      "rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list","watch"]}]})"));
  rbac.cluster_roles.push_back(Json::parse(R"({"metadata":{"name":"secret-getter"},
      "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}]})"));
  rbac.roles.push_back(Json::parse(R"({"metadata":{"name":"scaler","namespace":"drawing"},
      "rules":[{"apiGroups":["apps"],"resources":["deployments/scale"],"verbs":["patch"]}]})"));
  // Cluster-wide: configmaps for the controller's ServiceAccount.
  rbac.cluster_role_bindings.push_back(Json::parse(R"({"metadata":{"name":"reader"},
      "roleRef":{"kind":"ClusterRole","name":"reader"},
      "subjects":[{"kind":"ServiceAccount","name":"ctl","namespace":"sys"}]})"));
  // In "drawing" only: a ClusterRole and a Role through RoleBindings (the
  // ServiceAccount subject without namespace means the binding's).
  rbac.role_bindings.push_back(Json::parse(R"({"metadata":{"name":"s","namespace":"drawing"},
      "roleRef":{"kind":"ClusterRole","name":"secret-getter"},
      "subjects":[{"kind":"Group","name":"system:serviceaccounts:sys"}]})"));
  rbac.role_bindings.push_back(Json::parse(R"({"metadata":{"name":"scaler","namespace":"drawing"},
      "roleRef":{"kind":"Role","name":"scaler"},
      "subjects":[{"kind":"User","name":"alice"},{"kind":"ServiceAccount","name":"app"}]})"));
  const UserInfo controller = ServiceAccountUser("sys", "ctl");
  EXPECT_EQ(controller.name, "system:serviceaccount:sys:ctl");
  EXPECT_TRUE(Authorize(rbac, controller, Resource("list", "", "configmaps", "")).allowed);
  EXPECT_TRUE(Authorize(rbac, controller, Resource("watch", "", "configmaps", "any")).allowed);
  EXPECT_TRUE(Authorize(rbac, controller, Resource("get", "", "secrets", "drawing", "db")).allowed);
  EXPECT_FALSE(Authorize(rbac, controller, Resource("get", "", "secrets", "other", "db")).allowed);
  EXPECT_FALSE(Authorize(rbac, controller, Resource("list", "", "secrets", "drawing")).allowed);
  EXPECT_FALSE(Authorize(rbac, controller, Resource("watch", "", "secrets", "")).allowed);
  EXPECT_FALSE(Authorize(rbac, controller, Resource("get", "", "secrets", "", "db")).allowed);
  const UserInfo alice{"alice", {"system:authenticated"}};
  EXPECT_TRUE(Authorize(rbac, alice, Resource("patch", "apps", "deployments", "drawing", "web", "scale")).allowed);
  EXPECT_FALSE(Authorize(rbac, alice, Resource("patch", "apps", "deployments", "other", "web", "scale")).allowed);
  EXPECT_FALSE(Authorize(rbac, alice, Resource("list", "", "configmaps", "")).allowed);
  EXPECT_TRUE(Authorize(rbac, ServiceAccountUser("drawing", "app"),
                        Resource("patch", "apps", "deployments", "drawing", "web", "scale")).allowed);
  EXPECT_FALSE(Authorize(rbac, ServiceAccountUser("other", "app"),
                         Resource("patch", "apps", "deployments", "drawing", "web", "scale")).allowed);
  const UserInfo admin{"root", {"system:masters"}};
  EXPECT_TRUE(Authorize(rbac, admin, Resource("delete", "", "namespaces", "kube-system", "kube-system")).allowed);
}

TEST(RbacAuthorizeTest, MissingRoleIsNamedInTheReason) {
  RbacObjects rbac;
  rbac.role_bindings.push_back(Json::parse(R"({"metadata":{"name":"b","namespace":"d"},
      "roleRef":{"kind":"Role","name":"gone"},"subjects":[{"kind":"User","name":"u"}]})"));
  const Decision decision = Authorize(rbac, {"u", {}}, Resource("get", "", "pods", "d", "p"));
  EXPECT_FALSE(decision.allowed);
  EXPECT_EQ(decision.reason, "RBAC: role.rbac.authorization.k8s.io \"gone\" not found");
}

// The message and details of the real server (responsewriters.Forbidden +
// apierrors.NewForbidden).
TEST(RbacForbiddenTest, MessagesAndStatusAsTheRealServer) {
  const UserInfo sa = ServiceAccountUser("schemaop-system", "schemaop-controller");
  Json get = Forbidden(sa, Resource("get", "", "secrets", "drawing", "x")).ToStatus();
  EXPECT_EQ(get.dump(),
            R"({"apiVersion":"v1","code":403,"details":{"kind":"secrets","name":"x"},)"
            R"("kind":"Status","message":"secrets \"x\" is forbidden: User \"system:serviceaccount:)"
            R"(schemaop-system:schemaop-controller\" cannot get resource \"secrets\" in API group)"
            R"( \"\" in the namespace \"drawing\"","metadata":{},"reason":"Forbidden",)"
            R"("status":"Failure"})");
  EXPECT_EQ(Forbidden(sa, Resource("list", "", "secrets", "")).message,
            "secrets is forbidden: User \"system:serviceaccount:schemaop-system:schemaop-controller\" "
            "cannot list resource \"secrets\" in API group \"\" at the cluster scope");
  const ApiError scale = Forbidden(sa, Resource("patch", "apps", "deployments", "d", "web", "scale"));
  EXPECT_EQ(scale.message,
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:schemaop-system:"
            "schemaop-controller\" cannot patch resource \"deployments/scale\" in API group \"apps\" "
            "in the namespace \"d\"");
  EXPECT_EQ(scale.details, Json::parse(R"({"group":"apps","kind":"deployments","name":"web"})"));
  RequestAttributes path;
  path.resource_request = false;
  path.verb = "post";
  path.path = "/_test/reset";
  EXPECT_EQ(Forbidden(sa, path).message,
            "forbidden: User \"system:serviceaccount:schemaop-system:schemaop-controller\" cannot "
            "post path \"/_test/reset\"");
  EXPECT_EQ(Forbidden(sa, Resource("get", "", "pods", "d", "p"), "RBAC: why").message,
            "pods \"p\" is forbidden: User \"system:serviceaccount:schemaop-system:"
            "schemaop-controller\" cannot get resource \"pods\" in API group \"\" in the namespace "
            "\"d\": RBAC: why");
}

// managedFields of Update operations, as kube-apiserver records them: the
// manager from fieldManager, else the User-Agent's first part; the fields a
// write changed move to that manager's entry (per subresource).
TEST(ManagedFieldsTest, AnUpdateTakesTheFieldsItChanged) {
  EXPECT_EQ(UpdateManagerOf("", "kubectl/v1.32.4 (linux/amd64) kubernetes/abc"), "kubectl");
  EXPECT_EQ(UpdateManagerOf("test-autoscaler", "kubectl/v1.32.4"), "test-autoscaler");
  const Json current = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","resourceVersion":"7","managedFields":[
      {"manager":"kubectl-client-side-apply","operation":"Update","time":"2026-12-01T04:00:00Z",
       "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{},"f:template":{}}}}]},
    "spec":{"replicas":3,"template":{"x":1}},"status":{"replicas":3}})");
  Json next = current;
  next["spec"]["replicas"] = 0;
  next["status"]["replicas"] = 0;          // not the scale writer's field
  next["metadata"]["resourceVersion"] = "8";  // server-owned
  RecordUpdateFields(current, next, "schemaop", "apps/v1", "scale");
  const Json managed = next["metadata"]["managedFields"];
  ASSERT_EQ(managed.size(), 2u) << managed.dump();
  EXPECT_EQ(managed[0]["manager"], "kubectl-client-side-apply");
  EXPECT_EQ(managed[0]["fieldsV1"], Json::parse(R"({"f:spec":{"f:template":{}}})"));
  EXPECT_EQ(managed[1]["manager"], "schemaop");
  EXPECT_EQ(managed[1]["operation"], "Update");
  EXPECT_EQ(managed[1]["subresource"], "scale");
  EXPECT_EQ(managed[1]["fieldsV1"], Json::parse(R"({"f:spec":{"f:replicas":{}}})"));
  EXPECT_TRUE(managed[1].contains("time"));

  // A second writer takes spec.replicas over; the first keeps nothing and goes.
  Json after = next;
  after["spec"]["replicas"] = 4;
  RecordUpdateFields(next, after, "test-autoscaler", "apps/v1", "scale");
  const Json now = after["metadata"]["managedFields"];
  ASSERT_EQ(now.size(), 2u) << now.dump();
  EXPECT_EQ(now[0]["manager"], "kubectl-client-side-apply");
  EXPECT_EQ(now[1]["manager"], "test-autoscaler");

  // A write that changes nothing records nothing.
  Json same = after;
  RecordUpdateFields(after, same, "someone", "apps/v1", "");
  EXPECT_EQ(same, after);
}

TEST(TokenFileTest, ParsesTheKubeApiserverFormat) {
  std::string error;
  auto token = ParseTokenFileLine(R"(t0k3n,alice,uid-1,"dev,ops")", &error);
  ASSERT_TRUE(token) << error;
  EXPECT_EQ(token->token, "t0k3n");
  EXPECT_EQ(token->user.name, "alice");
  EXPECT_EQ(token->user.groups,
            (std::vector<std::string>{"dev", "ops", "system:authenticated"}));
  EXPECT_FALSE(ParseTokenFileLine("only-a-token", &error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace schemaop::apiserver
