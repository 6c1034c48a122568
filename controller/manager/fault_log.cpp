#include "manager/fault_log.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "manager/prometheus_metrics.h"

namespace schemaop::manager {

namespace {

// Whether an operator should see this fault in the log at all.
bool Worth(const kube::Fault& fault) {
  if (fault.kind != kube::FaultKind::kHttpError) {
    return true;
  }
  // 429 (throttled) and 5xx are the API server's trouble; a 4xx is an
  // answer the caller handles (404 lookup, 409 optimistic write, 403 that
  // the reconciler reports with its own reason).
  return fault.http_code == 429 || fault.http_code >= 500 || fault.http_code == 0;
}

const char* LevelOf(const kube::Fault& fault) {
  switch (fault.kind) {
    case kube::FaultKind::kHttpError:
    case kube::FaultKind::kUnreachable:
      return "warn";
    case kube::FaultKind::kStaleConnection:
    case kube::FaultKind::kConflictRetry:
    case kube::FaultKind::kWatchRelist:
      return "info";
  }
  return "warn";
}

std::string Describe(const kube::Fault& fault) {
  std::string what;
  switch (fault.kind) {
    case kube::FaultKind::kHttpError:
      what = "HTTP " + std::to_string(fault.http_code);
      break;
    case kube::FaultKind::kUnreachable:
      what = "API server unreachable";
      break;
    case kube::FaultKind::kStaleConnection:
      what = "stale keep-alive connection";
      break;
    case kube::FaultKind::kConflictRetry:
      what = "conflict (409)";
      break;
    case kube::FaultKind::kWatchRelist:
      what = "watch history expired (410)";
      break;
  }
  std::string text = "Kubernetes API: " + fault.call + ": " + what;
  if (!fault.message.empty()) {
    text += " (" + fault.message + ")";
  }
  if (!fault.next.empty()) {
    text += "; " + fault.next;
  }
  return text;
}

void Count(PrometheusMetrics* metrics, const kube::Fault& fault) {
  if (metrics == nullptr) {
    return;
  }
  switch (fault.kind) {
    case kube::FaultKind::kHttpError:
      metrics->CountApiServerError(std::to_string(fault.http_code));
      break;
    case kube::FaultKind::kUnreachable:
      metrics->CountApiServerError("unreachable");
      break;
    case kube::FaultKind::kStaleConnection:
      metrics->CountApiServerRetry("stale-connection");
      break;
    case kube::FaultKind::kConflictRetry:
      metrics->CountApiServerRetry("conflict");
      break;
    case kube::FaultKind::kWatchRelist:
      metrics->CountWatchRelist();
      break;
  }
}

}  // namespace

FaultLog::FaultLog(PrometheusMetrics* metrics, std::chrono::seconds interval, Clock now)
    : metrics_(metrics), interval_(interval), now_(std::move(now)) {}

std::optional<FaultLine> FaultLog::Observe(const kube::Fault& fault) {
  Count(metrics_, fault);
  if (!Worth(fault)) {
    return std::nullopt;
  }
  const auto now = now_();
  int folded = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Window& window = windows_[{static_cast<int>(fault.kind), fault.http_code}];
    if (window.written && now - window.last < interval_) {
      ++window.folded;
      return std::nullopt;
    }
    folded = window.folded;
    window = Window{now, 0, true};
  }
  FaultLine line{LevelOf(fault), Describe(fault)};
  if (folded > 0) {
    line.text += " [" + std::to_string(folded) + " more like it since the last line]";
  }
  return line;
}

void FaultLog::Report(const kube::Fault& fault) {
  auto line = Observe(fault);
  if (!line) {
    return;
  }
  if (line->level == "warn") {
    spdlog::warn("{}", line->text);
  } else {
    spdlog::info("{}", line->text);
  }
}

kube::FaultObserver FaultLog::Observer() {
  return [this](const kube::Fault& fault) { Report(fault); };
}

}  // namespace schemaop::manager
