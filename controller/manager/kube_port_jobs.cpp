// KubePortImpl for the Job executor (design §10): create, read and delete a
// migration Job, and read its pod's log. What the reconciler decides from
// them is in reconcile/job_run.cpp; the Job object is reconcile::BuildJob's.
#include <string>
#include <vector>

#include "core/conditions.h"
#include "manager/kube_port_impl.h"
#include "reconcile/job_manifest.h"

namespace schemaop::manager {

using core::Code;
using core::Status;

namespace {

const kube::ResourceRef kBatchJobs{"batch", "v1", "jobs", true};

// The Job's state from its conditions (Complete / Failed with status True),
// as the Job controller sets them; anything else is still active.
reconcile::JobState JobStateOf(const Json& job) {
  reconcile::JobState state;
  const Json& meta = job.value("metadata", Json::object());
  state.run_key =
      meta.value("annotations", Json::object()).value(reconcile::kJobAnnotationRun, std::string());
  const Json& status = job.value("status", Json::object());
  for (const Json& c : status.value("conditions", Json::array())) {
    if (c.value("status", "") != "True") {
      continue;
    }
    const std::string type = c.value("type", "");
    if (type == "Complete" || type == "Failed") {
      state.phase = type == "Complete" ? reconcile::JobState::Phase::kSucceeded
                                       : reconcile::JobState::Phase::kFailed;
      state.reason = c.value("reason", "");
      state.message = c.value("message", "");
      auto started = core::ParseRfc3339(status.value("startTime", ""));
      auto ended =
          core::ParseRfc3339(status.value("completionTime", c.value("lastTransitionTime", "")));
      if (started && ended && !(*ended < *started)) {
        state.seconds = static_cast<double>(ended->unix_millis - started->unix_millis) / 1000.0;
      }
      return state;
    }
  }
  return state;
}

}  // namespace

Status KubePortImpl::CreateJob(const std::string& ns, const std::string& manifest) {
  const Json object = Json::parse(manifest, nullptr, false);
  if (object.is_discarded()) {
    return Status(Code::kInvalidArgument, "the Job manifest is not JSON");
  }
  auto created = client_.Create(kBatchJobs, ns, object);
  return created.ok() ? Status::Ok() : created.status();
}

core::Result<reconcile::JobState> KubePortImpl::GetJob(const std::string& ns,
                                                       const std::string& name) {
  auto job = client_.Get(kBatchJobs, ns, name);
  if (!job.ok()) {
    return job.status();
  }
  return JobStateOf(job.value());
}

Status KubePortImpl::DeleteJob(const std::string& ns, const std::string& name) {
  kube::DeleteOptions options;
  options.propagation_policy = "Foreground";  // gone only with its pods
  Status s = client_.Delete(kBatchJobs, ns, name, options);
  return s.ok() || kube::IsNotFound(s) ? Status::Ok() : s;
}

Status KubePortImpl::ApplySecret(const std::string& ns, const std::string& manifest) {
  const Json object = Json::parse(manifest, nullptr, false);
  if (object.is_discarded()) {
    return Status(Code::kInvalidArgument, "the Secret manifest is not JSON");
  }
  auto created = client_.Create(kube::resources::kSecrets, ns, object);
  if (created.ok() || created.status().code() != Code::kConflict) {
    return created.ok() ? Status::Ok() : created.status();
  }
  // One of a killed rehearsal: replaced whole (its data is of a copy that
  // no longer exists), if it is this object's.
  const std::string name = object["metadata"].value("name", "");
  std::string owner_uid;
  for (const Json& ref : object["metadata"].value("ownerReferences", Json::array())) {
    if (ref.value("controller", false)) {
      owner_uid = ref.value("uid", "");
    }
  }
  if (Status deleted = DeleteSecret(ns, name, owner_uid); !deleted.ok()) {
    return deleted;
  }
  created = client_.Create(kube::resources::kSecrets, ns, object);
  return created.ok() ? Status::Ok() : created.status();
}

Status KubePortImpl::DeleteSecret(const std::string& ns, const std::string& name,
                                  const std::string& owner_uid) {
  auto found = client_.Get(kube::resources::kSecrets, ns, name);
  if (!found.ok()) {
    return kube::IsNotFound(found.status()) ? Status::Ok() : found.status();
  }
  const Json& meta = found.value()["metadata"];
  bool ours = false;
  for (const Json& ref : meta.value("ownerReferences", Json::array())) {
    ours = ours || (ref.value("controller", false) && !owner_uid.empty() &&
                    ref.value("uid", "") == owner_uid);
  }
  if (!ours) {
    return Status(Code::kConflict,
                  "Secret " + ns + "/" + name +
                      " exists but was not written by the operator for this SchemaMigration (its "
                      "controller owner is another object): it is left as it is; rename or "
                      "delete it, then the rehearsal goes on");
  }
  kube::DeleteOptions options;
  options.precondition_uid = meta.value("uid", "");  // this incarnation only
  Status s = client_.Delete(kube::resources::kSecrets, ns, name, options);
  return s.ok() || kube::IsNotFound(s) ? Status::Ok() : s;
}

core::Result<std::string> KubePortImpl::ReadJobLog(const std::string& ns, const std::string& job,
                                                   const reconcile::JobLogRequest& request) {
  // The Job controller labels its pods with both (job-name alone before 1.27).
  std::vector<Json> pods;
  for (const char* label : {"batch.kubernetes.io/job-name", "job-name"}) {
    kube::ListOptions options;
    options.label_selector = std::string(label) + "=" + job;
    auto list = client_.List(kube::resources::kPods, ns, options);
    if (!list.ok()) {
      return list.status();
    }
    pods = std::move(list->items);
    if (!pods.empty()) {
      break;
    }
  }
  if (pods.empty()) {
    return std::string();
  }
  const Json* newest = &pods[0];
  for (const Json& pod : pods) {
    if (pod["metadata"].value("creationTimestamp", "") >
        (*newest)["metadata"].value("creationTimestamp", "")) {
      newest = &pod;
    }
  }
  std::string path = kube::resources::kPods.CollectionPath(ns) + "/" +
                     kube::UrlEncode((*newest)["metadata"].value("name", "")) +
                     "/log?container=" + reconcile::kJobContainerName;
  if (request.tail_lines >= 0) {
    path += "&tailLines=" + std::to_string(request.tail_lines);
  }
  if (request.limit_bytes > 0) {
    path += "&limitBytes=" + std::to_string(request.limit_bytes);
  }
  return client_.RequestText("GET", path, "", "", "*/*");
}

}  // namespace schemaop::manager
