#!/usr/bin/env bash
# Smoke e2e of `schemaop controller` (label e2e, CTest fixture `postgres`):
# the test API server, the real controller binary and kubectl as the user's
# client, through the e2e harness. Installs the drawing app (CRD, Secret with
# the scratch database's URL, migrations ConfigMap, Deployments backend (3)
# and celery-worker (2)) and a minimal SchemaMigration to
# seed_default_schemas on an empty database; waits for Ready=True and checks
# the database revision, the restored replicas, the metrics, that a no-op
# reconcile writes nothing, that the password is in no log or status, that
# the API server denied the controller nothing, and that SIGTERM stops the
# controller cleanly (exit 0).
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin controller_smoke
start_apiserver
install_drawing_app
start_controller a --log-format text \
  --metrics-bind-address=127.0.0.1:0 --health-probe-bind-address=127.0.0.1:0
wait_controller_ready a
metrics_port=$(controller_port a metrics)
[ -n "$metrics_port" ] || fail "controller a did not log its metrics address"

# Only what the spec requires: every other field at its default.
kubectl apply --validate=false -f - >/dev/null <<YAML || fail "kubectl apply of the SchemaMigration"
apiVersion: schemaop.dev/v1alpha1
kind: SchemaMigration
metadata: {name: $E2E_SMIG, namespace: $E2E_NS}
spec:
  targetRevision: seed_default_schemas
  database:
    urlSecretRef: {name: drawing-db, key: DATABASE_URL}
  migrations:
    configMapRef: {name: drawing-migrations}
  workloads:
    - {kind: Deployment, name: backend}
    - {kind: Deployment, name: celery-worker}
YAML

wait_ready 300
expect_eq "database revision" seed_default_schemas "$(db_revision)"
expect_eq "status.currentRevision" seed_default_schemas "$(smig '{.status.currentRevision}')"
expect_eq "status.lastRun.outcome" Succeeded "$(smig '{.status.lastRun.outcome}')"
expect_workloads_restored

metrics=$(http_get "$metrics_port" /metrics)
expect_contains "runs_total" "$metrics" 'schemaop_runs_total{outcome="Succeeded"} 1'
expect_contains "current_revision_info" "$metrics" \
  'schemaop_current_revision_info{name="drawing-db",namespace="drawing",revision="seed_default_schemas"} 1'
expect_contains "downtime histogram" "$metrics" $'\nschemaop_downtime_seconds_count 1'

# A no-op reconcile (already at target) writes nothing. Trigger one with a
# metadata change and wait until the controller has reconciled it.
before=$(metric_sum "$metrics_port" schemaop_reconcile_total)
admin_delete counters
kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/smoke=noop >/dev/null ||
  fail "kubectl annotate"
reconciled_again() { [ "$(metric_sum "$metrics_port" schemaop_reconcile_total)" -gt "$before" ]; }
wait_for "a reconcile after the annotation" 120 reconciled_again
# The one write is kubectl's annotate patch.
expect_eq "API writes of the no-op reconcile (kubectl's annotate only) [$(api_counters)]" 1 "$(api_writes)"

expect_no_password_leak
# The controller runs as the ServiceAccount of manifests/ (e2e_controller.sh):
# the API server denied it nothing, so the RBAC there covers what it did.
expect_eq "requests the API server denied the controller" "" "$(controller_denials)"

# Faults the controller survives are visible at the default log level
# (issue 12 item 3): a watch whose history expired is listed again, logged
# with the watch and what happens next, and counted.
# The ConfigMap watches are held (503) while the ConfigMap changes and the
# history is compacted, so the informer resumes from a version that is gone.
admin_post faults '{"method":"GET","path":"configmaps","watch":true,"code":503,"count":100000}'
admin_post close-watches '{}'
kubectl annotate configmap drawing-migrations -n "$E2E_NS" schemaop.dev/smoke=relist >/dev/null ||
  fail "kubectl annotate configmap"
admin_post expire-history '{}'
errors_logged() { controller_log_has a 'Kubernetes API: watch .*configmaps.*: HTTP 503'; }
wait_for "the held watch's 503 logged at the default level" 30 errors_logged
admin_delete faults
relisted() { [ "$(metric_sum "$metrics_port" schemaop_watch_relists_total)" -ge 1 ]; }
wait_for "a watch re-list after 410 in the metrics" 60 relisted
controller_log_has a 'watch history expired (410).*; re-listing' ||
  fail "the re-list after 410 was not logged at the default level"

stop_controller a
expect_eq "the controller's exit code after SIGTERM" 0 "${E2E_CONTROLLER_EXIT[a]}"
controller_log_has a "shutting down gracefully" || fail "no graceful shutdown logged"
log "PASS controller_smoke"
