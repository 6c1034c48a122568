// KubePortImpl for CronJobs (a writer with at most one replica: its
// spec.suspend), their Jobs, the autoscalers of a workload and the
// managedFields reading behind WorkloadFoughtBack (design §6.8). The
// deciding halves are in writers.cpp.
#include <string>
#include <vector>

#include "manager/kube_port_impl.h"
#include "manager/writers.h"

namespace schemaop::manager {

using core::Code;
using core::Status;

namespace {

const kube::ResourceRef kCronJobs{"batch", "v1", "cronjobs", true};
const kube::ResourceRef kJobs{"batch", "v1", "jobs", true};
const kube::ResourceRef kHorizontalPodAutoscalers{"autoscaling", "v2", "horizontalpodautoscalers",
                                                  true};
const kube::ResourceRef kScaledObjects{"keda.sh", "v1alpha1", "scaledobjects", true};

// CronJob ns/name and the names of its running Jobs (found through their
// ownerReferences, as the CronJob controller does).
struct CronJobState {
  Json cronjob;
  std::vector<std::string> running_jobs;
};
core::Result<CronJobState> ReadCronJob(kube::Client& client, const std::string& ns,
                                       const std::string& name) {
  auto cronjob = client.Get(kCronJobs, ns, name);
  if (!cronjob.ok()) {
    return cronjob.status();
  }
  auto jobs = client.ListAll(kJobs, ns);
  if (!jobs.ok()) {
    return jobs.status();
  }
  const std::string uid = cronjob->value("metadata", Json::object()).value("uid", "");
  return CronJobState{cronjob.value(), RunningJobsOf(Json(jobs->items), uid)};
}

}  // namespace

core::Result<reconcile::WorkloadScale> KubePortImpl::CronJobScale(const std::string& ns,
                                                                  const std::string& name) {
  auto state = ReadCronJob(client_, ns, name);
  if (!state.ok()) {
    return state.status();
  }
  reconcile::WorkloadScale out;
  const bool suspended = state->cronjob.value("spec", Json::object()).value("suspend", false);
  out.spec_replicas = suspended ? 0 : 1;
  out.status_replicas = static_cast<std::int32_t>(state->running_jobs.size());
  return out;
}

Status KubePortImpl::SetCronJobSuspend(const std::string& ns, const std::string& name,
                                       bool suspend) {
  auto patched = client_.Patch(kCronJobs, ns, name, kube::PatchType::kMerge,
                               Json{{"spec", {{"suspend", suspend}}}});
  return patched.ok() ? Status::Ok() : patched.status();
}

core::Result<std::vector<reconcile::AutoscalerInfo>> KubePortImpl::ListAutoscalersOf(
    const std::string& ns, const std::string& kind, const std::string& name) {
  auto hpas = client_.ListAll(kHorizontalPodAutoscalers, ns);
  if (!hpas.ok()) {
    return hpas.status();
  }
  Json scaled_objects = Json::array();
  auto listed = client_.ListAll(kScaledObjects, ns);
  if (listed.ok()) {
    scaled_objects = listed->items;
  } else if (!kube::IsNotFound(listed.status())) {
    return listed.status();  // 404: KEDA is not installed, so no ScaledObject exists
  }
  return AutoscalersTargeting(Json(hpas->items), scaled_objects, kind, name);
}

Status KubePortImpl::SetScaledObjectPausedReplicas(const std::string& ns, const std::string& name,
                                                   const std::optional<std::string>& value) {
  const Json annotation = value ? Json(*value) : Json(nullptr);  // null removes it
  auto patched = client_.Patch(
      kScaledObjects, ns, name, kube::PatchType::kMerge,
      Json{{"metadata", {{"annotations", {{core::kKedaPausedReplicasAnnotation, annotation}}}}}});
  return patched.ok() ? Status::Ok() : patched.status();
}

Status KubePortImpl::DeleteRunningJobsOf(const std::string& ns, const std::string& name) {
  auto state = ReadCronJob(client_, ns, name);
  if (!state.ok()) {
    return state.status();
  }
  for (const std::string& job : state->running_jobs) {
    // Foreground: the Job stays (and counts as running) until its pods are
    // gone, so the drain cannot end while one of them still writes.
    kube::DeleteOptions options;
    options.propagation_policy = "Foreground";
    Status s = client_.Delete(kJobs, ns, job, options);
    if (!s.ok() && !kube::IsNotFound(s)) {
      return s;
    }
  }
  return Status::Ok();
}

// Reads the workload object itself (a custom kind needs `get` on it for this,
// beyond its scale subresource; without it the message says so).
core::Result<std::string> KubePortImpl::ReplicasWriterOf(const std::string& ns,
                                                         const core::WorkloadRef& w) {
  const bool cronjob = w.kind == core::kKindCronJob;
  kube::ResourceRef ref = kCronJobs;
  if (!cronjob) {
    auto workload = scale_targets_.Resolve(w.api_version, w.kind);
    if (!workload.ok()) {
      return workload.status();
    }
    ref = workload.value();
  }
  auto object = client_.Get(ref, ns, w.name);
  if (!object.ok()) {
    return object.status();
  }
  return DescribeFieldOwner(object.value(), {"spec", cronjob ? "suspend" : "replicas"});
}

}  // namespace schemaop::manager
