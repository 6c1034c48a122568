// Any scalable kind (design §6.3) against the in-process test API server
// (kube tier): a custom resource whose CRD declares subresources.scale is
// found through discovery and scaled through /scale, its pods found through
// the scale's status.selector; a kind without a scale subresource, or one no
// API serves, is refused with the kind and the fix named, and the server
// answers the real 404 for a missing scale subresource.
#include "manager/kube_port_impl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/client.h"
#include "test_api_server.h"
#include "workload_objects.h"

namespace schemaop::manager {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

const kube::ResourceRef kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
const kube::ResourceRef kRollouts{"argoproj.io", "v1alpha1", "rollouts", true};
const kube::ResourceRef kWorkers{"example.com", "v1", "workers", true};

// Argo Rollouts' scale paths; `scale` false: no scale subresource.
Json Crd(const std::string& group, const std::string& version, const std::string& kind,
         const std::string& plural, bool scale) {
  Json subresources = {{"status", Json::object()}};
  if (scale) {
    subresources["scale"] = {{"specReplicasPath", ".spec.replicas"},
                             {"statusReplicasPath", ".status.HPAReplicas"},
                             {"labelSelectorPath", ".status.selector"}};
  }
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + "." + group}}},
          {"spec",
           {{"group", group},
            {"scope", "Namespaced"},
            {"names", {{"kind", kind}, {"plural", plural}, {"singular", ""}}},
            {"versions",
             {{{"name", version},
               {"served", true},
               {"storage", true},
               {"subresources", subresources},
               {"schema",
                {{"openAPIV3Schema",
                  {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
}

Json Rollout(const std::string& name, int replicas) {
  return testing::WorkloadObject("argoproj.io/v1alpha1", "Rollout", name, replicas);
}

using testing::WaitFor;

class ScaleTargetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::Options options;
    options.deployment_delay_ms = 20;
    std::string error;
    ASSERT_TRUE(server_.Start(options, &error)) << error;
    kube::Config config;
    config.server = server_.url();
    auto client = kube::Client::Create(config);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    ASSERT_TRUE(client_->Create(kCrds, "", Crd("argoproj.io", "v1alpha1", "Rollout", "rollouts",
                                               true)).ok());
    ASSERT_TRUE(client_->Create(kCrds, "", Crd("example.com", "v1", "Worker", "workers", false))
                    .ok());
    ASSERT_TRUE(WaitFor([&] { return client_->List(kRollouts, "default").ok(); }));
  }

  apiserver::TestApiServer server_;
  std::unique_ptr<kube::Client> client_;
};

TEST_F(ScaleTargetsTest, ACustomResourceIsScaledThroughItsScaleSubresource) {
  ASSERT_TRUE(client_->Create(kRollouts, "default", Rollout("editor", 2)).ok());
  // The server's discovery document lists the scale subresource of the CRD.
  auto discovery = client_->Request("GET", "/apis/argoproj.io/v1alpha1");
  ASSERT_TRUE(discovery.ok());
  EXPECT_TRUE(FindScalableResource(discovery.value(), "argoproj.io/v1alpha1", "Rollout").ok());

  KubePortImpl port(*client_, nullptr);
  const core::WorkloadRef editor{"Rollout", "editor", "argoproj.io/v1alpha1"};
  ASSERT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", editor);
    return s.ok() && s->spec_replicas == 2 && s->status_replicas == 2;
  }));
  auto scale = client_->GetScale(kRollouts, "default", "editor");
  ASSERT_TRUE(scale.ok());
  EXPECT_EQ((*scale)["apiVersion"], "autoscaling/v1");
  EXPECT_EQ((*scale)["status"]["selector"], "app=editor");

  // The simulated controller holds the pods; while it is paused the scale
  // says 0 but the pods matching the selector still count.
  server_.SetControllersPaused(true);
  ASSERT_TRUE(port.SetReplicas("default", editor, 0).ok());
  auto object = client_->Get(kRollouts, "default", "editor");
  ASSERT_TRUE(object.ok());
  EXPECT_EQ((*object)["spec"]["replicas"], 0) << "written at specReplicasPath";
  auto draining = port.GetScale("default", editor);
  ASSERT_TRUE(draining.ok());
  EXPECT_EQ(draining->spec_replicas, 0);
  EXPECT_EQ(draining->status_replicas, 2);
  server_.SetControllersPaused(false);
  ASSERT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", editor);
    return s.ok() && s->status_replicas == 0;
  }));
  auto pods = client_->List(kube::resources::kPods, "default");
  ASSERT_TRUE(pods.ok());
  EXPECT_TRUE(pods->items.empty());

  ASSERT_TRUE(port.SetReplicas("default", editor, 2).ok());
  EXPECT_TRUE(WaitFor([&] {
    auto s = port.GetScale("default", editor);
    return s.ok() && s->status_replicas == 2;
  }));
  EXPECT_EQ(port.GetScale("default", {"Rollout", "absent", "argoproj.io/v1alpha1"})
                .status()
                .code(),
            core::Code::kNotFound);
}

TEST_F(ScaleTargetsTest, KindsThatCannotBeScaledAreRefusedWithTheFix) {
  ASSERT_TRUE(client_->Create(kWorkers, "default",
                              {{"metadata", {{"name", "importer"}}}, {"spec", {{"replicas", 1}}}})
                  .ok());
  // The real server's answer for a subresource the CRD does not declare.
  auto raw = client_->GetScale(kWorkers, "default", "importer");
  EXPECT_EQ(kube::HttpCodeOf(raw.status()), 404);
  EXPECT_THAT(raw.status().message(), HasSubstr("the server could not find the requested resource"));

  KubePortImpl port(*client_, nullptr);
  auto no_scale = port.GetScale("default", {"Worker", "importer", "example.com/v1"});
  EXPECT_EQ(no_scale.status().code(), core::Code::kInvalidArgument);
  EXPECT_THAT(no_scale.status().message(), HasSubstr("kind Worker (apiVersion example.com/v1)"));
  EXPECT_THAT(no_scale.status().message(), HasSubstr("no scale subresource"));
  EXPECT_EQ(port.SetReplicas("default", {"Worker", "importer", "example.com/v1"}, 0).code(),
            core::Code::kInvalidArgument);
  auto worker = client_->Get(kWorkers, "default", "importer");
  ASSERT_TRUE(worker.ok());
  EXPECT_EQ((*worker)["spec"]["replicas"], 1) << "nothing changed";

  auto unserved = port.GetScale("default", {"Rollout", "editor", "argoproj.io/v9"});
  EXPECT_EQ(unserved.status().code(), core::Code::kInvalidArgument);
  EXPECT_THAT(unserved.status().message(), HasSubstr("serves no apiVersion argoproj.io/v9"));
  auto misspelt = port.GetScale("default", {"Rolout", "editor", "argoproj.io/v1alpha1"});
  EXPECT_THAT(misspelt.status().message(), HasSubstr("serves no kind Rolout"));

  // A CRD that gains the scale subresource later is found on the next call.
  Json crd = Crd("example.com", "v1", "Worker", "workers", true);
  auto current = client_->Get(kCrds, "", "workers.example.com");
  ASSERT_TRUE(current.ok());
  crd["metadata"]["resourceVersion"] = (*current)["metadata"]["resourceVersion"];
  ASSERT_TRUE(client_->Update(kCrds, "", crd).ok());
  auto scalable = port.GetScale("default", {"Worker", "importer", "example.com/v1"});
  ASSERT_TRUE(scalable.ok()) << scalable.status().ToString();
  EXPECT_EQ(scalable->spec_replicas, 1);
}

}  // namespace
}  // namespace schemaop::manager
