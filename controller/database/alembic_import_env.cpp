// The Alembic environment `schemaop import-alembic` runs alembic with (design
// §3.2). Written into a private scratch directory next to a symlink
// `versions` -> the user's versions directory; the project's own env.py is
// not used (it may need the application, a database or secrets).
#include "database/alembic_import_env.h"

namespace schemaop::database::internal {

const char* const kAlembicImportIni = R"ini([alembic]
# schemaop import-alembic: versions/ is a symlink to the directory imported.
script_location = %(here)s
)ini";

const char* const kAlembicImportEnv = R"py(
# schemaop import-alembic's Alembic environment. Offline mode only: it never
# connects. SCHEMAOP_IMPORT_OUT names the file it writes JSON lines to:
#   graph mode:  one record per revision of the versions directory
#   render mode: {"out": TEXT} per piece of offline SQL output, then
#                {"done": true}, or {"error": ..., "where": ...} when the
#                revision cannot be rendered offline.
import json
import os
import traceback

from alembic import context
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext

out = open(os.environ["SCHEMAOP_IMPORT_OUT"], "w", encoding="utf-8")


def record(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


class DataDependent(Exception):
    pass


def refuse(what):
    def fail(*_args, **_kwargs):
        raise DataDependent(what)
    return fail


def as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def graph():
    for script in context.script.walk_revisions(base="base", head="heads"):
        record({
            "revision": script.revision,
            "down_revisions": as_list(script.down_revision),
            "branch_labels": sorted(script.branch_labels or []),
            "depends_on": as_list(script.dependencies),
            "message": (script.doc or "").strip().split("\n")[0],
            "source": os.path.basename(script.path),
        })
    record({"done": True})


class Recorder:
    def write(self, text):
        record({"out": text})

    def flush(self):
        pass


def where(error):
    versions = os.path.realpath(os.environ["SCHEMAOP_IMPORT_VERSIONS"])
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if os.path.realpath(frame.filename).startswith(versions + os.sep):
            return "%s:%d" % (os.path.basename(frame.filename), frame.lineno)
    return ""


def render():
    start = os.environ.get("SCHEMAOP_IMPORT_START", "").split()
    context.configure(
        url="postgresql://",
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
        version_table=os.environ["SCHEMAOP_IMPORT_VERSION_TABLE"],
        output_buffer=Recorder(),
        starting_rev=start or None,
    )
    # What offline mode cannot reproduce: reading the database through a
    # connection, and a revision that does something else when offline.
    Operations.get_bind = refuse("calls op.get_bind()")
    EnvironmentContext.get_bind = refuse("calls context.get_bind()")
    MigrationContext.bind = property(refuse("uses the migration context's bind"))
    EnvironmentContext.is_offline_mode = refuse("calls context.is_offline_mode()")
    try:
        with context.begin_transaction():
            context.run_migrations()
    except Exception as error:  # every failure is reported, none converted
        kind = "DataDependent" if isinstance(error, DataDependent) else type(error).__name__
        record({"error": "%s: %s" % (kind, str(error)[:400]), "where": where(error),
                "not_implemented": isinstance(error, NotImplementedError)})
        raise SystemExit(3)
    record({"done": True})


if os.environ.get("SCHEMAOP_IMPORT_MODE") == "graph":
    graph()
else:
    render()
)py";

}  // namespace schemaop::database::internal
