#!/usr/bin/env bash
# PostgreSQL ends pg_dump's session during BackingUp (pg_terminate_backend,
# as a restart or failover would): nothing was migrated and the backup can
# simply be taken again, so the controller reports DatabaseUnreachable and
# retries with back-off; it must not stop at BackupFailed (Stalled, waiting
# for a human to change the spec). Found by the chaos soak (bench/chaos).
# The test holds ACCESS EXCLUSIVE on drawings so that pg_dump waits, ends
# pg_dump's session, then lets the retried backup and the rollback finish.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin backup_connection_lost
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(components_fingerprint)
start_controller a
apply_smig upgrade.yaml
expect_settled seed_default_schemas

pg_dump_waiting() {
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
          AND application_name LIKE 'schemaop%' AND wait_event_type = 'Lock'
          AND query LIKE 'LOCK TABLE%'")" -ge 1 ]
}
hold_lock "LOCK TABLE drawings IN ACCESS EXCLUSIVE MODE;"
apply_smig rollback.yaml '{"spec":{"lockTimeout":"300s"}}'
wait_for "phase BackingUp" 120 phase_is BackingUp
wait_for "pg_dump to wait for the test's lock" 60 pg_dump_waiting
expect_eq "pg_dump sessions terminated" 1 \
  "$(q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE 'schemaop%'
          AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'")"
wait_for "Reconciling=True DatabaseUnreachable after the lost pg_dump session" 60 \
  condition_is Reconciling True DatabaseUnreachable
expect_eq "Stalled" "False" "$(condition Stalled | cut -d' ' -f1)"
expect_contains "the reason names pg_dump's lost connection" \
  "$(smig '{.status.conditions[?(@.type=="Ready")].message}')" "pg_dump lost its connection"
wait_for "the retried pg_dump to wait for the test's lock again" 60 pg_dump_waiting
release_lock

expect_settled 9bc6a98f1c12
expect_eq "original rows" "$fingerprint_before" "$(components_fingerprint)"
expect_eq "no BackupFailed Event" "" \
  "$(kubectl get events -n "$E2E_NS" --field-selector reason=BackupFailed -o name)"
expect_eq "backups kept: the retried one" 1 "$(find "$E2E_WORK/backups" -name '*.dump' | wc -l)"
expect_no_password_leak
log "PASS backup_connection_lost"
