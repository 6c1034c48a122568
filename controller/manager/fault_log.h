#pragma once
// Makes the faults the controller survives visible (issue 12 item 3): each
// kube::Fault the Kubernetes client reports becomes a counter and, for the
// ones an operator should see, a log line at info or warn naming the call,
// what failed and what happens next. Lines are rate-limited per kind and
// HTTP code: the first is written, then at most one per interval, carrying
// how many were folded into it. Expected answers (404 on a lookup, the 409
// of an optimistic write) are counted, not logged: the reconciler reports
// what they mean.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "kube/faults.h"

namespace schemaop::manager {

class PrometheusMetrics;

struct FaultLine {
  std::string level;  // "info" | "warn"
  std::string text;
};

class FaultLog {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit FaultLog(PrometheusMetrics* metrics, std::chrono::seconds interval = std::chrono::seconds(30),
                    Clock now = [] { return std::chrono::steady_clock::now(); });

  // Counts the fault and returns the line to log, if any (thread-safe).
  std::optional<FaultLine> Observe(const kube::Fault& fault);

  // Observe, then write the line (if any) through spdlog.
  void Report(const kube::Fault& fault);
  // An observer for kube::Client::SetFaultObserver: Report.
  kube::FaultObserver Observer();

 private:
  struct Window {
    std::chrono::steady_clock::time_point last{};
    int folded = 0;
    bool written = false;
  };
  PrometheusMetrics* metrics_;
  std::chrono::seconds interval_;
  Clock now_;
  std::mutex mu_;
  std::map<std::pair<int, int>, Window> windows_;  // (kind, http code)
};

}  // namespace schemaop::manager
