#!/usr/bin/env bash
# Fencing a frozen leader (issue 12 item 2, design §4.2). Two controllers
# with --leader-elect; the leader's migration waits on a lock the test holds;
# the leader is then frozen (SIGSTOP: its process stops, but its TCP
# connections and so its database sessions stay up, as on a hung or cut-off
# host) and the test releases its lock, so the frozen leader's first window
# statement (the version table's UPDATE) completes on the server and its
# session sits idle in the open window transaction holding the version
# table's row lock, which every other run's window must wait for, and the
# migration lock. The
# standby takes the Lease, terminates every session of the old identity
# (Event FencedStaleSession) and finishes the run: within the lease duration
# + 10 s of the freeze, with the data unchanged and the workloads restored.
# Without fencing it would wait for the frozen process forever.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin fencing
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(components_fingerprint)
lease_seconds=4
start_elected_pair "$lease_seconds"
leader=e2e-$E2E_LEADER leader_id=$E2E_LEADER standby=e2e-$E2E_STANDBY
holder() { lease_holder; }

hold_window_lock
apply_smig upgrade.yaml '{"spec":{"lockTimeout":"300s"}}'
wait_for "phase Migrating" 120 phase_is Migrating
wait_for "the leader's migration to wait for the test's lock" 60 schemaop_waits_for_lock
leader_sessions() {
  q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'schemaop:ctl:$leader'"
}
log "the leader's sessions: $(q "SELECT state || ' ' || coalesce(wait_event_type, '-') || ' ' ||
  left(regexp_replace(query, '\s+', ' ', 'g'), 60) FROM pg_stat_activity
  WHERE application_name = 'schemaop:ctl:$leader'" | paste -sd';')"
# Every schemaop session carries its owner's identity: the leader has at
# least its lock session and its migration session (a pass may hold a
# short-lived third one), and no schemaop session is anonymous. One query,
# so a session that comes or goes between two reads cannot skew it.
expect_eq "the leader's sessions carry its identity (lock + migration; none anonymous)" "t|0" \
  "$(q "SELECT count(*) FILTER (WHERE application_name = 'schemaop:ctl:$leader') >= 2,
               count(*) FILTER (WHERE application_name LIKE 'schemaop%'
                                  AND application_name NOT IN ('schemaop:ctl:$leader',
                                                               'schemaop:ctl:$standby'))
        FROM pg_stat_activity WHERE datname = current_database()")"

kill -STOP "${E2E_CONTROLLER_PID[$leader_id]}" || fail "could not freeze the leader"
frozen_at=$SECONDS
log "leader $leader frozen (SIGSTOP)"
release_lock
stale_transaction_holds_version_table() {
  [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.application_name = 'schemaop:ctl:$leader' AND l.granted
            AND a.state = 'idle in transaction'
            AND l.relation = 'alembic_version'::regclass AND l.mode = 'RowExclusiveLock'")" -ge 1 ]
}
wait_for "the frozen leader's version-table UPDATE to finish on the server and hold its lock" 30 \
  stale_transaction_holds_version_table

holder_is_standby() { [ "$(holder)" = "$standby" ]; }
wait_for "$standby to take the Lease over" 60 holder_is_standby
wait_ready 120
elapsed=$((SECONDS - frozen_at))
log "the standby finished the run ${elapsed}s after the freeze"
[ "$elapsed" -le $((lease_seconds + 10)) ] ||
  fail "the standby needed ${elapsed}s after the freeze (lease ${lease_seconds}s + 10s allowed)"
expect_settled seed_default_schemas
expect_eq "the frozen leader's sessions are gone" 0 "$(leader_sessions)"
expect_eq "components unchanged" "$fingerprint_before" "$(components_fingerprint)"
fenced_events=$(kubectl get events -n "$E2E_NS" --field-selector reason=FencedStaleSession \
  -o jsonpath='{range .items[*]}{.message}{"\n"}{end}')
expect_contains "Event FencedStaleSession names the old identity" "$fenced_events" \
  "schemaop:ctl:$leader"
controller_log_has "${standby#e2e-}" "fenced the stale session owner 'schemaop:ctl:$leader'" ||
  fail "the fencing was not logged by $standby"
expect_eq "the run executed once to completion" "1" \
  "$(q "SELECT count(*) FROM schemaop.run_log WHERE outcome = 'succeeded'
          AND to_versions = ARRAY['seed_default_schemas'] AND $(run_log_moves_versions)")"
expect_no_password_leak
kill9_controller "$leader_id"
log "PASS fencing"
