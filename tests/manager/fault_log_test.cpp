// FaultLog (issue 12 item 3): every fault the Kubernetes client reports is
// counted in the Prometheus series an operator would alert on, and the ones
// worth reading become a log line naming the call and what happens next,
// rate-limited per kind and code with the folded count.
#include "manager/fault_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "manager/prometheus_metrics.h"

namespace schemaop::manager {
namespace {

using ::testing::HasSubstr;

class FaultLogTest : public ::testing::Test {
 protected:
  std::chrono::steady_clock::time_point now_{std::chrono::seconds(1000)};
  PrometheusMetrics metrics_;
  FaultLog log_{&metrics_, std::chrono::seconds(30), [this] { return now_; }};
};

TEST_F(FaultLogTest, EachKindIsCountedInItsSeries) {
  log_.Observe({kube::FaultKind::kHttpError, 503, "GET /api/v1/namespaces/d/secrets/db", "etcd", "returned to the caller"});
  log_.Observe({kube::FaultKind::kHttpError, 404, "GET /apis/apps/v1/namespaces/d/deployments/x", "not found", ""});
  log_.Observe({kube::FaultKind::kUnreachable, 0, "GET /api/v1/configmaps", "connection refused", ""});
  log_.Observe({kube::FaultKind::kStaleConnection, 200, "PUT /x", "", "answered"});
  log_.Observe({kube::FaultKind::kConflictRetry, 409, "update status of x", "", "re-reading and retrying"});
  log_.Observe({kube::FaultKind::kWatchRelist, 410, "watch /api/v1/configmaps", "", "re-listing"});
  log_.Observe({kube::FaultKind::kWatchRelist, 410, "watch /api/v1/configmaps", "", "re-listing"});
  const std::string text = metrics_.Serialize();
  EXPECT_THAT(text, HasSubstr("schemaop_apiserver_errors_total{code=\"503\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_apiserver_errors_total{code=\"404\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_apiserver_errors_total{code=\"unreachable\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_apiserver_retries_total{reason=\"stale-connection\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_apiserver_retries_total{reason=\"conflict\"} 1"));
  EXPECT_THAT(text, HasSubstr("schemaop_watch_relists_total 2"));
}

TEST_F(FaultLogTest, LinesNameTheCallWhatFailedAndWhatHappensNext) {
  auto relist = log_.Observe({kube::FaultKind::kWatchRelist, 410, "watch /api/v1/configmaps",
                              "too old resource version", "re-listing"});
  ASSERT_TRUE(relist.has_value());
  EXPECT_EQ(relist->level, "info");
  EXPECT_EQ(relist->text,
            "Kubernetes API: watch /api/v1/configmaps: watch history expired (410) (too old "
            "resource version); re-listing");
  auto down = log_.Observe({kube::FaultKind::kUnreachable, 0, "GET /api/v1/namespaces/d/secrets/db",
                            "connection refused", "returned to the caller"});
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->level, "warn");
  EXPECT_THAT(down->text, HasSubstr("API server unreachable"));
  auto throttled = log_.Observe({kube::FaultKind::kHttpError, 429, "PATCH /x", "slow down", ""});
  ASSERT_TRUE(throttled.has_value());
  EXPECT_EQ(throttled->level, "warn");
  // Answers the caller handles are counted, not logged.
  EXPECT_FALSE(log_.Observe({kube::FaultKind::kHttpError, 404, "GET /x", "", ""}).has_value());
  EXPECT_FALSE(log_.Observe({kube::FaultKind::kHttpError, 409, "PUT /x", "", ""}).has_value());
}

TEST_F(FaultLogTest, RepeatsAreFoldedIntoTheNextLineAfterTheInterval) {
  const kube::Fault fault{kube::FaultKind::kHttpError, 500, "GET /x", "boom", "retrying"};
  ASSERT_TRUE(log_.Observe(fault).has_value());
  for (int i = 0; i < 5; ++i) {
    now_ += std::chrono::seconds(5);
    EXPECT_FALSE(log_.Observe(fault).has_value()) << i;
  }
  // Another code is another window.
  EXPECT_TRUE(log_.Observe({kube::FaultKind::kHttpError, 503, "GET /x", "", ""}).has_value());
  now_ += std::chrono::seconds(6);  // 31 s after the first line
  auto next = log_.Observe(fault);
  ASSERT_TRUE(next.has_value());
  EXPECT_THAT(next->text, HasSubstr("[5 more like it since the last line]"));
  EXPECT_THAT(metrics_.Serialize(), HasSubstr("schemaop_apiserver_errors_total{code=\"500\"} 7"));
}

}  // namespace
}  // namespace schemaop::manager
