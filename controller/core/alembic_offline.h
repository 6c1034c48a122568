#pragma once
// `schemaop import-alembic` (design §3.2): the pure half. What Alembic's
// offline mode (`alembic upgrade A:B --sql`) printed for one revision and
// direction becomes the sections of a schemaop migration file, and the
// revision's place in Alembic's graph becomes the file's header. The I/O
// half (running alembic, writing files) is database/alembic_import.h.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/migration_file.h"
#include "core/status.h"

namespace schemaop::core {

// One revision of an Alembic versions directory, as Alembic's
// ScriptDirectory describes it.
struct AlembicRevision {
  std::string revision;
  std::vector<std::string> down_revisions;  // empty: a base; several: a merge
  std::vector<std::string> branch_labels;
  std::vector<std::string> depends_on;
  std::string message;  // the docstring's first line
  std::string source;   // the revision's .py file name, for messages
};

// Why `revision` cannot become a schemaop file whatever its SQL, or "" when
// it can: an id (its own or a down_revision's) that is not a schemaop
// revision id ([A-Za-z0-9_], 1..32 characters; so never a path such as
// `../x`), or a depends_on, which schemaop's graph has no equivalent for.
std::string AlembicGraphProblem(const AlembicRevision& revision);

// The sections of one direction from Alembic's offline output, given as the
// pieces Alembic wrote one by one ("BEGIN;", "COMMIT;", "-- Running ...",
// and one piece per statement, each followed by a blank line). Statements
// between BEGIN and COMMIT form transactional sections; statements outside
// (an `autocommit_block()`) become `transaction:false` sections. Alembic's
// own statements on `version_table` and its "-- Running" comments are left
// out. Returns the marker lines and statements; a direction without
// statements yields its bare marker (a no-op, as Alembic's `pass`).
std::string SectionsFromOfflineOutput(const std::vector<std::string>& pieces,
                                      Direction direction, std::string_view version_table);

// The text of the converted file: header (revision, down_revision, message)
// and a comment naming `source`, the up sections, then the down sections;
// without `down` (the Alembic downgrade raises NotImplementedError) the
// file has no down section, so schemaop refuses to downgrade past it.
std::string ImportedMigrationText(const AlembicRevision& revision, const std::string& up,
                                  const std::optional<std::string>& down);

}  // namespace schemaop::core
