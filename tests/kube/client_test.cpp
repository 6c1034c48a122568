// Client logic against a scripted in-memory Transport: status mapping, token
// rotation, malformed bodies, and watch-stream parsing across arbitrary chunk
// boundaries. Real-server behaviour is covered by the `kube` integration tests.
#include "kube/client.h"
#include "kube/events.h"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>

namespace schemaop::kube {
namespace {

using core::Status;

struct Scripted {
  int status;
  std::string body;
  std::vector<std::string> chunks = {};  // for Stream
};

class ScriptedTransport final : public Transport {
 public:
  explicit ScriptedTransport(std::deque<Scripted>* script, std::vector<HttpRequest>* seen)
      : script_(script), seen_(seen) {}
  core::Result<HttpResponse> Send(const HttpRequest& request) override {
    seen_->push_back(request);
    if (script_->empty()) return core::Status(core::Code::kUnreachable, "connection refused");
    Scripted next = script_->front();
    script_->pop_front();
    return HttpResponse{next.status, {}, next.body};
  }
  core::Result<HttpResponse> Stream(const HttpRequest& request,
                                    const std::function<bool(std::string_view)>& on_data,
                                    Cancellation&) override {
    seen_->push_back(request);
    Scripted next = script_->front();
    script_->pop_front();
    if (next.status != 200) return HttpResponse{next.status, {}, next.body};
    for (const auto& chunk : next.chunks) {
      if (!on_data(chunk)) break;
    }
    return HttpResponse{200, {}, ""};
  }

 private:
  std::deque<Scripted>* script_;
  std::vector<HttpRequest>* seen_;
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class ClientTest : public ::testing::Test {
 protected:
  Client& MakeClient(Config config = {}) {
    if (config.server.empty()) config.server = "http://test";
    client_ = std::make_unique<Client>(config, std::make_unique<ScriptedTransport>(&script_, &seen_));
    return *client_;
  }
  std::deque<Scripted> script_;
  std::vector<HttpRequest> seen_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, PathsForCoreGroupCrdAndSubresource) {
  auto& client = MakeClient();
  script_ = {{200, R"({"kind":"Secret"})"}, {200, "{}"}, {200, "{}"}};
  ASSERT_TRUE(client.Get(resources::kSecrets, "drawing", "db").ok());
  ASSERT_TRUE(client.GetScale(resources::kDeployments, "drawing", "backend").ok());
  ASSERT_TRUE(client.Get(resources::kNamespaces, "ignored", "drawing").ok());
  EXPECT_EQ(seen_[0].path_and_query, "/api/v1/namespaces/drawing/secrets/db");
  EXPECT_EQ(seen_[1].path_and_query, "/apis/apps/v1/namespaces/drawing/deployments/backend/scale");
  EXPECT_EQ(seen_[2].path_and_query, "/api/v1/namespaces/drawing");
  EXPECT_EQ(resources::kSchemaMigrations.CollectionPath("ns"),
            "/apis/schemaop.dev/v1alpha1/namespaces/ns/schemamigrations");
}

TEST_F(ClientTest, ConflictCarriesHttpCodeReasonAndMessage) {
  auto& client = MakeClient();
  script_ = {{409, R"({"kind":"Status","status":"Failure","reason":"Conflict",
      "message":"Operation cannot be fulfilled: the object has been modified","code":409})"}};
  auto r = client.Update(resources::kConfigMaps, "ns",
                         Json{{"metadata", {{"name", "c"}, {"resourceVersion", "1"}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kConflict);
  EXPECT_EQ(r.status().detail(), "HTTP 409 Conflict");
  EXPECT_NE(r.status().message().find("has been modified"), std::string::npos);
  EXPECT_TRUE(IsConflict(r.status()));
  EXPECT_EQ(HttpCodeOf(r.status()), 409);
}

TEST_F(ClientTest, NonJsonAndTruncatedBodiesAreClearErrors) {
  auto& client = MakeClient();
  script_ = {{200, "<html>proxy</html>"}, {200, R"({"kind":"Secret","data":{"pass)"},
             {502, "Bad Gateway"}};
  auto a = client.Get(resources::kSecrets, "ns", "a");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("not valid JSON"), std::string::npos);
  auto b = client.Get(resources::kSecrets, "ns", "b");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message().find("pass"), std::string::npos) << "no body echo";
  auto c = client.Get(resources::kSecrets, "ns", "c");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().detail(), "HTTP 502 Error");
}

TEST_F(ClientTest, RotatedTokenFileIsReReadAfter401AndNeverInErrors) {
  namespace fs = std::filesystem;
  fs::path token = fs::temp_directory_path() / ("kube_client_token_" + std::to_string(::getpid()));
  std::ofstream(token) << "old-token\n";
  Config config;
  config.token_file = token.string();
  config.bearer_token = "old-token";
  config.token_refresh_interval = std::chrono::hours(1);
  auto& client = MakeClient(config);
  std::ofstream(token, std::ios::trunc) << "new-token\n";
  script_ = {{401, R"({"kind":"Status","reason":"Unauthorized","code":401})"}, {200, "{}"},
             {401, R"({"kind":"Status","reason":"Unauthorized","code":401})"},
             {401, R"({"kind":"Status","reason":"Unauthorized","code":401})"}};
  ASSERT_TRUE(client.Get(resources::kSecrets, "ns", "x").ok());
  EXPECT_EQ(Header(seen_[0], "Authorization"), "Bearer old-token");
  EXPECT_EQ(Header(seen_[1], "Authorization"), "Bearer new-token");
  auto denied = client.Get(resources::kSecrets, "ns", "y");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(HttpCodeOf(denied.status()), 401);
  EXPECT_EQ(denied.status().ToString().find("token-"), std::string::npos);
  fs::remove(token);
}

TEST_F(ClientTest, PatchContentTypesAndApplyNeedsFieldManager) {
  auto& client = MakeClient();
  script_ = {{200, "{}"}, {200, "{}"}, {200, "{}"}};
  ASSERT_TRUE(client.Patch(resources::kConfigMaps, "ns", "c", PatchType::kMerge,
                           Json{{"data", {{"a", "1"}}}})
                  .ok());
  ASSERT_TRUE(client.Patch(resources::kConfigMaps, "ns", "c", PatchType::kJson,
                           Json::array({{{"op", "test"}, {"path", "/data/a"}, {"value", "1"}}}))
                  .ok());
  PatchOptions apply;
  apply.field_manager = "schemaop";
  apply.force = true;
  ASSERT_TRUE(client.Patch(resources::kConfigMaps, "ns", "c", PatchType::kApply,
                           Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}}, apply)
                  .ok());
  EXPECT_EQ(Header(seen_[0], "Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(Header(seen_[1], "Content-Type"), "application/json-patch+json");
  EXPECT_EQ(Header(seen_[2], "Content-Type"), "application/apply-patch+yaml");
  EXPECT_EQ(seen_[2].path_and_query,
            "/api/v1/namespaces/ns/configmaps/c?fieldManager=schemaop&force=true");
  auto no_manager = client.Patch(resources::kConfigMaps, "ns", "c", PatchType::kApply, Json{});
  ASSERT_FALSE(no_manager.ok());
  EXPECT_NE(no_manager.status().message().find("field_manager"), std::string::npos);
}

TEST_F(ClientTest, WatchParsesEventsSplitAcrossChunks) {
  auto& client = MakeClient();
  std::string events =
      R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}})"
      "\n"
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}})"
      "\n"
      R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"8"}}})";
  std::vector<std::string> chunks;
  for (size_t i = 0; i < events.size(); i += 7) chunks.push_back(events.substr(i, 7));
  script_ = {{200, "", chunks}};
  std::vector<std::pair<WatchEventType, std::string>> got;
  Cancellation cancel;
  WatchOptions options;
  options.resource_version = "4";
  Status s = client.Watch(resources::kConfigMaps, "ns", options,
                          [&](const WatchEvent& e) {
                            got.emplace_back(e.type, e.object["metadata"]["resourceVersion"]);
                            return true;
                          },
                          cancel);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::make_pair(WatchEventType::kAdded, std::string("5")));
  EXPECT_EQ(got[1], std::make_pair(WatchEventType::kBookmark, std::string("7")));
  EXPECT_EQ(got[2], std::make_pair(WatchEventType::kDeleted, std::string("8")));
  EXPECT_EQ(seen_[0].path_and_query,
            "/api/v1/namespaces/ns/configmaps?watch=true&allowWatchBookmarks=true&"
            "timeoutSeconds=300&resourceVersion=4");
}

TEST_F(ClientTest, WatchErrorEvent410IsGone) {
  auto& client = MakeClient();
  script_ = {{200, "", {R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}})" "\n"}},
             {410, R"({"kind":"Status","code":410,"reason":"Gone"})"},
             {200, "", {"{not json}\n"}}};
  Cancellation cancel;
  auto handler = [](const WatchEvent&) { return true; };
  Status in_stream = client.Watch(resources::kConfigMaps, "ns", {}, handler, cancel);
  EXPECT_TRUE(IsGone(in_stream)) << in_stream.ToString();
  EXPECT_EQ(in_stream.detail(), "HTTP 410 Expired");
  Status http = client.Watch(resources::kConfigMaps, "ns", {}, handler, cancel);
  EXPECT_TRUE(IsGone(http)) << http.ToString();
  Status garbage = client.Watch(resources::kConfigMaps, "ns", {}, handler, cancel);
  EXPECT_FALSE(garbage.ok());
  EXPECT_FALSE(IsGone(garbage));
}

TEST_F(ClientTest, UpdateStatusWithRetryRetriesOnConflict) {
  auto& client = MakeClient();
  std::string v1 = R"({"metadata":{"name":"m","resourceVersion":"1"},"status":{}})";
  std::string v2 = R"({"metadata":{"name":"m","resourceVersion":"2"},"status":{}})";
  script_ = {{200, v1}, {409, R"({"kind":"Status","reason":"Conflict","code":409})"},
             {200, v2}, {200, R"({"metadata":{"name":"m","resourceVersion":"3"},"status":{"phase":"Planning"}})"}};
  auto r = client.UpdateStatusWithRetry(resources::kSchemaMigrations, "ns", "m", [](Json& o) {
    o["status"]["phase"] = "Planning";
    return core::Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["metadata"]["resourceVersion"], "3");
  ASSERT_EQ(seen_.size(), 4u);
  EXPECT_EQ(seen_[3].method, "PUT");
  EXPECT_EQ(Json::parse(seen_[3].body)["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(seen_[3].path_and_query,
            "/apis/schemaop.dev/v1alpha1/namespaces/ns/schemamigrations/m/status");
}

// Issue 12 item 3: every fault is reported to the observer with the call,
// the HTTP code and what happens next; never the token.
TEST_F(ClientTest, FaultsAreReportedToTheObserver) {
  Config config;
  config.bearer_token = "token-never-shown";
  auto& client = MakeClient(config);
  std::vector<Fault> faults;
  client.SetFaultObserver([&](const Fault& f) { faults.push_back(f); });
  std::string v1 = R"({"metadata":{"name":"m","resourceVersion":"1"},"status":{}})";
  script_ = {{500, R"({"kind":"Status","reason":"InternalError","code":500,"message":"etcd timeout"})"},
             {200, v1}, {409, R"({"kind":"Status","reason":"Conflict","code":409})"},
             {200, v1}, {200, v1}};
  EXPECT_FALSE(client.Get(resources::kConfigMaps, "ns", "a").ok());
  auto updated = client.UpdateStatusWithRetry(resources::kSchemaMigrations, "ns", "m", [](Json& o) {
    o["status"]["phase"] = "Planning";
    return core::Status::Ok();
  });
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_FALSE(client.Get(resources::kConfigMaps, "ns", "b").ok());  // script empty: unreachable
  ASSERT_EQ(faults.size(), 4u);
  EXPECT_EQ(faults[0].kind, FaultKind::kHttpError);
  EXPECT_EQ(faults[0].http_code, 500);
  EXPECT_EQ(faults[0].call, "GET /api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(faults[0].message.find("etcd timeout") != std::string::npos, true) << faults[0].message;
  EXPECT_EQ(faults[1].kind, FaultKind::kHttpError);
  EXPECT_EQ(faults[1].http_code, 409);
  EXPECT_EQ(faults[2].kind, FaultKind::kConflictRetry);
  EXPECT_EQ(faults[2].next, "re-reading and retrying");
  EXPECT_EQ(faults[3].kind, FaultKind::kUnreachable);
  EXPECT_EQ(faults[3].http_code, 0);
  for (const Fault& f : faults) {
    EXPECT_EQ((f.call + f.message + f.next).find("token-never-shown"), std::string::npos);
    EXPECT_STRNE(FaultKindName(f.kind), "unknown");
  }
}

// A status message may carry bytes from a database error in another
// encoding, or a message cut inside a UTF-8 sequence. nlohmann::json::dump()
// throws on invalid UTF-8 by default; the client must send the object anyway
// (invalid bytes replaced by U+FFFD) instead of throwing through the caller.
TEST_F(ClientTest, InvalidUtf8InABodyIsReplacedNotThrown) {
  auto& client = MakeClient();
  script_ = {{200, R"({"metadata":{"name":"m","resourceVersion":"2"}})"},
             {200, R"({"metadata":{"name":"m","resourceVersion":"3"}})"},
             {201, R"({"metadata":{"name":"e","resourceVersion":"4"}})"}};
  const std::string bad = std::string("relation \"gr") + "\xfc" + "n\" failed, cut \xc3";
  Json object = {{"metadata", {{"name", "m"}, {"resourceVersion", "1"}}},
                 {"status", {{"message", bad}}}};
  core::Result<Json> updated(core::Status(core::Code::kInternal, "not called"));
  ASSERT_NO_THROW(updated = client.UpdateStatus(resources::kSchemaMigrations, "ns", object));
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  core::Result<Json> patched(core::Status(core::Code::kInternal, "not called"));
  ASSERT_NO_THROW(patched = client.Patch(resources::kSchemaMigrations, "ns", "m",
                                         PatchType::kMerge, Json{{"status", {{"message", bad}}}}));
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  core::Result<Json> created(core::Status(core::Code::kInternal, "not called"));
  ASSERT_NO_THROW(created = client.Create(resources::kEvents, "ns",
                                          Json{{"metadata", {{"name", "e"}}}, {"message", bad}}));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_EQ(seen_.size(), 3u);
  for (const HttpRequest& request : seen_) {
    const Json sent = Json::parse(request.body);  // valid UTF-8 again
    const std::string message =
        sent.contains("status") ? sent["status"]["message"].get<std::string>()
                                : sent["message"].get<std::string>();
    EXPECT_NE(message.find("\xEF\xBF\xBD"), std::string::npos) << message;  // U+FFFD
    EXPECT_NE(message.find("failed, cut"), std::string::npos) << message;
  }
}

TEST_F(ClientTest, LongEventMessageIsCutOnACharacterBoundary) {
  auto& client = MakeClient();
  script_ = {{201, R"({"metadata":{"name":"m.1"}})"}};
  EventRecorder recorder(client, "schemaop-controller", "test");
  std::string message;  // 2-byte characters at even offsets: byte 1021 is a continuation byte
  while (message.size() < 3000) message += "\xC3\xA9";
  Json involved = {{"apiVersion", "schemaop.dev/v1alpha1"},
                   {"kind", "SchemaMigration"},
                   {"metadata", {{"name", "m"}, {"namespace", "ns"}, {"uid", "u"}}}};
  ASSERT_TRUE(recorder.Record(involved, EventType::kWarning, "MigrationFailed", message).ok());
  ASSERT_EQ(seen_.size(), 1u);
  const std::string sent = Json::parse(seen_[0].body)["message"].get<std::string>();
  EXPECT_LE(sent.size(), 1024u);
  EXPECT_EQ(sent.find("\xEF\xBF\xBD"), std::string::npos) << "a character was split";
  EXPECT_EQ(sent.substr(sent.size() - 5), "\xC3\xA9...");
}

TEST_F(ClientTest, UnreachableTransportIsReported) {
  auto& client = MakeClient();
  auto r = client.Get(resources::kSecrets, "ns", "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kUnreachable);
}

}  // namespace
}  // namespace schemaop::kube
