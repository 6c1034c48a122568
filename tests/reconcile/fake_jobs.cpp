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
  effects_.Hit("delete-job:" + name, [&] {
    if (job_deletion_lingers && jobs.count(ns + "/" + name) != 0) {
      deleting_jobs.insert(ns + "/" + name);
    } else {
      jobs.erase(ns + "/" + name);
    }
  });
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

core::Status FakeKube::ApplySecret(const std::string& ns, const std::string& manifest) {
  const auto secret = nlohmann::json::parse(manifest);
  const std::string name = secret["metadata"]["name"];
  effects_.Hit("apply-secret:" + name, [&] {
    secrets[ns + "/" + name] = secret["stringData"].get<std::map<std::string, std::string>>();
  });
  return Status::Ok();
}

core::Status FakeKube::DeleteSecret(const std::string& ns, const std::string& name,
                                    const std::string&) {
  if (foreign_secrets.count(ns + "/" + name) != 0) {
    return Status(Code::kConflict, "Secret " + ns + "/" + name + " is another object's");
  }
  effects_.Hit("delete-secret:" + name, [&] { secrets.erase(ns + "/" + name); });
  return Status::Ok();
}

FakeDatabase::Scratch* FakeDatabase::ScratchOf(const DatabaseTarget& target) {
  for (auto& [key, scratch] : scratches) {
    if (scratch.url == target.url) {
      return &scratch;
    }
  }
  return nullptr;
}

core::Result<std::string> FakeDatabase::OpenJobScratch(const DatabaseTarget&,
                                                       const std::string& key) {
  if (scratch_error) {
    return *scratch_error;
  }
  if (scratches.count(key) == 0) {
    effects_->Hit("db:scratch-copy", [&] {
      ++scratch_copies;
      scratches[key] = Scratch{kScratchUrlPrefix + std::to_string(scratch_copies), versions, rows,
                               {}, false};
    });
  }
  return scratches.at(key).url;
}

std::optional<std::string> FakeDatabase::FindJobScratch(const std::string& key) {
  auto it = scratches.find(key);
  return it == scratches.end() ? std::nullopt : std::optional<std::string>(it->second.url);
}

core::Status FakeDatabase::DropJobScratch(const std::string& key) {
  if (scratches.count(key) != 0) {
    effects_->Hit("db:scratch-drop", [&] {
      ++scratch_drops;
      scratches.erase(key);
    });
  }
  return Status::Ok();
}

core::Result<JobBaseline> FakeDatabase::RecordJobBaseline(const DatabaseTarget& target,
                                                          const std::string& run_key) {
  if (Scratch* scratch = ScratchOf(target)) {
    scratch->baselines.emplace(run_key, Baseline{scratch->versions, scratch->rows});
    return JobBaseline{scratch->versions, "digest", 1};
  }
  if (baselines.count(run_key) == 0) {
    effects_->Hit("db:baseline", [&] { baselines[run_key] = Baseline{versions, rows}; });
  }
  const Baseline& b = baselines[run_key];
  return JobBaseline{b.versions, "digest", 1};
}

core::Result<JobCheck> FakeDatabase::CheckJobResult(const DatabaseTarget& target,
                                                    const std::string& run_key,
                                                    bool compare_schema) {
  Scratch* scratch = ScratchOf(target);
  const auto& known = scratch != nullptr ? scratch->baselines : baselines;
  auto it = known.find(run_key);
  if (it == known.end()) {
    return Status(Code::kNotFound, "no baseline");
  }
  const std::int64_t now_rows = scratch != nullptr ? scratch->rows : rows;
  JobCheck check;
  check.versions = scratch != nullptr ? scratch->versions : versions;
  if (now_rows < it->second.rows) {
    check.row_loss.push_back("public.components lost rows (" + std::to_string(it->second.rows) +
                             " -> " + std::to_string(now_rows) + ")");
  }
  if (compare_schema && (scratch != nullptr ? scratch->schema_drift : schema_drift)) {
    check.schema_drift.push_back("column public.components.extra exists but did not");
  }
  if (!compare_schema && target.verify_schema && scratch == nullptr &&
      seen_before_drift.count(core::FormatVersions(check.versions)) != 0) {
    check.schema_drift.push_back("index public.components_schema_idx is missing");
  }
  return check;
}

core::Status FakeDatabase::EndJobSessions(const DatabaseTarget& target,
                                          const std::string& application_name) {
  effects_->Hit("db:end-sessions:" + application_name, [&] {
    ended_sessions.push_back(application_name);
    ended_session_urls.push_back(target.url);
  });
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
  // As the engine's: 64 hex digits over the start, the target and the
  // output, so it can be approved (spec.approvedPlanHash).
  return PlanDigest({{"plan-job-output", plan_output}}, from, to);
}

}  // namespace schemaop::reconcile::testing
