#!/bin/sh
# A stand-in for an application's own migration tool, for the Job executor's
# e2e tests (job_executor_test.sh): the test API server runs it LOCALLY as
# the process of a Job's pod (tests/apiserver/README.md). The database URL
# comes only from the environment (DATABASE_URL, filled from the Secret);
# it is never an argument. The migrating is done by the schemaop CLI on the
# drawing SQL files (any CLI that keeps alembic_version would do).
#
# usage: job-tool.sh SCHEMAOP MIGRATIONS PSQL VERB TARGET [FAULT]
#   VERB   plan | upgrade | downgrade
#   FAULT  sleep       wait 8 s first (a Job that runs for a while)
#          fail-midway upgrade to add_flexible_schemas only, then exit 3
#          lose-rows   migrate, then delete 10 components (a lossy migration)
#          orphan      first a statement that deletes 10 components after a
#                      15 s sleep, in autocommit: killed mid-sleep, the pod
#                      leaves it running in the server, where it commits on
#                      its own unless the operator ends the session
set -eu
bin=$1 dir=$2 psql=$3 verb=$4 target=$5 fault=${6:-}
echo "job-tool: $verb to $target${fault:+ (fault $fault)}${APP_SETTINGS:+ (settings $APP_SETTINGS${APP_REGION:+ in $APP_REGION})}"
[ -n "${DATABASE_URL:-}" ] || { echo "job-tool: DATABASE_URL is not set" >&2; exit 2; }
[ "$fault" = sleep ] && sleep 8
case $verb in
  plan) exec "$bin" --migrations "$dir" plan "$target" --sql ;;
  upgrade | downgrade) ;;
  *) echo "job-tool: unknown verb $verb" >&2; exit 2 ;;
esac
if [ "$fault" = orphan ]; then
  echo "job-tool: a statement that outlives the pod (application_name ${PGAPPNAME:-unset})"
  "$psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" \
    -c "DELETE FROM components WHERE id <= 10 AND (SELECT pg_sleep(15)) IS NOT NULL"
fi
if [ "$fault" = fail-midway ]; then
  "$bin" --migrations "$dir" -q upgrade add_flexible_schemas
  echo "job-tool: failing on purpose after add_flexible_schemas" >&2
  exit 3
fi
"$bin" --migrations "$dir" -q "$verb" "$target"
if [ "$fault" = lose-rows ]; then
  "$psql" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "DELETE FROM components WHERE id <= 10"
  echo "job-tool: deleted 10 components"
fi
echo "job-tool: done"
