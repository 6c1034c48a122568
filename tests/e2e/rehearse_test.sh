#!/usr/bin/env bash
# spec.rehearse (issue 15 item 2) with the real controller, PostgreSQL, the
# test API server and kubectl. The database is owned by a role with CREATEDB
# (and no superuser). First a rehearsal that fails verification on the
# scratch copy: Stalled/RehearsalFailed, the workloads never scaled, the
# database unchanged, no scratch database left, no run recorded. Then the
# check is fixed: the plan is rehearsed again, status.rehearsal shows the
# outcome and the predicted downtime, and the run reaches Ready.
#
# Case off_workers (design §6.7): with --workers 1, while drawing-db's
# rehearsal runs a 30 s step on its scratch copy (phase Rehearsing), a
# second SchemaMigration on another database is planned, migrated and
# Ready; then drawing-db's rehearsal ends and its run reaches Ready too.
#
# Case shutdown (design §6.5): SIGTERM with --shutdown-grace 2s while a
# rehearsal runs a 25 s step on its scratch copy: the controller cancels
# it, drops the scratch database and exits 0 within the grace plus the
# cancel; nothing was scaled and the database is unchanged. The next
# controller rehearses again and completes the run.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case=${1:-verify}
e2e_begin "rehearse_$case"
role=e2e_rehearser_$case  # one per case: cases may run in parallel
use_createdb_owner "$role"

scratch_sleeping() {  # a session on one of this role's scratch databases runs pg_sleep
  [ "$(psql_admin -At -c "SELECT count(*) FROM pg_stat_activity
                          WHERE datname LIKE 'schemaop\_rehearsal\_%' AND usename = '$role'
                          AND query LIKE '%pg_sleep%' AND state = 'active'")" -ge 1 ]
}
scratch_databases() { scratch_databases_of "$role"; }

start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(database_fingerprint)

if [ "$case" = shutdown ]; then
  slow_configmap "SELECT pg_sleep(25);"
  start_controller a --shutdown-grace 2s
  apply_smig upgrade.yaml '{"spec":{"rehearse":true,"targetRevision":"slow_step",
    "migrations":{"configMapRef":{"name":"slow-migrations"}},"verify":{"checks":null},
    "statementTimeout":"1h"}}'
  wait_for "phase Rehearsing" 90 phase_is Rehearsing
  wait_for "the rehearsal's slow step on its scratch copy" 90 scratch_sleeping
  # Within the grace and the cancel, well before the 25 s step could end.
  kill -TERM "${E2E_CONTROLLER_PID[a]}"
  wait_controller_exit a 12
  expect_eq "exit code after SIGTERM" "0" "${E2E_CONTROLLER_EXIT[a]}"
  controller_log_has a "cancelling 1 run(s) still in progress" || fail "no cancel in the log"
  expect_eq "scratch databases left" "0" "$(scratch_databases)"
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$fingerprint_before"
  expect_eq "backend never scaled" "3 3 3" "$(deploy_replicas backend)"
  expect_eq "phase after the shutdown" "Rehearsing" "$(smig '{.status.phase}')"
  start_controller b
  wait_ready 240
  expect_eq "status.rehearsal" "Succeeded" "$(smig '{.status.rehearsal.outcome}')"
  expect_eq "database revision" "slow_step" "$(db_revision)"
  expect_workloads_restored
  expect_eq "scratch databases left" "0" "$(scratch_databases)"
  expect_no_password_leak
  log "PASS rehearse shutdown"
  exit 0
fi

if [ "$case" = off_workers ]; then
  slow_configmap "SELECT pg_sleep(30);"
  start_controller a --workers 1
  apply_smig upgrade.yaml '{"spec":{"rehearse":true,"targetRevision":"slow_step",
    "migrations":{"configMapRef":{"name":"slow-migrations"}},"verify":{"checks":null},
    "statementTimeout":"1h"}}'
  wait_for "phase Rehearsing" 90 phase_is Rehearsing
  other_db_ready
  # Still the same rehearsal: the one worker was free meanwhile.
  expect_eq "drawing-db still Rehearsing" "Rehearsing" "$(smig '{.status.phase}')"
  expect_eq "drawing-db Reconciling while it rehearses" "True Rehearsing" "$(condition Reconciling)"
  expect_eq "backend untouched while rehearsing" "3 3 3" "$(deploy_replicas backend)"
  wait_ready 240
  expect_eq "status.rehearsal" "Succeeded" "$(smig '{.status.rehearsal.outcome}')"
  expect_eq "database revision" "slow_step" "$(db_revision)"
  expect_workloads_restored
  expect_eq "scratch databases left" "0" "$(scratch_databases)"
  drop_other_db
  expect_no_password_leak
  log "PASS rehearse off_workers"
  exit 0
fi

start_controller a
scale_writes_before=$(scale_writes)

# The example's rehearse patch, plus a check that is wrong for this data set.
rehearse=$(sed -n 's/^  rehearse: \(.*\)$/\1/p' "$E2E_SRC/manifests/examples/drawing/rehearse-patch.yaml")
expect_eq "the example sets spec.rehearse" "true" "$rehearse"
apply_smig upgrade.yaml '{"spec":{"rehearse":true,"verify":{"checks":[
  {"name":"ten-thousand-components","sql":"SELECT count(*) = 10000 FROM components"}]}}}'

wait_for "Stalled=True RehearsalFailed" 180 condition_is Stalled True RehearsalFailed
expect_eq "Ready" "False RehearsalFailed" "$(condition Ready)"
expect_eq "Reconciling" "False RehearsalFailed" "$(condition Reconciling)"
expect_eq "phase" "Failed" "$(smig '{.status.phase}')"
expect_eq "status.rehearsal" "Failed RehearsalFailed 9bc6a98f1c12 seed_default_schemas" \
  "$(smig '{.status.rehearsal.outcome} {.status.rehearsal.reason} {.status.rehearsal.from} {.status.rehearsal.to}')"
message=$(smig '{.status.rehearsal.message}')
log "rehearsal message: $message"
expect_contains "the message names the failed check" "$message" "ten-thousand-components"
expect_contains "the message names the stage" "$message" "(forward)"
expect_eq "no scale write while rehearsing" "$scale_writes_before" "$(scale_writes)"
expect_eq "backend untouched" "3 3 3" "$(deploy_replicas backend)"
expect_eq "celery-worker untouched" "2 2 2" "$(deploy_replicas celery-worker)"
expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
expect_database_unchanged "$fingerprint_before"
expect_eq "no controller run in schemaop.run_log" "" "$(run_log_rows)"
expect_eq "scratch databases left" "0" "$(scratch_databases)"
events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
  -o custom-columns=TYPE:.type,REASON:.reason --no-headers)
expect_contains "Normal event Rehearsing" "$events" "Normal    Rehearsing"
expect_contains "Warning event RehearsalFailed" "$events" "Warning   RehearsalFailed"

digest=$(smig '{.status.rehearsal.planDigest}')

# The check fixed (a spec edit): rehearsed again, then the run.
kubectl patch smig "$E2E_SMIG" -n "$E2E_NS" --type merge \
  -p '{"spec":{"verify":{"checks":[{"name":"every-component-has-a-schema","sql":"SELECT count(*) = 0 FROM components WHERE schema_id IS NULL"}]}}}' \
  >/dev/null || fail "kubectl patch"
wait_ready 240
expect_eq "status.rehearsal after the fix" "Succeeded $digest" \
  "$(smig '{.status.rehearsal.outcome} {.status.rehearsal.planDigest}')"
predicted=$(smig '{.status.rehearsal.predictedDowntimeSeconds}')
sql=$(smig '{.status.rehearsal.sqlSeconds}')
log "rehearsal: ${sql}s SQL, predicted write-downtime ${predicted}s"
[ -n "$predicted" ] && [ -n "$sql" ] || fail "status.rehearsal lacks sqlSeconds or predictedDowntimeSeconds"
expect_eq "lastRun" "Succeeded" "$(smig '{.status.lastRun.outcome}')"
expect_eq "database revision" "seed_default_schemas" "$(db_revision)"
expect_workloads_restored
expect_eq "scratch databases left" "0" "$(scratch_databases)"
expect_no_password_leak
log "PASS rehearse"
