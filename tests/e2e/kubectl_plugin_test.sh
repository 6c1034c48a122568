#!/usr/bin/env bash
# The kubectl plugin as a user runs it: kubectl discovers kubectl-schemaop on
# PATH (`kubectl plugin list`) and `kubectl schemaop ...` shows what the real
# controller published (status, plan with SQL, history) and sets what it
# acts on (approve: spec.approvedPlanHash; retry and abort: annotations),
# with clear errors for a missing object and a plan that needs no approval.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

[ -x "${SCHEMAOP_KUBECTL_PLUGIN:-}" ] || fail "SCHEMAOP_KUBECTL_PLUGIN is not an executable (run through ctest)"
e2e_begin kubectl_plugin
mkdir -p "$E2E_WORK/bin"
ln -s "$SCHEMAOP_KUBECTL_PLUGIN" "$E2E_WORK/bin/kubectl-schemaop"
export PATH="$E2E_WORK/bin:$PATH"
start_apiserver
install_drawing_app
load_drawing_data
start_controller a

expect_contains "kubectl plugin list" "$(command kubectl plugin list 2>&1)" "$E2E_WORK/bin/kubectl-schemaop"
plugin() { command kubectl schemaop "$@" 2>&1; }

out=$(plugin status no-such-db -n "$E2E_NS" || true)
expect_contains "status of a missing object names it" "$out" "error: reading SchemaMigration drawing/no-such-db"

apply_smig upgrade.yaml
wait_ready 180
out=$(plugin status "$E2E_SMIG" -n "$E2E_NS")
log "status:
$out"
expect_contains "status: phase" "$out" "phase:    Succeeded"
expect_contains "status: revisions" "$out" "database: at seed_default_schemas, target seed_default_schemas"
expect_contains "status: Ready" "$out" "Ready=True Succeeded"
expect_contains "status: last run" "$out" "last run: 9bc6a98f1c12 -> seed_default_schemas Succeeded"
expect_contains "status: workloads" "$out" "workload: Deployment/backend, recorded replicas 3"

out=$(plugin plan "$E2E_SMIG" -n "$E2E_NS")
log "plan:
$out"
expect_contains "plan: the steps" "$out" "+add_flexible_schemas"
expect_contains "plan: the SQL of a step" "$out" "$(grep -m1 -i 'ALTER TABLE' "$E2E_SRC/migrations/drawing/add_flexible_schemas.sql")"

out=$(plugin approve "$E2E_SMIG" -n "$E2E_NS" || true)
expect_contains "approve with approval Automatic is refused" "$out" "its runs need no approval"
expect_eq "approvedPlanHash untouched" "" "$(smig '{.spec.approvedPlanHash}')"

plugin retry "$E2E_SMIG" -n "$E2E_NS" >/dev/null || fail "kubectl schemaop retry"
expect_contains "retry sets the annotation" "$(smig '{.metadata.annotations}')" "schemaop.dev/retry"
plugin abort "$E2E_SMIG" -n "$E2E_NS" >/dev/null || fail "kubectl schemaop abort"
expect_contains "abort sets the annotation" "$(smig '{.metadata.annotations}')" "schemaop.dev/abort"
# Neither moves a database that is at its target.
sleep 2
expect_eq "database revision after retry/abort at target" "seed_default_schemas" "$(db_revision)"
expect_workloads_restored

out=$(plugin history "$E2E_SMIG" -n "$E2E_NS")
expect_contains "history: the last run" "$out" "9bc6a98f1c12 -> seed_default_schemas Succeeded"
# The namespace of the kubeconfig's context is the default, as for kubectl.
command kubectl config set-context --current --namespace "$E2E_NS" >/dev/null
expect_contains "status in the context's namespace" "$(plugin status "$E2E_SMIG")" "phase:    Succeeded"
log "PASS kubectl_plugin"
