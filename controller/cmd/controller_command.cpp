// `schemaop controller`: the Kubernetes operator (design §2). Parses its
// flags (with environment twins, see manager/controller_config.h), sets up
// logging, connects to the API server, and runs manager::Manager until
// SIGTERM/SIGINT (graceful: in-progress reconciles finish, the Lease is
// released) or until leadership is lost (exit 1, so the pod restarts clean).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cmd/command_registry.h"
#include "kube/client.h"
#include "kube/config.h"
#include "manager/controller_config.h"
#include "manager/logging.h"
#include "manager/manager.h"

namespace schemaop::cmd {
namespace {

constexpr char kEnvironmentHelp[] = R"(
Environment variables (a flag on the command line wins):
  KUBECONFIG                          --kubeconfig
  SCHEMAOP_CONTEXT                    --context
  SCHEMAOP_NAMESPACES                 --namespaces (comma-separated)
  SCHEMAOP_WORKERS                    --workers
  SCHEMAOP_LEADER_ELECT               --leader-elect (true/false)
  SCHEMAOP_LEADER_ELECTION_ID         --leader-election-id
  SCHEMAOP_LEADER_ELECTION_NAMESPACE  --leader-election-namespace
  SCHEMAOP_LEASE_DURATION, SCHEMAOP_RENEW_DEADLINE, SCHEMAOP_RETRY_PERIOD
  SCHEMAOP_METRICS_BIND_ADDRESS       --metrics-bind-address
  SCHEMAOP_HEALTH_PROBE_BIND_ADDRESS  --health-probe-bind-address
  SCHEMAOP_BACKUP_DIR                 --backup-dir
  SCHEMAOP_BACKUP_RETENTION           --backup-retention
  SCHEMAOP_PG_BIN_DIR                 --pg-bin-dir
  SCHEMAOP_LOG_FORMAT                 --log-format
  SCHEMAOP_LOG_LEVEL                  --log-level
  SCHEMAOP_RESYNC_PERIOD              --resync-period
  SCHEMAOP_IDENTITY                   --identity
  POD_NAMESPACE, POD_NAME             defaults of the Lease namespace and the identity
Durations take a unit: 500ms, 10s, 5m, 1h, 1m30s (0 disables where allowed).
The local commands' options (--database, --migrations, --backup, --lock-timeout, ...)
are refused: the operator reads those settings from each SchemaMigration's spec.
Exit codes: 0 after SIGTERM/SIGINT, 1 when leadership was lost or start-up failed,
2 for invalid flags.)";

int RunController(const manager::ControllerFlags& flags) {
  auto config = manager::ResolveControllerFlags(flags);
  if (!config.ok()) {
    std::cerr << "error: " << config.status().message() << "\n";
    return kExitUsage;
  }
  if (core::Status s = manager::SetUpLogging(config->log_format, config->log_level); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return kExitUsage;
  }
  // A long-running process with ~10 threads (informers, workers, the HTTP
  // client's pool): glibc would give each allocating thread its own arena
  // (up to 8 per core) and keep the freed pages of every one, which showed
  // as RSS far above the live data. Two arenas are plenty for this load.
  // Must run before any other thread exists.
  mallopt(M_ARENA_MAX, 2);
  // Signals are taken by one thread with sigwait; block them before any
  // other thread exists so none of them receives one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto kube_config = kube::LoadDefaultConfig(config->kubeconfig, config->context);
  if (!kube_config.ok()) {
    spdlog::error("cannot load the Kubernetes configuration: {}",
                  kube_config.status().message());
    return kExitUsage;
  }
  if (config->manager.leader_elect) {
    // A hung API call must not outlive the leadership it was made under.
    kube_config->request_timeout =
        std::min(kube_config->request_timeout, config->manager.leader_election.renew_deadline);
  }
  spdlog::info("schemaop controller starting: API server {} (from {}), identity {}",
               kube_config->server, kube_config->source, config->manager.identity);
  auto client = kube::Client::Create(*kube_config);
  if (!client.ok()) {
    spdlog::error("cannot create the Kubernetes client: {}", client.status().message());
    return kExitFailed;
  }

  manager::Manager manager(*client.value(), config->manager);
  std::thread signal_thread([&manager, signals] {
    int received = 0;
    sigwait(&signals, &received);
    if (received == SIGTERM || received == SIGINT) {
      spdlog::info("received {}: shutting down gracefully", received == SIGTERM ? "SIGTERM"
                                                                                : "SIGINT");
    }
    manager.Stop();
  });
  const int code = manager.Run();
  // Wake the signal thread if Run ended for another reason.
  // SIGTERM is blocked in every thread, so this only wakes its sigwait().
  pthread_kill(signal_thread.native_handle(),
               SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
  signal_thread.join();
  spdlog::default_logger()->flush();
  return code;
}

}  // namespace

void RegisterControllerCommand(CLI::App& app, CommandRegistry& registry) {
  auto flags = std::make_shared<manager::ControllerFlags>();
  CLI::App* command = app.add_subcommand(
      "controller", "run the Kubernetes operator (reconciles SchemaMigration resources)");
  command->footer(kEnvironmentHelp);
  manager::AddControllerFlags(*command, *flags);
  registry.handlers.emplace_back(command, [flags, local = registry.local_options] {
    // The local commands' options are the app's, so CLI11 takes them before
    // or after `controller`; the operator gets those settings elsewhere.
    std::vector<std::string> given;
    for (const CLI::Option* option : local) {
      if (option->count() > 0) {
        given.push_back(option->get_name());
      }
    }
    if (core::Status s = manager::RejectLocalModeFlags(given); !s.ok()) {
      std::cerr << "error: " << s.message() << "\n";
      return static_cast<int>(kExitUsage);
    }
    return RunController(*flags);
  });
}

}  // namespace schemaop::cmd
