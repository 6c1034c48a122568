#!/usr/bin/env bash
# At target, a reconcile is a no-op and writes nothing: after a migration has
# settled, several resyncs (short --resync-period) pass without a single
# create/update/patch/delete reaching the API server (its request counters),
# and the SchemaMigration's resourceVersion does not move.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin noop
start_apiserver
install_drawing_app
load_drawing_data
start_resyncing_controller a

apply_smig upgrade.yaml
expect_settled seed_default_schemas
# Let the last run's own follow-up reconciles pass: the status stops moving.
rv=$(smig '{.metadata.resourceVersion}')
admin_delete counters
reconciles_before=$(metric_sum "$E2E_METRICS_PORT" schemaop_reconcile_total)
wait_reconciles 3
reconciles_after=$(metric_sum "$E2E_METRICS_PORT" schemaop_reconcile_total)
log "reconciles during the window: $((reconciles_after - reconciles_before))"
log "requests during the window: $(api_counters)"
expect_eq "API writes during $((reconciles_after - reconciles_before)) no-op reconciles" "0" "$(api_writes)"
expect_eq "SchemaMigration resourceVersion" "$rv" "$(smig '{.metadata.resourceVersion}')"
expect_eq "database revision" "seed_default_schemas" "$(db_revision)"
expect_eq "controller runs" "9bc6a98f1c12>seed_default_schemas succeeded" "$(run_log_rows)"
log "PASS noop"
