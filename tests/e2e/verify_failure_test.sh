#!/usr/bin/env bash
# A verification check that returns false: the run is rolled back, the
# database is exactly as before, the workloads are back at 3 and 2, and the
# SchemaMigration is Stalled with reason VerificationFailed (no retry loop).
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin verify_failure
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(database_fingerprint)
start_controller a

# A check a careful user might write, wrong for this data set (5,000 rows).
apply_smig upgrade.yaml '{"spec":{"verify":{"checks":[
  {"name":"every-component-has-a-schema","sql":"SELECT count(*) = 0 FROM components WHERE schema_id IS NULL"},
  {"name":"ten-thousand-components","sql":"SELECT count(*) = 10000 FROM components"}]}}}'

wait_for "Stalled=True VerificationFailed" 180 condition_is Stalled True VerificationFailed
expect_eq "Ready" "False VerificationFailed" "$(condition Ready)"
expect_eq "Reconciling" "False VerificationFailed" "$(condition Reconciling)"
expect_eq "Verified" "False VerificationFailed" "$(condition Verified)"
expect_eq "phase" "Failed" "$(smig '{.status.phase}')"
expect_eq "lastRun" "9bc6a98f1c12 seed_default_schemas RolledBack VerificationFailed" \
  "$(smig '{.status.lastRun.from} {.status.lastRun.to} {.status.lastRun.outcome} {.status.lastRun.reason}')"
message=$(smig '{.status.conditions[?(@.type=="Stalled")].message}')
log "message: $message"
expect_contains "the message names the failed check" "$message" "ten-thousand-components"

expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
expect_eq "status.currentRevision" "9bc6a98f1c12" "$(smig '{.status.currentRevision}')"
expect_database_unchanged "$fingerprint_before"
expect_workloads_restored
events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
  -o custom-columns=TYPE:.type,REASON:.reason --no-headers)
expect_contains "Warning event RolledBack" "$events" "Warning   RolledBack"
expect_eq "controller runs in schemaop.run_log" "9bc6a98f1c12>seed_default_schemas rolled_back" \
  "$(run_log_rows)"
expect_no_password_leak
log "PASS verify_failure"
