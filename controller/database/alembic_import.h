#pragma once
// `schemaop import-alembic DIR --out OUTDIR` (docs/cli.md, design §3.2):
// converts an Alembic versions directory into schemaop migration files
// through Alembic's own offline mode, revision by revision and direction by
// direction, keeping the graph (down_revision, branches, merges).
//
// Invariant (design §3.2): import never writes outside OUTDIR and writes
// nothing for a revision it could not convert. Every file name is a
// validated revision id (`../x` is refused) opened with openat() relative to
// OUTDIR, O_EXCL | O_NOFOLLOW: an existing file or a planted symlink is never
// written through. A revision that Alembic cannot render offline (it raises,
// or reads the database: op.get_bind(), context.is_offline_mode()) is
// reported with the reason and gets no file. The alembic child gets no
// database URL or password and writes no bytecode (PYTHONDONTWRITEBYTECODE);
// its scratch directory (a generated env.py) is removed at the end.
#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace schemaop::database {

struct AlembicImportOptions {
  std::string versions_dir;              // the Alembic versions/ directory
  std::string out_dir;                   // created when missing
  std::string alembic_program = "alembic";  // PATH is searched without a `/`
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};  // per alembic call
};

struct AlembicImportFailure {
  std::string revision;
  std::string source;  // the .py file name
  std::string reason;  // what went wrong, and the fix
};

struct AlembicImportReport {
  std::vector<std::string> written;  // file names inside out_dir, parents first
  std::vector<AlembicImportFailure> failed;
  std::vector<std::string> notes;    // converted, with something to know
};

// Errors of the whole import (nothing written): the versions directory
// missing or unreadable by Alembic, alembic not found, OUTDIR unusable, a
// converted file's name already taken in OUTDIR (kInvalidArgument /
// kNotFound / kInternal, naming the path and the fix). A revision that could
// not be converted is not an error of the import: it is in `failed`.
core::Result<AlembicImportReport> ImportAlembic(const AlembicImportOptions& options);

}  // namespace schemaop::database
