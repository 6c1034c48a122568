#include "cmd/import_alembic_command.h"

#include <iostream>
#include <string>

#include "cmd/command_registry.h"
#include "database/alembic_import.h"

namespace schemaop::cmd {
namespace {

// Ids and file names come from the imported files: printed without
// control characters, so a hostile name cannot rewrite the terminal.
std::string Printable(const std::string& text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte < 0x20 || byte == 0x7f) ? '?' : c;
  }
  return out;
}

}  // namespace

int ImportAlembicCommand(const LocalOptions& local) {
  database::AlembicImportOptions options;
  options.versions_dir = local.import_dir;
  options.out_dir = local.import_out.empty() ? local.migrations_dir : local.import_out;
  options.alembic_program = local.alembic_program;
  auto report = database::ImportAlembic(options);
  if (!report.ok()) {
    return Fail(report.status());
  }
  for (const auto& name : report->written) {
    if (!local.quiet) {
      std::cout << "wrote " << options.out_dir << "/" << name << "\n";
    }
  }
  for (const auto& note : report->notes) {
    std::cout << "note: " << Printable(note) << "\n";
  }
  for (const auto& failure : report->failed) {
    std::cerr << "error: revision " << Printable(failure.revision) << " ("
              << Printable(failure.source) << ") was not converted, no file written: "
              << Printable(failure.reason) << "\n";
  }
  std::cout << report->written.size() << " revision(s) converted into " << options.out_dir;
  if (!report->failed.empty()) {
    std::cout << ", " << report->failed.size() << " not converted (see the errors above)\n";
    return kExitFailed;
  }
  std::cout << "\n";
  return kExitOk;
}

}  // namespace schemaop::cmd
