// schemaop: one executable, several modes (design §2). Each mode registers
// its subcommands; main() only parses and dispatches.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "cmd/command_registry.h"

int main(int argc, char** argv) {
  // A dropped server connection must surface as an error, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"schemaop: move a PostgreSQL database to an Alembic-style schema revision, safely"};
  app.require_subcommand(1);
  app.fallthrough();
  schemaop::cmd::CommandRegistry registry;
  schemaop::cmd::RegisterLocalCommands(app, registry);
  schemaop::cmd::RegisterControllerCommand(app, registry);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : schemaop::cmd::kExitUsage;
  }
  for (auto& [subcommand, handler] : registry.handlers) {
    if (subcommand->parsed()) {
      return handler();
    }
  }
  std::cerr << "error: no subcommand given (see --help)\n";
  return schemaop::cmd::kExitUsage;
}
