#!/usr/bin/env bash
# The runbook end to end, as a user drives it with kubectl: the drawing
# database at 9bc6a98f1c12 with data -> upgrade.yaml (seed_default_schemas)
# -> the application writes through dynamic_data -> rollback.yaml
# (9bc6a98f1c12) -> every original column identical, the writes kept.
# During each migration a lock held by the test keeps the Migrating phase
# open, so the test sees the workloads at 0 while the SQL runs.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin upgrade_rollback
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(components_fingerprint 42)

start_controller a

# What a user watching the rollout sees (no request timeout: these run to the end).
command kubectl get deploy -n "$E2E_NS" -w --no-headers \
  -o custom-columns=NAME:.metadata.name,SPEC:.spec.replicas,PODS:.status.replicas \
  >"$E2E_WORK/deploy-watch.txt" 2>&1 &
E2E_PIDS+=("$!")
command kubectl get smig -n "$E2E_NS" -w --no-headers >"$E2E_WORK/smig-watch.txt" 2>&1 &
E2E_PIDS+=("$!")

# ------------------------------------------------------------------ upgrade
# The upgrade's window writes the version table first: while the test holds
# SHARE on it, the window waits inside its transaction, writers at zero (the
# expand phase before it has run beside the writers). lockTimeout is raised
# so that wait does not fail the run.
hold_window_lock
apply_smig upgrade.yaml '{"spec":{"lockTimeout":"300s"}}'
wait_for "Reconciling=True" 60 condition_is Reconciling True
wait_for "phase Migrating" 60 phase_is Migrating
wait_for "the migration to wait for the test's lock" 60 schemaop_waits_for_lock

expect_eq "backend during the upgrade (spec status ready)" "0 0 0" "$(deploy_replicas backend)"
expect_eq "celery-worker during the upgrade" "0 0 0" "$(deploy_replicas celery-worker)"
expect_eq "recorded original replicas" "backend=3 celery-worker=2" \
  "$(smig '{range .status.workloads[*]}{.name}={.originalReplicas} {end}' | sed 's/ $//')"
expect_eq "WorkloadsScaledDown during the upgrade" "True ScaledDown" "$(condition WorkloadsScaledDown)"
expect_eq "Ready during the upgrade" "False" "$(condition Ready | cut -d' ' -f1)"
expect_eq "database revision while the migration is blocked" "9bc6a98f1c12" "$(db_revision)"
expect_eq "plan direction" "upgrade" "$(smig '{.status.plan.direction}')"
release_lock

expect_settled seed_default_schemas
expect_eq "lastRun" "9bc6a98f1c12 seed_default_schemas Succeeded" \
  "$(smig '{.status.lastRun.from} {.status.lastRun.to} {.status.lastRun.outcome}')"
downtime=$(smig '{.status.lastRun.downtimeSeconds}')
awk -v d="$downtime" 'BEGIN { exit !(d > 0) }' || fail "lastRun.downtimeSeconds is not positive: [$downtime]"
log "ok: lastRun.downtimeSeconds = $downtime"
expect_eq "BackupReady after an upgrade (backup.when Downgrade)" "False BackupNotRequired" \
  "$(condition BackupReady)"
expect_eq "Verified" "True" "$(condition Verified | cut -d' ' -f1)"
expect_eq "Stalled" "False" "$(condition Stalled | cut -d' ' -f1)"
expect_eq "printer columns" "drawing-db seed_default_schemas seed_default_schemas Succeeded True" \
  "$(kubectl get smig -n "$E2E_NS" --no-headers | awk '{print $1, $2, $3, $4, $5}')"
events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
  -o custom-columns=REASON:.reason,MESSAGE:.message --no-headers)
for reason in Planning ScalingDown ScaledDown Migrating Migrated ScaledUp; do
  expect_contains "event $reason after the upgrade" "$events" "$reason"
done
expect_eq "components whose dynamic_data differs from their original columns" "0" \
  "$(q "SELECT count(*) FROM components WHERE schema_id IS NULL
        OR dynamic_data ->> 'component_type' IS DISTINCT FROM component_type
        OR dynamic_data ->> 'description' IS DISTINCT FROM description")"

# ------------------------------------------------- the application's writes
psql_e2e >/dev/null <<'SQL'
INSERT INTO components (id, drawing_id, instance_identifier, schema_id, dynamic_data)
SELECT 9001, 1, 'NEW-1', id,
       '{"component_type": "pump", "description": "Added after the upgrade",
         "material_type": "stainless steel", "quantity": 2}'::jsonb
FROM component_schemas WHERE name = 'default';
UPDATE components
SET dynamic_data = dynamic_data || '{"quantity": 99, "description": "Edited after the upgrade"}'
WHERE id = 42;
SQL

# ----------------------------------------------------------------- rollback
hold_lock "LOCK TABLE components IN ACCESS SHARE MODE;"
apply_smig rollback.yaml '{"spec":{"lockTimeout":"300s"}}'
wait_for "phase Migrating (rollback)" 120 phase_is Migrating
wait_for "the downgrade to wait for the test's lock" 60 schemaop_waits_for_lock
expect_eq "backend during the rollback" "0 0 0" "$(deploy_replicas backend)"
expect_eq "celery-worker during the rollback" "0 0 0" "$(deploy_replicas celery-worker)"
expect_eq "plan direction" "downgrade" "$(smig '{.status.plan.direction}')"
expect_eq "BackupReady before the downgrade" "True BackupCreated" "$(condition BackupReady)"
release_lock

expect_settled 9bc6a98f1c12
expect_eq "lastRun (rollback)" "seed_default_schemas 9bc6a98f1c12 Succeeded" \
  "$(smig '{.status.lastRun.from} {.status.lastRun.to} {.status.lastRun.outcome}')"

backup_file=$(backup_host_path "$(smig '{.status.backup.file}')")
[ -f "$backup_file" ] || fail "status.backup.file [$backup_file] does not exist"
expect_eq "status.backup.bytes" "$(stat -c %s "$backup_file")" "$(smig '{.status.backup.bytes}')"
expect_eq "status.backup.sha256" "$(sha256sum "$backup_file" | cut -d' ' -f1)" \
  "$(smig '{.status.backup.sha256}')"
events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
  -o custom-columns=REASON:.reason --no-headers)
expect_contains "event BackupCreated" "$events" "BackupCreated"

# ------------------------------------------------------------- the data
expect_eq "original columns of every original row" "$fingerprint_before" "$(components_fingerprint 42)"
expect_eq "component 9001 (written through dynamic_data)" \
  "pump|Added after the upgrade|stainless steel|2|NEW-1" \
  "$(q "SELECT component_type, description, material_type, quantity, instance_identifier
        FROM components WHERE id = 9001")"
expect_eq "component 42 (edited through dynamic_data)" "99|Edited after the upgrade" \
  "$(q "SELECT quantity, description FROM components WHERE id = 42")"
expect_eq "schema tables left" "0" \
  "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%schema%'")"
expect_eq "schema_id/dynamic_data columns left" "0" \
  "$(q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'components'
        AND column_name IN ('schema_id', 'dynamic_data')")"
expect_eq "runs in schemaop.run_log" \
  "9bc6a98f1c12>seed_default_schemas succeeded
seed_default_schemas>9bc6a98f1c12 succeeded" "$(run_log_rows)"

# ------------------------------------------------- what the watchers saw
watch=$(cat "$E2E_WORK/deploy-watch.txt")
for name in backend celery-worker; do
  # spec 0 seen at least twice (once per run), and the last line back at the original.
  zeroes=$(awk -v n="$name" '$1 == n && $2 == 0' <<<"$watch" | wc -l)
  ((zeroes >= 2)) || fail "kubectl get deploy -w never showed $name at 0 twice:
$watch"
done
# The watch stream is asynchronous: wait for it to deliver the restore.
last_watched() {  # last_watched NAME "SPEC PODS"
  [ "$(awk -v n="$1" '$1 == n {l = $2 " " $3} END {print l}' "$E2E_WORK/deploy-watch.txt")" = "$2" ]
}
wait_for "kubectl get deploy -w to show backend back at 3" 30 last_watched backend "3 3"
wait_for "kubectl get deploy -w to show celery-worker back at 2" 30 last_watched celery-worker "2 2"
expect_contains "kubectl get smig -w showed Migrating" "$(cat "$E2E_WORK/smig-watch.txt")" "Migrating"

expect_no_password_leak
log "PASS upgrade_rollback"
