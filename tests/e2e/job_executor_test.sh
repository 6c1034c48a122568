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
#   orphan             the pod is killed while its statement sleeps in the
#                      server (autocommit, it would delete 10 components when
#                      it wakes): the operator ends the Job's sessions
#                      (application_name = the Job's name, from PGAPPNAME)
#                      before it judges, so nothing changes after the run
#   aborted            schemaop.dev/abort while the Job runs (design §10.6):
#                      the Job is deleted, Stalled Aborted, nothing changed
#   controller_killed  SIGKILL while the Job runs: the new controller adopts
#                      the Job (exactly one migration Job exists)
#   alembic            the Alembic preset, unchanged, with the real Alembic
#                      (python3-alembic) on migrations/drawing-alembic, to
#                      targetRevision head (resolved by `alembic heads`)
#   alembic_lose_rows  the same, with a trigger that deletes rows when the
#                      version reaches the target (in the tool's own
#                      transaction): the downgrade Job runs, the rows stay
#                      lost, the backup is restored
#   alembic_rollback   upgrade, then a target behind the database (design
#                      §10.5): the history Job places it, downgradeSql plans
#                      it, the downgrade Job runs it; the seed rows it drops
#                      are a loss until spec.verify.allowRowLoss declares
#                      them (the upgrade Job undoes the first try), then the
#                      rollback reaches 9bc6a98f1c12 with the components intact
#   alembic_rehearsed  spec.rehearse (design §10.9): alembic upgrade and
#                      downgrade first run on a scratch copy, through the
#                      operator's Secret of the copy's URL (deleted after,
#                      the copy dropped), then the real run; the database
#                      role has CREATEDB
#   alembic_rehearsal_lossy  the lossy trigger of alembic_lose_rows, with
#                      spec.rehearse: the rehearsal on the copy finds the
#                      loss, Stalled RehearsalFailed, nothing scaled, the
#                      database never touched by a Job
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case_name=${1:?usage: job_executor_test.sh CASE}
e2e_begin "job_$case_name"
rehearsed=0
if [[ $case_name == alembic_rehears* ]]; then
  rehearsed=1
  use_createdb_owner "e2e_job_$case_name"  # the scratch copy needs CREATEDB
fi
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(database_fingerprint)
components_before=$(components_fingerprint)

if [ "$case_name" = alembic_lose_rows ] || [ "$case_name" = alembic_rehearsal_lossy ]; then
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
  success | alembic | alembic_lose_rows | alembic_rollback | alembic_rehearsed | alembic_rehearsal_lossy) ;;
  fail_midway) fault=fail-midway ;;
  lose_rows) fault=lose-rows ;;
  pod_killed | controller_killed | aborted) fault=sleep ;;
  orphan) fault=orphan ;;
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
              "downgradeSql":null,"heads":null,"history":null}}}}'
if [ "$case_name" = success ]; then
  # The application's other settings (spec.job.env, envFrom; design §10.2):
  # from a ConfigMap, as the tool's own env.py would read them.
  kubectl create configmap drawing-app-config -n "$E2E_NS" --dry-run=client -o yaml \
    --from-literal=APP_SETTINGS=e2e-production --from-literal=region=eu-west |
    kubectl apply --validate=false -f - >/dev/null || fail "apply of ConfigMap drawing-app-config"
  patch=${patch%\}\}\}}',"envFrom":[{"configMapRef":{"name":"drawing-app-config"}}],
    "env":[{"name":"APP_REGION","valueFrom":{"configMapKeyRef":{"name":"drawing-app-config","key":"region"}}}],
    "resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"memory":"256Mi"}}}}}'
fi
if [[ $case_name == alembic* ]]; then
  # The example's Alembic preset as it is; only the image's directory is
  # local (the test API server runs the command here).
  # targetRevision head: the heads Job (`alembic heads`) names it (§10.7).
  patch='{"spec":{"targetRevision":"head","rehearse":'$([ $rehearsed = 1 ] && echo true || echo false)',"job":{"image":"local/drawing-backend","workingDir":"'$E2E_SRC/migrations/drawing-alembic'"}}}'
  command -v alembic >/dev/null || fail "alembic is not installed (scripts/setup installs python3-alembic)"
fi
start_controller a
scale_writes_before=$(scale_writes)
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
  orphan)
    wait_for "the migration Job running" 120 run_job_is "upgrade Running"
    job=$(jobs_of upgrade)
    tool_sessions() { q "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$job'"; }
    tool_in_statement() { [ "$(tool_sessions)" -ge 1 ]; }
    wait_for "the tool's session (application_name $job) in the database" 60 tool_in_statement
    admin_post jobs/kill "{\"namespace\":\"$E2E_NS\",\"name\":\"$job\"}"
    killed_at=$SECONDS
    ;;
  aborted)
    wait_for "the migration Job running" 120 run_job_is "upgrade Running"
    kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/abort=now >/dev/null ||
      fail "kubectl annotate schemaop.dev/abort failed"
    ;;
  controller_killed)
    wait_for "the migration Job running" 120 run_job_is "upgrade Running"
    kill9_controller a
    start_controller b
    ;;
esac

scratch_secrets() {  # the rehearsal Secrets of the copy's URL that exist now
  kubectl get secrets -n "$E2E_NS" -o name | grep -c -- '-scratch-url-' || true
}
rehearsal_secret_of() {  # rehearsal_secret_of JOB: the Secret its URL comes from
  kubectl get job "$1" -n "$E2E_NS" \
    -o jsonpath='{.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name}'
}

if [ "$case_name" = alembic_rehearsal_lossy ]; then
  wait_for "Stalled=True RehearsalFailed" 240 condition_is Stalled True RehearsalFailed
  expect_eq "status.rehearsal" "Failed RehearsalFailed" \
    "$(smig '{.status.rehearsal.outcome} {.status.rehearsal.reason}')"
  message=$(smig '{.status.rehearsal.message}')
  log "rehearsal message: $message"
  expect_contains "the rehearsal names the loss on the copy" "$message" "rows were lost"
  expect_contains "the rehearsal names the table" "$message" "components"
  expect_eq "no scale write" "$scale_writes_before" "$(scale_writes)"
  expect_eq "only the rehearsal's upgrade Job ran" 1 "$(jobs_of upgrade | grep -c .)"
  expect_contains "and it read the copy's URL" "$(rehearsal_secret_of "$(jobs_of upgrade)")" \
    "-scratch-url-"
  expect_eq "no downgrade Job" 0 "$(jobs_of downgrade | grep -c .)"
  expect_eq "no rehearsal Secret left" 0 "$(scratch_secrets)"
  expect_eq "no scratch database left" 0 "$(scratch_databases_of "$E2E_DB_USER")"
  expect_eq "database revision (version table)" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$fingerprint_before"
  expect_workloads_restored
  expect_not_contains "the URL is in no Job argument" \
    "$(kubectl get jobs -n "$E2E_NS" -o yaml)" "$E2E_DB_PASSWORD"
  expect_no_password_leak
  log "PASS job_executor $case_name"
  exit 0
fi

if [ "$case_name" = success ] || [ "$case_name" = controller_killed ] || [[ $case_name == alembic || $case_name == alembic_rollback || $case_name == alembic_rehearsed ]]; then
  wait_ready 180
  expect_eq "database revision (version table)" "seed_default_schemas" "$(db_revision)"
  expect_eq "status.currentRevision" "seed_default_schemas" "$(smig '{.status.currentRevision}')"
  expect_eq "lastRun" "Succeeded" "$(smig '{.status.lastRun.outcome}')"
  expect_eq "original components intact" "$components_before" "$(components_fingerprint)"
  if [[ $case_name == alembic* ]]; then
    expect_contains "lastRun.jobLog is Alembic's log" "$(smig '{.status.lastRun.jobLog}')" \
      "Running upgrade add_flexible_schemas -> seed_default_schemas"
    expect_contains "the plan Job's output (offline SQL) in the Planning event" "$(events)" \
      "the plan Job's output"
    expect_eq "head resolved by alembic heads, pinned" "head seed_default_schemas" \
      "$(smig '{.status.resolvedTarget.targetRevision} {.status.resolvedTarget.revision}')"
    expect_eq "one heads Job" 1 "$(jobs_of heads | grep -c .)"
  else
    expect_contains "lastRun.jobLog is the Job's log" "$(smig '{.status.lastRun.jobLog}')" \
      "job-tool: done"
  fi
  if [ "$case_name" = success ]; then
    expect_contains "the tool got the application's settings (envFrom, env)" \
      "$(smig '{.status.lastRun.jobLog}')" "(settings e2e-production in eu-west)"
    expect_eq "the Job's resources" "100m 64Mi 256Mi" \
      "$(kubectl get job -n "$E2E_NS" "$(jobs_of upgrade)" -o jsonpath='{.spec.template.spec.containers[0].resources.requests.cpu} {.spec.template.spec.containers[0].resources.requests.memory} {.spec.template.spec.containers[0].resources.limits.memory}')"
  fi
  if [ $rehearsed = 1 ]; then
    expect_eq "status.rehearsal" "Succeeded 9bc6a98f1c12 seed_default_schemas" \
      "$(smig '{.status.rehearsal.outcome} {.status.rehearsal.from} {.status.rehearsal.to}')"
    expect_eq "the plan rehearsed is the plan run" "$(smig '{.status.plan.planHash}')" \
      "$(smig '{.status.rehearsal.planDigest}')"
    expect_eq "upgrade Jobs: the rehearsal's and the run's" 2 "$(jobs_of upgrade | grep -c .)"
    expect_eq "one downgrade Job: the rehearsal's way back" 1 "$(jobs_of downgrade | grep -c .)"
    expect_contains "the rehearsal's downgrade read the copy's URL" \
      "$(rehearsal_secret_of "$(jobs_of downgrade)")" "-scratch-url-"
    secrets_used=$(for job in $(jobs_of upgrade); do rehearsal_secret_of "$job"; echo; done | sort)
    expect_contains "the run's upgrade read the database's Secret" "$secrets_used" "drawing-db"
    expect_eq "no rehearsal Secret left" 0 "$(scratch_secrets)"
    expect_eq "no scratch database left" 0 "$(scratch_databases_of "$E2E_DB_USER")"
    expect_contains "Alembic ran on the copy (its Events)" "$(events)" \
      "Running downgrade add_flexible_schemas -> 9bc6a98f1c12"
  fi
  [ -n "$(smig '{.status.backup.file}')" ] || fail "no backup recorded (mandatory with executor Job)"
  expect_eq "one plan Job" 1 "$(jobs_of upgradeSql | grep -c .)"
else
  expected_reason=MigrationFailed
  [[ $case_name == *lose_rows ]] && expected_reason=VerificationFailed
  [ "$case_name" = aborted ] && expected_reason=Aborted
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
    aborted)
      expect_contains "the message says the run was cancelled" "$message" \
        "Migration cancelled (aborted by the annotation schemaop.dev/abort=now)"
      expect_eq "the migration Job was deleted" 0 "$(jobs_of upgrade | grep -c .)"
      expect_eq "handled abort" now "$(smig '{.status.handledAbort}')"
      ;;
    orphan)
      expect_contains "a killed pod is a failed Job" "$message" "BackoffLimitExceeded"
      expect_eq "sessions of the killed Job left in the database" 0 "$(tool_sessions)"
      # The orphaned statement would have woken 15 s after it began.
      sleep $((killed_at + 17 - SECONDS > 0 ? killed_at + 17 - SECONDS : 0))
      ;;
  esac
  expect_eq "database revision (version table)" "9bc6a98f1c12" "$(db_revision)"
  expect_database_unchanged "$fingerprint_before"
fi
if [ "$case_name" = alembic_rollback ]; then
  # Back to 9bc6a98f1c12 with the Alembic preset as it is. The downgrade
  # drops the seeded schemas with their rows: a loss, undone by the upgrade
  # Job, until it is declared.
  rollback='{"spec":{"targetRevision":"9bc6a98f1c12","job":{"image":"local/drawing-backend","workingDir":"'$E2E_SRC/migrations/drawing-alembic'"}}}'
  apply_smig job-executor-alembic.yaml "$rollback"
  wait_for "Stalled=True VerificationFailed" 180 condition_is Stalled True VerificationFailed
  expect_eq "lastRun" "RolledBack VerificationFailed" \
    "$(smig '{.status.lastRun.outcome} {.status.lastRun.reason}')"
  message=$(smig '{.status.conditions[?(@.type=="Stalled")].message}')
  log "message: $message"
  expect_contains "the message names the table that lost rows" "$message" "component_schemas"
  expect_eq "planned as a downgrade" downgrade "$(smig '{.status.plan.direction}')"
  expect_eq "back at the start revision (version table)" "seed_default_schemas" "$(db_revision)"
  expect_eq "original components intact" "$components_before" "$(components_fingerprint)"
  expect_eq "one downgrade Job" 1 "$(jobs_of downgrade | grep -c .)"
  expect_eq "two upgrade Jobs: the first run's and the undo" 2 "$(jobs_of upgrade | grep -c .)"
  expect_workloads_restored
  rollback='{"spec":{"targetRevision":"9bc6a98f1c12","verify":{"allowRowLoss":["component_schemas","component_schema_fields"]},"job":{"image":"local/drawing-backend","workingDir":"'$E2E_SRC/migrations/drawing-alembic'"}}}'
  apply_smig job-executor-alembic.yaml "$rollback"
  wait_ready 180
  expect_eq "database revision after the rollback (version table)" "9bc6a98f1c12" "$(db_revision)"
  expect_eq "status.currentRevision" "9bc6a98f1c12" "$(smig '{.status.currentRevision}')"
  expect_eq "lastRun" "Succeeded" "$(smig '{.status.lastRun.outcome}')"
  expect_eq "planned as a downgrade" downgrade "$(smig '{.status.plan.direction}')"
  expect_contains "lastRun.jobLog is Alembic's downgrade" "$(smig '{.status.lastRun.jobLog}')" \
    "Running downgrade add_flexible_schemas -> 9bc6a98f1c12"
  expect_eq "original components intact after the round trip" "$components_before" \
    "$(components_fingerprint)"
  expect_eq "one plan Job per downgrade run" 2 "$(jobs_of downgradeSql | grep -c .)"
  expect_eq "a history Job per run" 3 "$(jobs_of history | grep -c .)"
  expect_eq "two downgrade Jobs" 2 "$(jobs_of downgrade | grep -c .)"
elif [ "$case_name" != aborted ] && [ $rehearsed = 0 ]; then
  expect_eq "exactly one migration Job" 1 "$(jobs_of upgrade | grep -c .)"
fi
expect_workloads_restored
expect_contains "JobCreated event" "$(events)" "JobCreated"
expect_not_contains "the URL is in no Job argument" \
  "$(kubectl get jobs -n "$E2E_NS" -o yaml)" "$E2E_DB_PASSWORD"
expect_no_password_leak
log "PASS job_executor $case_name"
