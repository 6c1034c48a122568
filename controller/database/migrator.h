#pragma once
// The migration engine (design §4): one façade used by the `schemaop` local
// commands and by the Kubernetes controller. It owns the PostgreSQL
// connections (libpqxx, hidden behind a pimpl so this header stays light),
// the Alembic-compatible version table, schemaop.revision_archive,
// schemaop.run_log, the advisory lock, verification and pg_dump backups.
//
// Thread safety: a Migrator is not thread-safe; use one per thread. Several
// Migrators (in one or several processes) on the same database serialize
// their runs through the advisory lock.
//
// Secrets: the URL's password never appears in a Status message, a progress
// event or a report; everything shown goes through core::RedactDatabaseUrl /
// core::ScrubSecret.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/migration_file.h"
#include "core/migration_run.h"
#include "core/phase_schedule.h"
#include "core/planner.h"
#include "core/run_progress.h"
#include "core/revision_graph.h"
#include "core/status.h"
#include "core/version_table.h"
#include "database/run_cancel.h"
#include "database/rehearsal.h"

namespace schemaop::database {

// When Run backs up (kAlways, kDowngrade: plans with a downgrade step, kNever).
using BackupPolicy = core::BackupWhen;
// What to do when a statement or verification fails after a segment of a
// segmented plan was committed: undo what this run applied (kRollback) or
// stop where it is and report (kHalt). Single-transaction plans always ROLLBACK.
using FailurePolicy = core::FailurePolicy;

// A user check: `sql` returns exactly one boolean; false, NULL or an error fails.
using UserCheck = core::VerifyCheck;

// Reported while the engine works. "server-error" carries PostgreSQL's
// whole error message (DETAIL and CONTEXT included, so possibly row values;
// the password scrubbed): for a debug log only, never for status or Events.
// Otherwise `phase` is one of: "connected",
// "waiting-for-lock", "locked", "recovering", "backing-up", "backed-up",
// "migrating", "verifying", "committed", "rolling-back", "rolled-back",
// "halted", "unlocked". `message` is one human-readable line (already redacted).
struct ProgressEvent {
  std::string phase;
  std::string message;
  // For "migrating": the plan step, its revision and direction, the section
  // index within that direction's sections, and the statement index within a
  // transaction:false section (-1 for a whole transactional section).
  int step_index = -1;
  std::string revision;
  core::Direction direction = core::Direction::kUp;
  int section_index = -1;
  int statement_index = -1;
};

struct MigratorOptions {
  // How long Run/Stamp waits for another run's advisory lock before kLockHeld.
  std::chrono::milliseconds lock_wait{std::chrono::seconds(60)};
  // SET lock_timeout / statement_timeout on every session (0 = no limit, but
  // still set explicitly so a role or database default cannot leak in).
  std::chrono::milliseconds lock_timeout{std::chrono::seconds(10)};
  // The lock_timeout of every expand section and batch repetition when
  // lock_timeout is 0 (design §3.1): beside the running application a
  // statement never waits unboundedly for a lock, because every writer
  // would queue behind it.
  std::chrono::milliseconds expand_lock_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds statement_timeout{0};
  // Who runs it, recorded in schemaop.run_log (CLI: "$USER@host (cli)").
  std::string actor = "schemaop";
  std::string version_table = "alembic_version";
  // How the version table is read (core/version_table.h): Alembic, or
  // GolangMigrate for the Job executor's checks (never written).
  std::string version_layout = core::kVersionLayoutAlembic;
  // Run even when an applied revision's file differs from the archived one.
  bool allow_changed = false;
  // Row-count guard (design §5 verify.rowCounts): Preserve when true. Rows
  // are counted per relation identity (OID) in every schema the role can
  // see; a relation that disappears with rows is a loss, a rename or a move
  // to another schema with its rows is not.
  bool verify_row_counts = true;
  // Tables (name or schema.name) whose row count may drop in any step.
  std::vector<std::string> allow_row_loss;
  // Schema fingerprint (verify.schema: Enforce when true): after a downgrade,
  // and after an upgrade to a revision whose fingerprint was recorded before,
  // the live schema must equal the recorded one, else kSchemaDrift and the
  // run is rolled back. --allow-schema-drift / verify.schema: Ignore.
  bool verify_schema = true;
  // Exactly once (the operator): when set, the run is recorded under this
  // key, and a Run whose key names a run that has already ended executes
  // nothing and returns that run's outcome (RunReport::replayed).
  std::string run_key;
  // When set, Run refuses with kMigrationsChanged unless the plan it would
  // execute has this PlanDigest (the files and database seen at planning).
  std::string expected_plan_digest;
  std::vector<UserCheck> checks;
  BackupPolicy backup_policy = BackupPolicy::kDowngrade;
  std::string backup_dir = ".";
  // Backups of one owner kept in backup_dir: after a new backup is verified,
  // the oldest beyond this many are removed (0 keeps all). The owner is the
  // SchemaMigration (namespace and name) in the cluster, else the database.
  int backup_retention = 5;
  std::string backup_owner_namespace;
  std::string backup_owner_name;
  // CA certificate(s), PEM, that the server's TLS certificate must chain to
  // (the operator: spec.database.caSecretRef). Written to a private 0600
  // file that is sslrootcert for every session and for pg_dump/pg_restore;
  // sslmode becomes verify-full unless the URL sets one. Empty: the URL
  // alone decides (sslmode, sslrootcert).
  std::string ca_certificate_pem;
  // Directory holding pg_dump / pg_restore; empty = search PATH.
  std::string pg_bin_dir;
  // pg_dump and pg_restore are stopped (kBackupFailed naming the limit)
  // after this long; 0: no limit. pg_restore runs --single-transaction, so
  // a stopped restore leaves the database unchanged.
  std::chrono::milliseconds tool_timeout{std::chrono::hours(1)};
  FailurePolicy failure_policy = FailurePolicy::kRollback;
  // Called synchronously on the calling thread; must not throw.
  std::function<void(const ProgressEvent&)> on_progress;
  // Fencing (design §4.2). The owner this process's sessions carry in
  // application_name: "schemaop:<session_owner>" (empty: "schemaop"), cut to
  // 63 bytes. When fence_prefix is set and the migration lock is held by a
  // session whose application_name starts with it and is not ours, every
  // session of that owner in this database is terminated (pg_terminate_backend:
  // the same role may, no superuser needed), a "fenced" progress event names
  // it, and the lock is taken once they are gone. Only for callers that know
  // the holder is dead: the operator's Lease holder, `schemaop --fence`.
  std::string session_owner;
  std::string fence_prefix;
  // Asked at the moment of fencing, every time: only a caller that still
  // knows the holder is dead may fence. The operator answers "this process
  // holds the Lease right now", so a leader deposed while one of its
  // reconciles was still running never fences the new leader's sessions
  // (design §4.2). Unset: fence whenever fence_prefix is set.
  std::function<bool()> may_fence;
  // Which phases Run executes (design §3.1): kAll (default) every phase
  // still pending, in order; kExpand, kWindow or kContract one of them. A
  // phase that already ran is nothing to do; a window before its expand, a
  // contract before its window, is refused (kInvalidArgument).
  core::RunPhase phase = core::RunPhase::kAll;
  // Cancels the run's forward pass before it commits (run_cancel.h; design
  // §4.7). Unset: the run cannot be cancelled.
  std::shared_ptr<RunCancel> cancel;
};

// The application_name of `options`' sessions: "schemaop" or
// "schemaop:<session_owner>", at most 63 bytes (PostgreSQL's limit).
std::string SessionName(const MigratorOptions& options);

// A verified pg_dump -Fc file: path, bytes, sha256, created_at.
using BackupInfo = core::BackupInfo;

// Status::detail() of a Run that failed because an interrupted earlier run
// could not be recovered (the database may be between revisions).
using core::kRecoveryDetail;

// kNothingToDo: already at target, nothing written; kSucceeded: at target,
// committed; kRolledBack: failed, the database is back at from_versions;
// kFailed: failed and could not be (or, with kHalt, was not) undone, the
// database is at to_versions of the last committed segment.
using RunOutcome = core::RunOutcome;
using core::RunOutcomeName;  // "nothing-to-do", "succeeded", ...

struct RunReport {
  std::int64_t run_id = 0;  // schemaop.run_log.id; 0 when nothing was written
  std::vector<std::string> from_versions;
  std::vector<std::string> to_versions;  // the plan's target
  std::vector<std::string> final_versions;  // alembic_version rows at the end
  core::Plan plan;
  // The phases this run executed: "all", "expand", "window", "contract",
  // "window+contract" (after an earlier expand).
  std::string phases = "all";
  int steps_applied = 0;  // steps committed and kept
  std::optional<BackupInfo> backup;
  std::chrono::milliseconds total_duration{0};  // lock to unlock
  std::chrono::milliseconds sql_duration{0};    // migration SQL only
  RunOutcome outcome = RunOutcome::kNothingToDo;
  core::Status status;  // why the run failed (OK for kNothingToDo/kSucceeded)
  // Set when RecoverInterruptedRun found and closed a crashed run first.
  std::optional<std::string> recovered;
  // The run of options.run_key had already ended: nothing was executed;
  // outcome, status (message only) and final_versions come from run_log.
  bool replayed = false;
};

struct RunLogEntry {
  std::int64_t id = 0;
  std::vector<std::string> from_versions;
  std::vector<std::string> to_versions;
  std::string direction;  // "upgrade", "downgrade", "mixed", "stamp", "restore"
  std::string actor;
  std::string started_at;   // UTC, RFC 3339
  std::string finished_at;  // empty while running
  std::string outcome;      // running|succeeded|failed|rolled_back
  std::string error;
};

struct VerifyReport {
  std::vector<std::string> versions;  // alembic_version rows
  // Each finding is one line naming the problem: unknown revision, changed
  // file, INVALID index, failing user check, run still marked running.
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Input limits, checked before parsing (kInvalidArgument naming the limit):
// a ConfigMap holds at most 1 MiB in all anyway; a directory is read by a
// CLI that may run in CI on untrusted branches.
inline constexpr std::size_t kMaxMigrationFiles = 5000;
inline constexpr std::uintmax_t kMaxMigrationFileBytes = 4u << 20;  // 4 MiB per file

// Reads every `*.sql` file of `directory` (sorted by name) and parses it.
// kNotFound names the directory when it is missing; kParseError names the file.
core::Result<std::vector<core::MigrationFile>> LoadMigrationDirectory(const std::string& directory);

// Parses (name, text) pairs, e.g. the keys of a ConfigMap.
core::Result<std::vector<core::MigrationFile>> ParseMigrationSources(
    const std::vector<std::pair<std::string, std::string>>& name_and_text);

// Builds the revision graph of `files` (duplicate ids, unknown parents and
// cycles are errors naming the file).
core::Result<core::RevisionGraph> BuildRevisionGraph(const std::vector<core::MigrationFile>& files);

// Lowercase hex sha256 of `bytes` (OpenSSL).
std::string Sha256Hex(std::string_view bytes);

// The fields of a progress marker (design §4.11) at the start of `text`
// (pg_stat_activity.query); nullopt when it does not start with a
// well-formed one.
struct ProgressMarkerFields {
  std::string phase;  // "forward" | "undo"
  int step = 0, steps = 0, section = 0, sections = 0, statement = 0, statements = 0;
};
std::optional<ProgressMarkerFields> ParseProgressMarker(const std::string& text);

class Migrator {
 public:
  // Connects (application_name=schemaop, timeouts set, reactivation
  // inhibited) and checks the migration files. Errors: kUnreachable (message
  // names the fix, never the password), kInvalidArgument (bad option, e.g. a
  // version table name), and the graph errors of BuildRevisionGraph.
  // `files` may be empty for commands that need no files (current, backup, ...).
  static core::Result<std::unique_ptr<Migrator>> Open(const std::string& database_url,
                                                      std::vector<core::MigrationFile> files,
                                                      MigratorOptions options);
  ~Migrator();
  Migrator(const Migrator&) = delete;
  Migrator& operator=(const Migrator&) = delete;

  // Replaces the migration files (e.g. a changed ConfigMap).
  [[nodiscard]] core::Status SetMigrations(std::vector<core::MigrationFile> files);
  [[nodiscard]] core::Status LoadMigrations(const std::string& directory);
  const std::vector<core::MigrationFile>& migrations() const;
  const core::RevisionGraph& graph() const;

  // alembic_version rows, sorted; empty when the table does not exist (base).
  core::Result<std::vector<std::string>> CurrentVersions();

  // The plan from the current versions to `target` (see core::PlanMigration).
  core::Result<core::Plan> Plan(std::string_view target, core::PlanMode mode = core::PlanMode::kAuto);

  // Executes the plan to `target` under the advisory lock (design §4):
  // recover an interrupted run, check checksums, back up (policy), migrate,
  // verify, commit or roll back, record the run.
  // A non-OK Result means nothing was migrated (unreachable, lock held, bad
  // target, checksum mismatch, backup failure, recovery failure). Once
  // migration started, the Result is OK and report.outcome/report.status
  // say how it ended.
  core::Result<RunReport> Run(std::string_view target, core::PlanMode mode = core::PlanMode::kAuto);

  // Brings a run left 'running' by a crashed process to a consistent end
  // (resume to its target or undo to its start, per failure policy) and
  // closes its run_log row. Returns a one-line description, or nullopt when
  // there was nothing to recover. Takes the lock itself; Run calls it
  // internally while holding the lock.
  core::Result<std::optional<std::string>> RecoverInterruptedRun();

  // Sets alembic_version to `target` without running SQL (Alembic's stamp),
  // archives the known files of the stamped revisions, records a run.
  [[nodiscard]] core::Status Stamp(std::string_view target);

  // Checks the database against the files: versions known, applied files
  // unchanged, no INVALID index, no run left running, user checks pass.
  core::Result<VerifyReport> Verify();

  // pg_dump -Fc into a new owner-only file inside options.backup_dir (named
  // from sanitized parts, see backup_files.h), verified with pg_restore -l,
  // then options.backup_retention applied.
  core::Result<BackupInfo> Backup();
  // pg_restore --clean --if-exists --single-transaction of a Backup() file.
  [[nodiscard]] core::Status Restore(const std::string& path);

  // The newest `limit` run_log rows, newest first.
  core::Result<std::vector<RunLogEntry>> History(int limit = 20);

  // Waits until the database is at `revision` or a descendant of it
  // (polling, no lock). kTimeout when `timeout` passes first;
  // kUnknownRevision when the files do not know `revision`.
  [[nodiscard]] core::Status WaitAtLeast(std::string_view revision, std::chrono::milliseconds timeout);

  // Lowercase hex sha256 over the plan's from/to versions and, per step in
  // order, revision, direction and the exact SQL of that direction's
  // sections (shipped file, else archived copy). Equal digests mean the same
  // SQL would run from the same start.
  core::Result<std::string> PlanDigest(const core::Plan& plan);

  // Plan(target, mode) and PlanDigest of that plan over one read of the
  // archive (what the operator records at planning).
  // With the plan's phase schedule (design §3.1): which sections run in
  // expand, window and contract, and where each step's version rows go.
  struct PlanWithDigest {
    core::Plan plan;
    std::string digest;
    core::PhaseSchedule schedule;
    // At the target (plan empty): the digest of the plan whose contract
    // phase is still to run (its window committed; the contract failed or
    // never ran), as run_log says; empty when none (design §3.1).
    std::string pending_contract;
  };
  core::Result<PlanWithDigest> PlanAndDigest(std::string_view target,
                                             core::PlanMode mode = core::PlanMode::kAuto);

  // The database as the server identifies it, hashed (sha256 hex): the
  // cluster's system identifier where the role may read it, else the
  // server's address and port; plus the database's OID and name. Two URLs
  // reaching one database give one value.
  core::Result<std::string> DatabaseIdentity();
  // current_database() of the connection: the database the URL reaches as
  // the server resolved it (a rehearsal Job's URL is checked by it).
  core::Result<std::string> CurrentDatabaseName();

  // The SQL a run of `plan` would execute, as one script (`plan --sql`),
  // with BEGIN/COMMIT around transactional parts and the version-table
  // statements. Downgrades use archived files when needed.
  core::Result<std::string> OfflineSql(const core::Plan& plan);

  // Rehearses the plan to `target` on a scratch copy (design §4.10): the
  // database is copied (pg_dump | pg_restore) into a new scratch database on
  // its server or options.rehearsal_url, the plan runs there with full
  // verification, then the reverse path back to the start, and the schema
  // must equal the copy's start. The scratch database is dropped on every
  // path (report.scratch_dropped); leftovers of killed rehearsals are
  // dropped first. This database is only read. A non-OK Result means
  // nothing was rehearsed (bad target, unreachable, no CREATEDB, several
  // heads); a failed rehearsal is report.succeeded == false.
  core::Result<RehearsalReport> Rehearse(std::string_view target, core::PlanMode mode,
                                         const RehearsalOptions& options);

  // A scratch copy of this database for a rehearsal a Job runs (design
  // §10.9): created on this database's own server by the connected role
  // (CREATEDB), filled by pg_dump | pg_restore, marked as scratch and held
  // by a session of its own until Drop or destruction (which drops it too),
  // so no other rehearsal's clean-up drops it while the Job uses it.
  // Leftovers of killed rehearsals are dropped first. This database is only
  // read. Not tied to this Migrator's lifetime.
  class ScratchCopy {
   public:
    virtual ~ScratchCopy() = default;
    virtual const std::string& name() const = 0;
    // DROP DATABASE ... WITH (FORCE): ends the sessions still in it.
    [[nodiscard]] virtual core::Status Drop() = 0;
  };
  core::Result<std::unique_ptr<ScratchCopy>> CopyToScratch();

  // The run in progress (design §4.11), from the database alone: the
  // 'running' run_log row of `run_key` (empty: the newest running run), the
  // statement its backend runs now (progress marker, found by
  // application_name) and PostgreSQL's pg_stat_progress_* counters of it.
  // nullopt when no run is in progress. Read-only, takes no lock.
  core::Result<std::optional<core::RunProgress>> Progress(const std::string& run_key = {});

  // ---- The Job executor (design §10.4; command_job.cpp). Without the lock:
  // the operator calls them while the writers are at zero and no Job runs.
  struct JobBaselineRecord {
    std::vector<std::string> versions;
    std::string fingerprint_digest;
    std::int64_t relations = 0;
  };
  struct JobCheckReport {
    std::vector<std::string> versions;
    std::vector<std::string> row_loss;      // options.allow_row_loss declared
    // With compare_schema: against the baseline of run_key (the start).
    // Without, and with options.verify_schema: against the schema recorded
    // by an earlier run's baseline at the revision reached, when there is
    // one (a revision seen before, as the files engine checks it).
    std::vector<std::string> schema_drift;
  };
  // Version rows, row counts by relation identity and the schema
  // fingerprint into schemaop.job_baseline under `run_key`, once: a second
  // call returns the first record.
  core::Result<JobBaselineRecord> RecordJobBaseline(const std::string& run_key);
  // The database now against the baseline of `run_key` (kNotFound: none).
  core::Result<JobCheckReport> CheckJobResult(const std::string& run_key, bool compare_schema);
  // Terminates the sessions of this database whose application_name is
  // `application_name` (a Job's tool, design §10.4) until none is left, at
  // most `wait`; returns how many were terminated, kTimeout when one stays.
  core::Result<int> EndSessions(const std::string& application_name,
                                std::chrono::milliseconds wait);

  // The URL with its password redacted, for messages.
  const std::string& redacted_url() const;

 private:
  struct Impl;
  explicit Migrator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace schemaop::database
