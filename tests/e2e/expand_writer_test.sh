#!/usr/bin/env bash
# The old application writes during the whole expand phase (issue 10 item 3,
# design §3.1), through the operator with the real binary, the test API
# server, PostgreSQL and kubectl. A writer process inserts components and
# updates existing ones through the original columns (component_type,
# description, material_type, quantity), as the application before
# seed_default_schemas does, from before the upgrade is applied until the
# operator scales the backend to zero; each write and a copy of the values it
# wrote commit in one transaction (e2e_writer.writes).
#
# Invariants, checked from the user's side once the run is Ready:
#   - no write of the old application failed during expand (expand is safe
#     for it: nothing it does is refused or blocked for long);
#   - every component is on the default schema and its dynamic_data holds
#     the four column values, including every row the writer inserted or
#     updated while the backfill ran (the sync trigger and the window's
#     catch-up leave no row out of step), with the values the writer last
#     committed;
#   - nothing is lost: every original row and every inserted row is there,
#     the first 5,000 rows' original columns are unchanged;
#   - the expand, window and contract runs each succeeded exactly once.
#
#   expand_writer_test.sh live     the writer runs beside an undisturbed run
#   expand_writer_test.sh killed   the controller is killed with SIGKILL in
#                                  the middle of the batched backfill and a
#                                  new one resumes it (the writer goes on)
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case=${1:?usage: expand_writer_test.sh live|killed}
e2e_begin "expand_writer_$case"
start_apiserver
install_drawing_app
load_drawing_data
total_rows=300000
# Enough rows for the backfill to take many batches (10,000 rows each), so
# the writer's rows fall before, during and after it.
psql_e2e >/dev/null <<SQL
INSERT INTO components (drawing_id, component_type, description, material_type, quantity)
SELECT 1 + g % 200, (ARRAY['resistor', 'capacitor', 'bolt'])[1 + g % 3], 'Bulk part ' || g,
       CASE WHEN g % 4 = 0 THEN NULL ELSE 'steel' END, g % 90
FROM generate_series(5001, $total_rows) AS g;
CREATE SCHEMA e2e_writer;
CREATE TABLE e2e_writer.writes (
  seq bigserial PRIMARY KEY, id bigint NOT NULL, kind text NOT NULL,
  component_type text, description text, material_type text, quantity integer,
  at timestamptz NOT NULL DEFAULT clock_timestamp());
SQL
fingerprint_before=$(components_fingerprint)
start_controller a

# One write of the old application: an insert and an update of an existing
# row (ids above 5,000, so the fingerprint of the first 5,000 stays the
# user's check of the untouched rows), each with its copy in the same
# transaction. Every third update writes NULL material_type.
write_once() {
  local i=$1 target=$((5001 + (i * 7919) % (total_rows - 5000)))
  PGAPPNAME=e2e_writer psql_e2e >/dev/null <<SQL
BEGIN;
WITH ins AS (
  INSERT INTO components (drawing_id, component_type, description, material_type, quantity)
  VALUES (1 + $i % 200, 'writer', 'inserted by the old application, write $i', 'brass', $i)
  RETURNING id, component_type, description, material_type, quantity)
INSERT INTO e2e_writer.writes (id, kind, component_type, description, material_type, quantity)
SELECT id, 'insert', component_type, description, material_type, quantity FROM ins;
WITH upd AS (
  UPDATE components
  SET description = 'updated by write $i', quantity = $i,
      material_type = CASE WHEN $i % 3 = 0 THEN NULL ELSE 'ceramic' END
  WHERE id = $target
  RETURNING id, component_type, description, material_type, quantity)
INSERT INTO e2e_writer.writes (id, kind, component_type, description, material_type, quantity)
SELECT id, 'update', component_type, description, material_type, quantity FROM upd;
COMMIT;
SQL
}
# The writer stops as the application's pods do: once the operator has
# scaled the backend to zero (the window starts only after the drain).
writer() {
  local i=0 spec
  while :; do
    spec=$(kubectl get deploy backend -n "$E2E_NS" -o jsonpath='{.spec.replicas}' 2>/dev/null) ||
      { sleep 0.1; continue; }
    [ "$spec" = 0 ] && break
    i=$((i + 1))
    write_once "$i" 2>>"$E2E_WORK/writer.err" || echo "write $i failed" >>"$E2E_WORK/writer.err"
  done
  echo "$i" >"$E2E_WORK/writer.done"
}
: >"$E2E_WORK/writer.err"
writer &
E2E_PIDS+=("$!")
writes() { q "SELECT count(*) FROM e2e_writer.writes"; }
some_writes() { [ "$(writes)" -ge 3 ]; }
wait_for "the writer's first writes" 30 some_writes

apply_smig upgrade.yaml
wait_for "phase Expanding" 60 phase_is Expanding
# The backfill's progress: the run's batch cursor in schemaop.run_log.
backfill_repetitions() {
  q "SELECT coalesce(max((progress->'batch'->>'repetitions')::int), 0)
     FROM schemaop.run_log
     WHERE actor LIKE 'schemaop-controller%' AND outcome = 'running'
       AND progress->'batch'->>'revision' = 'seed_default_schemas'
       AND progress->'batch'->>'done' = 'false'"
}
mid_backfill() { [ "$(backfill_repetitions)" -ge 3 ]; }
if [ "$case" = killed ]; then
  wait_for "the backfill to be under way (3 batches committed)" 120 mid_backfill
  kill9_controller a
  log "killed after $(backfill_repetitions) backfill batch(es); database at $(db_revision)"
  expect_eq "database revision after the kill" "9bc6a98f1c12" "$(db_revision)"
  expect_eq "backend still up (expand runs beside the writers)" "3" \
    "$(kubectl get deploy backend -n "$E2E_NS" -o jsonpath='{.spec.replicas}')"
  writes_at_kill=$(writes)
  more_writes() { [ "$(writes)" -ge $((writes_at_kill + 3)) ]; }
  wait_for "the writer to go on after the kill" 30 more_writes
  start_controller b
fi
expect_settled seed_default_schemas
wait_for "the writer to stop with the backend at zero" 60 test -f "$E2E_WORK/writer.done"
log "the writer made $(cat "$E2E_WORK/writer.done") write(s)"
expect_eq "writes of the old application that failed" "" "$(cat "$E2E_WORK/writer.err")"

# The writer was at work while the expand phase ran, the backfill included.
expand_interval="SELECT min(started_at) AS s, max(finished_at) AS f FROM schemaop.run_log
                 WHERE actor LIKE 'schemaop-controller%' AND plan->'phases'->>'first' = 'expand'
                   AND plan->'phases'->>'last' = 'expand'"
during=$(q "SELECT count(*) FILTER (WHERE kind = 'insert') || ' ' || count(*) FILTER (WHERE kind = 'update')
            FROM e2e_writer.writes, ($expand_interval) AS e WHERE at BETWEEN e.s AND e.f")
log "writes during the expand phase (inserts updates): $during"
read -r inserts_during updates_during <<<"$during"
[ "${inserts_during:-0}" -ge 3 ] && [ "${updates_during:-0}" -ge 3 ] ||
  fail "the writer did not write through the expand phase (inserts updates: $during)"

default_id=$(q "SELECT id FROM component_schemas WHERE name = 'default'")
expect_eq "components not on the default schema or out of step with their columns" "0" \
  "$(q "SELECT count(*) FROM components
        WHERE schema_id IS DISTINCT FROM $default_id OR dynamic_data IS NULL
           OR NOT dynamic_data @> jsonb_build_object(
                'component_type', component_type, 'description', description,
                'material_type', material_type, 'quantity', quantity)")"
# The values each written row last committed, against its dynamic_data.
last_writes="SELECT DISTINCT ON (id) * FROM e2e_writer.writes ORDER BY id, seq DESC"
expect_eq "written rows missing" "0" \
  "$(q "SELECT count(*) FROM ($last_writes) AS w LEFT JOIN components AS c USING (id)
        WHERE c.id IS NULL")"
expect_eq "written rows whose dynamic_data differs from what the writer committed" "0" \
  "$(q "SELECT count(*) FROM ($last_writes) AS w JOIN components AS c USING (id)
        WHERE c.dynamic_data <> c.dynamic_data || jsonb_build_object(
                'component_type', w.component_type, 'description', w.description,
                'material_type', w.material_type, 'quantity', w.quantity)")"
inserted=$(q "SELECT count(*) FROM e2e_writer.writes WHERE kind = 'insert'")
expect_eq "components (bulk + inserted by the writer)" "$((total_rows + inserted))" \
  "$(q "SELECT count(*) FROM components")"
expect_eq "original rows" "$fingerprint_before" "$(components_fingerprint)"

outcomes=$(run_log_rows)
log "runs: $outcomes"
expect_eq "successful window runs" "1" "$(grep -c ' succeeded$' <<<"$outcomes")"
phase_rows=$(run_log_phase_rows)
[ "$(grep -c ' running$' <<<"$phase_rows")" = 0 ] || fail "a run is still open: $phase_rows"
expect_eq "successful expand, window, contract runs" "1 1 1" \
  "$(for p in expand window contract; do grep -c "^$p .* succeeded$" <<<"$phase_rows"; done | xargs)"
expect_no_password_leak
log "PASS expand_writer $case"
