// spec.workloads[]: any resource with a scale subresource (design §6.3, "any
// scalable kind"), validated as the CRD's schema and CEL rules do (so an API
// server that drops CEL rules, before Kubernetes 1.25, still gets the same
// answer from the controller).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema_migration.h"

namespace schemaop::core {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A DNS subdomain (an API group): labels of [a-z0-9-], not starting or ending
// with '-', joined by '.'.
bool IsApiGroup(std::string_view g) {
  if (g.empty() || g.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = std::min(g.find('.', start), g.size());
    const std::string_view label = g.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || !IsLowerAlnum(label.front()) ||
        !IsLowerAlnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsLowerAlnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == g.size()) {
      return true;
    }
    start = dot + 1;
  }
}

// v1, v2beta3, v1alpha1 (Kubernetes API version names).
bool IsApiVersionName(std::string_view v) {
  if (v.size() < 2 || v.size() > 63 || v[0] != 'v' || !IsDigit(v[1])) {
    return false;
  }
  std::size_t i = 1;
  while (i < v.size() && IsDigit(v[i])) {
    ++i;
  }
  if (i == v.size()) {
    return true;
  }
  for (std::string_view stage : {"alpha", "beta"}) {
    if (v.substr(i, stage.size()) == stage) {
      i += stage.size();
      const std::size_t digits = i;
      while (i < v.size() && IsDigit(v[i])) {
        ++i;
      }
      return i == v.size() && i > digits;
    }
  }
  return false;
}

// A Kind: CamelCase letters and digits, starting with an upper-case letter.
bool IsKindName(std::string_view k) {
  if (k.empty() || k.size() > 63 || !(k[0] >= 'A' && k[0] <= 'Z')) {
    return false;
  }
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c))) {
      return false;
    }
  }
  return true;
}

// Kinds the controller knows without an apiVersion: apps/v1 Deployment and
// StatefulSet, batch/v1 CronJob (suspended, not scaled: design §6.8).
bool IsBuiltinKind(const std::string& kind) {
  return kind == kKindDeployment || kind == kKindStatefulSet || kind == kKindCronJob;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

bool IsValidWorkloadApiVersion(std::string_view api_version) {
  const std::size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) {
    return IsApiVersionName(api_version);  // the core group: "v1"
  }
  return IsApiGroup(api_version.substr(0, slash)) &&
         IsApiVersionName(api_version.substr(slash + 1));
}

std::string WorkloadApiVersion(const std::string& api_version, const std::string& kind) {
  if (!api_version.empty() || !IsBuiltinKind(kind)) {
    return api_version;
  }
  return kind == kKindCronJob ? "batch/v1" : "apps/v1";
}

void ValidateWorkloadRefs(const std::vector<WorkloadRef>& workloads,
                          std::vector<FieldError>& errors) {
  auto add = [&errors](std::string path, std::string message) {
    errors.push_back(FieldError{std::move(path), std::move(message)});
  };
  if (workloads.size() > 50) {
    add("spec.workloads", "at most 50 workloads");
  }
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const WorkloadRef& w = workloads[i];
    const std::string path = "spec.workloads[" + std::to_string(i) + "]";
    if (!IsKindName(w.kind)) {
      add(path + ".kind", "invalid kind " + Quoted(w.kind) +
                              ": a Kind is CamelCase letters and digits (Deployment, "
                              "StatefulSet, Rollout, ...)");
    } else if (w.api_version.empty() && !IsBuiltinKind(w.kind)) {
      add(path + ".apiVersion",
          "required for kind " + Quoted(w.kind) +
              " (only Deployment and StatefulSet may leave it out): set the group/version the "
              "kind is served under, e.g. argoproj.io/v1alpha1 for an Argo Rollout");
    }
    if (!w.api_version.empty() && !IsValidWorkloadApiVersion(w.api_version)) {
      add(path + ".apiVersion", "invalid apiVersion " + Quoted(w.api_version) +
                                    ": expected group/version (apps/v1, argoproj.io/v1alpha1) "
                                    "or v1 for the core group");
    }
    if (w.name.empty()) {
      add(path + ".name", "required");
    } else if (!IsDnsSubdomainName(w.name)) {
      add(path + ".name", "invalid name " + Quoted(w.name) + ": must be a DNS subdomain");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (workloads[j].kind == w.kind && workloads[j].name == w.name) {
        add(path + ".name", "duplicate (" + w.kind + "/" + w.name + " is already spec.workloads[" +
                                std::to_string(j) + "])");
        break;
      }
    }
  }
}

}  // namespace schemaop::core
