// KubePortImpl's Job executor calls (kube_port_jobs.cpp) against the
// in-process test API server, which runs a Job's command as a local process
// (tests/apiserver/job_runner.h): create (409 on a second create), the
// conditions Complete / Failed with the Job controller's reasons, pod logs
// with tailLines / limitBytes, a killed pod, delete.
#include <gtest/gtest.h>

#include "kube/client.h"
#include "manager/kube_port_impl.h"
#include "test_api_server.h"
#include "workload_objects.h"

namespace schemaop::manager {
namespace {

using Json = nlohmann::json;
using Phase = reconcile::JobState::Phase;

// A Job as reconcile::BuildJob shapes it: container "migrate", the secret
// only in the environment.
std::string JobManifest(const std::string& name, const std::string& script) {
  Json container = {
      {"name", "migrate"},
      {"image", "local"},
      {"command", {"sh", "-c", script}},
      {"env", {{{"name", "DATABASE_URL"},
                {"valueFrom", {{"secretKeyRef", {{"name", "db"}, {"key", "DATABASE_URL"}}}}}}}}};
  return Json{{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", name}, {"annotations", {{"schemaop.dev/run", "key-1"}}}}},
              {"spec",
               {{"backoffLimit", 0},
                {"template",
                 {{"spec", {{"restartPolicy", "Never"}, {"containers", {container}}}}}}}}}
      .dump();
}

class KubePortJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(server_.Start(apiserver::Options{}, &error)) << error;
    kube::Config config;
    config.server = server_.url();
    auto client = kube::Client::Create(config);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    const Json secret = {{"apiVersion", "v1"},
                         {"kind", "Secret"},
                         {"metadata", {{"name", "db"}}},
                         {"data", {{"DATABASE_URL", "cG9zdGdyZXNxbDovL2FwcDpwd0BkYi94"}}}};
    ASSERT_TRUE(client_->Create(kube::resources::kSecrets, "default", secret).ok());
    port_ = std::make_unique<KubePortImpl>(*client_, nullptr);
  }

  reconcile::JobState WaitFinished(const std::string& name) {
    reconcile::JobState state;
    EXPECT_TRUE(testing::WaitFor([&] {
      auto got = port_->GetJob("default", name);
      state = got.ok() ? got.value() : state;
      return got.ok() && got->phase != Phase::kActive;
    }));
    return state;
  }

  apiserver::TestApiServer server_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<KubePortImpl> port_;
};

TEST_F(KubePortJobsTest, ACompletedJobItsLogAndASecondCreate) {
  const std::string script =
      "echo first; echo \"url bytes ${#DATABASE_URL}\"; echo last";
  ASSERT_TRUE(port_->CreateJob("default", JobManifest("m-up-1", script)).ok());
  auto again = port_->CreateJob("default", JobManifest("m-up-1", script));
  EXPECT_EQ(again.code(), core::Code::kConflict) << again.ToString();
  const reconcile::JobState state = WaitFinished("m-up-1");
  EXPECT_EQ(state.phase, Phase::kSucceeded);
  EXPECT_EQ(state.reason, "CompletionsReached");
  EXPECT_EQ(state.run_key, "key-1");
  auto log = port_->ReadJobLog("default", "m-up-1", reconcile::JobLogRequest{-1, 1 << 20});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log.value(), "first\nurl bytes 24\nlast\n");  // the URL came through the environment
  auto tail = port_->ReadJobLog("default", "m-up-1", reconcile::JobLogRequest{1, 1 << 20});
  EXPECT_EQ(tail.value(), "last\n");
  auto head = port_->ReadJobLog("default", "m-up-1", reconcile::JobLogRequest{-1, 5});
  EXPECT_EQ(head.value(), "first");
  ASSERT_TRUE(port_->DeleteJob("default", "m-up-1").ok());
  EXPECT_EQ(port_->GetJob("default", "m-up-1").status().code(), core::Code::kNotFound);
  EXPECT_TRUE(port_->DeleteJob("default", "m-up-1").ok());  // already gone: no error
  EXPECT_EQ(port_->ReadJobLog("default", "m-up-1", {}).value(), "");  // no pod left
}

TEST_F(KubePortJobsTest, AFailingCommandFailsTheJob) {
  ASSERT_TRUE(port_->CreateJob("default", JobManifest("m-up-2", "echo boom >&2; exit 3")).ok());
  const reconcile::JobState state = WaitFinished("m-up-2");
  EXPECT_EQ(state.phase, Phase::kFailed);
  EXPECT_EQ(state.reason, "BackoffLimitExceeded");
  EXPECT_EQ(port_->ReadJobLog("default", "m-up-2", {}).value(), "boom\n");
}

TEST_F(KubePortJobsTest, AKilledPodFailsTheJob) {
  ASSERT_TRUE(port_->CreateJob("default", JobManifest("m-up-3", "echo started; sleep 60")).ok());
  ASSERT_TRUE(testing::WaitFor([&] {
    auto log = port_->ReadJobLog("default", "m-up-3", {});
    return log.ok() && log.value() == "started\n";
  }));
  EXPECT_EQ(port_->GetJob("default", "m-up-3")->phase, Phase::kActive);
  auto killed = client_->Request("POST", "/_test/jobs/kill", "application/json",
                                 R"({"namespace":"default","name":"m-up-3"})");
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  EXPECT_EQ(WaitFinished("m-up-3").phase, Phase::kFailed);
}

// The rehearsal's Secret (design §10.9). Invariant: the operator deletes or
// replaces no Secret it did not write.
Json ScratchSecret(const std::string& owner_uid, const std::string& url) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata",
               {{"name", "m-scratch-url-1"},
                {"ownerReferences",
                 {{{"apiVersion", "schemaop.dev/v1alpha1"},
                   {"kind", "SchemaMigration"},
                   {"name", "m"},
                   {"uid", owner_uid},
                   {"controller", true}}}}}},
              {"stringData", {{"DATABASE_URL", url}}}};
}

std::string SecretUrl(kube::Client& client) {
  auto got = client.Get(kube::resources::kSecrets, "default", "m-scratch-url-1");
  return got.ok() ? got.value()["data"].value("DATABASE_URL", "") : "<none>";
}

TEST_F(KubePortJobsTest, TheRehearsalSecretIsReplacedAndDeletedOnlyByItsOwner) {
  ASSERT_TRUE(port_->ApplySecret("default", ScratchSecret("uid-1", "postgresql://a/x1").dump()).ok());
  const std::string first = SecretUrl(*client_);
  // A second apply by the same owner (a killed rehearsal's) replaces it.
  ASSERT_TRUE(port_->ApplySecret("default", ScratchSecret("uid-1", "postgresql://a/x2").dump()).ok());
  EXPECT_NE(SecretUrl(*client_), first);
  // Another object's Secret of that name is neither replaced nor deleted.
  auto foreign = port_->ApplySecret("default", ScratchSecret("uid-2", "postgresql://a/x3").dump());
  EXPECT_EQ(foreign.code(), core::Code::kConflict) << foreign.ToString();
  EXPECT_NE(foreign.message().find("default/m-scratch-url-1"), std::string::npos);
  EXPECT_EQ(foreign.message().find("postgresql://"), std::string::npos) << foreign.message();
  EXPECT_EQ(port_->DeleteSecret("default", "m-scratch-url-1", "uid-2").code(),
            core::Code::kConflict);
  EXPECT_NE(SecretUrl(*client_), "<none>");
  ASSERT_TRUE(port_->DeleteSecret("default", "m-scratch-url-1", "uid-1").ok());
  EXPECT_EQ(SecretUrl(*client_), "<none>");
  EXPECT_TRUE(port_->DeleteSecret("default", "m-scratch-url-1", "uid-1").ok());  // gone: no error
  // The user's own Secret (no owner) is never the operator's to delete.
  EXPECT_EQ(port_->DeleteSecret("default", "db", "uid-1").code(), core::Code::kConflict);
  EXPECT_TRUE(client_->Get(kube::resources::kSecrets, "default", "db").ok());
}

}  // namespace
}  // namespace schemaop::manager
