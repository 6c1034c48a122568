// DatabasePortImpl for the Job executor (design §10.4): the database is read
// by the operator itself, before and after each Job; nothing a Job printed
// is trusted (reconcile/job_run.cpp).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>

#include "core/database_url.h"
#include "manager/database_port_impl.h"

namespace schemaop::manager {

core::Result<reconcile::InspectResult> DatabasePortImpl::InspectVersions(
    const reconcile::DatabaseTarget& target) {
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto current = migrator.value()->CurrentVersions();
  if (!current.ok()) {
    return current.status();
  }
  reconcile::InspectResult result;
  result.current_versions = std::move(current).value();
  std::sort(result.current_versions.begin(), result.current_versions.end());
  auto identity = Identity(*migrator.value());
  if (!identity.ok()) {
    return identity.status();
  }
  result.database_identity = std::move(identity).value();
  return result;
}

core::Result<reconcile::JobBaseline> DatabasePortImpl::RecordJobBaseline(
    const reconcile::DatabaseTarget& target, const std::string& run_key) {
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto record = migrator.value()->RecordJobBaseline(run_key);
  if (!record.ok()) {
    return record.status();
  }
  return reconcile::JobBaseline{record->versions, record->fingerprint_digest, record->relations};
}

core::Result<reconcile::JobCheck> DatabasePortImpl::CheckJobResult(
    const reconcile::DatabaseTarget& target, const std::string& run_key, bool compare_schema) {
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto report = migrator.value()->CheckJobResult(run_key, compare_schema);
  if (!report.ok()) {
    return report.status();
  }
  return reconcile::JobCheck{report->versions, report->row_loss, report->schema_drift};
}

core::Status DatabasePortImpl::EndJobSessions(const reconcile::DatabaseTarget& target,
                                              const std::string& application_name) {
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto ended = migrator.value()->EndSessions(application_name, std::chrono::seconds(10));
  return ended.ok() ? core::Status::Ok() : ended.status();
}

core::Status DatabasePortImpl::RestoreBackup(const reconcile::DatabaseTarget& target,
                                             const std::string& path) {
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  return migrator.value()->Restore(path);
}

core::Result<std::string> DatabasePortImpl::OpenJobScratch(const reconcile::DatabaseTarget& target,
                                                           const std::string& key) {
  if (auto held = FindJobScratch(key)) {
    return std::move(*held);
  }
  // The URL must be rewritable before a copy is worth making.
  if (auto probe = core::WithDatabaseName(target.url, "schemaop_rehearsal_0000000000000000");
      !probe.ok()) {
    return probe.status();
  }
  auto migrator = Open(target, /*with_files=*/false);
  if (!migrator.ok()) {
    return migrator.status();
  }
  auto copy = migrator.value()->CopyToScratch();
  if (!copy.ok()) {
    return copy.status();
  }
  auto url = core::WithDatabaseName(target.url, copy.value()->name());
  if (!url.ok()) {
    return url.status();  // the copy drops itself
  }
  // Invariant (design §10.9): the URL a rehearsal Job gets reaches the copy
  // and nothing else, as the server resolves it (a parameter the rewrite
  // missed, a service file, a pooler's alias would show here).
  reconcile::DatabaseTarget scratch = target;
  scratch.url = url.value();
  auto reached = Open(scratch, /*with_files=*/false);
  auto name = reached.ok() ? reached.value()->CurrentDatabaseName()
                           : core::Result<std::string>(reached.status());
  if (!name.ok()) {
    return core::Status(core::Code::kMigrationFailed,
                        "the scratch copy cannot be reached with the database's URL rewritten to "
                        "its name (" + name.status().message() + ")");
  }
  if (name.value() != copy.value()->name()) {
    return core::Status(core::Code::kMigrationFailed,
                        "the database's URL rewritten to the scratch copy's name still reaches "
                        "database \"" + name.value() +
                            "\": name the database in the URL's path only, then retry");
  }
  std::lock_guard<std::mutex> lock(job_scratch_mutex_);
  auto [it, inserted] = job_scratch_.try_emplace(key);
  if (inserted) {
    it->second.copy = std::move(copy).value();
    it->second.url = url.value();
  }
  return it->second.url;
}

std::optional<std::string> DatabasePortImpl::FindJobScratch(const std::string& key) {
  std::lock_guard<std::mutex> lock(job_scratch_mutex_);
  auto it = job_scratch_.find(key);
  return it == job_scratch_.end() ? std::nullopt : std::optional<std::string>(it->second.url);
}

core::Status DatabasePortImpl::DropJobScratch(const std::string& key) {
  std::unique_ptr<database::Migrator::ScratchCopy> copy;
  {
    std::lock_guard<std::mutex> lock(job_scratch_mutex_);
    auto it = job_scratch_.find(key);
    if (it == job_scratch_.end()) {
      return core::Status::Ok();
    }
    copy = std::move(it->second.copy);
    job_scratch_.erase(it);
  }
  // Dropped outside the lock; a failed DROP is retried by the handle's
  // destructor, and a leftover by the next rehearsal's clean-up.
  return copy->Drop();
}

std::string DatabasePortImpl::JobPlanDigest(const std::vector<std::string>& from,
                                            const std::vector<std::string>& to,
                                            const std::string& plan_output) {
  std::string text = "job-plan\nfrom";
  for (const std::string& v : from) text += " " + v;
  text += "\nto";
  for (const std::string& v : to) text += " " + v;
  text += "\n" + plan_output;
  return database::Sha256Hex(text);
}

}  // namespace schemaop::manager
