#pragma once
// spec.executor and spec.job (issue 13): who runs a migration's SQL.
//
//   Files (default)  the engine runs the SQL files of spec.migrations.
//   Job              the application's own tool (Alembic, or any CLI) runs
//                    in a Kubernetes Job built from spec.job (design §10).
//
// Pure: the spellings, the presets' command lines, validation with field
// paths, the expansion of the $FROM / $TARGET placeholders and the
// deterministic Job names. No I/O; the Job object itself is built by
// reconcile/job_manifest.h.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace schemaop::core {

inline constexpr char kExecutorFiles[] = "Files";
inline constexpr char kExecutorJob[] = "Job";

inline constexpr char kPresetAlembic[] = "Alembic";
inline constexpr char kPresetGeneric[] = "Generic";

// The verbs a Job runs, as spec.job.commands spells them.
inline constexpr char kVerbUpgrade[] = "upgrade";
inline constexpr char kVerbDowngrade[] = "downgrade";
inline constexpr char kVerbUpgradeSql[] = "upgradeSql";      // offline plan of an upgrade
inline constexpr char kVerbDowngradeSql[] = "downgradeSql";  // offline plan of a downgrade
inline constexpr char kVerbHeads[] = "heads";                // the tool's head revision(s)
// Places the target in the tool's graph (design §10.5): exits 0 when
// $TARGET descends from $FROM (the run is an upgrade), non-zero otherwise
// (a downgrade).
inline constexpr char kVerbHistory[] = "history";
// Not a verb: JobName of it names a rehearsal's Secret of the scratch
// copy's URL (design §10.9).
inline constexpr char kScratchUrlSecret[] = "scratch-url";
inline constexpr const char* kJobVerbs[] = {kVerbUpgrade,      kVerbDowngrade, kVerbUpgradeSql,
                                            kVerbDowngradeSql, kVerbHeads,     kVerbHistory};

// The only placeholders expanded in a command's arguments. $FROM is the
// revision the database was at when the run was planned, $TARGET the
// resolved target; "base" when there is none.
inline constexpr char kPlaceholderFrom[] = "$FROM";
inline constexpr char kPlaceholderTarget[] = "$TARGET";

inline constexpr char kDefaultUrlEnv[] = "DATABASE_URL";
inline constexpr std::int64_t kDefaultJobTtlSeconds = 3600;
inline constexpr std::int64_t kMaxJobTtlSeconds = 7 * 86400;
// The operator reads a finished Job's outcome and its pod's log (the plan
// Job's output is the plan) before the cluster deletes it; a shorter TTL
// races every read (design §10.2).
inline constexpr std::int64_t kMinJobTtlSeconds = 60;
inline constexpr std::int64_t kDefaultJobDeadlineSeconds = 3600;
inline constexpr std::int64_t kMaxJobDeadlineSeconds = 86400;
inline constexpr std::size_t kMaxCommandArgs = 64;
inline constexpr std::size_t kMaxArgBytes = 1024;

// One entry of spec.job.env: a literal value, or a key of a Secret or a
// ConfigMap (exactly one of value / secret_name / config_map_name).
struct JobEnvVar {
  std::string name;
  std::string value;
  std::string secret_name;
  std::string config_map_name;
  std::string key;  // of the Secret or ConfigMap
  bool operator==(const JobEnvVar& o) const;
};

// One entry of spec.job.envFrom: every key of a ConfigMap or a Secret.
struct JobEnvFrom {
  std::string config_map_name;  // exactly one of the two
  std::string secret_name;
  bool operator==(const JobEnvFrom& o) const;
};

// spec.job. The URL reaches the container only as an environment variable
// filled by Kubernetes from spec.database.urlSecretRef (valueFrom
// secretKeyRef): the operator never reads it into the Job object, so it is
// in no argument, annotation or status (design §10.2).
struct JobSpec {
  std::string preset = kPresetAlembic;  // Alembic | Generic
  std::string image;                    // the application's image (holds the tool)
  std::string url_env = kDefaultUrlEnv;
  std::string working_dir;           // empty: the image's
  std::string service_account_name;  // empty: the namespace's default
  std::int64_t ttl_seconds_after_finished = kDefaultJobTtlSeconds;
  std::int64_t active_deadline_seconds = kDefaultJobDeadlineSeconds;
  // What the application's image needs besides the URL (its settings, to
  // import its models in env.py): never the URL's Secret, which reaches
  // the container only as url_env (a rehearsal gives it the copy's URL).
  std::vector<JobEnvVar> env;
  std::vector<JobEnvFrom> env_from;
  // The container's resources: requests and limits by resource name
  // (cpu, memory, ephemeral-storage) to a quantity ("500m", "1Gi").
  std::map<std::string, std::string> resource_requests;
  std::map<std::string, std::string> resource_limits;
  // Verb -> argv (no shell). Alembic: overrides of the preset, verb by verb.
  // Generic: upgrade and downgrade are required.
  std::map<std::string, std::vector<std::string>> commands;

  bool operator==(const JobSpec& o) const;
  bool operator!=(const JobSpec& o) const { return !(*this == o); }
};

// The preset's command line for `verb` (empty for Generic or an unknown verb):
//   upgrade       alembic upgrade $TARGET
//   downgrade     alembic downgrade $TARGET
//   upgradeSql    alembic upgrade $FROM:$TARGET --sql
//   downgradeSql  alembic downgrade $FROM:$TARGET --sql
//   heads         alembic heads
//   history       alembic history -r $FROM:$TARGET   (fails unless $TARGET
//                                                    descends from $FROM)
std::vector<std::string> PresetCommand(std::string_view preset, std::string_view verb);

// spec.job.commands[verb] when set, else the preset's; empty when neither.
std::vector<std::string> CommandFor(const JobSpec& job, std::string_view verb);

// The field errors of spec.executor and spec.job (unset: not in the spec)
// as (path, message) pairs.
// url_secret_name: spec.database.urlSecretRef.name, which env and envFrom
// may not reference.
std::vector<std::pair<std::string, std::string>> CheckExecutor(std::string_view executor,
                                                               const std::optional<JobSpec>& job,
                                                               std::string_view url_secret_name = {});

// What the Job executor's run path needs of the rest of the spec (design
// §10.4), as (path, message) pairs; empty unless executor is Job:
//   - spec.targetRevision head (resolved by the heads Job, design §10.7) or
//     one revision id of the tool ([A-Za-z0-9_], at most 32): heads, base
//     and relative targets are not resolved for a Job;
//   - spec.backup.when not Never: the tool commits on its own, the backup is
//     the last way back.
// spec.rehearse is allowed: the rehearsal Jobs reach a scratch copy
// (design §10.9).
std::vector<std::pair<std::string, std::string>> CheckJobRunSpec(std::string_view executor,
                                                                 std::string_view target_revision,
                                                                 std::string_view backup_when);

// The one head revision in the output of the heads verb (Alembic: `alembic
// heads`): lines "<id>" or "<id> (<note>)", other lines ignored. No head,
// or several, is kInvalidArgument saying so (design §10.7).
Result<std::string> ParseHeads(std::string_view output);

// `command` with $FROM and $TARGET replaced. Both must be one revision id
// ([A-Za-z0-9_], at most 32 characters) or "base"/"head"; several heads or
// anything else is kInvalidArgument naming the value (they come from the
// version table, which a hostile tool could have written).
Result<std::vector<std::string>> ExpandCommand(const std::vector<std::string>& command,
                                               std::string_view from, std::string_view target);

// The name of the Job running `verb` for the run `run_key` of
// SchemaMigration `owner`: "<owner>-<verb>-<10 hex digits of the run key>",
// at most 63 characters (the owner name is cut). The same run and verb
// always give the same name, so a restarted controller finds the Job
// instead of creating a second one (design §10.3).
std::string JobName(std::string_view owner, std::string_view verb, std::string_view run_key);

}  // namespace schemaop::core
