// schemaop: one executable, several modes (design §2). Each mode registers
// its subcommands; main() only parses and dispatches.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <string>

#include "cmd/command_registry.h"

namespace schemaop::cmd {
extern const char kBuildCommit[];  // build_info.cpp, generated (controller/cmd/CMakeLists.txt)
}  // namespace schemaop::cmd

int main(int argc, char** argv) {
  // A dropped server connection must surface as an error, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"schemaop: move a PostgreSQL database to an Alembic-style schema revision, safely"};
  app.require_subcommand(1);
  app.fallthrough();
  // "schemaop 0.1.0 (commit <sha>)": which build runs, e.g. inside the image.
  app.set_version_flag("--version", std::string("schemaop ") + SCHEMAOP_VERSION + " (commit " +
                                        schemaop::cmd::kBuildCommit + ")");
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
