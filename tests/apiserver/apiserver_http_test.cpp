// In-process tests of the test API server over HTTP: REST semantics, watch
// (replay, bookmarks, 410, selectors, close), faults and counters.

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <functional>
#include <thread>

#include "internal.h"
#include "test_api_server.h"

namespace schemaop::apiserver {
namespace {

class ApiServerHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.bookmark_interval_ms = 100;
    options.deployment_delay_ms = 20;
    options.history_size = 50;
    std::string error;
    ASSERT_TRUE(server_.Start(options, &error)) << error;
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
    client_->set_read_timeout(30, 0);
  }

  Json Call(const std::string& method, const std::string& path, const Json& body = Json(),
            int* code = nullptr, const std::string& content_type = "application/json") {
    const std::string text = body.is_null() ? "" : body.dump();
    auto send = [&]() {
      if (method == "POST") return client_->Post(path.c_str(), text, content_type.c_str());
      if (method == "PUT") return client_->Put(path.c_str(), text, content_type.c_str());
      if (method == "PATCH") return client_->Patch(path.c_str(), text, content_type.c_str());
      if (method == "DELETE") return client_->Delete(path.c_str(), text, content_type.c_str());
      return client_->Get(path.c_str());
    };
    httplib::Result r = send();
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return Json();
    if (code) *code = r->status;
    return Json::parse(r->body, nullptr, false);
  }

  // Streams a watch until `done` returns true or the server ends the stream.
  std::vector<Json> Watch(const std::string& path,
                          const std::function<bool(const std::vector<Json>&)>& done,
                          int* code = nullptr) {
    httplib::Client watch_client("127.0.0.1", server_.port());
    watch_client.set_read_timeout(30, 0);
    std::vector<Json> events;
    std::string buffer;
    auto r = watch_client.Get(path.c_str(), [&](const char* data, size_t len) {
      buffer.append(data, len);
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        events.push_back(Json::parse(buffer.substr(0, nl)));
        buffer.erase(0, nl + 1);
      }
      return !done(events);
    });
    if (code && r) *code = r->status;
    if (!buffer.empty() && r && r->status != 200) events.push_back(Json::parse(buffer));
    if (r && r->status != 200 && !r->body.empty()) events.push_back(Json::parse(r->body));
    return events;
  }

  Json ConfigMap(const std::string& name, Json labels = Json::object()) {
    return {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"labels", labels}}}, {"data", {{"k", "v"}}}};
  }

  TestApiServer server_;
  std::unique_ptr<httplib::Client> client_;
};

constexpr char kCms[] = "/api/v1/namespaces/default/configmaps";

TEST_F(ApiServerHttpTest, CrudConflictsAndStatusObjects) {
  int code = 0;
  Json created = Call("POST", kCms, ConfigMap("a"), &code);
  EXPECT_EQ(code, 201);
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  const std::string rv = created["metadata"]["resourceVersion"];

  Json again = Call("POST", kCms, ConfigMap("a"), &code);
  EXPECT_EQ(code, 409);
  EXPECT_EQ(again["reason"], "AlreadyExists");
  EXPECT_EQ(again["message"], "configmaps \"a\" already exists");

  Json update = created;
  update["data"]["k"] = "v2";
  Json updated = Call("PUT", std::string(kCms) + "/a", update, &code);
  EXPECT_EQ(code, 200);
  EXPECT_GT(std::stoll(updated["metadata"]["resourceVersion"].get<std::string>()), std::stoll(rv));

  Json stale = Call("PUT", std::string(kCms) + "/a", update, &code);  // still carries old rv
  EXPECT_EQ(code, 409);
  EXPECT_EQ(stale["kind"], "Status");
  EXPECT_EQ(stale["reason"], "Conflict");

  Json missing = Call("GET", std::string(kCms) + "/nope", Json(), &code);
  EXPECT_EQ(code, 404);
  EXPECT_EQ(missing["reason"], "NotFound");
  EXPECT_EQ(missing["details"]["name"], "nope");

  Json wrong_ns = ConfigMap("b");
  wrong_ns["metadata"]["namespace"] = "other";
  Call("POST", kCms, wrong_ns, &code);
  EXPECT_EQ(code, 400);
  Call("POST", "/api/v1/namespaces/ghost/configmaps", ConfigMap("b"), &code);
  EXPECT_EQ(code, 404);

  Json generated = {{"metadata", {{"generateName", "gen-"}}}};
  Json g = Call("POST", kCms, generated, &code);
  EXPECT_EQ(code, 201);
  EXPECT_EQ(g["metadata"]["name"].get<std::string>().rfind("gen-", 0), 0u);
  EXPECT_EQ(g["metadata"]["name"].get<std::string>().size(), 9u);

  Call("POST", std::string(kCms) + "?dryRun=All", ConfigMap("dry"), &code);
  EXPECT_EQ(code, 201);
  Call("GET", std::string(kCms) + "/dry", Json(), &code);
  EXPECT_EQ(code, 404);

  // A JSON patch whose test fails is 422 Invalid, as on a real server.
  Json failed = Call("PATCH", std::string(kCms) + "/a",
                     Json::parse(R"([{"op":"test","path":"/data/k","value":"zz"}])"), &code,
                     "application/json-patch+json");
  EXPECT_EQ(code, 422);
  EXPECT_EQ(failed["reason"], "Invalid");
  // A merge patch carrying a stale resourceVersion is a conflict.
  Call("PATCH", std::string(kCms) + "/a",
       {{"metadata", {{"resourceVersion", rv}}}, {"data", {{"k", "v3"}}}}, &code,
       "application/merge-patch+json");
  EXPECT_EQ(code, 409);
}

TEST_F(ApiServerHttpTest, ListPagingAndSelectors) {
  for (int i = 0; i < 5; ++i) {
    Call("POST", kCms, ConfigMap("p" + std::to_string(i), {{"idx", std::to_string(i % 2)}}));
  }
  Json page = Call("GET", std::string(kCms) + "?limit=2");
  ASSERT_EQ(page["items"].size(), 2u);
  std::vector<std::string> names;
  for (auto& item : page["items"]) names.push_back(item["metadata"]["name"]);
  while (page["metadata"].contains("continue")) {
    page = Call("GET", std::string(kCms) + "?limit=2&continue=" +
                           page["metadata"]["continue"].get<std::string>());
    for (auto& item : page["items"]) names.push_back(item["metadata"]["name"]);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"}));
  EXPECT_EQ(Call("GET", std::string(kCms) + "?labelSelector=idx%3D1")["items"].size(), 2u);
  EXPECT_EQ(Call("GET", std::string(kCms) + "?labelSelector=idx%20in%20%280%2C1%29")["items"].size(), 5u);
  EXPECT_EQ(Call("GET", std::string(kCms) + "?fieldSelector=metadata.name%3Dp3")["items"].size(), 1u);
}

TEST_F(ApiServerHttpTest, WatchReplaysFromResourceVersionAndSendsBookmarks) {
  Json first = Call("POST", kCms, ConfigMap("w1"));
  const std::string rv = first["metadata"]["resourceVersion"];
  Call("POST", kCms, ConfigMap("w2"));
  Call("DELETE", std::string(kCms) + "/w1");
  auto events = Watch(std::string(kCms) + "?watch=true&allowWatchBookmarks=true&resourceVersion=" + rv,
                      [](const std::vector<Json>& e) {
                        return !e.empty() && e.back()["type"] == "BOOKMARK";
                      });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "w2");
  EXPECT_EQ(events[1]["type"], "DELETED");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "w1");
  EXPECT_EQ(events[2]["object"]["metadata"]["resourceVersion"],
            std::to_string(server_.CurrentResourceVersion()));
  EXPECT_EQ(events[2]["object"]["kind"], "ConfigMap");

  // No resourceVersion: synthetic ADDED for what exists now.
  auto initial = Watch(std::string(kCms) + "?watch=true&timeoutSeconds=1",
                       [](const std::vector<Json>& e) { return !e.empty(); });
  ASSERT_FALSE(initial.empty());
  EXPECT_EQ(initial[0]["type"], "ADDED");
  EXPECT_EQ(initial[0]["object"]["metadata"]["name"], "w2");
}

TEST_F(ApiServerHttpTest, WatchTimeoutEndsTheStream) {
  auto events = Watch(std::string(kCms) + "?watch=true&resourceVersion=0&timeoutSeconds=1",
                      [](const std::vector<Json>&) { return false; });
  EXPECT_TRUE(events.empty());  // returned because the server closed the stream
}

TEST_F(ApiServerHttpTest, ExpiredResourceVersionGives410InStreamOrAsHttp) {
  Json first = Call("POST", kCms, ConfigMap("e1"));
  const std::string rv = first["metadata"]["resourceVersion"];
  Call("POST", kCms, ConfigMap("e2"));
  server_.ExpireHistory();
  int code = 0;
  auto events = Watch(std::string(kCms) + "?watch=true&resourceVersion=" + rv,
                      [](const std::vector<Json>&) { return false; }, &code);
  EXPECT_EQ(code, 200);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");

  server_.SetExpiredInStream(false);
  events = Watch(std::string(kCms) + "?watch=true&resourceVersion=" + rv,
                 [](const std::vector<Json>&) { return false; }, &code);
  EXPECT_EQ(code, 410);
  // The current version is still watchable.
  auto ok = Watch(std::string(kCms) + "?watch=true&timeoutSeconds=1&resourceVersion=" +
                      std::to_string(server_.CurrentResourceVersion()),
                  [](const std::vector<Json>&) { return false; }, &code);
  EXPECT_EQ(code, 200);
}

TEST_F(ApiServerHttpTest, HistoryOverflowExpiresOldVersions) {
  Json first = Call("POST", kCms, ConfigMap("h0"));
  for (int i = 1; i <= 60; ++i) Call("POST", kCms, ConfigMap("h" + std::to_string(i)));
  auto events = Watch(std::string(kCms) + "?watch=true&resourceVersion=" +
                          first["metadata"]["resourceVersion"].get<std::string>(),
                      [](const std::vector<Json>&) { return false; });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["object"]["code"], 410);
}

TEST_F(ApiServerHttpTest, SelectorWatchSeesObjectsLeaveAndFinalizersHoldDeletion) {
  Json cm = ConfigMap("sel", {{"app", "x"}});
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  Json created = Call("POST", kCms, cm);
  const std::string rv = created["metadata"]["resourceVersion"];
  int code = 0;
  Json deleting = Call("DELETE", std::string(kCms) + "/sel", Json(), &code);
  EXPECT_EQ(code, 200);
  EXPECT_TRUE(deleting["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(deleting["metadata"]["deletionGracePeriodSeconds"], 0);
  Call("GET", std::string(kCms) + "/sel", Json(), &code);
  EXPECT_EQ(code, 200);
  Call("PATCH", std::string(kCms) + "/sel", {{"metadata", {{"finalizers", nullptr}}}}, &code,
       "application/merge-patch+json");
  EXPECT_EQ(code, 200);
  Call("GET", std::string(kCms) + "/sel", Json(), &code);
  EXPECT_EQ(code, 404);
  auto events = Watch(std::string(kCms) + "?watch=true&labelSelector=app%3Dx&resourceVersion=" + rv,
                      [](const std::vector<Json>& e) { return e.size() >= 2; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "MODIFIED");  // deletionTimestamp set
  EXPECT_EQ(events[1]["type"], "DELETED");

  // Relabelling out of a selector is a DELETED event for that watcher.
  Json other = Call("POST", kCms, ConfigMap("relabel", {{"app", "x"}}));
  Call("PATCH", std::string(kCms) + "/relabel", {{"metadata", {{"labels", {{"app", "y"}}}}}},
       &code, "application/merge-patch+json");
  events = Watch(std::string(kCms) + "?watch=true&labelSelector=app%3Dx&resourceVersion=" +
                     other["metadata"]["resourceVersion"].get<std::string>(),
                 [](const std::vector<Json>& e) { return !e.empty(); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "DELETED");
}

TEST_F(ApiServerHttpTest, CloseWatchesAndStopDoNotHang) {
  std::atomic<bool> returned{false};
  std::thread closer([this, &returned] {
    // Closing is repeated until the watch has returned: the watch may not be
    // registered yet when the first close happens.
    while (!returned) {
      server_.CloseWatches();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto events = Watch(std::string(kCms) + "?watch=true&resourceVersion=0",
                      [](const std::vector<Json>&) { return false; });
  returned = true;
  closer.join();
  EXPECT_TRUE(events.empty());
  // A watch left open while stopping.
  std::thread open_watch([this] {
    Watch(std::string(kCms) + "?watch=true&resourceVersion=0",
          [](const std::vector<Json>&) { return false; });
  });
  while (server_.RequestCount("watch configmaps") < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  server_.Stop();
  open_watch.join();
}

TEST_F(ApiServerHttpTest, FaultsLatencyAndCounters) {
  FaultRule fault;
  fault.method = "POST";
  fault.path_regex = "/configmaps$";
  fault.code = 500;
  fault.count = 2;
  server_.AddFault(fault);
  int code = 0;
  Json status = Call("POST", kCms, ConfigMap("f"), &code);
  EXPECT_EQ(code, 500);
  EXPECT_EQ(status["reason"], "InternalError");
  Call("POST", kCms, ConfigMap("f"), &code);
  EXPECT_EQ(code, 500);
  Call("POST", kCms, ConfigMap("f"), &code);
  EXPECT_EQ(code, 201);
  EXPECT_EQ(server_.RequestCount("create configmaps"), 3);
  EXPECT_EQ(server_.WriteCount(), 3);
  server_.ResetCounters();
  Call("GET", std::string(kCms) + "/f");
  EXPECT_EQ(server_.WriteCount(), 0);
  EXPECT_EQ(server_.RequestCount("get configmaps"), 1);

  // The same through the admin HTTP API.
  Call("POST", "/_test/faults", {{"pathPrefix", "/api/v1/namespaces/default/configmaps/f"},
                                 {"code", 409}, {"reason", "Conflict"}});
  Json conflict = Call("GET", std::string(kCms) + "/f", Json(), &code);
  EXPECT_EQ(code, 409);
  EXPECT_EQ(conflict["reason"], "Conflict");
  Json counters = Call("GET", "/_test/counters");
  EXPECT_EQ(counters["requests"]["get configmaps"], 2);
  EXPECT_EQ(counters["writes"], 0);
  Call("POST", "/_test/reset", Json::object());
  EXPECT_EQ(server_.RequestCounts().size(), 0u);
}

TEST_F(ApiServerHttpTest, CustomResourcesFollowTheirDefinition) {
  Json crd = Json::parse(R"({
    "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","kind":"Widget","shortNames":["wd"]},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","required":["size"],"properties":{"size":{"type":"integer"}}},
          "status":{"type":"object","properties":{"phase":{"type":"string"}}}}}}}]}})");
  int code = 0;
  Json created_crd = Call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, &code);
  EXPECT_EQ(code, 201);
  EXPECT_EQ(created_crd["status"]["conditions"][1]["type"], "Established");
  Json discovery = Call("GET", "/apis/example.com/v1");
  EXPECT_EQ(discovery["resources"][0]["shortNames"][0], "wd");
  EXPECT_EQ(discovery["resources"][1]["name"], "widgets/status");

  const std::string widgets = "/apis/example.com/v1/namespaces/default/widgets";
  Json bad = Call("POST", widgets, {{"metadata", {{"name", "w"}}}, {"spec", Json::object()}}, &code);
  EXPECT_EQ(code, 422);
  EXPECT_EQ(bad["message"], "Widget.example.com \"w\" is invalid: spec.size: Required value");
  EXPECT_EQ(bad["details"]["causes"][0]["field"], "spec.size");

  Json w = Call("POST", widgets,
                {{"metadata", {{"name", "w"}}}, {"spec", {{"size", 1}}}, {"status", {{"phase", "X"}}}},
                &code);
  EXPECT_EQ(code, 201);
  EXPECT_FALSE(w.contains("status"));  // dropped on create with the status subresource
  EXPECT_EQ(w["metadata"]["generation"], 1);
  Json with_status = Call("PATCH", widgets + "/w/status",
                          {{"status", {{"phase", "Ready"}}}, {"spec", {{"size", 9}}}}, &code,
                          "application/merge-patch+json");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(with_status["status"]["phase"], "Ready");
  EXPECT_EQ(with_status["spec"]["size"], 1);
  EXPECT_EQ(with_status["metadata"]["generation"], 1);
  Json spec_change = Call("PATCH", widgets + "/w", {{"spec", {{"size", 2}}}}, &code,
                          "application/merge-patch+json");
  EXPECT_EQ(spec_change["metadata"]["generation"], 2);
  // A patch that changes nothing writes nothing (same resourceVersion).
  Json noop = Call("PATCH", widgets + "/w", {{"spec", {{"size", 2}}}}, &code,
                   "application/merge-patch+json");
  EXPECT_EQ(noop["metadata"]["resourceVersion"], spec_change["metadata"]["resourceVersion"]);

  // Table output with the default Age column.
  httplib::Headers headers = {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}};
  auto table = client_->Get(widgets.c_str(), headers);
  ASSERT_TRUE(table);
  Json t = Json::parse(table->body);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["columnDefinitions"][0]["name"], "Name");
  EXPECT_EQ(t["columnDefinitions"][1]["name"], "Age");
  EXPECT_EQ(t["rows"][0]["cells"][0], "w");

  // Deleting the CRD removes its resources and stops serving them.
  Call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com");
  Call("GET", widgets, Json(), &code);
  EXPECT_EQ(code, 404);
}

TEST_F(ApiServerHttpTest, ScaleSubresourceAndSimulatedController) {
  const std::string deployments = "/apis/apps/v1/namespaces/default/deployments";
  Json d = Json::parse(R"({"metadata":{"name":"web"},"spec":{"replicas":2,
      "selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}})");
  Json created = Call("POST", deployments, d);
  const std::string rv = created["metadata"]["resourceVersion"];
  int code = 0;
  Json scale = Call("PATCH", deployments + "/web/scale", {{"spec", {{"replicas", 0}}}}, &code,
                    "application/merge-patch+json");
  EXPECT_EQ(code, 200);
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["spec"]["replicas"], 0);
  // The controller's status write arrives as a watch event.
  auto events = Watch(deployments + "?watch=true&resourceVersion=" + rv,
                      [](const std::vector<Json>& e) {
                        if (e.empty()) return false;
                        const Json object = e.back().value("object", Json::object());
                        const Json status = object.value("status", Json::object());
                        return status.is_object() && status.value("observedGeneration", 0) == 2;
                      });
  ASSERT_FALSE(events.empty());
  Json status = events.back()["object"]["status"];
  EXPECT_FALSE(status.contains("replicas"));
  Json pods = Call("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
  EXPECT_EQ(pods["items"].size(), 0u);
  Json got_scale = Call("GET", deployments + "/web/scale");
  EXPECT_EQ(got_scale["status"]["selector"], "app=web");
}

// ---- Authentication and RBAC ---------------------------------------------

// A request as `token` (empty: no Authorization header).
int CallAs(int port, const std::string& token, const std::string& method, const std::string& path,
           const Json& body = Json(), Json* reply = nullptr) {
  httplib::Client client("127.0.0.1", port);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  const std::string text = body.is_null() ? "" : body.dump();
  httplib::Result r = method == "POST"    ? client.Post(path.c_str(), headers, text, "application/json")
                      : method == "PUT"   ? client.Put(path.c_str(), headers, text, "application/json")
                      : method == "PATCH" ? client.Patch(path.c_str(), headers, text,
                                                         "application/merge-patch+json")
                      : method == "DELETE" ? client.Delete(path.c_str(), headers)
                                           : client.Get(path.c_str(), headers);
  if (!r) return -1;
  if (reply) *reply = Json::parse(r->body, nullptr, false);
  return r->status;
}

class ApiServerRbacTest : public ApiServerHttpTest {
 protected:
  void SetUp() override {
    ApiServerHttpTest::SetUp();
    int code = 0;
    Call("POST", "/api/v1/namespaces", {{"metadata", {{"name", "drawing"}}}}, &code);
    ASSERT_EQ(code, 201);
    Call("POST", "/api/v1/namespaces/drawing/secrets",
         {{"metadata", {{"name", "db"}}}, {"stringData", {{"URL", "x"}}}}, &code);
    ASSERT_EQ(code, 201);
    Call("POST", "/api/v1/namespaces/drawing/secrets",
         {{"metadata", {{"name", "other"}}}, {"stringData", {{"URL", "y"}}}}, &code);
    ASSERT_EQ(code, 201);
    token_ = server_.AddServiceAccountToken("schemaop-system", "schemaop-controller");
  }

  void Apply(const std::string& path, const Json& object) {
    int code = 0;
    Call("POST", path, object, &code);
    ASSERT_EQ(code, 201) << path;
  }

  std::string token_;
};

TEST_F(ApiServerRbacTest, UnknownTokenIs401AndTheAdminTokenIsAllPowerful) {
  Json reply;
  EXPECT_EQ(CallAs(server_.port(), "no-such-token", "GET", "/api/v1/namespaces", Json(), &reply), 401);
  EXPECT_EQ(reply.value("reason", ""), "Unauthorized");
  EXPECT_EQ(reply.value("message", ""), "Unauthorized");
  EXPECT_EQ(CallAs(server_.port(), "schemaop-test-dummy-token", "GET",
                   "/api/v1/namespaces/drawing/secrets/db"), 200);
  EXPECT_EQ(CallAs(server_.port(), "", "GET", "/api/v1/namespaces/drawing/secrets/db"), 200);
}

TEST_F(ApiServerRbacTest, NothingIsAllowedWithoutABindingButDiscovery) {
  Json reply;
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/drawing/secrets/db", Json(),
                   &reply), 403);
  EXPECT_EQ(reply.dump(),
            R"({"apiVersion":"v1","code":403,"details":{"kind":"secrets","name":"db"},)"
            R"("kind":"Status","message":"secrets \"db\" is forbidden: User \"system:serviceaccount:)"
            R"(schemaop-system:schemaop-controller\" cannot get resource \"secrets\" in API group)"
            R"( \"\" in the namespace \"drawing\"","metadata":{},"reason":"Forbidden",)"
            R"("status":"Failure"})");
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api"), 200);
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/apis/apps/v1"), 200);
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/version"), 200);
  // The admin API is for the tests, never for a ServiceAccount.
  EXPECT_EQ(CallAs(server_.port(), token_, "POST", "/_test/reset", Json::object(), &reply), 403);
  EXPECT_EQ(reply.value("message", ""),
            "forbidden: User \"system:serviceaccount:schemaop-system:schemaop-controller\" cannot "
            "post path \"/_test/reset\"");
}

TEST_F(ApiServerRbacTest, ClusterRoleGetOnlyForbidsListAndWatch) {
  Apply("/apis/rbac.authorization.k8s.io/v1/clusterroles",
        Json::parse(R"({"metadata":{"name":"ctl"},"rules":[
          {"apiGroups":[""],"resources":["secrets"],"verbs":["get"]},
          {"apiGroups":["apps"],"resources":["deployments/scale"],"verbs":["get","patch"]}]})"));
  Apply("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        Json::parse(R"({"metadata":{"name":"ctl"},
          "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"ctl"},
          "subjects":[{"kind":"ServiceAccount","name":"schemaop-controller",
                       "namespace":"schemaop-system"}]})"));
  Json reply;
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/drawing/secrets/db", Json(),
                   &reply), 200);
  EXPECT_EQ(reply["data"]["URL"], "eA==");
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/drawing/secrets", Json(),
                   &reply), 403);
  EXPECT_EQ(reply.value("message", ""),
            "secrets is forbidden: User \"system:serviceaccount:schemaop-system:schemaop-controller\" "
            "cannot list resource \"secrets\" in API group \"\" in the namespace \"drawing\"");
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/secrets?watch=true", Json(), &reply), 403);
  EXPECT_EQ(reply.value("message", ""),
            "secrets is forbidden: User \"system:serviceaccount:schemaop-system:schemaop-controller\" "
            "cannot watch resource \"secrets\" in API group \"\" at the cluster scope");
  server_.ResetCounters();
  EXPECT_EQ(CallAs(server_.port(), token_, "PATCH", "/api/v1/namespaces/drawing/secrets/db",
                   Json::parse(R"({"data":{}})")), 403);
  // A forbidden request changes nothing and is not counted as a write.
  EXPECT_EQ(server_.WriteCount(), 0);
  // Subresource: scale, not the deployment itself.
  Apply("/apis/apps/v1/namespaces/drawing/deployments",
        Json::parse(R"({"metadata":{"name":"web"},"spec":{"replicas":1,
          "selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}}}}})"));
  EXPECT_EQ(CallAs(server_.port(), token_, "PATCH",
                   "/apis/apps/v1/namespaces/drawing/deployments/web/scale",
                   Json::parse(R"({"spec":{"replicas":0}})")), 200);
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/apis/apps/v1/namespaces/drawing/deployments/web",
                   Json(), &reply), 403);
  EXPECT_EQ(reply["details"], Json::parse(R"({"group":"apps","kind":"deployments","name":"web"})"));
  EXPECT_EQ(CallAs(server_.port(), token_, "PUT",
                   "/apis/apps/v1/namespaces/drawing/deployments/web/scale",
                   Json::parse(R"({"metadata":{"name":"web"},"spec":{"replicas":1}})"), &reply), 403);
  EXPECT_EQ(reply.value("message", ""),
            "deployments.apps \"web\" is forbidden: User \"system:serviceaccount:schemaop-system:"
            "schemaop-controller\" cannot update resource \"deployments/scale\" in API group "
            "\"apps\" in the namespace \"drawing\"");
  // The admin API lists what was denied, for tests asserting "no 403".
  Json denied = Call("GET", "/_test/denied");
  EXPECT_EQ(denied.value("total", 0), 5) << denied.dump();
  EXPECT_EQ(denied["requests"][0],
            "system:serviceaccount:schemaop-system:schemaop-controller list secrets drawing/");
  EXPECT_EQ(denied["requests"][4], "system:serviceaccount:schemaop-system:schemaop-controller "
                                   "update deployments/scale drawing/web");
  Call("DELETE", "/_test/denied");
  EXPECT_EQ(Call("GET", "/_test/denied").value("total", -1), 0);
  // Taking the permission away takes effect at once.
  EXPECT_EQ(CallAs(server_.port(), "", "DELETE",
                   "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ctl"), 200);
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/drawing/secrets/db"), 403);
}

TEST_F(ApiServerRbacTest, NamespacedRoleAndResourceNames) {
  Apply("/apis/rbac.authorization.k8s.io/v1/namespaces/drawing/roles",
        Json::parse(R"({"metadata":{"name":"ctl"},"rules":[
          {"apiGroups":[""],"resources":["secrets"],"resourceNames":["db"],"verbs":["get","watch"]}]})"));
  Apply("/apis/rbac.authorization.k8s.io/v1/namespaces/drawing/rolebindings",
        Json::parse(R"({"metadata":{"name":"ctl"},
          "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"ctl"},
          "subjects":[{"kind":"ServiceAccount","name":"schemaop-controller",
                       "namespace":"schemaop-system"}]})"));
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/drawing/secrets/db"), 200);
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/drawing/secrets/other"), 403);
  // A watch of one object by field selector is authorized by its name.
  {
    httplib::Client watch_client("127.0.0.1", server_.port());
    std::string stream;
    auto r = watch_client.Get(
        "/api/v1/namespaces/drawing/secrets?watch=true&timeoutSeconds=1"
        "&fieldSelector=metadata.name%3Ddb",
        httplib::Headers{{"Authorization", "Bearer " + token_}},
        [&](const char* data, size_t length) {
          stream.append(data, length);
          return true;
        });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(stream.find(R"("type":"ADDED")"), std::string::npos) << stream;
  }
  EXPECT_EQ(CallAs(server_.port(), token_, "GET",
                   "/api/v1/namespaces/drawing/secrets?watch=true&timeoutSeconds=1"), 403);
  // The Role grants nothing outside its namespace, nor cluster-wide.
  Call("POST", "/api/v1/namespaces", {{"metadata", {{"name", "other"}}}});
  Call("POST", "/api/v1/namespaces/other/secrets", {{"metadata", {{"name", "db"}}}});
  EXPECT_EQ(CallAs(server_.port(), token_, "GET", "/api/v1/namespaces/other/secrets/db"), 403);
}

TEST_F(ApiServerRbacTest, TokensFromTheAdminApiAndRequireAuthentication) {
  Json reply;
  EXPECT_EQ(CallAs(server_.port(), "", "POST", "/_test/tokens",
                   Json::parse(R"({"token":"bob-token","user":"bob","groups":["dev"]})"), &reply),
            200);
  EXPECT_EQ(reply.value("user", ""), "bob");
  Apply("/apis/rbac.authorization.k8s.io/v1/clusterroles",
        Json::parse(R"({"metadata":{"name":"ns-reader"},"rules":[
          {"apiGroups":[""],"resources":["namespaces"],"verbs":["get","list"]}]})"));
  Apply("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        Json::parse(R"({"metadata":{"name":"dev"},
          "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"ns-reader"},
          "subjects":[{"kind":"Group","name":"dev"}]})"));
  EXPECT_EQ(CallAs(server_.port(), "bob-token", "GET", "/api/v1/namespaces"), 200);
  EXPECT_EQ(CallAs(server_.port(), "bob-token", "GET", "/api/v1/namespaces/drawing/configmaps"), 403);
  EXPECT_EQ(CallAs(server_.port(), "", "POST", "/_test/tokens",
                   Json::parse(R"({"serviceAccount":{"namespace":"a","name":"b"}})"), &reply), 200);
  EXPECT_EQ(reply.value("user", ""), "system:serviceaccount:a:b");
  const std::string sa_token = reply.value("token", "");
  EXPECT_EQ(CallAs(server_.port(), sa_token, "GET", "/api/v1/namespaces"), 403);

  TestApiServer strict;
  Options options;
  options.require_authentication = true;
  ASSERT_TRUE(strict.Start(options));
  EXPECT_EQ(CallAs(strict.port(), "", "GET", "/api/v1/namespaces"), 401);
  EXPECT_EQ(CallAs(strict.port(), "schemaop-test-dummy-token", "GET", "/api/v1/namespaces"), 200);
}

}  // namespace
}  // namespace schemaop::apiserver
