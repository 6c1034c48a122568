#!/usr/bin/env bash
# Starts or stops the throwaway PostgreSQL 15 server the `pg` and `e2e` test
# tiers (and scripts/demo) share: initdb in a fresh temporary directory, a free
# loopback port, password authentication (so wrong-password paths are real).
# As root the server runs as the `postgres` user, as PostgreSQL requires.
#
#   pg_harness.sh start STATE_FILE   # writes KEY=VALUE lines to STATE_FILE
#   pg_harness.sh stop  STATE_FILE   # stops the server, removes its directory
#
# STATE_FILE holds: PGHARNESS_DIR, PGHARNESS_PORT, PGHARNESS_URL (superuser
# URL with password, for tests only), PGHARNESS_BIN.
set -euo pipefail

cmd=${1:?usage: pg_harness.sh start|stop STATE_FILE}
state=${2:?usage: pg_harness.sh start|stop STATE_FILE}

find_bin() {
  for d in "${PG_BIN:-}" /usr/lib/postgresql/15/bin; do
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  echo "pg_harness: PostgreSQL 15 server binaries not found; run scripts/setup" >&2
  exit 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local bin dir port password attempt
  bin=$(find_bin)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/schemaop-pg.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  password="pg-harness-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  printf '%s\n' "$password" > "$dir/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir/pwfile"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  for attempt in $(seq 1 20); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_in_use "$port" && continue
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
            -c shared_buffers=256MB -c max_wal_size=4GB" >/dev/null 2>&1; then
      {
        echo "PGHARNESS_DIR=$dir"
        echo "PGHARNESS_PORT=$port"
        echo "PGHARNESS_BIN=$bin"
        echo "PGHARNESS_URL=postgresql://postgres:$password@127.0.0.1:$port/postgres"
      } > "$state"
      echo "pg_harness: PostgreSQL 15 on 127.0.0.1:$port ($dir)"
      return 0
    fi
  done
  echo "pg_harness: could not start PostgreSQL; see $dir/server.log" >&2
  tail -20 "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  [ -f "$state" ] || return 0
  local PGHARNESS_DIR="" PGHARNESS_BIN=""
  # shellcheck disable=SC1090
  . "$state"
  if [ -n "$PGHARNESS_DIR" ] && [ -d "$PGHARNESS_DIR/data" ]; then
    as_owner "$PGHARNESS_BIN/pg_ctl" -D "$PGHARNESS_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGHARNESS_DIR"
  fi
  rm -f "$state"
}

case "$cmd" in
  start) stop; start ;;
  stop) stop ;;
  *) echo "usage: pg_harness.sh start|stop STATE_FILE" >&2; exit 2 ;;
esac
