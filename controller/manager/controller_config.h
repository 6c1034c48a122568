#pragma once
// The flags of `schemaop controller`, their environment-variable twins and
// their validation, kept out of cmd/ so they can be unit-tested. A flag given
// on the command line wins over its environment variable. Durations take a
// unit ("15s", "500ms", "1m30s"; "0"), a bare number is an error naming the
// flag (core/duration.h); --log-format and --log-level take any case.
//
//   flag                          env                                  default
//   --kubeconfig                  KUBECONFIG                           in-cluster, else ~/.kube/config
//   --context                     SCHEMAOP_CONTEXT                     current-context
//   --namespaces                  SCHEMAOP_NAMESPACES                  all namespaces
//   --workers                     SCHEMAOP_WORKERS                     2
//   --max-concurrent-runs         SCHEMAOP_MAX_CONCURRENT_RUNS         4 (run threads, design §6.5)
//   --shutdown-grace              SCHEMAOP_SHUTDOWN_GRACE              20s (runs end, else cancelled)
//   --tool-timeout                SCHEMAOP_TOOL_TIMEOUT                1h (pg_dump / pg_restore)
//   --leader-elect                SCHEMAOP_LEADER_ELECT                false
//   --leader-election-id          SCHEMAOP_LEADER_ELECTION_ID          schemaop-leader
//   --leader-election-namespace   SCHEMAOP_LEADER_ELECTION_NAMESPACE   $POD_NAMESPACE, in-cluster
//                                                                      namespace, schemaop-system
//   --lease-duration / --renew-deadline / --retry-period  (SCHEMAOP_LEASE_DURATION, ...)
//                                                                      15s / 10s / 2s
//   --metrics-bind-address        SCHEMAOP_METRICS_BIND_ADDRESS        :8080 (0 disables)
//   --health-probe-bind-address   SCHEMAOP_HEALTH_PROBE_BIND_ADDRESS   :8081 (0 disables)
//   --backup-dir                  SCHEMAOP_BACKUP_DIR                  /var/lib/schemaop/backups
//   --backup-retention            SCHEMAOP_BACKUP_RETENTION            5 (per SchemaMigration; 0 all)
//   --pg-bin-dir                  SCHEMAOP_PG_BIN_DIR                  PATH
//   --log-format                  SCHEMAOP_LOG_FORMAT                  text
//   --log-level                   SCHEMAOP_LOG_LEVEL                   info
//   --resync-period               SCHEMAOP_RESYNC_PERIOD               10m
//   --identity                    SCHEMAOP_IDENTITY                    ($POD_NAME or hostname)_pid
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "manager/manager.h"

namespace CLI {
class App;
}  // namespace CLI

namespace schemaop::manager {

// The raw values as parsed (strings where validation happens afterwards).
struct ControllerFlags {
  std::string kubeconfig;
  std::string context;
  std::string namespaces;
  int workers = 2;
  int max_concurrent_runs = 4;
  std::string shutdown_grace = "20s";
  std::string tool_timeout = "1h";
  bool leader_elect = false;
  // The Lease name; manifests/ and helm/ pass the same (tests/manifests).
  std::string leader_election_id = LeaderElectionConfig().lease_name;
  std::string leader_election_namespace;
  std::string lease_duration = "15s";
  std::string renew_deadline = "10s";
  std::string retry_period = "2s";
  std::string metrics_bind_address = ":8080";
  std::string health_probe_bind_address = ":8081";
  std::string backup_dir = "/var/lib/schemaop/backups";
  int backup_retention = 5;
  std::string pg_bin_dir;
  std::string log_format = "text";
  std::string log_level = "info";
  std::string resync_period = "10m";
  std::string identity;
};

// Adds the options (with their environment twins) to `command`.
void AddControllerFlags(CLI::App& command, ControllerFlags& flags);

// Reads an environment variable ("" when unset); injectable for tests.
using EnvLookup = std::function<std::string(const std::string& name)>;
std::string ProcessEnv(const std::string& name);

struct ControllerConfig {
  std::string kubeconfig;  // "" = LoadDefaultConfig's choice
  std::string context;
  std::string log_format;
  std::string log_level;
  ManagerOptions manager;
};

// `schemaop controller` takes none of the local commands' options (they
// were once silently ignored). `given` names the local options found on the
// command line ("--database", ...); the error names the first and where the
// operator takes that setting from instead. OK when `given` is empty.
core::Status RejectLocalModeFlags(const std::vector<std::string>& given);

// Validates and fills the defaults that depend on the environment. Errors
// are kInvalidArgument naming the flag, its environment twin and the fix.
// `in_cluster_namespace_file` is read for the Lease namespace default.
core::Result<ControllerConfig> ResolveControllerFlags(
    const ControllerFlags& flags, const EnvLookup& env = ProcessEnv,
    const std::string& in_cluster_namespace_file =
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace");

}  // namespace schemaop::manager
