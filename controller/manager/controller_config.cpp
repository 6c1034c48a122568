#include "manager/controller_config.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/duration.h"

namespace schemaop::manager {

using core::Code;
using core::Status;

std::string ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value == nullptr ? "" : value;
}

void AddControllerFlags(CLI::App& command, ControllerFlags& flags) {
  command.add_option("--kubeconfig", flags.kubeconfig,
                     "kubeconfig file (default: in-cluster service account when running in a "
                     "pod, else ~/.kube/config)")
      ->envname("KUBECONFIG");
  command.add_option("--context", flags.context, "kubeconfig context (default: current-context)")
      ->envname("SCHEMAOP_CONTEXT");
  command.add_option("--namespaces", flags.namespaces,
                     "comma-separated namespaces to watch (default: all namespaces)")
      ->envname("SCHEMAOP_NAMESPACES");
  command.add_option("--workers", flags.workers, "SchemaMigrations reconciled in parallel")
      ->envname("SCHEMAOP_WORKERS")
      ->capture_default_str();
  command.add_option("--max-concurrent-runs", flags.max_concurrent_runs,
                     "migrations running at once, each on a thread of its own (the reconcile "
                     "workers stay free); more wait with reason WaitingForRunSlot")
      ->envname("SCHEMAOP_MAX_CONCURRENT_RUNS")
      ->capture_default_str();
  command.add_option("--shutdown-grace", flags.shutdown_grace,
                     "on SIGTERM, how long runs in progress may take to end before they are "
                     "cancelled and rolled back (keep it below terminationGracePeriodSeconds)")
      ->envname("SCHEMAOP_SHUTDOWN_GRACE")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_option("--tool-timeout", flags.tool_timeout,
                     "pg_dump and pg_restore are stopped after this long (0: no limit)")
      ->envname("SCHEMAOP_TOOL_TIMEOUT")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_flag("--leader-elect", flags.leader_elect,
                   "run only while holding the leader-election Lease (for several replicas)")
      ->envname("SCHEMAOP_LEADER_ELECT");
  command.add_option("--leader-election-id,--lease-name", flags.leader_election_id,
                     "name of the leader-election Lease")
      ->envname("SCHEMAOP_LEADER_ELECTION_ID")
      ->capture_default_str();
  command.add_option("--leader-election-namespace", flags.leader_election_namespace,
                     "namespace of the Lease (default: $POD_NAMESPACE, the in-cluster namespace, "
                     "else schemaop-system)")
      ->envname("SCHEMAOP_LEADER_ELECTION_NAMESPACE");
  command.add_option("--lease-duration", flags.lease_duration,
                     "how long a Lease is valid without renewal")
      ->envname("SCHEMAOP_LEASE_DURATION")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_option("--renew-deadline", flags.renew_deadline,
                     "the leader stops when it could not renew for this long")
      ->envname("SCHEMAOP_RENEW_DEADLINE")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_option("--retry-period", flags.retry_period,
                     "interval between Lease acquire/renew attempts")
      ->envname("SCHEMAOP_RETRY_PERIOD")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_option("--metrics-bind-address", flags.metrics_bind_address,
                     "HOST:PORT or :PORT for /metrics; 0 disables")
      ->envname("SCHEMAOP_METRICS_BIND_ADDRESS")
      ->capture_default_str();
  command.add_option("--health-probe-bind-address", flags.health_probe_bind_address,
                     "HOST:PORT or :PORT for /healthz and /readyz; 0 disables")
      ->envname("SCHEMAOP_HEALTH_PROBE_BIND_ADDRESS")
      ->capture_default_str();
  command.add_option("--backup-dir", flags.backup_dir, "directory for pg_dump backups")
      ->envname("SCHEMAOP_BACKUP_DIR")
      ->capture_default_str();
  command.add_option("--backup-retention", flags.backup_retention,
                     "backups kept per SchemaMigration in --backup-dir after a new one is "
                     "verified (0 keeps all)")
      ->envname("SCHEMAOP_BACKUP_RETENTION")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command.add_option("--pg-bin-dir", flags.pg_bin_dir,
                     "directory of pg_dump/pg_restore (default: PATH)")
      ->envname("SCHEMAOP_PG_BIN_DIR");
  command.add_option("--log-format", flags.log_format, "text or json")
      ->envname("SCHEMAOP_LOG_FORMAT")
      ->capture_default_str();
  command.add_option("--log-level", flags.log_level, "trace, debug, info, warn or error")
      ->envname("SCHEMAOP_LOG_LEVEL")
      ->capture_default_str();
  command.add_option("--resync-period", flags.resync_period,
                     "reconcile every SchemaMigration at least this often (e.g. 10m; 0 never)")
      ->envname("SCHEMAOP_RESYNC_PERIOD")
      ->type_name("DURATION")
      ->capture_default_str();
  command.add_option("--identity", flags.identity,
                     "leader-election identity (default: $POD_NAME or hostname, then _PID)")
      ->envname("SCHEMAOP_IDENTITY");
}

namespace {

// Go-style durations with a unit ("15s", "1m30s"; "0"): a bare number is
// rejected, as it always was for these flags (core/duration.h).
core::Result<std::chrono::milliseconds> Duration(const std::string& value, const std::string& flag,
                                                 const std::string& env) {
  return core::ParseDurationFlag(flag + " (or " + env + ")", value, core::BareNumber::kReject);
}

std::string Lower(std::string text) {
  for (char& c : text) {
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return text;
}

core::Result<std::optional<BindAddress>> Address(const std::string& value, const std::string& flag,
                                                 const std::string& env) {
  if (value == "0" || value.empty()) {
    return std::optional<BindAddress>();
  }
  auto parsed = ParseBindAddress(value);
  if (!parsed.ok()) {
    return Status(Code::kInvalidArgument, flag + " (or " + env + "): " + parsed.status().message());
  }
  return std::optional<BindAddress>(parsed.value());
}

bool IsDnsLabel(const std::string& name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (c == '-' && i != 0 && i + 1 != name.size());
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string Hostname() {
  char buffer[256] = {0};
  if (gethostname(buffer, sizeof(buffer) - 1) != 0) {
    return "schemaop";
  }
  return buffer;
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    return "";
  }
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

}  // namespace

core::Result<ControllerConfig> ResolveControllerFlags(const ControllerFlags& flags,
                                                      const EnvLookup& env,
                                                      const std::string& in_cluster_namespace_file) {
  ControllerConfig config;
  ManagerOptions& m = config.manager;

  // KUBECONFIG may be a colon-separated list: the first existing entry.
  config.kubeconfig = flags.kubeconfig;
  if (config.kubeconfig.find(':') != std::string::npos) {
    std::stringstream list(config.kubeconfig);
    std::string entry;
    std::string chosen;
    while (std::getline(list, entry, ':')) {
      if (!entry.empty() && std::ifstream(entry).good()) {
        chosen = entry;
        break;
      }
    }
    config.kubeconfig = chosen;
  }
  config.context = flags.context;

  std::set<std::string> seen;
  std::stringstream list(flags.namespaces);
  std::string ns;
  while (std::getline(list, ns, ',')) {
    ns = Trim(ns);
    if (ns.empty()) {
      continue;
    }
    if (!IsDnsLabel(ns)) {
      return Status(Code::kInvalidArgument,
                    "--namespaces (or SCHEMAOP_NAMESPACES): '" + ns +
                        "' is not a namespace name (lower-case letters, digits and '-', at most "
                        "63 characters); separate several with commas");
    }
    if (seen.insert(ns).second) {
      m.namespaces.push_back(ns);
    }
  }

  if (flags.workers < 1 || flags.workers > 64) {
    return Status(Code::kInvalidArgument, "--workers (or SCHEMAOP_WORKERS) must be between 1 and "
                                          "64, not " +
                                              std::to_string(flags.workers));
  }
  m.workers = flags.workers;
  if (flags.max_concurrent_runs < 1 || flags.max_concurrent_runs > 64) {
    return Status(Code::kInvalidArgument,
                  "--max-concurrent-runs (or SCHEMAOP_MAX_CONCURRENT_RUNS) must be between 1 and "
                  "64, not " +
                      std::to_string(flags.max_concurrent_runs));
  }
  m.max_concurrent_runs = flags.max_concurrent_runs;
  auto grace = Duration(flags.shutdown_grace, "--shutdown-grace", "SCHEMAOP_SHUTDOWN_GRACE");
  if (!grace.ok()) {
    return grace.status();
  }
  m.shutdown_grace = grace.value();
  auto tool_timeout = Duration(flags.tool_timeout, "--tool-timeout", "SCHEMAOP_TOOL_TIMEOUT");
  if (!tool_timeout.ok()) {
    return tool_timeout.status();
  }
  m.database.tool_timeout = tool_timeout.value();

  // Any case on input, like the local commands' enum values; canonical
  // lower case from here on.
  config.log_format = Lower(flags.log_format);
  config.log_level = Lower(flags.log_level);
  if (config.log_format != "text" && config.log_format != "json") {
    return Status(Code::kInvalidArgument, "--log-format (or SCHEMAOP_LOG_FORMAT) must be text or "
                                          "json, not '" +
                                              flags.log_format + "'");
  }
  static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error"};
  if (kLevels.count(config.log_level) == 0) {
    return Status(Code::kInvalidArgument,
                  "--log-level (or SCHEMAOP_LOG_LEVEL) must be one of trace, debug, info, warn, "
                  "error, not '" +
                      flags.log_level + "'");
  }

  auto metrics = Address(flags.metrics_bind_address, "--metrics-bind-address",
                         "SCHEMAOP_METRICS_BIND_ADDRESS");
  if (!metrics.ok()) {
    return metrics.status();
  }
  m.metrics_address = metrics.value();
  auto probes = Address(flags.health_probe_bind_address, "--health-probe-bind-address",
                        "SCHEMAOP_HEALTH_PROBE_BIND_ADDRESS");
  if (!probes.ok()) {
    return probes.status();
  }
  m.probe_address = probes.value();

  auto resync = Duration(flags.resync_period, "--resync-period", "SCHEMAOP_RESYNC_PERIOD");
  if (!resync.ok()) {
    return resync.status();
  }
  m.resync_period = resync.value();

  if (flags.backup_dir.empty()) {
    return Status(Code::kInvalidArgument,
                  "--backup-dir (or SCHEMAOP_BACKUP_DIR) must not be empty: give the directory "
                  "for pg_dump backups (a persistent volume in a cluster)");
  }
  m.database.backup_dir = flags.backup_dir;
  m.database.backup_retention = flags.backup_retention;
  m.database.pg_bin_dir = flags.pg_bin_dir;

  // Identity: unique per process, stable and readable in the Lease.
  std::string identity = flags.identity;
  if (identity.empty()) {
    std::string host = env("POD_NAME");
    if (host.empty()) {
      host = Hostname();
    }
    identity = host + "_" + std::to_string(static_cast<long>(getpid()));
  }
  m.identity = identity;

  LeaderElectionConfig& le = m.leader_election;
  le.identity = identity;
  le.lease_name = flags.leader_election_id;
  if (le.lease_name.empty()) {
    return Status(Code::kInvalidArgument,
                  "--leader-election-id (or SCHEMAOP_LEADER_ELECTION_ID) must not be empty");
  }
  le.lease_namespace = flags.leader_election_namespace;
  if (le.lease_namespace.empty()) {
    le.lease_namespace = env("POD_NAMESPACE");
  }
  if (le.lease_namespace.empty()) {
    std::ifstream file(in_cluster_namespace_file);
    std::string text;
    if (file && std::getline(file, text)) {
      le.lease_namespace = Trim(text);
    }
  }
  if (le.lease_namespace.empty()) {
    le.lease_namespace = "schemaop-system";
  }
  auto lease = Duration(flags.lease_duration, "--lease-duration", "SCHEMAOP_LEASE_DURATION");
  auto renew = Duration(flags.renew_deadline, "--renew-deadline", "SCHEMAOP_RENEW_DEADLINE");
  auto retry = Duration(flags.retry_period, "--retry-period", "SCHEMAOP_RETRY_PERIOD");
  for (const auto* d : {&lease, &renew, &retry}) {
    if (!d->ok()) {
      return d->status();
    }
  }
  le.lease_duration = lease.value();
  le.renew_deadline = renew.value();
  le.retry_period = retry.value();
  // client-go's rule: the leader must give up (renew deadline) before anyone
  // may take over (lease duration), with room for a retry in between.
  if (!(le.lease_duration > le.renew_deadline && le.renew_deadline * 5 > le.retry_period * 6 &&
        le.retry_period.count() > 0) ||
      le.lease_duration < std::chrono::seconds(1)) {
    return Status(Code::kInvalidArgument,
                  "leader election needs --lease-duration > --renew-deadline > 1.2 x "
                  "--retry-period > 0 and a lease duration of at least 1s (defaults 15s, 10s, 2s)");
  }
  m.leader_elect = flags.leader_elect;
  // Fencing (design §4.2): the sessions carry this process's identity; only
  // a Lease holder (workers run only while leading) may terminate another
  // controller's sessions that still hold a database's migration lock.
  m.database.session_identity = identity;
  m.database.fence = flags.leader_elect;
  return config;
}

namespace {

struct LocalModeFlag {
  const char* flag;
  const char* instead;  // where the operator takes this setting from
};

// Every option of the local commands, and where `schemaop controller` gets
// the setting instead. An option missing here is still rejected, with the
// generic text.
constexpr LocalModeFlag kLocalModeFlags[] = {
    {"--database", "each SchemaMigration's spec.database.urlSecretRef (a Secret key)"},
    {"--migrations", "each SchemaMigration's spec.migrations.configMapRef (a ConfigMap)"},
    {"--backup", "each SchemaMigration's spec.backup.when"},
    {"--allow-row-loss", "each SchemaMigration's spec.verify.allowRowLoss"},
    {"--allow-schema-drift", "each SchemaMigration's spec.verify.schema: Ignore"},
    {"--check", "each SchemaMigration's spec.verify.checks"},
    {"--lock-timeout", "each SchemaMigration's spec.lockTimeout"},
    {"--statement-timeout", "each SchemaMigration's spec.statementTimeout"},
    {"--max-duration", "each SchemaMigration's spec.maxDowntimeSeconds"},
    {"--version-table", "each SchemaMigration's spec.database.versionTable"},
    {"--allow-changed", "nowhere: the operator never runs a changed migration file"},
    {"--lock-wait", "nowhere: the operator requeues while another run holds the lock"},
    {"--quiet", "--log-level"},
    {"--backup-dir", "its own --backup-dir, given after \"controller\""},
    {"--backup-retention", "its own --backup-retention, given after \"controller\""},
    {"--pg-bin-dir", "its own --pg-bin-dir, given after \"controller\""},
};

}  // namespace

Status RejectLocalModeFlags(const std::vector<std::string>& given) {
  if (given.empty()) {
    return Status();
  }
  const std::string& flag = given.front();
  std::string instead = "the SchemaMigration resources";
  for (const LocalModeFlag& entry : kLocalModeFlags) {
    if (flag == entry.flag) {
      instead = entry.instead;
    }
  }
  return Status(Code::kInvalidArgument,
                flag + " is an option of the local commands (upgrade, downgrade, current, ...), "
                       "not of \"schemaop controller\": the operator takes this setting from " +
                    instead);
}

}  // namespace schemaop::manager
