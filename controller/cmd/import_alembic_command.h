#pragma once
// `schemaop import-alembic DIR [--out OUTDIR] [--alembic PATH]`
// (import_alembic_command.cpp; docs/cli.md, design §3.2).
#include "cmd/local_options.h"

namespace schemaop::cmd {

// Converts, prints what was written and what was not (and why); exit 0 when
// every revision was converted, 1 when any was not, 2 on bad input.
int ImportAlembicCommand(const LocalOptions& local);

}  // namespace schemaop::cmd
