#pragma once
// Shared by the manager's kube-tier tests: a workload object with a pod
// template (a Deployment, or a custom kind such as an Argo Rollout) and a
// polling wait for the test API server's simulated controllers.
#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace schemaop::manager::testing {

// `replicas` pods labelled app=<name>, in namespace default.
inline nlohmann::json WorkloadObject(const std::string& api_version, const std::string& kind,
                                     const std::string& name, int replicas) {
  nlohmann::json labels = {{"app", name}};
  return {{"apiVersion", api_version},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}}}}}};
}

template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return predicate();
}

}  // namespace schemaop::manager::testing
