#!/usr/bin/env bash
# Leader election e2e of `schemaop controller` (label e2e), through the e2e
# harness: two replicas with --leader-elect against the test API server. The
# first holds the Lease and works; the second stands by (ready, no workers).
# When the Lease is taken from the leader, it stops and exits 1 (client-go's
# behaviour, so the pod restarts clean); the standby acquires the Lease once
# it expires and starts its workers; SIGTERM releases the Lease (empty
# holder) and exits 0. tests/e2e/leader_election_test.sh covers runs across a
# takeover.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin leader_lease
start_apiserver
install_crd
election=(--leader-elect --leader-election-namespace schemaop-system
          --lease-duration 3s --renew-deadline 2s --retry-period 250ms
          --log-format text --health-probe-bind-address=127.0.0.1:0)
holder() { kubectl -n schemaop-system get lease schemaop-leader -o jsonpath='{.spec.holderIdentity}'; }
holder_is() { [ "$(holder)" = "$1" ]; }

start_controller a "${election[@]}" --identity ctl-a
wait_for "ctl-a to hold the Lease" 120 holder_is ctl-a
wait_for "ctl-a to start its workers" 30 controller_log_has a "starting 2 worker(s)"
log "ok: ctl-a leads"

start_controller b "${election[@]}" --identity ctl-b
wait_for "ctl-b to stand by" 120 controller_log_has b "Lease held by ctl-a; standing by"
wait_controller_ready b
http_ok "$(controller_port b "health probes")" /healthz || fail "ctl-b /healthz"
if controller_log_has b "starting 2 worker(s)"; then fail "the standby started workers"; fi
log "ok: ctl-b stands by and is ready"

# Someone else takes the Lease: the leader must stop and exit 1.
now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
kubectl -n schemaop-system patch lease schemaop-leader --type merge \
  -p "{\"spec\":{\"holderIdentity\":\"intruder\",\"renewTime\":\"$now\",\"leaseDurationSeconds\":3}}" \
  >/dev/null || fail "could not take the Lease"
wait_controller_exit a 120
expect_eq "ctl-a's exit code after losing the Lease" 1 "${E2E_CONTROLLER_EXIT[a]}"
controller_log_has a "lost the Lease" || fail "ctl-a did not log the lost Lease"

# The intruder never renews: ctl-b takes over after the Lease expires.
wait_for "ctl-b to hold the Lease" 120 holder_is ctl-b
wait_for "ctl-b to start its workers" 120 controller_log_has b "starting 2 worker(s)"
log "ok: ctl-b took over"

stop_controller b
expect_eq "ctl-b's exit code after SIGTERM" 0 "${E2E_CONTROLLER_EXIT[b]}"
expect_eq "the Lease holder after SIGTERM (released)" "" "$(holder)"
log "PASS leader_lease"
