#!/usr/bin/env bash
# A failed contract phase, retried through the operator (design §3.1, "A
# failed contract"; issue 10), with the real binary, the test API server,
# PostgreSQL and kubectl. The chain is the drawing one plus gated_contract,
# whose contract section fails while a gate table says closed (as a contract
# fails on a lock it cannot get, or on data it did not expect).
#
# Invariants, from the user's side:
#   - a failed contract leaves the database at the target (the window
#     committed it) and the writers up: Stalled ContractFailed;
#   - a pending contract is never reported Ready: resyncs keep it Stalled
#     and run nothing;
#   - a new schemaop.dev/retry value runs the contract alone, resuming at
#     the section that failed (seed_default_schemas' ANALYZE is not run
#     again), with the writers never scaled down again;
#     then Ready, and nothing more runs.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin contract_retry
start_apiserver
install_drawing_app
load_drawing_data
psql_e2e >/dev/null <<'SQL'
CREATE TABLE e2e_gate (open boolean NOT NULL);
INSERT INTO e2e_gate VALUES (false);
SQL
dir=$E2E_WORK/gated-migrations
mkdir -p "$dir" && cp "$E2E_SRC"/migrations/drawing/*.sql "$dir"/
cat >"$dir/gated_contract.sql" <<'SQL'
-- revision: gated_contract
-- down_revision: seed_default_schemas
-- message: a contract that fails until the test opens its gate

-- migrate:up
CREATE TABLE gated_marker (id integer);

-- migrate:up phase:contract
DO $$
BEGIN
  IF NOT (SELECT open FROM e2e_gate) THEN
    RAISE EXCEPTION 'the gate is closed';
  END IF;
END
$$;
CREATE INDEX gated_marker_id ON gated_marker (id);

-- migrate:down
DROP TABLE gated_marker;
SQL
kubectl create configmap gated-migrations -n "$E2E_NS" --from-file="$dir" --dry-run=client -o yaml |
  kubectl apply --validate=false -f - >/dev/null || fail "apply of ConfigMap gated-migrations"
start_resyncing_controller a

apply_smig upgrade.yaml '{"spec":{"targetRevision":"gated_contract",
  "migrations":{"configMapRef":{"name":"gated-migrations"}}}}'
wait_for "Stalled=True ContractFailed" 240 condition_is Stalled True ContractFailed
expect_eq "database revision (the window committed it)" gated_contract "$(db_revision)"
expect_workloads_restored
message=$(smig '{.status.conditions[?(@.type=="Stalled")].message}')
log "message: $message"
expect_contains "the message names the cause" "$message" "the gate is closed"
expect_contains "the message names the retry" "$message" "schemaop.dev/retry"
phases_before=$(run_log_phase_rows)
log "runs: $(paste -sd';' <<<"$phases_before")"

wait_reconciles 3
expect_eq "Stalled after resyncs (a pending contract is never Ready)" "True ContractFailed" \
  "$(condition Stalled)"
expect_eq "Ready after resyncs" "False" "$(condition Ready | cut -d' ' -f1)"
expect_eq "no run during the resyncs" "$phases_before" "$(run_log_phase_rows)"

q "UPDATE e2e_gate SET open = true" >/dev/null
kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/retry=1 >/dev/null ||
  fail "kubectl annotate schemaop.dev/retry failed"
expect_settled gated_contract
expect_eq "lastRun" "Succeeded 1" "$(smig '{.status.lastRun.outcome} {.status.lastRun.retry}')"
expect_eq "the contract's last section ran" "t" \
  "$(q "SELECT to_regclass('gated_marker_id') IS NOT NULL")"
phases=$(run_log_phase_rows)
log "runs: $(paste -sd';' <<<"$phases")"
# The failed contract rolled its section back (nothing of it committed).
expect_eq "contract runs: the failed one, then the retry" "1 1" \
  "$(grep -cE '^contract .* (failed|rolled_back)$' <<<"$phases") $(grep -c '^contract .* succeeded$' <<<"$phases")"
expect_eq "window runs" "1" "$(grep -c '^window .* succeeded$' <<<"$phases")"
downtime=$(smig '{.status.lastRun.downtimeSeconds}')
[ -z "$downtime" ] || [ "$downtime" = 0 ] ||
  fail "the retried contract scaled the writers down (lastRun.downtimeSeconds $downtime)"
wait_reconciles 3
expect_eq "nothing runs after the contract" "$phases" "$(run_log_phase_rows)"
expect_no_password_leak
log "PASS contract_retry"
