#!/usr/bin/env bash
# Two controllers with --leader-elect: one holds the Lease, the change is run
# once (one row per change in schemaop.run_log, one scale-down and one
# restore per workload); when the leader dies the other takes over and runs
# the next change, again once.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin leader_election
start_apiserver
install_drawing_app
load_drawing_data
start_elected_pair 4
leader=e2e-$E2E_LEADER leader_id=$E2E_LEADER standby=$E2E_STANDBY
holder() { lease_holder; }

admin_delete counters
apply_smig upgrade.yaml
expect_settled seed_default_schemas
expect_eq "runs after the upgrade" "9bc6a98f1c12>seed_default_schemas succeeded" "$(run_log_rows)"
expect_eq "scale writes (2 workloads, down and up once)" "4" "$(scale_writes)"
expect_eq "the Lease still held by the first leader" "$leader" "$(holder)"

kill9_controller "$leader_id"
holder_is_standby() { [ "$(holder)" = "e2e-$standby" ]; }
wait_for "e2e-$standby to take the Lease over" 60 holder_is_standby
controller_alive "$standby" || fail "the standby controller exited"

admin_delete counters
apply_smig rollback.yaml
expect_settled 9bc6a98f1c12
expect_eq "runs after the rollback" "9bc6a98f1c12>seed_default_schemas succeeded
seed_default_schemas>9bc6a98f1c12 succeeded" "$(run_log_rows)"
expect_eq "scale writes during the rollback" "4" "$(scale_writes)"
expect_no_password_leak
log "PASS leader_election"
