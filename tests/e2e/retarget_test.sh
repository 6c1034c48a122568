#!/usr/bin/env bash
# The target changes while a run is in progress (a GitOps revert during an
# upgrade): the current run is finished, never abandoned half-way, then the
# operator plans again for the new generation and reaches the new target.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin retarget
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(components_fingerprint)
start_controller a

hold_window_lock
apply_smig upgrade.yaml '{"spec":{"lockTimeout":"300s"}}'
wait_for "phase Migrating" 120 phase_is Migrating
wait_for "the upgrade to wait for the test's lock" 60 schemaop_waits_for_lock
expect_eq "generation of the running upgrade" "1" "$(smig '{.status.run.generation}')"

apply_smig rollback.yaml '{"spec":{"lockTimeout":"300s"}}'
expect_eq "generation after the retarget" "2" "$(smig '{.metadata.generation}')"
# The run in flight keeps serving generation 1 while the SQL is blocked.
expect_eq "phase right after the retarget" "Migrating" "$(smig '{.status.phase}')"
expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
release_lock

expect_settled 9bc6a98f1c12
expect_eq "observedGeneration" "2" "$(smig '{.status.observedGeneration}')"
expect_eq "lastRun serves generation 2" "2 seed_default_schemas 9bc6a98f1c12 Succeeded" \
  "$(smig '{.status.lastRun.generation} {.status.lastRun.from} {.status.lastRun.to} {.status.lastRun.outcome}')"
expect_eq "controller runs: the upgrade finished, then the rollback" \
  "9bc6a98f1c12>seed_default_schemas succeeded
seed_default_schemas>9bc6a98f1c12 succeeded" "$(run_log_rows)"
expect_eq "original rows" "$fingerprint_before" "$(components_fingerprint)"
expect_no_password_leak
log "PASS retarget"
