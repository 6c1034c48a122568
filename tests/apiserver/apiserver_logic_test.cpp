// Unit tests of the test API server's pure logic: selectors, patches,
// structural schema validation/defaulting, JSONPath, durations.

#include <gtest/gtest.h>

#include "internal.h"

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

}  // namespace
}  // namespace schemaop::apiserver
