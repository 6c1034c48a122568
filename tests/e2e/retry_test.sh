#!/usr/bin/env bash
# The annotation schemaop.dev/retry (design §9.3), as an operator uses it
# with kubectl after a failed run:
#  1. a verification check fails: rolled back, Stalled, and several resyncs
#     later still not retried (same input);
#  2. `kubectl annotate ... schemaop.dev/retry=1` retries once (it fails again
#     the same way), recorded in lastRun.retry, lastHandledRetry and an Event;
#     the same value does not retry again;
#  3. the data fixed, a new value retries and the run reaches Ready.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin retry
start_apiserver
install_drawing_app
load_drawing_data
start_resyncing_controller a

# A check this data set fails (5,000 components, the check wants 10,000).
apply_smig upgrade.yaml '{"spec":{"verify":{"checks":[
  {"name":"every-component-has-a-schema","sql":"SELECT count(*) = 0 FROM components WHERE schema_id IS NULL"},
  {"name":"ten-thousand-components","sql":"SELECT count(*) = 10000 FROM components"}]}}}'
wait_for "Stalled=True VerificationFailed" 180 condition_is Stalled True VerificationFailed
expect_workloads_restored

expect_no_new_run() {  # expect_no_new_run WHAT ROWS: three resyncs pass, run_log unchanged
  wait_reconciles 3
  expect_eq "$1" "$2" "$(run_log_rows)"
}
failed_once="9bc6a98f1c12>seed_default_schemas rolled_back"
expect_no_new_run "no retry without the annotation" "$failed_once"

# 2. A retry without a fix: it runs once more, fails the same way, and stops.
kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/retry=1 >/dev/null ||
  fail "kubectl annotate failed"
failed_twice="$failed_once
$failed_once"
wait_for "the retried run to end" 180 eval '[ "$(run_log_rows)" = "$failed_twice" ] &&
  [ "$(smig "{.status.lastRun.retry}")" = 1 ] && condition_is Stalled True VerificationFailed'
expect_eq "lastHandledRetry" "1" "$(smig '{.status.lastHandledRetry}')"
expect_workloads_restored
expect_contains "an Event names the retry" \
  "$(kubectl get events -n "$E2E_NS" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')" \
  "RetryRequested: Annotation schemaop.dev/retry=1: started a new run after the failed one (RolledBack, VerificationFailed)"
expect_no_new_run "the same value retries once" "$failed_twice"

# 3. The data fixed (outside the spec), a new value: the run succeeds.
q "INSERT INTO components (drawing_id, component_type, description)
   SELECT 1 + g % 200, 'bolt', 'added ' || g FROM generate_series(1, 5000) AS g" >/dev/null
kubectl annotate --overwrite smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/retry=after-fix >/dev/null ||
  fail "kubectl annotate --overwrite failed"
expect_settled seed_default_schemas
expect_eq "lastRun" "Succeeded after-fix after-fix" \
  "$(smig '{.status.lastRun.outcome} {.status.lastRun.retry} {.status.lastHandledRetry}')"
expect_eq "controller runs" "$failed_twice
9bc6a98f1c12>seed_default_schemas succeeded" "$(run_log_rows)"
expect_no_password_leak
log "PASS retry"
