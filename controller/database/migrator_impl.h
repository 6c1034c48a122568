#pragma once
// The command layer's state (Alembic's command module over the runtime):
// Migrator::Impl is the engine's Runtime; the commands (migrator.cpp,
// command_run.cpp, command_admin.cpp, offline_sql.cpp) orchestrate the
// parts. Internal header; include only from controller/database.
#include <string>
#include <vector>

#include "core/revision_graph.h"
#include "database/migrator.h"
#include "database/revision_archive.h"
#include "database/runtime.h"

namespace schemaop::database {

struct Migrator::Impl : internal::Runtime {};

namespace internal {

// What planning needs from the database: the archive, the files' graph
// merged with it, and the version rows.
struct DatabaseState {
  Archive archive;
  core::RevisionGraph merged;
  std::vector<std::string> current;
};
core::Result<DatabaseState> ReadState(Runtime& rt);

}  // namespace internal
}  // namespace schemaop::database
