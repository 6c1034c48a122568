#!/usr/bin/env bash
# Leader election e2e of `schemaop controller` (label e2e): two replicas with
# --leader-elect against the test API server. The first holds the Lease and
# works; the second stands by (ready, no workers). When the Lease is taken
# from the leader, it stops and exits 1 (client-go's behaviour, so the pod
# restarts clean); the standby acquires the Lease once it expires and starts
# its workers; SIGTERM releases the Lease (empty holder) and exits 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${SCHEMAOP_E2E_WORK:-${TMPDIR:-/tmp}}
state="$work/leader_election_e2e.$$.state"
env_sh="$here/e2e_env.sh"
b_pid=""

fail() {
  echo "FAIL: $*" >&2
  [ -n "${E2E_CONTROLLER_LOG:-}" ] && { echo "--- controller a" >&2; tail -20 "$E2E_CONTROLLER_LOG" >&2; }
  [ -n "${b_log:-}" ] && { echo "--- controller b" >&2; tail -20 "$b_log" >&2; }
  exit 1
}
cleanup() {
  [ -n "$b_pid" ] && kill -KILL "$b_pid" 2>/dev/null || true
  "$env_sh" stop "$state" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_until() {
  local what=$1; shift
  local deadline=$(( $(date +%s) + 120 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}

le_flags="--leader-elect --lease-duration 3s --renew-deadline 2s --retry-period 250ms"
SCHEMAOP_CONTROLLER_ARGS="$le_flags --identity ctl-a" "$env_sh" start "$state"
# shellcheck disable=SC1090
. "$state"
holder() { $E2E_KUBECTL -n schemaop-system get lease schemaop-leader -o jsonpath='{.spec.holderIdentity}'; }
holder_is() { [ "$(holder)" = "$1" ]; }
log_has() { grep -q -- "$2" "$1"; }

wait_until "ctl-a to hold the Lease" holder_is ctl-a
log_has "$E2E_CONTROLLER_LOG" "starting 2 worker(s)" || fail "the leader did not start its workers"
echo "ok: ctl-a leads"

b_log="$E2E_DIR/controller-b.log"
# shellcheck disable=SC2086
"$SCHEMAOP_BIN" controller --kubeconfig "$E2E_KUBECONFIG" $le_flags --identity ctl-b \
  --leader-election-namespace schemaop-system \
  --metrics-bind-address 0 --health-probe-bind-address 127.0.0.1:0 \
  --backup-dir "$E2E_DIR/backups" --log-level debug </dev/null >"$b_log" 2>&1 &
b_pid=$!
wait_until "ctl-b to stand by" log_has "$b_log" "Lease held by ctl-a; standing by"
b_probe=$(sed -n 's/.*serving health probes on \([0-9.]*:[0-9]*\).*/\1/p' "$b_log" | head -1)
wait_until "ctl-b /readyz while standing by" curl -fsS "http://$b_probe/readyz"
curl -fsS "http://$b_probe/healthz" >/dev/null || fail "ctl-b /healthz"
if log_has "$b_log" "starting 2 worker(s)"; then fail "the standby started workers"; fi
echo "ok: ctl-b stands by and is ready"

# Someone else takes the Lease: the leader must stop and exit 1.
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
$E2E_KUBECTL -n schemaop-system patch lease schemaop-leader --type merge \
  -p "{\"spec\":{\"holderIdentity\":\"intruder\",\"renewTime\":\"$now\",\"leaseDurationSeconds\":3}}" >/dev/null
wait_until "ctl-a to exit" test -s "$E2E_CONTROLLER_LOG.exit"
[ "$(cat "$E2E_CONTROLLER_LOG.exit")" = 1 ] || fail "ctl-a exited with $(cat "$E2E_CONTROLLER_LOG.exit"), expected 1"
log_has "$E2E_CONTROLLER_LOG" "lost the Lease" || fail "ctl-a did not log the lost Lease"
echo "ok: ctl-a lost the Lease and exited 1"

# The intruder never renews: ctl-b takes over after the Lease expires.
wait_until "ctl-b to hold the Lease" holder_is ctl-b
wait_until "ctl-b to start its workers" log_has "$b_log" "starting 2 worker(s)"
echo "ok: ctl-b took over"

kill -TERM "$b_pid"
code=0
wait "$b_pid" || code=$?
b_pid=""
[ "$code" = 0 ] || fail "ctl-b exited with $code after SIGTERM"
holder_is "" || fail "the Lease was not released (holder '$(holder)')"
echo "ok: SIGTERM released the Lease and exited 0"
echo PASS
