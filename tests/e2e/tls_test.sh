#!/usr/bin/env bash
# TLS to PostgreSQL in the cluster (issue 8 item 6): the database URL in the
# Secret asks for sslmode=verify-full and the CA comes from another Secret
# through spec.database.caSecretRef. The harness server's certificate was
# issued by the throwaway CA of tests/support/pg_harness.sh.
#  1. upgrade with the right CA: the controller's sessions are encrypted
#     (seen in pg_stat_ssl while the migration waits for the test's lock);
#  2. rollback with the right CA: pg_dump's backup verifies it too;
#  3. the CA Secret replaced by an unrelated CA: the run stops before any
#     change with DatabaseUnreachable naming the certificate problem and
#     caSecretRef, workloads untouched, no password anywhere.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin tls
start_apiserver
install_drawing_app
load_drawing_data
create_db_secret drawing-db DATABASE_URL "$E2E_DB_URL?sslmode=verify-full"
kubectl create secret generic drawing-db-ca -n "$E2E_NS" --from-file="ca.crt=$E2E_PG_CA" \
  --dry-run=client -o yaml | kubectl apply --validate=false -f - >/dev/null ||
  fail "could not create the CA Secret"
with_ca='{"spec":{"database":{"caSecretRef":{"name":"drawing-db-ca","key":"ca.crt"}}}}'
start_controller a

# The controller's sessions on this database that are (not) encrypted.
schemaop_sessions_tls() {
  q "SELECT count(*) FILTER (WHERE s.ssl) || ' ' || count(*) FILTER (WHERE NOT s.ssl)
     FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
     WHERE a.datname = current_database() AND a.application_name LIKE 'schemaop%'"
}

# ------------------------------------------------ 1. upgrade, right CA
hold_window_lock
apply_smig upgrade.yaml \
  '{"spec":{"lockTimeout":"300s","database":{"caSecretRef":{"name":"drawing-db-ca","key":"ca.crt"}}}}'
wait_for "the migration to wait for the test's lock" 90 schemaop_waits_for_lock
sessions=$(schemaop_sessions_tls)
[ "${sessions%% *}" -ge 1 ] || fail "no encrypted schemaop session while migrating: [$sessions]"
expect_eq "unencrypted schemaop sessions while migrating" "0" "${sessions##* }"
release_lock
expect_settled seed_default_schemas

# ------------------------------------------------ 2. rollback, right CA (pg_dump)
apply_smig rollback.yaml "$with_ca"
expect_settled 9bc6a98f1c12
expect_eq "BackupReady after the rollback (pg_dump over verify-full)" "True" \
  "$(condition BackupReady | cut -d' ' -f1)"
compgen -G "$E2E_WORK/backups/*.dump" >/dev/null || fail "no backup file in $E2E_WORK/backups"

# ------------------------------------------------ 3. an unrelated CA
fingerprint_before=$(database_fingerprint)
kubectl create secret generic drawing-db-ca -n "$E2E_NS" \
  --from-file="ca.crt=$E2E_PG_WRONG_CA" --dry-run=client -o yaml |
  kubectl apply --validate=false -f - >/dev/null || fail "could not replace the CA Secret"
api_writes_before=$(scale_writes)
apply_smig upgrade.yaml "$with_ca"
wait_for "Reconciling=True DatabaseUnreachable" 120 condition_is Reconciling True DatabaseUnreachable
message=$(smig '{.status.conditions[?(@.type=="Ready")].message}')
log "message: $message"
expect_contains "the message names the certificate problem" "$message" "certificate verify failed"
expect_contains "the message names the fix" "$message" "spec.database.caSecretRef"
expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
expect_database_unchanged "$fingerprint_before"
expect_eq "backend" "3 3 3" "$(deploy_replicas backend)"
expect_eq "celery-worker" "2 2 2" "$(deploy_replicas celery-worker)"
expect_eq "scale writes since the CA changed" "$api_writes_before" "$(scale_writes)"
expect_no_password_leak
log "PASS tls"
