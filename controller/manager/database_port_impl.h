#pragma once
// reconcile::DatabasePort over database::Migrator.
//
// Every call opens its own Migrator (one connection plus, for Migrate, the
// lock connection) and closes it before returning. Caching connections per
// database would save a connect per reconcile but would have to detect a
// changed Secret, a changed ConfigMap and a connection dropped by the server,
// and a Migrator is not thread-safe: not worth it at one reconcile per object
// per resync. What is cached is the database identity, per target's
// connection parameters (the URL redacted: no password in the key), so a
// resync does not ask the server again for what does not change. An entry
// lives `identity_ttl` (5 min): a URL that later reaches another database
// (its host name moved, the database recreated) is seen as such within it.
//
// Thread safety: apart from its options, only the identity cache, which a
// mutex guards; one instance may be used by several threads.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "database/migrator.h"
#include "manager/progress_sampler.h"
#include "manager/run_pool.h"
#include "reconcile/ports.h"

namespace schemaop::manager {

struct DatabasePortOptions {
  std::string backup_dir = "/var/lib/schemaop/backups";
  int backup_retention = 5;  // per SchemaMigration (database::MigratorOptions)
  std::string pg_bin_dir;  // empty: search PATH
  // pg_dump / pg_restore are stopped after this long (0: no limit).
  std::chrono::milliseconds tool_timeout{std::chrono::hours(1)};
  // How long Migrate waits for another run's advisory lock before the
  // reconciler gets kLockHeld and retries with backoff. Short: a worker that
  // waits here serves no other object.
  std::chrono::milliseconds lock_wait{std::chrono::seconds(5)};
  // How long a database identity is answered from the cache.
  std::chrono::milliseconds identity_ttl{std::chrono::minutes(5)};
  // Fencing (design §4.2): every engine session carries
  // "schemaop:ctl:<session_identity>" in application_name; with `fence`
  // (set only for the Lease holder under --leader-elect), a lock holder of
  // another controller identity is terminated before the run.
  std::string session_identity;
  bool fence = false;
  // With `fence`: asked at the moment of fencing; the manager answers whether
  // this process holds the Lease now (MigratorOptions::may_fence).
  std::function<bool()> still_leading;
};

// The session owner of a controller ("ctl:<identity>"), and so the
// application_name prefix of every controller's engine sessions.
inline constexpr char kControllerOwnerPrefix[] = "ctl:";
inline constexpr char kControllerSessionPrefix[] = "schemaop:ctl:";

// Engine options for `target` (timeouts, checks, actor, version table).
// BackupPolicy is always kNever: the reconciler backs up in its own phase.
database::MigratorOptions MigratorOptionsFor(const reconcile::DatabaseTarget& target,
                                             const DatabasePortOptions& options);

// The engine target string that means exactly `versions` (absolute):
// empty -> "base", one -> that id, several -> "heads" when they are exactly
// the heads of `graph`; anything else is kInvalidArgument (the engine cannot
// express an arbitrary set of revisions as one target).
core::Result<std::string> TargetForVersions(const core::RevisionGraph& graph,
                                            const std::vector<std::string>& versions);

class DatabasePortImpl final : public reconcile::DatabasePort {
 public:
  explicit DatabasePortImpl(DatabasePortOptions options) : options_(std::move(options)) {}

  core::Result<reconcile::InspectResult> Inspect(const reconcile::DatabaseTarget& target,
                                                 const std::string& target_revision) override;
  core::Result<reconcile::BackupResult> Backup(const reconcile::DatabaseTarget& target) override;
  core::Result<reconcile::RehearseResult> Rehearse(const reconcile::DatabaseTarget& target,
                                                   const std::vector<std::string>& target_versions,
                                                   const std::string& plan_digest,
                                                   bool with_backup) override;
  core::Result<reconcile::MigrateResult> Migrate(
      const reconcile::DatabaseTarget& target,
      const std::vector<std::string>& target_versions,
      const reconcile::RunIdentity& identity) override;

  // The Job executor (design §10.4): database_port_jobs.cpp.
  core::Result<reconcile::InspectResult> InspectVersions(
      const reconcile::DatabaseTarget& target) override;
  core::Result<reconcile::JobBaseline> RecordJobBaseline(const reconcile::DatabaseTarget& target,
                                                         const std::string& run_key) override;
  core::Result<reconcile::JobCheck> CheckJobResult(const reconcile::DatabaseTarget& target,
                                                   const std::string& run_key,
                                                   bool compare_schema) override;
  [[nodiscard]] core::Status EndJobSessions(const reconcile::DatabaseTarget& target,
                                            const std::string& application_name) override;
  core::Result<std::string> OpenJobScratch(const reconcile::DatabaseTarget& target,
                                           const std::string& key) override;
  std::optional<std::string> FindJobScratch(const std::string& key) override;
  [[nodiscard]] core::Status DropJobScratch(const std::string& key) override;
  [[nodiscard]] core::Status RestoreBackup(const reconcile::DatabaseTarget& target,
                                           const std::string& path) override;
  std::string JobPlanDigest(const std::vector<std::string>& from,
                            const std::vector<std::string>& to,
                            const std::string& plan_output) override;

  // Runs off the workers (design §6.5): once enabled, StartMigrate runs
  // Migrate on a RunPool thread (at most `max_concurrent_runs`);
  // `on_finished(object_key)` is called when a run ended. Before that, the
  // DatabasePort defaults (Migrate on the caller's thread) apply.
  void EnableRunThreads(int max_concurrent_runs,
                        std::function<void(const std::string&)> on_finished);
  // SIGTERM: see RunPool::Shutdown. No-op without run threads.
  void ShutdownRuns(std::chrono::milliseconds grace);
  std::optional<reconcile::RunTicket> FindRun(const reconcile::RunIdentity& identity,
                                              const reconcile::RunControl& control) override;
  reconcile::RunTicket StartMigrate(const reconcile::DatabaseTarget& target,
                                    const std::vector<std::string>& target_versions,
                                    const reconcile::RunIdentity& identity,
                                    const reconcile::RunControl& control,
                                    const std::string& object_key) override;
  // Rehearsals on the run threads too (design §6.7), under the key
  // "rehearsal/" + identity.Key(); their results wait in rehearsals_ until
  // handed out.
  std::optional<reconcile::RehearsalTicket> FindRehearsal(
      const reconcile::RunIdentity& identity) override;
  reconcile::RehearsalTicket StartRehearse(const reconcile::DatabaseTarget& target,
                                           const std::vector<std::string>& target_versions,
                                           const reconcile::RunIdentity& identity,
                                           bool with_backup,
                                           const std::string& object_key) override;

 private:
  core::Result<reconcile::MigrateResult> MigrateWith(
      const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
      const reconcile::RunIdentity& identity, std::shared_ptr<database::RunCancel> cancel);

  // Open with files, and the engine target of `target_versions` (*out set
  // when the Migrator opened).
  core::Result<std::string> OpenForVersions(const reconcile::DatabaseTarget& target,
                                            const std::vector<std::string>& target_versions,
                                            const reconcile::RunIdentity* identity,
                                            std::string* fenced,
                                            std::unique_ptr<database::Migrator>* out,
                                            std::shared_ptr<database::RunCancel> cancel = nullptr);
  // Rehearse with `cancel` (StartRehearse's run ticket: the shutdown grace
  // cancels a rehearsal like a run, design §6.5).
  core::Result<reconcile::RehearseResult> RehearseWith(
      const reconcile::DatabaseTarget& target, const std::vector<std::string>& target_versions,
      const std::string& plan_digest, bool with_backup,
      std::shared_ptr<database::RunCancel> cancel);
  core::Result<std::unique_ptr<database::Migrator>> Open(const reconcile::DatabaseTarget& target,
                                                         bool with_files,
                                                         const reconcile::RunIdentity* identity = nullptr,
                                                         std::string* fenced = nullptr,
                                                         std::shared_ptr<database::RunCancel> cancel = nullptr);

  // Reads run `run_key`'s progress (Migrator::Progress) over a session of
  // its own, opened on first use and again after a failure.
  ProgressSampler::Probe ProgressProbe(const reconcile::DatabaseTarget& target,
                                       const std::string& run_key);

  // Migrator::DatabaseIdentity, cached by the migrator's redacted URL.
  core::Result<std::string> Identity(database::Migrator& migrator);

  static constexpr std::size_t kMaxCachedIdentities = 4096;
  DatabasePortOptions options_;
  std::mutex identity_mutex_;
  struct CachedIdentity {
    std::string identity;
    std::chrono::steady_clock::time_point asked;
  };
  std::map<std::string, CachedIdentity> identities_;  // redacted URL -> identity
  reconcile::RehearsalTicket RehearsalTicketOf(const std::string& key,
                                               const reconcile::RunTicket& ticket);
  // The scratch copies of Job rehearsals (design §10.9) and their URLs
  // (SECRET), by key.
  struct JobScratch {
    std::unique_ptr<database::Migrator::ScratchCopy> copy;
    std::string url;
  };
  std::mutex job_scratch_mutex_;
  std::map<std::string, JobScratch> job_scratch_;
  std::mutex rehearsals_mutex_;
  std::map<std::string, core::Result<reconcile::RehearseResult>> rehearsals_;  // by pool key
  std::unique_ptr<RunPool> runs_;
  // After runs_: destroyed first, it asks runs_ (design §6.8).
  std::unique_ptr<ProgressSampler> sampler_;
};

}  // namespace schemaop::manager
