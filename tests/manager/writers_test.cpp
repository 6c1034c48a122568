// The deciding halves of KubePortImpl for CronJobs, Jobs, autoscalers and
// WorkloadFoughtBack (manager/writers.h, design §6.8): data in, data out.
#include "manager/writers.h"

#include <gtest/gtest.h>

namespace schemaop::manager {
namespace {

using Json = nlohmann::json;

Json Job(const std::string& name, const std::string& owner_uid, const char* condition = nullptr) {
  Json job = {{"metadata", {{"name", name}, {"ownerReferences", {{{"uid", owner_uid}}}}}}};
  if (condition != nullptr) {
    job["status"]["conditions"] = {{{"type", condition}, {"status", "True"}}};
  }
  return job;
}

TEST(WritersTest, RunningJobsAreTheUnfinishedJobsOfTheOwner) {
  const Json jobs = {Job("a", "cj-1"), Job("b", "cj-1", "Complete"), Job("c", "cj-1", "Failed"),
                     Job("d", "other"), Job("e", "cj-1", "Suspended")};
  EXPECT_EQ(RunningJobsOf(jobs, "cj-1"), (std::vector<std::string>{"a", "e"}));
  EXPECT_TRUE(RunningJobsOf(jobs, "").empty());  // no uid owns nothing
  EXPECT_TRUE(RunningJobsOf(Json(), "cj-1").empty());
}

TEST(WritersTest, AutoscalersTargetingAWorkload) {
  const Json hpas = Json::parse(R"([
    {"metadata":{"name":"web"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"backend"},"minReplicas":0}},
    {"metadata":{"name":"default-min"},"spec":{"scaleTargetRef":{"kind":"Deployment","name":"backend"}}},
    {"metadata":{"name":"sts"},"spec":{"scaleTargetRef":{"kind":"StatefulSet","name":"backend"}}}])");
  const Json scaled_objects = Json::parse(R"([
    {"metadata":{"name":"q","annotations":{"autoscaling.keda.sh/paused-replicas":"2"}},
     "spec":{"scaleTargetRef":{"name":"backend"}}},
    {"metadata":{"name":"other"},"spec":{"scaleTargetRef":{"name":"celery-worker"}}}])");
  auto found = AutoscalersTargeting(hpas, scaled_objects, "Deployment", "backend");
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].kind, core::kKindHorizontalPodAutoscaler);
  EXPECT_EQ(found[0].name, "web");
  EXPECT_EQ(found[0].min_replicas, 0);
  EXPECT_EQ(found[1].min_replicas, 1);  // the API's default
  EXPECT_EQ(found[2].kind, core::kKindScaledObject);  // kind defaults to Deployment
  EXPECT_EQ(found[2].paused_replicas, std::optional<std::string>("2"));
  auto none = AutoscalersTargeting(hpas, scaled_objects, "StatefulSet", "celery-worker");
  EXPECT_TRUE(none.empty());
}

TEST(WritersTest, TheLatestManagerOwningTheFieldIsNamed) {
  const Json object = Json::parse(R"({"metadata":{"managedFields":[
    {"manager":"kubectl-client-side-apply","operation":"Update","time":"2026-12-01T04:00:00Z",
     "fieldsV1":{"f:spec":{"f:replicas":{},"f:template":{}}}},
    {"manager":"schemaop","operation":"Update","subresource":"status","time":"2026-12-01T05:00:00Z",
     "fieldsV1":{"f:status":{}}},
    {"manager":"test-autoscaler","operation":"Update","subresource":"scale",
     "time":"2026-12-01T05:01:00Z","fieldsV1":{"f:spec":{"f:replicas":{}}}}]}})");
  EXPECT_EQ(DescribeFieldOwner(object, {"spec", "replicas"}),
            "manager \"test-autoscaler\" (operation Update, subresource scale, at "
            "2026-12-01T05:01:00Z)");
  EXPECT_EQ(DescribeFieldOwner(object, {"spec", "suspend"}),
            "an unknown writer (no metadata.managedFields entry owns spec.suspend)");
  EXPECT_EQ(DescribeFieldOwner(Json::object(), {"spec", "replicas"}),
            "an unknown writer (no metadata.managedFields entry owns spec.replicas)");
}

}  // namespace
}  // namespace schemaop::manager
