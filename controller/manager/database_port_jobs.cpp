// DatabasePortImpl for the Job executor (design §10.4): the database is read
// by the operator itself, before and after each Job; nothing a Job printed
// is trusted (reconcile/job_run.cpp).
#include <algorithm>
#include <chrono>

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
