#!/usr/bin/env bash
# Starts and stops an end-to-end environment for `schemaop controller`: the
# test Kubernetes API server (tests/apiserver), the SchemaMigration CRD, and
# the real controller binary pointed at it. PostgreSQL is NOT started here:
# it is the CTest fixture `postgres` (tests/support/pg_harness.sh), found
# through SCHEMAOP_PG_STATE; the controller gets its --pg-bin-dir from it.
#
#   e2e_env.sh start STATE_FILE       start everything; write KEY=VALUE lines to STATE_FILE
#   e2e_env.sh stop STATE_FILE        SIGTERM the controller (graceful) and the API server,
#                                     remove the work directory (kept when E2E_KEEP=1)
#   e2e_env.sh start-controller STATE_FILE [extra controller flags...]
#   e2e_env.sh stop-controller STATE_FILE   (SIGTERM; waits; prints the exit code)
#   e2e_env.sh kubectl STATE_FILE ARGS...   kubectl against the test API server
#
# Inputs (environment):
#   SCHEMAOP_BIN            the `schemaop` executable (required)
#   SCHEMAOP_APISERVER_BIN  the `schemaop-test-apiserver` executable (required)
#   SCHEMAOP_SOURCE_DIR     repository root (default: two levels above this script)
#   SCHEMAOP_PG_STATE       pg_harness state file (optional; gives PGHARNESS_BIN)
#   SCHEMAOP_CONTROLLER_ARGS extra flags for the controller (word-split)
#   E2E_TIMEOUT             seconds to wait for each start-up step (default 120)
#
# STATE_FILE holds: E2E_DIR, E2E_KUBECONFIG (admin), E2E_CONTROLLER_KUBECONFIG
# (the controller's ServiceAccount), E2E_APISERVER_URL, E2E_APISERVER_PID,
# E2E_CONTROLLER_PID, E2E_CONTROLLER_LOG, E2E_METRICS_URL, E2E_PROBE_URL,
# E2E_KUBECTL (a kubectl command line with --kubeconfig and --cache-dir), and after
# stop-controller E2E_CONTROLLER_EXIT (its exit code). The controller's exit code
# also lands in "$E2E_CONTROLLER_LOG.exit" when it ends on its own.
# The controller runs with ephemeral metrics/probe ports on 127.0.0.1 and, unless
# the extra flags say otherwise, --leader-election-namespace schemaop-system,
# --log-format text and --log-level debug.
# Source it from a test (`. STATE_FILE`) and use `$E2E_KUBECTL get smig -A`.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${SCHEMAOP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
timeout_s=${E2E_TIMEOUT:-120}

die() { echo "e2e_env: $*" >&2; exit 1; }

# Waits until "$@" succeeds, or fails after timeout_s seconds.
wait_for() {
  local what=$1; shift
  local deadline=$(( $(date +%s) + timeout_s ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "e2e_env: timed out after ${timeout_s}s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}

load_state() {
  [ -f "$1" ] || die "no state file $1 (run: e2e_env.sh start $1)"
  # shellcheck disable=SC1090
  . "$1"
}

set_state() {  # set_state FILE KEY VALUE
  local file=$1 key=$2 value=$3
  grep -v "^$key=" "$file" > "$file.tmp" 2>/dev/null || true
  printf '%s=%q\n' "$key" "$value" >> "$file.tmp"
  mv "$file.tmp" "$file"
}

pid_alive() { kill -0 "$1" 2>/dev/null; }

log_has() { grep -q -- "$2" "$1"; }

http_ok() { curl -fsS -o /dev/null "$1"; }

started_or_exited() { log_has "$1" "serving health probes on" || [ -s "$1.exit" ]; }

start_controller() {
  local state=$1; shift
  load_state "$state"
  [ -x "${SCHEMAOP_BIN:-}" ] || die "SCHEMAOP_BIN is not an executable: '${SCHEMAOP_BIN:-}'"
  local pg_bin=""
  if [ -n "${SCHEMAOP_PG_STATE:-}" ] && [ -f "$SCHEMAOP_PG_STATE" ]; then
    pg_bin=$(sed -n 's/^PGHARNESS_BIN=//p' "$SCHEMAOP_PG_STATE")
  fi
  local n=1
  while [ -e "$E2E_DIR/controller.$n.log" ]; do n=$((n + 1)); done
  local log="$E2E_DIR/controller.$n.log"
  mkdir -p "$E2E_DIR/backups"
  # Defaults the caller's flags may override (CLI11 rejects a repeated flag).
  local defaults=() extra=" ${SCHEMAOP_CONTROLLER_ARGS:-} $* "
  [[ $extra == *" --leader-election-namespace"* ]] || defaults+=(--leader-election-namespace schemaop-system)
  [[ $extra == *" --log-format"* ]] || defaults+=(--log-format text)
  [[ $extra == *" --log-level"* ]] || defaults+=(--log-level debug)
  # A supervising subshell records the exit code in $log.exit, so `stop`
  # (another process) can report how the controller ended.
  # shellcheck disable=SC2086
  (
    "$SCHEMAOP_BIN" controller \
      --kubeconfig "$E2E_CONTROLLER_KUBECONFIG" \
      --metrics-bind-address 127.0.0.1:0 \
      --health-probe-bind-address 127.0.0.1:0 \
      --backup-dir "$E2E_DIR/backups" \
      ${pg_bin:+--pg-bin-dir "$pg_bin"} \
      "${defaults[@]}" \
      ${SCHEMAOP_CONTROLLER_ARGS:-} "$@" \
      >"$log" 2>&1 &
    echo $! > "$log.pid"
    code=0
    wait $! || code=$?
    echo "$code" > "$log.exit"
  ) </dev/null >/dev/null 2>&1 &
  wait_for "the controller to start" test -s "$log.pid"
  local pid
  pid=$(cat "$log.pid")
  set_state "$state" E2E_CONTROLLER_PID "$pid"
  set_state "$state" E2E_CONTROLLER_LOG "$log"
  wait_for "the controller to serve probes ($log)" started_or_exited "$log" || {
    tail -30 "$log" >&2; return 1; }
  if [ -s "$log.exit" ]; then
    echo "e2e_env: the controller exited with code $(cat "$log.exit") during start-up:" >&2
    tail -30 "$log" >&2
    return 1
  fi
  local probe metrics
  probe=$(sed -n 's/.*serving health probes on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -1)
  metrics=$(sed -n 's/.*serving metrics on \([0-9.]*:[0-9]*\)\/metrics.*/\1/p' "$log" | head -1)
  set_state "$state" E2E_PROBE_URL "http://$probe"
  set_state "$state" E2E_METRICS_URL "http://$metrics"
  wait_for "the controller to be ready (http://$probe/readyz)" http_ok "http://$probe/readyz" || {
    tail -30 "$log" >&2; return 1; }
  echo "e2e_env: controller pid $pid ready (probes http://$probe, metrics http://$metrics, log $log)"
}

stop_controller() {
  local state=$1
  load_state "$state"
  local pid=${E2E_CONTROLLER_PID:-}
  [ -n "$pid" ] || return 0
  if pid_alive "$pid"; then
    kill -TERM "$pid"
  fi
  local code
  if wait_for "the controller (pid $pid) to exit" test -s "$E2E_CONTROLLER_LOG.exit"; then
    code=$(cat "$E2E_CONTROLLER_LOG.exit")
  else
    kill -KILL "$pid" 2>/dev/null || true
    code=killed
  fi
  set_state "$state" E2E_CONTROLLER_PID ""
  set_state "$state" E2E_CONTROLLER_EXIT "$code"
  echo "e2e_env: controller exited with code $code"
}

start() {
  local state=$1
  [ -x "${SCHEMAOP_APISERVER_BIN:-}" ] || die "SCHEMAOP_APISERVER_BIN is not an executable: '${SCHEMAOP_APISERVER_BIN:-}'"
  command -v kubectl >/dev/null || die "kubectl not found on PATH (scripts/setup installs it)"
  command -v curl >/dev/null || die "curl not found on PATH"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/schemaop-e2e.XXXXXX")
  : > "$state"
  set_state "$state" E2E_DIR "$dir"
  set_state "$state" E2E_KUBECONFIG "$dir/kubeconfig"
  set_state "$state" E2E_KUBECTL "kubectl --kubeconfig $dir/kubeconfig --cache-dir $dir/kube-cache"
  "$SCHEMAOP_APISERVER_BIN" --port 0 --kubeconfig-out "$dir/kubeconfig" \
    </dev/null >"$dir/apiserver.out" 2>"$dir/apiserver.log" &
  set_state "$state" E2E_APISERVER_PID "$!"
  wait_for "the test API server to listen" log_has "$dir/apiserver.out" "listening on" || {
    cat "$dir/apiserver.log" >&2; return 1; }
  set_state "$state" E2E_APISERVER_URL "$(sed -n 's/^listening on //p' "$dir/apiserver.out")"
  load_state "$state"
  $E2E_KUBECTL apply --validate=false -f "$src/crds/schemaop.dev_schemamigrations.yaml" >/dev/null
  wait_for "the SchemaMigration CRD to be served" $E2E_KUBECTL get schemamigrations -A
  controller_identity "$state"
  start_controller "$state"
}

# The test API server enforces RBAC: the controller runs as the
# ServiceAccount of manifests/ with exactly the RBAC objects that
# `kubectl kustomize manifests/` renders (the tests' kubectl stays admin).
controller_identity() {
  local state=$1 dir=$E2E_DIR token
  kubectl kustomize "$src/manifests" 2>/dev/null |
    awk 'function flush() { if (doc ~ /(^|\n)kind: (Cluster)?Role(Binding)?\n/) printf "---\n%s", doc; doc = "" }
         /^---$/ { flush(); next } { doc = doc $0 "\n" } END { flush() }' >"$dir/rbac.yaml"
  grep -q '^kind: ClusterRole$' "$dir/rbac.yaml" || die "no ClusterRole rendered from manifests/"
  $E2E_KUBECTL create namespace schemaop-system --dry-run=client -o yaml |
    $E2E_KUBECTL apply --validate=false -f - >/dev/null
  $E2E_KUBECTL apply --validate=false -f "$dir/rbac.yaml" >/dev/null
  token=$(printf '{"serviceAccount":{"namespace":"schemaop-system","name":"schemaop-controller"}}' |
    $E2E_KUBECTL create --raw /_test/tokens -f - | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || die "no token for the controller's ServiceAccount"
  sed "s/^\( *token: \).*/\1$token/" "$E2E_KUBECONFIG" >"$dir/controller.kubeconfig"
  grep -q "token: $token" "$dir/controller.kubeconfig" || die "the controller kubeconfig has no token"
  set_state "$state" E2E_CONTROLLER_KUBECONFIG "$dir/controller.kubeconfig"
  load_state "$state"
}

stop() {
  local state=$1
  [ -f "$state" ] || return 0
  stop_controller "$state" || true
  load_state "$state"
  if [ -n "${E2E_APISERVER_PID:-}" ] && pid_alive "$E2E_APISERVER_PID"; then
    kill -TERM "$E2E_APISERVER_PID" 2>/dev/null || true
    wait_for "the API server to exit" bash -c "! kill -0 $E2E_APISERVER_PID 2>/dev/null" ||
      kill -KILL "$E2E_APISERVER_PID" 2>/dev/null || true
  fi
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "e2e_env: kept $E2E_DIR"
  else
    rm -rf "$E2E_DIR"
  fi
  rm -f "$state"
}

cmd=${1:?usage: e2e_env.sh start|stop|start-controller|stop-controller|kubectl STATE_FILE}
state=${2:?usage: e2e_env.sh $cmd STATE_FILE}
shift 2
case "$cmd" in
  start) start "$state" ;;
  stop) stop "$state" ;;
  start-controller) start_controller "$state" "$@" ;;
  stop-controller) stop_controller "$state" ;;
  kubectl) load_state "$state"; $E2E_KUBECTL "$@" ;;
  *) die "unknown command $cmd" ;;
esac
