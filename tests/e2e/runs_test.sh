#!/usr/bin/env bash
# Runs off the workers and cancelling a run (issue 15 items 6, 4, 7; design
# §6.5 and §4.7), with the real controller, the test API server, kubectl and
# PostgreSQL. The drawing database at 9bc6a98f1c12 with data; the ConfigMap
# slow-migrations adds one revision, slow_step, whose SQL is slow.
#
#   off_workers  --workers 1: while slow_step waits for a lock held by the
#                test (the run is in progress), a second SchemaMigration on
#                another database is planned, migrated and Ready; then the
#                slow run ends Ready too.
#   budget       spec.maxDowntimeSeconds: 5 and a pg_sleep(600) step: the run
#                is cancelled and rolled back, DowntimeExceeded, the database
#                at its start revision with every row, the workloads back,
#                the writers at zero far less than the step would have taken.
#   abort        the annotation schemaop.dev/abort on the run in progress:
#                the same path, reason Aborted; left in place it aborts no
#                later run.
#   shutdown     SIGTERM with --shutdown-grace 2s during the pg_sleep step:
#                the controller cancels, the engine rolls back, the process
#                exits 0; the writers stay at 0 (the run is not ended for the
#                object) and the next controller runs it again.
#   cli          schemaop upgrade --max-duration 2s on the pg_sleep step:
#                rolled back, exit 1, DowntimeExceeded.
#   progress     four pg_sleep statements in a transaction:false section:
#                `kubectl get` shows the Progress column, status.progress
#                advances (statement, elapsedSeconds), `schemaop current
#                --progress` reads the same from the database, and both are
#                gone once the run ended.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case=${1:?usage: runs_test.sh off_workers|budget|abort|shutdown|cli|progress}
e2e_begin "runs_$case"

# shellcheck source=tests/support/e2e_slow.sh
. "$E2E_SRC/tests/support/e2e_slow.sh"

# After a cancelled run: the database where it started, every row kept, the
# workloads back, the run closed rolled back with REASON.
expect_cancelled() {  # expect_cancelled REASON FINGERPRINT
  wait_for "Stalled=True $1" 120 condition_is Stalled True "$1"
  expect_eq "Ready" "False $1" "$(condition Ready)"
  expect_eq "Reconciling" "False" "$(condition Reconciling | cut -d' ' -f1)"
  expect_eq "phase" "Failed" "$(smig '{.status.phase}')"
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$2"
  expect_workloads_restored
  expect_eq "lastRun outcome and reason" "RolledBack $1" \
    "$(smig '{.status.lastRun.outcome} {.status.lastRun.reason}')"
  expect_contains "lastRun message" "$(smig '{.status.lastRun.message}')" "Cancelled"
  expect_eq "run_log: the run and its error code" "rolled_back $1" \
    "$(q "SELECT outcome || ' ' || error_code FROM schemaop.run_log
          WHERE actor LIKE 'schemaop-controller%' ORDER BY id DESC LIMIT 1")"
  expect_eq "status.run removed" "" "$(smig '{.status.run}')"
  wait_for "no pg_sleep left running" 30 not_sleeping
  local events
  events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
    -o custom-columns=REASON:.reason --no-headers)
  expect_contains "event $1" "$events" "$1"
}

if [ "$case" = cli ]; then
  load_drawing_data
  before=$(database_fingerprint)
  dir=$E2E_WORK/cli-migrations
  mkdir -p "$dir" && cp "$E2E_SRC"/migrations/drawing/*.sql "$dir"/
  printf -- '-- revision: slow_step\n-- down_revision: 9bc6a98f1c12\n\n-- migrate:up\nCREATE TABLE slow_marker (id integer);\nSELECT pg_sleep(600);\n\n-- migrate:down\nDROP TABLE slow_marker;\n' \
    >"$dir/slow_step.sql"
  code=0
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" --migrations "$dir" --max-duration 2s upgrade slow_step \
    >"$E2E_WORK/cli.out" 2>&1 || code=$?
  expect_eq "exit code of the cancelled upgrade" "1" "$code"
  expect_contains "the CLI names the limit" "$(cat "$E2E_WORK/cli.out")" "--max-duration (2s)"
  expect_contains "the CLI's reason" "$(cat "$E2E_WORK/cli.out")" "[DowntimeExceeded]"
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$before"
  expect_eq "run_log" "rolled_back DowntimeExceeded" \
    "$(q "SELECT outcome || ' ' || error_code FROM schemaop.run_log ORDER BY id DESC LIMIT 1")"
  code=0
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" --migrations "$dir" --max-duration ten upgrade slow_step \
    >"$E2E_WORK/cli-bad.out" 2>&1 || code=$?
  [ "$code" != 0 ] || fail "--max-duration ten was accepted"
  expect_contains "a bad --max-duration names the flag" "$(cat "$E2E_WORK/cli-bad.out")" "--max-duration"
  log "PASS runs cli"
  exit 0
fi

start_apiserver
install_drawing_app
load_drawing_data
before=$(database_fingerprint)

case $case in
off_workers)
  slow_configmap "ALTER TABLE components ADD COLUMN slow_note text;"
  start_controller a --workers 1
  hold_lock "LOCK TABLE components IN ACCESS SHARE MODE;"
  apply_slow_smig
  wait_for "phase Migrating" 90 phase_is Migrating
  wait_for "the slow step to wait for the test's lock" 60 schemaop_waits_for_lock

  # A second database with its own SchemaMigration (no workloads).
  other_db_ready
  # Still the same run of drawing-db, still waiting: the one worker was free.
  expect_eq "drawing-db still Migrating" "Migrating" "$(smig '{.status.phase}')"
  schemaop_waits_for_lock || fail "the slow run is no longer waiting for the lock"
  expect_eq "drawing-db Reconciling while its run is on a run thread" "True Progressing" \
    "$(condition Reconciling)"
  expect_eq "backend stays at 0 during the slow run" "0 0 0" "$(deploy_replicas backend)"
  release_lock
  expect_settled slow_step
  expect_eq "runs in schemaop.run_log" "9bc6a98f1c12>slow_step succeeded" "$(run_log_rows)"
  drop_other_db
  ;;
budget)
  slow_configmap "SELECT pg_sleep(600);"
  start_controller a
  apply_slow_smig '"maxDowntimeSeconds":5'
  wait_for "phase Migrating" 90 phase_is Migrating
  expect_cancelled DowntimeExceeded "$before"
  downtime=$(smig '{.status.lastRun.downtimeSeconds}')
  # The step alone would have kept the writers at zero for 600 s.
  awk -v d="$downtime" 'BEGIN { exit !(d >= 5 && d < 600) }' ||
    fail "lastRun.downtimeSeconds [$downtime] is not between the budget (5) and the step (600)"
  log "ok: writers at zero for ${downtime}s with a 5 s budget and a 600 s step"
  # Bad input changes nothing: the API server refuses a budget of 0.
  if kubectl patch smig "$E2E_SMIG" -n "$E2E_NS" --type=merge -p '{"spec":{"maxDowntimeSeconds":0}}' \
    >"$E2E_WORK/patch.out" 2>&1; then
    fail "spec.maxDowntimeSeconds: 0 was accepted"
  fi
  expect_contains "the refusal names the field" "$(cat "$E2E_WORK/patch.out")" "maxDowntimeSeconds"
  ;;
abort)
  slow_configmap "SELECT pg_sleep(600);"
  start_controller a
  apply_slow_smig
  wait_for "the slow step to run" 90 sleeping
  kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/abort=first >/dev/null ||
    fail "kubectl annotate schemaop.dev/abort"
  expect_cancelled Aborted "$before"
  expect_eq "status.handledAbort" "first" "$(smig '{.status.handledAbort}')"
  # Left in place, the annotation aborts no later run: new files, new run.
  slow_configmap "SELECT 1;"
  expect_settled slow_step
  expect_eq "the annotation is still there" "first" \
    "$(smig '{.metadata.annotations.schemaop\.dev/abort}')"
  ;;
shutdown)
  slow_configmap "SELECT pg_sleep(600);"
  start_controller a --shutdown-grace 2s
  apply_slow_smig
  wait_for "the slow step to run" 90 sleeping
  stop_controller a
  expect_eq "exit code after SIGTERM" "0" "${E2E_CONTROLLER_EXIT[a]}"
  controller_log_has a "cancelling 1 run(s) still in progress" || fail "no cancel in the log"
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$before"
  expect_eq "the cancelled run: rolled back, its key released for a retry" "rolled_back 1" \
    "$(q "SELECT outcome || ' ' || (run_key LIKE '%#interrupted-%')::int FROM schemaop.run_log
          WHERE actor LIKE 'schemaop-controller%' ORDER BY id DESC LIMIT 1")"
  # The run is not over for the object: the writers stay at zero for it.
  expect_eq "phase after the shutdown" "Migrating" "$(smig '{.status.phase}')"
  expect_eq "backend after the shutdown" "0 0 0" "$(deploy_replicas backend)"
  # The next controller runs it again (then it is aborted, to end the test).
  start_controller b
  wait_for "the slow step to run again" 90 sleeping
  kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/abort=stop >/dev/null ||
    fail "kubectl annotate schemaop.dev/abort"
  expect_cancelled Aborted "$before"
  ;;
progress)
  # Four 4 s statements in a transaction:false section (design §6.8).
  slow_configmap "$(printf '%s\n' '' '-- migrate:up transaction:false' 'SELECT pg_sleep(4);' \
    'SELECT pg_sleep(4);' 'SELECT pg_sleep(4);' 'SELECT pg_sleep(4);')"
  start_controller a
  apply_slow_smig
  wait_for "status.progress at a statement of slow_step" 90 progress_at 1
  table=$(kubectl get smig "$E2E_SMIG" -n "$E2E_NS")
  expect_contains "kubectl get shows the Progress column" "$(head -1 <<<"$table")" "PROGRESS"
  expect_contains "kubectl get shows where the run stands" "$(tail -1 <<<"$table")" \
    "1/1 slow_step stmt "
  first=$(smig '{.status.progress.statement} {.status.progress.elapsedSeconds}')
  wait_for "status.progress to advance past statement ${first%% *}" 60 progress_at $((${first%% *} + 1))
  later=$(smig '{.status.progress.statement} {.status.progress.elapsedSeconds}')
  [ "${later#* }" -gt "${first#* }" ] || fail "elapsedSeconds did not advance: [$first] -> [$later]"
  expect_eq "statements of the section" "4" "$(smig '{.status.progress.statements}')"
  # The same reading from the database alone.
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" current --progress >"$E2E_WORK/current.out" 2>&1 ||
    fail "schemaop current --progress: $(cat "$E2E_WORK/current.out")"
  expect_contains "current --progress: the step" "$(cat "$E2E_WORK/current.out")" \
    "step 1/1: upgrade slow_step"
  grep -Eq '^  statement [1-4]/4$' "$E2E_WORK/current.out" ||
    fail "current --progress: no 'statement i/4' line: $(cat "$E2E_WORK/current.out")"
  expect_settled slow_step
  expect_eq "status.progress after the run" "" "$(smig '{.status.progress}')"
  row=$(kubectl get smig "$E2E_SMIG" -n "$E2E_NS" --no-headers)
  case $row in *stmt*) fail "the Progress column still shows a statement after the run: $row" ;; esac
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" current --progress >"$E2E_WORK/current.out" 2>&1 ||
    fail "schemaop current --progress after the run"
  expect_contains "current --progress after the run" "$(cat "$E2E_WORK/current.out")" \
    "no run in progress"
  ;;
*) fail "unknown case $case" ;;
esac

expect_no_password_leak
log "PASS runs $case"
