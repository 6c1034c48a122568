# shellcheck shell=bash
# The one e2e harness: sourced by every tests/e2e/*_test.sh, the manager's
# tests/manager/*_e2e.sh and bench/operator/run. The controller half is in
# e2e_controller.sh (sourced at the end).
#
# Each test gets its own scratch database on the harness PostgreSQL (CTest
# fixture `postgres`), its own schemaop-test-apiserver and its own
# `schemaop controller` processes, so tests run in parallel. The user's side
# is the real kubectl; the database side is psql. Everything waits on a
# condition with a deadline; nothing sleeps a fixed time to "let things
# settle".
#
# Environment (set by schemaop_add_e2e_test, tests/support/CMakeLists.txt):
#   SCHEMAOP_BIN            the schemaop executable
#   SCHEMAOP_APISERVER_BIN  the schemaop-test-apiserver executable
#   SCHEMAOP_PG_STATE       state file of the harness PostgreSQL
#   SCHEMAOP_SOURCE_DIR     the source tree
#   SCHEMAOP_CONTROLLER_ARGS  optional extra flags for every controller
#
# Every function that checks something calls `fail` on a mismatch: the test
# stops, the logs of every process it started are printed, and everything it
# started is removed.

set -euo pipefail

: "${SCHEMAOP_BIN:?set SCHEMAOP_BIN to the schemaop executable}"
: "${SCHEMAOP_APISERVER_BIN:?set SCHEMAOP_APISERVER_BIN to schemaop-test-apiserver}"
: "${SCHEMAOP_PG_STATE:?set SCHEMAOP_PG_STATE (CTest fixture postgres)}"
: "${SCHEMAOP_SOURCE_DIR:?set SCHEMAOP_SOURCE_DIR}"

E2E_SRC=$SCHEMAOP_SOURCE_DIR
E2E_NS=drawing
E2E_SMIG=drawing-db
E2E_PIDS=()              # every background process we started (killed on exit)
declare -A E2E_CONTROLLER_PID=() E2E_CONTROLLER_EXIT=()
E2E_HOLDER_FD=""
E2E_HOLDER_PID=""
E2E_FAILED=0

log() { [ "${E2E_QUIET:-0}" = 1 ] || printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }

fail() {
  E2E_FAILED=1
  printf '\nFAIL: %s\n' "$*" >&2
  e2e_dump_logs >&2
  exit 1
}

# e2e_dump_logs: the tails of every log this test produced (on failure).
e2e_dump_logs() {
  [ -n "${E2E_WORK:-}" ] && [ -d "$E2E_WORK" ] || return 0
  local f
  for f in "$E2E_WORK"/*.log; do
    [ -f "$f" ] || continue
    printf '\n--- %s (last 40 lines) ---\n' "$(basename "$f")"
    tail -n 40 "$f"
  done
  if [ -n "${KUBECONFIG:-}" ] && [ -f "$KUBECONFIG" ]; then
    printf '\n--- kubectl get smig,deploy,events -n %s ---\n' "$E2E_NS"
    kubectl get smig,deploy -n "$E2E_NS" 2>&1 | head -20 || true
    kubectl get smig -A -o jsonpath='{range .items[*]}{.metadata.name}: {.status}{"\n"}{end}' \
      2>&1 | head -20 || true
    kubectl get events -n "$E2E_NS" 2>&1 | tail -20 || true
  fi
}

# retry_until SECONDS CMD...: runs CMD until it succeeds; 1 after the deadline.
retry_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# wait_for DESCRIPTION SECONDS CMD...: retry_until or fail naming what never happened.
wait_for() {
  local what=$1
  shift
  retry_until "$@" || fail "timed out after ${1}s waiting for: $what"
}

expect_eq() {  # expect_eq DESCRIPTION EXPECTED ACTUAL
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
  log "ok: $1 = $3"
}

expect_contains() {  # expect_contains DESCRIPTION HAYSTACK NEEDLE
  [[ "$2" == *"$3"* ]] || fail "$1: expected to find [$3] in:
$2"
  log "ok: $1"
}

expect_not_contains() {  # expect_not_contains DESCRIPTION HAYSTACK NEEDLE
  [[ "$2" != *"$3"* ]] || fail "$1: [$3] must not appear in:
$2"
  log "ok: $1"
}

# ---------------------------------------------------------------- set-up

# e2e_begin NAME: work directory, scratch database e2e_NAME, cleanup trap.
# The database is OWNED by the harness's non-superuser role (as on a managed
# service): the controller's URL and the test's psql use that role; only
# creating and dropping the database use the superuser (psql_admin).
e2e_begin() {
  E2E_NAME=$1
  E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/schemaop-e2e-$E2E_NAME.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'exit 130' INT TERM
  [ -f "$SCHEMAOP_PG_STATE" ] || fail "no PostgreSQL harness state at $SCHEMAOP_PG_STATE (run through ctest: fixture postgres)"
  local PGHARNESS_URL PGHARNESS_PORT PGHARNESS_BIN PGHARNESS_DIR PGHARNESS_OWNER
  local PGHARNESS_OWNER_PASSWORD PGHARNESS_OWNER_URL PGHARNESS_CA PGHARNESS_WRONG_CA
  # shellcheck disable=SC1090
  . "$SCHEMAOP_PG_STATE"
  E2E_PG_BIN=$PGHARNESS_BIN
  E2E_PG_CA=$PGHARNESS_CA
  E2E_PG_WRONG_CA=$PGHARNESS_WRONG_CA
  local rest=${PGHARNESS_URL#postgresql://postgres:}
  E2E_ADMIN_PASSWORD=${rest%%@*}
  E2E_DB_USER=$PGHARNESS_OWNER
  E2E_DB_PASSWORD=$PGHARNESS_OWNER_PASSWORD
  E2E_DB=e2e_$E2E_NAME
  E2E_DB_URL="postgresql://$E2E_DB_USER:$E2E_DB_PASSWORD@127.0.0.1:$PGHARNESS_PORT/$E2E_DB"
  export PGPASSWORD=$E2E_DB_PASSWORD PGHOST=127.0.0.1 PGPORT=$PGHARNESS_PORT PGUSER=$E2E_DB_USER
  export PGDATABASE=$E2E_DB
  psql_admin -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" -c "CREATE DATABASE $E2E_DB OWNER $E2E_DB_USER" >/dev/null ||
    fail "could not create the scratch database $E2E_DB"
  mkdir -p "$E2E_WORK/backups"
  log "e2e $E2E_NAME: database $E2E_DB owned by $E2E_DB_USER (not a superuser), work dir $E2E_WORK"
}

# psql_admin ARGS...: psql as the superuser on database postgres.
psql_admin() {
  PGUSER=postgres PGPASSWORD=$E2E_ADMIN_PASSWORD "$E2E_PG_BIN/psql" -X -q -d postgres \
    -v ON_ERROR_STOP=1 "$@"
}

e2e_cleanup() {
  local rc=$?
  set +e
  [ "$rc" -ne 0 ] && [ "$E2E_FAILED" = 0 ] && { echo "FAIL: exit $rc" >&2; e2e_dump_logs >&2; }
  release_lock 2>/dev/null
  local pid
  for pid in "${E2E_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${E2E_PIDS[@]}"; do
    # A controller has 10 s to finish; then it is killed.
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ -n "${E2E_DB:-}" ]; then
    psql_admin -c "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" >/dev/null 2>&1
  fi
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "kept the work directory $E2E_WORK (E2E_KEEP=1)" >&2
  elif [ -n "${E2E_WORK:-}" ]; then
    rm -rf "$E2E_WORK"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- PostgreSQL

psql_e2e() { PGAPPNAME=${PGAPPNAME:-e2e_test} "$E2E_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# q SQL: one query, unaligned rows.
q() { psql_e2e -At -F '|' -c "$1"; }

# use_createdb_owner ROLE: the test's database is owned by ROLE, a role of
# its own that may create databases (a rehearsal's scratch copy; the
# harness's owner may not), with a new password, and every later URL,
# psql_e2e and load_drawing_data use it. Call before install_drawing_app.
use_createdb_owner() {
  local role=$1
  E2E_DB_PASSWORD="rehearse-$RANDOM-$RANDOM"
  psql_admin -c "SET client_min_messages = warning" \
    -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role; END IF; END \$\$" \
    -c "ALTER ROLE $role LOGIN NOSUPERUSER CREATEDB PASSWORD '$E2E_DB_PASSWORD'" \
    -c "ALTER DATABASE $E2E_DB OWNER TO $role" >/dev/null || fail "could not create role $role"
  E2E_DB_USER=$role
  E2E_DB_URL="postgresql://$E2E_DB_USER:$E2E_DB_PASSWORD@127.0.0.1:$PGPORT/$E2E_DB"
  export PGUSER=$E2E_DB_USER PGPASSWORD=$E2E_DB_PASSWORD
}

# The scratch databases of ROLE (a rehearsal's copies) that exist now.
scratch_databases_of() {
  psql_admin -At -c "SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
                     WHERE d.datname LIKE 'schemaop\_rehearsal\_%' AND r.rolname = '$1'"
}

# The revision(s) in alembic_version, comma-separated ("" = base or no table).
db_revision() {
  q "SELECT coalesce(string_agg(version_num, ',' ORDER BY version_num), '')
     FROM alembic_version" 2>/dev/null || true
}

# schemaop_local ARGS...: the local mode against the scratch database.
schemaop_local() {
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" --migrations "$E2E_SRC/migrations/drawing" "$@"
}

# The application's database as production has it today: 9bc6a98f1c12 and
# 200 drawings, 5,000 components (NULLs in every optional column).
load_drawing_data() {
  schemaop_local -q upgrade 9bc6a98f1c12 >"$E2E_WORK/local-upgrade.log" 2>&1 ||
    fail "schemaop upgrade 9bc6a98f1c12 (local mode) failed: $(cat "$E2E_WORK/local-upgrade.log")"
  psql_e2e >/dev/null <<'SQL'
INSERT INTO drawings (name) SELECT 'Assembly ' || g FROM generate_series(1, 200) AS g;
INSERT INTO components (drawing_id, component_type, description, material_type, quantity,
                        instance_identifier)
SELECT 1 + g % 200,
       (ARRAY['resistor', 'capacitor', 'bolt', 'plate', 'valve'])[1 + g % 5],
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'Part ' || g || ' of assembly ' || (1 + g % 200) END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['steel', 'brass', 'ceramic'])[1 + g % 3] END,
       CASE WHEN g % 13 = 0 THEN NULL ELSE 1 + g % 50 END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'X' || g END
FROM generate_series(1, 5000) AS g;
SQL
  expect_eq "database revision after loading" "9bc6a98f1c12" "$(db_revision)"
}

# A fingerprint of the original columns of the original rows (except EXCEPT_IDS).
components_fingerprint() {
  local except=${1:-0}
  q "SELECT count(*) || ':' || md5(string_agg(md5(c::text), '' ORDER BY id))
     FROM (SELECT id, drawing_id, component_type, description, material_type, quantity,
                  created_at, updated_at, instance_identifier
           FROM components WHERE id <= 5000 AND id NOT IN ($except)) AS c"
}

# A fingerprint of the public schema's definition and of every table's rows
# in key order (physical row order is not compared: an undo rewrites rows).
database_fingerprint() {
  local schema tables t data=""
  local dump
  dump=$(mktemp "$E2E_WORK/schema-XXXXXX")
  "$E2E_PG_BIN/pg_dump" --schema-only --no-owner --schema=public -d "$E2E_DB" |
    grep -v -e '^--' -e '^\\restrict ' -e '^\\unrestrict ' >"$dump" || fail "pg_dump --schema-only failed"
  schema="$(md5sum <"$dump" | cut -d' ' -f1)#${dump##*/}"
  tables=$(q "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
  for t in $tables; do
    data+="$t=$(q "SELECT count(*) || ':' || coalesce(md5(string_agg(md5(r::text), '' ORDER BY r::text)), '')
                   FROM public.$t AS r") "
  done
  echo "schema:$schema $data"
}

# expect_database_unchanged FINGERPRINT: compares with database_fingerprint
# now and shows the schema difference if any.
expect_database_unchanged() {
  local now before_n now_n
  now=$(database_fingerprint)
  before_n=${1%% *}; before_n=${before_n##*#}
  now_n=${now%% *}; now_n=${now_n##*#}
  if [ "$(sed 's/#[^ ]*//' <<<"$1")" != "$(sed 's/#[^ ]*//' <<<"$now")" ]; then
    fail "the database changed:
before: $1
now:    $now
schema diff:
$(diff "$E2E_WORK/$before_n" "$E2E_WORK/$now_n")"
  fi
  log "ok: database unchanged (schema and every row)"
}

# hold_lock SQL: runs SQL (e.g. LOCK TABLE ...) in a transaction on a separate
# session and keeps that transaction open until release_lock. Makes a phase
# that touches the locked object observable for as long as the test needs.
hold_lock() {
  mkfifo "$E2E_WORK/holder.fifo"
  PGAPPNAME=e2e_holder psql_e2e <"$E2E_WORK/holder.fifo" >"$E2E_WORK/holder.log" 2>&1 &
  E2E_HOLDER_PID=$!
  E2E_PIDS+=("$E2E_HOLDER_PID")
  exec {E2E_HOLDER_FD}>"$E2E_WORK/holder.fifo"
  printf 'BEGIN;\n%s\n' "$1" >&"$E2E_HOLDER_FD"
  wait_for "the test's lock holder to hold [$1]" 30 holder_in_transaction
  log "holding: $1"
}
# Holds an upgrade of the drawing chain in its window (phase Migrating, the
# writers at zero, inside its transaction): the window's first statement
# writes the version table, which SHARE mode blocks, while the expand phase
# before it never writes the version table (design §3.1) and runs through.
hold_window_lock() {
  hold_lock "LOCK TABLE alembic_version IN SHARE MODE;"
}
holder_in_transaction() {
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
          AND application_name = 'e2e_holder' AND state = 'idle in transaction'")" = 1 ]
}
release_lock() {
  [ -n "$E2E_HOLDER_FD" ] || return 0
  printf 'COMMIT;\n' >&"$E2E_HOLDER_FD"
  exec {E2E_HOLDER_FD}>&-
  E2E_HOLDER_FD=""
  wait "$E2E_HOLDER_PID" 2>/dev/null || true
  rm -f "$E2E_WORK/holder.fifo"
  log "released the test's lock"
}
# True while some schemaop session of this database waits for a lock.
schemaop_waits_for_lock() {
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
          AND application_name LIKE 'schemaop%' AND wait_event_type = 'Lock'")" -ge 1 ]
}

# ---------------------------------------------------------------- API server

# start_apiserver [FLAGS...]: a fresh test API server; exports KUBECONFIG.
start_apiserver() {
  "$SCHEMAOP_APISERVER_BIN" --port 0 --kubeconfig-out "$E2E_WORK/kubeconfig" \
    --deployment-delay-ms 100 --bookmark-interval-ms 500 "$@" \
    >"$E2E_WORK/apiserver.out" 2>"$E2E_WORK/apiserver.log" &
  E2E_PIDS+=("$!")
  wait_for "the test API server to listen" 20 grep -q '^listening on ' "$E2E_WORK/apiserver.out"
  export KUBECONFIG=$E2E_WORK/kubeconfig
  log "API server $(sed -n 's/^listening on //p' "$E2E_WORK/apiserver.out")"
}

kubectl() { command kubectl --request-timeout=30s --cache-dir "$E2E_WORK/kube-cache" "$@"; }

# The admin API of the test API server (tests/apiserver/README.md).
admin_post() {  # admin_post PATH JSON
  printf '%s' "$2" | kubectl create --raw "/_test/$1" -f - >/dev/null ||
    fail "admin POST /_test/$1 $2 failed"
}
admin_delete() { kubectl delete --raw "/_test/$1" >/dev/null || fail "admin DELETE /_test/$1 failed"; }
api_counters() { kubectl get --raw /_test/counters && echo; }
# api_writes: create/update/patch/delete requests since the last reset.
api_writes() { api_counters | sed -n 's/.*"writes":\([0-9]*\).*/\1/p'; }
# api_count KEY (e.g. "patch deployments/scale"): 0 when never requested.
api_count() {
  local n
  n=$(api_counters | grep -o "\"$1\":[0-9]*" | cut -d: -f2)
  echo "${n:-0}"
}
# Scale-subresource writes, whatever verb the client uses.
scale_writes() {
  local total=0 verb kind
  for verb in patch update; do
    for kind in deployments statefulsets; do
      total=$((total + $(api_count "$verb $kind/scale")))
    done
  done
  echo "$total"
}

# ---------------------------------------------------------------- the app

# install_drawing_app: the CRD, then manifests/examples/drawing as a user
# applies it, except the SchemaMigration (applied by the test when it wants
# the run to start) and the placeholder Secret (replaced by one holding the
# scratch database's real URL, written from a file so no command line or
# output shows the password).
install_drawing_app() {
  install_crd
  kubectl kustomize "$E2E_SRC/manifests/examples/drawing" 2>/dev/null |
    without_kinds SchemaMigration Secret >"$E2E_WORK/drawing-app.yaml"
  kubectl apply --validate=false -f "$E2E_WORK/drawing-app.yaml" >>"$E2E_WORK/kubectl-apply.log" 2>&1 ||
    fail "kubectl apply the drawing example: $(cat "$E2E_WORK/kubectl-apply.log")"
  create_db_secret drawing-db DATABASE_URL "$E2E_DB_URL"
  wait_for "backend 3/3 ready" 30 deploy_ready backend 3
  wait_for "celery-worker 2/2 ready" 30 deploy_ready celery-worker 2
}

# install_crd: the SchemaMigration CRD, applied and Established.
install_crd() {
  kubectl apply --validate=false -f "$E2E_SRC/crds/schemaop.dev_schemamigrations.yaml" \
    >>"$E2E_WORK/kubectl-apply.log" 2>&1 || fail "kubectl apply CRD: $(cat "$E2E_WORK/kubectl-apply.log")"
  kubectl wait --for=condition=Established crd/schemamigrations.schemaop.dev --timeout=30s \
    >/dev/null || fail "the CRD was not Established"
}

# without_kinds KIND...: drops those documents from a multi-document YAML stream.
without_kinds() {
  awk -v kinds=" $* " '
    function flush() { if (doc != "" && !drop) printf "%s---\n", doc; doc = ""; drop = 0 }
    /^---$/ { flush(); next }
    /^kind: / { if (index(kinds, " " $2 " ") > 0) drop = 1 }
    { doc = doc $0 "\n" }
    END { flush() }'
}

# create_db_secret NAME KEY URL: a Secret whose value never appears on a command line.
create_db_secret() {
  local file=$E2E_WORK/secret-value
  (umask 077 && printf '%s' "$3" >"$file")
  kubectl create secret generic "$1" -n "$E2E_NS" --from-file="$2=$file" \
    --dry-run=client -o yaml | kubectl apply --validate=false -f - >/dev/null ||
    fail "could not create Secret $1"
  rm -f "$file"
}

deploy_ready() {  # deploy_ready NAME REPLICAS: spec, status and ready all at REPLICAS
  [ "$(deploy_replicas "$1")" = "$2 $2 $2" ]
}
# "spec status ready" replicas of a Deployment (status fields 0 when absent).
deploy_replicas() {
  local out
  out=$(kubectl get deploy "$1" -n "$E2E_NS" \
    -o jsonpath='{.spec.replicas} {.status.replicas} {.status.readyReplicas}') || return 1
  read -r spec status ready <<<"$out"
  echo "${spec:-0} ${status:-0} ${ready:-0}"
}

# smig_manifest FILE [MERGE-PATCH-JSON]: the example's SchemaMigration with a
# JSON merge patch applied locally (no server involved), on stdout.
smig_manifest() {
  local file=$E2E_SRC/manifests/examples/drawing/$1
  if [ $# -ge 2 ]; then
    kubectl patch --local -f "$file" --type=merge -p "$2" -o yaml
  else
    cat "$file"
  fi
}

# apply_smig FILE [MERGE-PATCH-JSON]: kubectl apply of that manifest.
apply_smig() {
  smig_manifest "$@" >"$E2E_WORK/smig.yaml" || fail "could not render $1 with patch ${2:-}"
  kubectl apply --validate=false -f "$E2E_WORK/smig.yaml" >>"$E2E_WORK/kubectl-apply.log" 2>&1 ||
    fail "kubectl apply $1: $(tail -3 "$E2E_WORK/kubectl-apply.log")"
  log "applied $1 ${2:-}"
}

# smig JSONPATH [NAME]: one field of a SchemaMigration.
smig() { kubectl get smig "${2:-$E2E_SMIG}" -n "$E2E_NS" -o "jsonpath=$1"; }
condition() {  # condition TYPE [NAME] -> "Status Reason"
  smig "{.status.conditions[?(@.type==\"$1\")].status} {.status.conditions[?(@.type==\"$1\")].reason}" "${2:-}"
}
condition_is() {  # condition_is TYPE STATUS [REASON] [NAME]
  local got
  got=$(condition "$1" "${4:-}") || return 1
  if [ -n "${3:-}" ]; then [ "$got" = "$2 $3" ]; else [ "${got%% *}" = "$2" ]; fi
}
phase_is() { [ "$(smig '{.status.phase}' "${2:-}")" = "$1" ]; }

# Ready=True for the current generation, as `kubectl wait` sees it.
wait_ready() {  # wait_ready SECONDS [NAME]
  local name=${2:-$E2E_SMIG}
  kubectl wait --for=condition=Ready "smig/$name" -n "$E2E_NS" --timeout="${1}s" \
    >"$E2E_WORK/wait.out" 2>&1 || fail "kubectl wait --for=condition=Ready smig/$name: $(cat "$E2E_WORK/wait.out")"
  wait_for "status.observedGeneration to reach the generation of $name" 30 observed_current "$name"
}
observed_current() {
  [ "$(smig '{.metadata.generation}' "$1")" = "$(smig '{.status.observedGeneration}' "$1")" ]
}

# The workloads as the user left them: backend 3, celery-worker 2, all pods back.
expect_workloads_restored() {
  wait_for "backend back at 3 replicas" 60 deploy_ready backend 3
  wait_for "celery-worker back at 2 replicas" 60 deploy_ready celery-worker 2
  log "ok: workloads restored (backend 3, celery-worker 2)"
}

# backup_host_path FILE: where the test finds a backup the controller reported
# (status.backup.file). The same path, except for a controller running inside
# the image (tests/image), which sees the backup volume at
# E2E_CONTROLLER_BACKUP_DIR instead of $E2E_WORK/backups.
backup_host_path() {
  local dir=${E2E_CONTROLLER_BACKUP_DIR:-}
  if [ -n "$dir" ] && [[ "$1" == "$dir"/* ]]; then
    echo "$E2E_WORK/backups/${1#"$dir"/}"
  else
    echo "$1"
  fi
}

# Neither status, events, the controller's logs nor the API server's view of
# the SchemaMigration contain the database password.
expect_no_password_leak() {
  local where
  kubectl get smig -A -o yaml >"$E2E_WORK/leak-smig.txt" 2>&1
  kubectl get events -A -o yaml >"$E2E_WORK/leak-events.txt" 2>&1
  for where in "$E2E_WORK"/leak-*.txt "$E2E_WORK"/controller-*.log; do
    [ -f "$where" ] || continue
    if grep -qF -- "$E2E_DB_PASSWORD" "$where"; then
      fail "the database password appears in $(basename "$where")"
    fi
  done
  rm -f "$E2E_WORK"/leak-*.txt
  log "ok: the password appears in no status, event or controller log"
}

# slow_configmap SQL: the drawing migrations plus slow_step (SQL as its up).
slow_configmap() {
  local dir=$E2E_WORK/slow-migrations
  rm -rf "$dir" && mkdir -p "$dir" && cp "$E2E_SRC"/migrations/drawing/*.sql "$dir"/
  cat >"$dir/slow_step.sql" <<EOF
-- revision: slow_step
-- down_revision: 9bc6a98f1c12
-- message: a slow step

-- migrate:up
CREATE TABLE slow_marker (id integer);
$1

-- migrate:down
DROP TABLE slow_marker;
EOF
  kubectl create configmap slow-migrations -n "$E2E_NS" --from-file="$dir" --dry-run=client -o yaml |
    kubectl apply --validate=false -f - >/dev/null || fail "apply of ConfigMap slow-migrations"
}

# other_db_ready: a second database ${E2E_DB}_other with its own
# SchemaMigration other-db (no workloads, target 9bc6a98f1c12), waited for
# until Ready (what the runs-off-the-workers tests do meanwhile).
other_db_ready() {
  local other_db=${E2E_DB}_other
  psql_admin -c "DROP DATABASE IF EXISTS $other_db WITH (FORCE)" \
    -c "CREATE DATABASE $other_db OWNER $E2E_DB_USER" >/dev/null || fail "create $other_db"
  create_db_secret other-db DATABASE_URL "${E2E_DB_URL%/*}/$other_db"
  smig_manifest upgrade.yaml '{"metadata":{"name":"other-db"},"spec":{"targetRevision":"9bc6a98f1c12",
    "database":{"urlSecretRef":{"name":"other-db"}},"workloads":null,"verify":{"checks":null}}}' \
    >"$E2E_WORK/other.yaml" || fail "render other-db"
  kubectl apply --validate=false -f "$E2E_WORK/other.yaml" >/dev/null || fail "apply other-db"
  wait_ready 120 other-db
  expect_eq "other-db at its target" "9bc6a98f1c12" "$(smig '{.status.currentRevision}' other-db)"
}
drop_other_db() { psql_admin -c "DROP DATABASE IF EXISTS ${E2E_DB}_other WITH (FORCE)" >/dev/null; }

# The controllers: identity, start and stop, metrics (tests/support/e2e_controller.sh).
# shellcheck source=tests/support/e2e_controller.sh
. "$(dirname "${BASH_SOURCE[0]}")/e2e_controller.sh"
