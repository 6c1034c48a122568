#!/usr/bin/env bash
# Writers besides Deployments and StatefulSets, their autoscalers, and
# writers that fight back (design §6.8; issue 9 items 2 and 3), with the real
# controller (as its ServiceAccount, RBAC of manifests/), the test API
# server, kubectl and PostgreSQL.
#
#   cronjob      a CronJob listed in workloads is suspended (its previous
#                spec.suspend recorded in status first) while its running Job
#                is waited for: nothing migrates until the Job completes;
#                then the run succeeds and suspend is false again. A second
#                run with jobs: Delete deletes the running Job and its pod and
#                migrates; suspend is restored again.
#   autoscalers  an HPA (autoscaling/v2) on backend and a KEDA ScaledObject
#                (paused-replicas "2" before the run) on celery-worker: while
#                the run is in progress the ScaledObject is paused with "0"
#                and the HPA is untouched (its target at 0 disables it); both
#                are recorded in status.autoscalers; after the run the
#                annotation is "2" again and the HPA was never written.
#   fought_back  during the migration a test autoscaler patches backend's
#                scale with its own fieldManager: the run is cancelled and
#                rolled back (WorkloadFoughtBack), the message names
#                manager "test-autoscaler", the database is where it started
#                with every row, the workloads are back.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"
# shellcheck source=tests/support/e2e_slow.sh
. "$E2E_SRC/tests/support/e2e_slow.sh"
# shellcheck source=tests/support/e2e_writers.sh
. "$E2E_SRC/tests/support/e2e_writers.sh"

case=${1:?usage: writers_test.sh cronjob|autoscalers|fought_back}
e2e_begin "writers_$case"
start_apiserver
install_drawing_app
load_drawing_data
before=$(database_fingerprint)

cronjob_suspend() { kubectl get cronjob nightly-report -n "$E2E_NS" -o jsonpath='{.spec.suspend}'; }
cronjob_suspended() { [ "$(cronjob_suspend)" = true ]; }
gone() { ! kubectl get "$1" "$2" -n "$E2E_NS" >/dev/null 2>&1; }
deployments_drained() { [ "$(deploy_replicas backend)" = "0 0 0" ] && [ "$(deploy_replicas celery-worker)" = "0 0 0" ]; }

case $case in
cronjob)
  apply_cronjob nightly-report
  running_job nightly-report nightly-report-1
  start_controller a
  with_cronjob='"workloads":[{"name":"backend"},{"name":"celery-worker"},{"kind":"CronJob","name":"nightly-report"}]'
  apply_smig upgrade.yaml "{\"spec\":{$with_cronjob}}"
  wait_for "the CronJob suspended" 60 cronjob_suspended
  expect_eq "its previous spec.suspend recorded in status" "CronJob nightly-report false" \
    "$(smig '{.status.workloads[2].kind} {.status.workloads[2].name} {.status.workloads[2].originalSuspend}')"
  # kubectl schemaop status shows the CronJob's recorded suspend, not replicas.
  plugin_status=$("$SCHEMAOP_KUBECTL_PLUGIN" status drawing-db -n "$E2E_NS" 2>&1) ||
    fail "kubectl schemaop status: $plugin_status"
  expect_contains "kubectl schemaop status" "$plugin_status" "workload: CronJob/nightly-report, recorded suspend false"
  wait_for "the Deployments drained" 60 deployments_drained
  # The Job still runs: the run waits in Draining and migrates nothing.
  wait_for "the run waiting for the Job" 30 phase_is Draining
  expect_eq "database revision while the Job runs" "9bc6a98f1c12" "$(db_revision)"
  expect_eq "phase while the Job runs" "Draining" "$(smig '{.status.phase}')"
  kubectl patch job nightly-report-1 -n "$E2E_NS" --subresource=status --type=merge \
    -p '{"status":{"active":0,"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}}' \
    >/dev/null || fail "completing Job nightly-report-1"
  expect_settled seed_default_schemas
  expect_eq "spec.suspend back to its recorded value" "false" "$(cronjob_suspend)"
  expect_workloads_restored

  # jobs: Delete: the running Job is deleted with its pod, then the run goes on.
  running_job nightly-report nightly-report-2
  # The rollback with the example's writers patch (the CronJob with jobs: Delete).
  kubectl patch --local -f "$E2E_SRC/manifests/examples/drawing/rollback.yaml" --type=merge \
    --patch-file "$E2E_SRC/manifests/examples/drawing/writers-patch.yaml" -o yaml \
    >"$E2E_WORK/rollback-writers.yaml" || fail "render rollback.yaml with writers-patch.yaml"
  kubectl apply --validate=false -f "$E2E_WORK/rollback-writers.yaml" >/dev/null ||
    fail "apply of the rollback with writers-patch.yaml"
  expect_settled 9bc6a98f1c12
  gone job nightly-report-2 || fail "Job nightly-report-2 was not deleted"
  gone pod nightly-report-2-pod || fail "the pod of Job nightly-report-2 was not deleted"
  gone job nightly-report-1 && fail "the completed Job nightly-report-1 was deleted too"
  expect_eq "spec.suspend back to its recorded value" "false" "$(cronjob_suspend)"
  expect_workloads_restored
  ;;
autoscalers)
  install_keda_crd
  apply_hpa backend backend 2
  apply_scaled_object celery-worker celery-worker 2
  hpa_rv=$(kubectl get hpa backend -n "$E2E_NS" -o jsonpath='{.metadata.resourceVersion}')
  paused() { kubectl get scaledobject celery-worker -n "$E2E_NS" -o jsonpath='{.metadata.annotations.autoscaling\.keda\.sh/paused-replicas}'; }
  slow_configmap "SELECT pg_sleep(600);"
  start_controller a
  apply_slow_smig
  wait_for "the slow step to run" 90 sleeping
  expect_eq "the ScaledObject paused during the run" "0" "$(paused)"
  expect_eq "autoscalers recorded before they were touched" \
    "HorizontalPodAutoscaler/backend Deployment/backend ;ScaledObject/celery-worker Deployment/celery-worker 2;" \
    "$(smig '{range .status.autoscalers[*]}{.kind}/{.name} {.workload} {.originalPausedReplicas};{end}')"
  expect_eq "the HPA is not written" "$hpa_rv" \
    "$(kubectl get hpa backend -n "$E2E_NS" -o jsonpath='{.metadata.resourceVersion}')"
  # The rest of the run: the slow step finishes fast once replaced.
  kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/abort=done >/dev/null || fail "abort"
  wait_for "Stalled=True Aborted" 120 condition_is Stalled True Aborted
  expect_workloads_restored
  expect_eq "the ScaledObject's own paused-replicas back" "2" "$(paused)"
  expect_eq "the HPA never written" "$hpa_rv" \
    "$(kubectl get hpa backend -n "$E2E_NS" -o jsonpath='{.metadata.resourceVersion}')"
  expect_database_unchanged "$before"
  ;;
fought_back)
  slow_configmap "SELECT pg_sleep(600);"
  start_controller a
  apply_slow_smig
  wait_for "the slow step to run" 90 sleeping
  # The test autoscaler: a scale write with its own field manager, as an
  # HPA controller or a GitOps self-heal would make one.
  kubectl patch deployment backend -n "$E2E_NS" --subresource=scale --type=merge \
    -p '{"spec":{"replicas":4}}' --field-manager=test-autoscaler >/dev/null ||
    fail "the test autoscaler's scale write"
  wait_for "Stalled=True WorkloadFoughtBack" 120 condition_is Stalled True WorkloadFoughtBack
  expect_eq "lastRun outcome and reason" "RolledBack WorkloadFoughtBack" \
    "$(smig '{.status.lastRun.outcome} {.status.lastRun.reason}')"
  expect_contains "the message names the writer" "$(smig '{.status.lastRun.message}')" \
    'Deployment/backend was scaled to 4 replicas during the run by manager "test-autoscaler" (operation Update, subresource scale'
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$before"
  expect_workloads_restored
  wait_for "no pg_sleep left running" 30 not_sleeping
  events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
    -o custom-columns=REASON:.reason --no-headers)
  expect_contains "event WorkloadFoughtBack" "$events" "WorkloadFoughtBack"
  ;;
*) fail "unknown case $case" ;;
esac
expect_no_password_leak
log "PASS writers $case"
