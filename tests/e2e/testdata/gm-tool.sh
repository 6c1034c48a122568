#!/bin/sh
# A stand-in for golang-migrate's `migrate goto V` on PostgreSQL, for
# e2e_job_golang_migrate (job_golang_migrate_test.sh): golang-migrate itself
# is not packaged in Debian 12. It keeps golang-migrate's table exactly as
# its PostgreSQL driver does, which is what the operator reads
# (spec.database.versionLayout GolangMigrate, design §10.8):
#   schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)
# one row; before each migration the row becomes (next version, dirty =
# true) in its own transaction, the migration file runs, then dirty = false.
# A migration that fails leaves the row dirty. On a dirty table it refuses to
# do anything, as golang-migrate does ("Dirty database version N. Fix and
# force version.").
#
# Files: DIR/N_name.up.sql and DIR/N_name.down.sql, N a number. The test
# puts it on the Job's PATH as `migrate`, so the example's command line
# (manifests/examples/drawing/job-executor-golang-migrate.yaml) runs as is.
# usage: gm-tool.sh PSQL DIR -path IGNORED -database URL goto VERSION
set -eu
psql=$1 dir=$2
shift 2
url= verb= target=
while [ $# -gt 0 ]; do
  case $1 in
    -path) shift 2 ;;
    -database) url=$2; shift 2 ;;
    goto) verb=goto target=${2:-}; shift $# ;;
    *) echo "gm-tool: unsupported argument $1" >&2; exit 2 ;;
  esac
done
[ "$verb" = goto ] && [ -n "$target" ] || { echo "gm-tool: only goto VERSION" >&2; exit 2; }
[ -n "$url" ] || { echo "gm-tool: no -database URL" >&2; exit 2; }
# The URL is in argv here as it is in golang-migrate's (-database URL; the
# example says so); the operator never puts it there: the Job's shell
# expands it from the environment.
sql() { "$psql" -X -q -At -v ON_ERROR_STOP=1 -d "$url" "$@"; }
sql -c "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
row=$(sql -F ' ' -c "SELECT version, dirty FROM schema_migrations")
current=${row%% *}
[ -n "$current" ] || current=0
if [ "${row#* }" = t ]; then
  echo "error: Dirty database version $current. Fix and force version." >&2
  exit 1
fi
versions=$(ls "$dir" | sed -n 's/^\([0-9][0-9]*\)_.*\.up\.sql$/\1/p' | sort -n)
set_version() {  # version dirty
  sql -c "BEGIN; TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES ($1, $2); COMMIT;"
}
echo "gm-tool: goto $target from $current"
if [ "$target" -gt "$current" ]; then
  for v in $versions; do
    if [ "$v" -gt "$current" ] && [ "$v" -le "$target" ]; then
      set_version "$v" true
      name=$(basename "$dir"/"$v"_*.up.sql .up.sql)
      echo "$v/u ${name#*_}"  # as golang-migrate logs it
      sql -f "$(ls "$dir"/"$v"_*.up.sql)"
      set_version "$v" false
    fi
  done
else
  for v in $(echo "$versions" | sort -rn); do
    if [ "$v" -le "$current" ] && [ "$v" -gt "$target" ]; then
      prev=$(echo "$versions" | awk -v v="$v" '$1 < v { p = $1 } END { print p + 0 }')
      # Going below the first version: golang-migrate writes -1 (no
      # version) while dirty and no row once clean.
      if [ "$prev" -eq 0 ]; then set_version -1 true; else set_version "$prev" true; fi
      name=$(basename "$dir"/"$v"_*.down.sql .down.sql)
      echo "$v/d ${name#*_}"
      sql -f "$(ls "$dir"/"$v"_*.down.sql)"
      if [ "$prev" -eq 0 ]; then sql -c "TRUNCATE schema_migrations"; else set_version "$prev" false; fi
    fi
  done
fi
echo "gm-tool: done"
