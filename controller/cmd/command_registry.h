#pragma once
// How `schemaop` subcommands plug into main(): each Register* function adds
// its subcommands (and options) to the CLI11 app and one handler per
// subcommand; main() parses, then runs the handler of the subcommand that was
// given. A new mode (e.g. `schemaop controller`) lives in its own file with
// its own Register function.
#include <functional>
#include <utility>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace schemaop::cmd {

// Process exit codes, documented in docs/cli.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,          // migration/verification failed; rolled back to the start
  kExitUsage = 2,           // bad input: flags, target, files, directory
  kExitUnreachable = 3,     // cannot connect to the database
  kExitLockHeld = 4,        // another run holds the migration lock
  kExitChecksum = 5,        // an applied migration file changed
  kExitWaitTimeout = 6,     // `wait` timed out
  kExitBackupFailed = 7,    // pg_dump / pg_restore failed; nothing migrated
  kExitNotRolledBack = 8,   // failed and the database is NOT back at the start
};

struct CommandRegistry {
  // (subcommand, handler returning the exit code)
  std::vector<std::pair<CLI::App*, std::function<int()>>> handlers;
  // The local mode's global options (cmd/local_options.h). They are options
  // of the app, so CLI11 accepts them before or after any subcommand; other
  // modes refuse them when given (count() > 0). Filled by
  // RegisterLocalCommands, which runs first.
  std::vector<CLI::Option*> local_options;
};

// current, heads, history, plan, upgrade, downgrade, stamp, verify, backup,
// restore, wait, with the local-mode options (--database, --migrations, ...).
void RegisterLocalCommands(CLI::App& app, CommandRegistry& registry);

// `schemaop controller`: the Kubernetes operator (controller_command.cpp).
void RegisterControllerCommand(CLI::App& app, CommandRegistry& registry);

}  // namespace schemaop::cmd
