// The fakes' Job executor half (fakes.h): Jobs in memory, finished by the
// test; the database's rows as one counter against a per-run baseline.
#include <nlohmann/json.hpp>

#include "reconcile/fakes.h"

namespace schemaop::reconcile::testing {

using core::Code;
using core::Status;

core::Status FakeKube::CreateJob(const std::string& ns, const std::string& manifest) {
  const std::string name = nlohmann::json::parse(manifest)["metadata"]["name"];
  const std::string key = ns + "/" + name;
  if (jobs.count(key) != 0) {
    return Status(Code::kConflict, "jobs.batch \"" + name + "\" already exists",
                  "HTTP 409 AlreadyExists");
  }
  effects_.Hit("create-job:" + name, [&] {
    FakeJob& job = jobs[key];
    job.manifest = manifest;
    ++job_creates;
    if (on_job_created) {
      on_job_created(name, job);
    }
  });
  return Status::Ok();
}

core::Result<JobState> FakeKube::GetJob(const std::string& ns, const std::string& name) {
  auto it = jobs.find(ns + "/" + name);
  if (it == jobs.end()) {
    return Status(Code::kNotFound, "jobs.batch \"" + name + "\" not found");
  }
  return it->second.state;
}

core::Status FakeKube::DeleteJob(const std::string& ns, const std::string& name) {
  effects_.Hit("delete-job:" + name, [&] { jobs.erase(ns + "/" + name); });
  return Status::Ok();
}

core::Result<std::string> FakeKube::ReadJobLog(const std::string& ns, const std::string& job,
                                               const JobLogRequest&) {
  auto it = jobs.find(ns + "/" + job);
  return it == jobs.end() ? std::string() : it->second.log;
}

core::Result<InspectResult> FakeDatabase::InspectVersions(const DatabaseTarget& target) {
  ++inspect_calls;
  targets_seen.push_back(target);
  if (inspect_error) {
    return *inspect_error;
  }
  InspectResult result;
  result.current_versions = versions;
  result.database_identity = database_identity;
  return result;
}

core::Result<JobBaseline> FakeDatabase::RecordJobBaseline(const DatabaseTarget&,
                                                          const std::string& run_key) {
  if (baselines.count(run_key) == 0) {
    effects_->Hit("db:baseline", [&] { baselines[run_key] = Baseline{versions, rows}; });
  }
  const Baseline& b = baselines[run_key];
  return JobBaseline{b.versions, "digest", 1};
}

core::Result<JobCheck> FakeDatabase::CheckJobResult(const DatabaseTarget&,
                                                    const std::string& run_key,
                                                    bool compare_schema) {
  auto it = baselines.find(run_key);
  if (it == baselines.end()) {
    return Status(Code::kNotFound, "no baseline");
  }
  JobCheck check;
  check.versions = versions;
  if (rows < it->second.rows) {
    check.row_loss.push_back("public.components lost rows (" + std::to_string(it->second.rows) +
                             " -> " + std::to_string(rows) + ")");
  }
  if (compare_schema && schema_drift) {
    check.schema_drift.push_back("column public.components.extra exists but did not");
  }
  return check;
}

core::Status FakeDatabase::EndJobSessions(const DatabaseTarget&,
                                          const std::string& application_name) {
  effects_->Hit("db:end-sessions:" + application_name,
                [&] { ended_sessions.push_back(application_name); });
  return Status::Ok();
}

core::Status FakeDatabase::RestoreBackup(const DatabaseTarget&, const std::string& path) {
  if (path.empty()) {
    return Status(Code::kNotFound, "no backup");
  }
  effects_->Hit("db:restore", [&] {
    ++restores;
    const Baseline& b = baselines.begin()->second;
    versions = b.versions;
    rows = b.rows;
    schema_drift = false;
  });
  return Status::Ok();
}

std::string FakeDatabase::JobPlanDigest(const std::vector<std::string>& from,
                                        const std::vector<std::string>& to,
                                        const std::string& plan_output) {
  return "plan:" + core::FormatVersions(from) + ">" + core::FormatVersions(to) + ":" +
         std::to_string(plan_output.size());
}

}  // namespace schemaop::reconcile::testing
