#!/usr/bin/env bash
# spec.executor Job (design §10), Generic form, end to end: the real
# controller, PostgreSQL, the test API server (which runs each Job's command
# as a local process, tests/apiserver/README.md) and kubectl. The "tool" is
# testdata/job-tool.sh (the schemaop CLI on the drawing files, plus faults).
#
#   success            plan Job, backup, migration Job, verified, Ready
#   fail_midway        the Job fails after one of two steps: the downgrade
#                      Job brings the database back, Stalled MigrationFailed
#   lose_rows          the Job reaches the target but deletes rows: the
#                      downgrade cannot bring them back, the backup does
#   pod_killed         the Job's pod is killed mid-run: a failed migration
#   controller_killed  SIGKILL while the Job runs: the new controller adopts
#                      the Job (exactly one migration Job exists)
#   alembic            the Alembic preset, unchanged, with the real Alembic
#                      (python3-alembic) on migrations/drawing-alembic
#   alembic_lose_rows  the same, with a trigger that deletes rows when the
#                      version reaches the target (in the tool's own
#                      transaction): the downgrade Job runs, the rows stay
#                      lost, the backup is restored
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case_name=${1:?usage: job_executor_test.sh CASE}
e2e_begin "job_$case_name"
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(database_fingerprint)
components_before=$(components_fingerprint)

if [ "$case_name" = alembic_lose_rows ]; then
  # A migration that loses data, as a hostile or buggy revision would.
  psql_e2e >/dev/null <<'SQL'
CREATE FUNCTION lose_components() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.version_num = 'seed_default_schemas' THEN
    DELETE FROM components WHERE id <= 10;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER lose_components AFTER UPDATE ON alembic_version
  FOR EACH ROW EXECUTE FUNCTION lose_components();
SQL
  fingerprint_before=$(database_fingerprint)
fi

fault=
case $case_name in
  success | alembic | alembic_lose_rows) ;;
  fail_midway) fault=fail-midway ;;
  lose_rows) fault=lose-rows ;;
  pod_killed | controller_killed) fault=sleep ;;
  *) fail "unknown case $case_name" ;;
esac

# The example, in the Generic form: every command is the tool's argv, no
# shell, the URL only in the environment (urlEnv from the Secret).
tool=$E2E_SRC/tests/e2e/testdata/job-tool.sh
base="\"$tool\",\"$SCHEMAOP_BIN\",\"$E2E_SRC/migrations/drawing\",\"$E2E_PG_BIN/psql\""
extra=${fault:+,\"$fault\"}
patch='{"spec":{"job":{"preset":"Generic","image":"local/job-tool","workingDir":"'$E2E_WORK'",
  "commands":{"upgrade":['$base',"upgrade","$TARGET"'$extra'],
              "downgrade":['$base',"downgrade","$TARGET"],
              "upgradeSql":['$base',"plan","$TARGET"],
              "downgradeSql":null,"heads":null}}}}'
if [[ $case_name == alembic* ]]; then
  # The example's Alembic preset as it is; only the image's directory is
  # local (the test API server runs the command here).
  patch='{"spec":{"job":{"image":"local/drawing-backend","workingDir":"'$E2E_SRC/migrations/drawing-alembic'"}}}'
  command -v alembic >/dev/null || fail "alembic is not installed (scripts/setup installs python3-alembic)"
fi
start_controller a
apply_smig job-executor-alembic.yaml "$patch"

jobs_of() {  # jobs_of VERB: the names of the SchemaMigration's Jobs of VERB
  kubectl get jobs -n "$E2E_NS" -l "schemaop.dev/schemamigration=$E2E_SMIG,schemaop.dev/verb=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
}
run_job_is() { [ "$(smig '{.status.run.job.verb} {.status.run.job.phase}')" = "$1" ]; }
events() {
  kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
    -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message --no-headers
}

case $case_name in
  pod_killed)
    wait_for "the migration Job running" 120 run_job_is "upgrade Running"
    expect_eq "writers at zero while the Job runs" "0 0 0" "$(deploy_replicas backend)"
    admin_post jobs/kill "{\"namespace\":\"$E2E_NS\",\"name\":\"$(jobs_of upgrade)\"}"
    ;;
  controller_killed)
    wait_for "the migration Job running" 120 run_job_is "upgrade Running"
    kill9_controller a
    start_controller b
    ;;
esac

if [ "$case_name" = success ] || [ "$case_name" = controller_killed ] || [ "$case_name" = alembic ]; then
  wait_ready 180
  expect_eq "database revision (version table)" "seed_default_schemas" "$(db_revision)"
  expect_eq "status.currentRevision" "seed_default_schemas" "$(smig '{.status.currentRevision}')"
  expect_eq "lastRun" "Succeeded" "$(smig '{.status.lastRun.outcome}')"
  expect_eq "original components intact" "$components_before" "$(components_fingerprint)"
  if [ "$case_name" = alembic ]; then
    expect_contains "lastRun.jobLog is Alembic's log" "$(smig '{.status.lastRun.jobLog}')" \
      "Running upgrade add_flexible_schemas -> seed_default_schemas"
    expect_contains "the plan Job's output (offline SQL) in the Planning event" "$(events)" \
      "the plan Job's output"
  else
    expect_contains "lastRun.jobLog is the Job's log" "$(smig '{.status.lastRun.jobLog}')" \
      "job-tool: done"
  fi
  [ -n "$(smig '{.status.backup.file}')" ] || fail "no backup recorded (mandatory with executor Job)"
  expect_eq "one plan Job" 1 "$(jobs_of upgradeSql | grep -c .)"
else
  expected_reason=MigrationFailed
  [[ $case_name == *lose_rows ]] && expected_reason=VerificationFailed
  wait_for "Stalled=True $expected_reason" 180 condition_is Stalled True "$expected_reason"
  expect_eq "lastRun" "RolledBack $expected_reason" \
    "$(smig '{.status.lastRun.outcome} {.status.lastRun.reason}')"
  message=$(smig '{.status.conditions[?(@.type=="Stalled")].message}')
  log "message: $message"
  case $case_name in
    fail_midway)
      expect_contains "the message names the failed Job" "$message" "BackoffLimitExceeded"
      expect_contains "the downgrade Job undid it" "$message" "The downgrade Job"
      expect_eq "one downgrade Job" 1 "$(jobs_of downgrade | grep -c .)"
      expect_contains "the Job's log in lastRun" "$(smig '{.status.lastRun.jobLog}')" "job-tool"
      ;;
    lose_rows | alembic_lose_rows)
      expect_contains "the message names the loss" "$message" "components"
      expect_contains "the backup brought the rows back" "$message" "restored from backup"
      expect_eq "one downgrade Job (tried first)" 1 "$(jobs_of downgrade | grep -c .)"
      ;;
    pod_killed)
      expect_contains "a killed pod is a failed Job" "$message" "BackoffLimitExceeded"
      ;;
  esac
  expect_eq "database revision (version table)" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$fingerprint_before"
fi
expect_eq "exactly one migration Job" 1 "$(jobs_of upgrade | grep -c .)"
expect_workloads_restored
expect_contains "JobCreated event" "$(events)" "JobCreated"
expect_not_contains "the URL is in no Job argument" \
  "$(kubectl get jobs -n "$E2E_NS" -o yaml)" "$E2E_DB_PASSWORD"
expect_no_password_leak
log "PASS job_executor $case_name"
