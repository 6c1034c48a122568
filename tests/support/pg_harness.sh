#!/usr/bin/env bash
# Starts or stops the throwaway PostgreSQL 15 server the `pg` and `e2e` test
# tiers (and scripts/demo) share: initdb in a fresh temporary directory, a free
# loopback port, scram-sha-256 password authentication (so wrong-password
# paths are real), and TLS with a certificate from a throwaway CA generated
# here (openssl): the server certificate names 127.0.0.1 and localhost, so
# sslmode=verify-full with sslrootcert=$PGHARNESS_CA succeeds; a second,
# unrelated CA ($PGHARNESS_WRONG_CA) is for the failure tests.
# As root the server runs as the `postgres` user, as PostgreSQL requires.
#
# Like a managed service (RDS, Cloud SQL, Azure), the engine is tested as a
# NON-superuser: the role $PGHARNESS_OWNER (LOGIN, password, no SUPERUSER,
# CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS) is what tests hand to the
# engine; scratch databases are created OWNED by it (see pg_test_env.h and
# tests/support/e2e.sh). The superuser URL is for the few things an operator
# does as an administrator: creating databases and roles.
#
#   pg_harness.sh start STATE_FILE   # writes KEY=VALUE lines to STATE_FILE
#   pg_harness.sh stop  STATE_FILE   # stops the server, removes its directory
#
# STATE_FILE holds: PGHARNESS_DIR, PGHARNESS_PORT, PGHARNESS_BIN,
# PGHARNESS_URL (superuser URL with password of database `postgres`, for
# tests only), PGHARNESS_OWNER and PGHARNESS_OWNER_PASSWORD (the database
# owner role), PGHARNESS_OWNER_URL (its URL of database `postgres`; replace
# the database name), PGHARNESS_CA (the CA that signed the server's
# certificate, PEM) and PGHARNESS_WRONG_CA (a CA that did not).
set -euo pipefail

cmd=${1:?usage: pg_harness.sh start|stop STATE_FILE}
state=${2:?usage: pg_harness.sh start|stop STATE_FILE}
owner=app_owner
bin=""

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

# make_tls DIR: a throwaway CA, a server certificate it signs for
# 127.0.0.1/localhost (key readable by the server's user only), and a second
# CA that signed nothing. EC P-256 keys: fast to generate.
make_tls() {
  local tls=$1/tls
  mkdir -p "$tls"
  (
    cd "$tls"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=schemaop test CA" -keyout ca.key -out ca.crt
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=schemaop unrelated CA" -keyout wrong-ca.key -out wrong-ca.crt
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt
    rm -f ca.key wrong-ca.key server.csr server.ext ca.srl
    chmod 644 ca.crt wrong-ca.crt server.crt
  ) >"$1/tls.log" 2>&1 || { cat "$1/tls.log" >&2; echo "pg_harness: openssl failed" >&2; exit 1; }
  chmod 755 "$tls"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$tls"
  return 0
}

# psql_super PORT PASSWORD SQL: one statement as the superuser.
psql_super() {
  PGPASSWORD=$2 "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres \
    -d postgres -c "$3" >/dev/null
}

start() {
  bin=$(find_bin)
  local dir port password owner_password attempt
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
  make_tls "$dir"
  owner_password="owner-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  for attempt in $(seq 1 20); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_in_use "$port" && continue
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
            -c shared_buffers=256MB -c max_wal_size=4GB -c ssl=on \
            -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key" \
            >/dev/null 2>&1; then
      psql_super "$port" "$password" "CREATE ROLE $owner LOGIN NOSUPERUSER NOCREATEDB \
        NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '$owner_password'" || {
          echo "pg_harness: could not create the role $owner" >&2; exit 1; }
      {
        echo "PGHARNESS_DIR=$dir"
        echo "PGHARNESS_PORT=$port"
        echo "PGHARNESS_BIN=$bin"
        echo "PGHARNESS_URL=postgresql://postgres:$password@127.0.0.1:$port/postgres"
        echo "PGHARNESS_OWNER=$owner"
        echo "PGHARNESS_OWNER_PASSWORD=$owner_password"
        echo "PGHARNESS_OWNER_URL=postgresql://$owner:$owner_password@127.0.0.1:$port/postgres"
        echo "PGHARNESS_CA=$dir/tls/ca.crt"
        echo "PGHARNESS_WRONG_CA=$dir/tls/wrong-ca.crt"
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
