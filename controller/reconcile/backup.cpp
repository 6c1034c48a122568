// Phase BackingUp (design §6.3, §4.9): the intent Backup is written (forced
// unless this pass already wrote it, design §7 rule 1), then
// DatabasePort::Backup; the backup is recorded in status.backup before the
// run moves on to Migrating.
#include <string>

#include "reconcile/pass.h"

namespace schemaop::reconcile {

Next Reconciler::Pass::BackUp() {
  if (auto problem = EnsureInputs()) {
    return StopForInputProblem(*problem);
  }
  SchemaMigrationStatus next = obj_.status;
  SetCond(next, ct::kBackupReady, ConditionStatus::kUnknown, rs::kBackingUp,
          "Taking a backup (pg_dump) before migrating.");
  SetIntent(next, core::kIntentBackup);
  // Forced unless this pass already wrote the intent (see RecordIntent).
  if (Status s = Write(std::move(next), nullptr, intent_written_ != core::kIntentBackup); !s.ok()) {
    return WriteFailed(s);
  }
  if (JobRun()) {
    if (std::optional<Next> stop = RecordJobBaseline()) {  // job_run.cpp, into the backup
      return std::move(*stop);
    }
  }
  auto backup = r_.db_.Backup(inputs_->target);
  if (!backup.ok()) {
    Problem problem = DatabaseProblem(backup.status(), "Backup");
    if (problem.transient) {
      return RetryRun(problem);
    }
    return AbortRun(rs::kBackupFailed,
                    "Backup failed: " + backup.status().message() +
                        ". Nothing was migrated and the workloads were restored. Check pg_dump "
                        "and the backup volume" +
                        std::string(JobRun() ? " (with executor Job the backup is mandatory)"
                                             : ", or set spec.backup.when: Never") +
                        ", then change the spec to retry.");
  }
  next = obj_.status;
  next.backup =
      core::BackupStatus{backup.value().path, backup.value().bytes, backup.value().sha256, Now()};
  next.phase = Phase::kMigrating;
  const std::string text = "Backup " + backup.value().path + " (" +
                           std::to_string(backup.value().bytes) + " bytes, sha256 " +
                           backup.value().sha256 + ")";
  SetCond(next, ct::kBackupReady, ConditionStatus::kTrue, rs::kBackupCreated, text + ".");
  if (Status s = Write(std::move(next)); !s.ok()) {
    return WriteFailed(s);
  }
  Event(EventType::kNormal, rs::kBackupCreated, text);
  MigratingEvent();
  return Next::Continue();
}

}  // namespace schemaop::reconcile
