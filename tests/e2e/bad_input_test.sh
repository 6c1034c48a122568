#!/usr/bin/env bash
# One bad input per run (the case is the first argument): the SchemaMigration
# reports a clear condition and Event, and nothing is changed — the database
# keeps its revision and contents, the Deployments keep their replicas, and
# no scale or Deployment write reaches the API server.
#
#   bad_input_test.sh unknown_revision|broken_configmap|missing_secret|
#                     missing_key|wrong_password|forbidden_secret|
#                     unknown_workload|duplicate|
#                     same_database|old_apiserver|
#                     job_executor|job_env_in_argv|golang_migrate_files
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case_name=${1:?usage: bad_input_test.sh CASE}
e2e_begin "bad_$case_name"
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(database_fingerprint)
# Kubernetes 1.24: like every API server before 1.25, it ignores the CRD's
# CEL rules (this test server always does).
[ "$case_name" = old_apiserver ] && admin_post settings '{"serverMinorVersion":24}'
start_controller a
admin_delete counters

wrong_password=""
smig_name=$E2E_SMIG
# expected: condition type and status, reason, and words the message must contain.
case "$case_name" in
  unknown_revision)
    apply_smig upgrade.yaml '{"spec":{"targetRevision":"no_such_revision"}}'
    expect=(Stalled True UnknownRevision "no_such_revision" "spec.targetRevision")
    ;;
  broken_configmap)
    # add_flexible_schemas loses its down_revision header: the chain is broken
    # (two bases), which the parser and graph must report.
    mkdir -p "$E2E_WORK/broken"
    cp "$E2E_SRC"/migrations/drawing/*.sql "$E2E_WORK/broken/"
    sed -i '/^-- down_revision:/d' "$E2E_WORK/broken/add_flexible_schemas.sql"
    printf -- '-- revision: broken\n-- down_revision: no_such_parent\n\n-- migrate:up\nSELECT 1;\n' \
      >"$E2E_WORK/broken/zz_broken.sql"
    kubectl create configmap drawing-migrations-broken -n "$E2E_NS" \
      --from-file="$E2E_WORK/broken" --dry-run=client -o yaml |
      kubectl apply --validate=false -f - >/dev/null || fail "could not create the broken ConfigMap"
    apply_smig upgrade.yaml '{"spec":{"migrations":{"configMapRef":{"name":"drawing-migrations-broken"}}}}'
    expect=(Stalled True InvalidMigrations "drawing-migrations-broken")
    ;;
  missing_secret)
    apply_smig upgrade.yaml '{"spec":{"database":{"urlSecretRef":{"name":"no-such-secret"}}}}'
    expect=(Stalled True SecretNotFound "no-such-secret")
    ;;
  missing_key)
    apply_smig upgrade.yaml '{"spec":{"database":{"urlSecretRef":{"key":"NO_SUCH_KEY"}}}}'
    expect=(Stalled True SecretNotFound "NO_SUCH_KEY" "drawing-db")
    ;;
  wrong_password)
    wrong_password="e2e-wrong-$RANDOM$RANDOM"
    create_db_secret drawing-db-wrong DATABASE_URL \
      "postgresql://$E2E_DB_USER:$wrong_password@127.0.0.1:$PGPORT/$E2E_DB"
    apply_smig upgrade.yaml '{"spec":{"database":{"urlSecretRef":{"name":"drawing-db-wrong"}}}}'
    # Transient (the password may be rotated): retried with backoff, not Stalled.
    expect=(Reconciling True DatabaseUnreachable "drawing-db-wrong")
    ;;
  forbidden_secret)
    # An install whose RBAC lacks `get secrets`: the controller says so in
    # status (the API server's own message) and retries, instead of hanging.
    controller_rbac_without secrets
    E2E_ALLOWED_DENIALS='^get secrets drawing/drawing-db$'
    apply_smig upgrade.yaml
    expect=(Reconciling True KubernetesError 'secrets "drawing-db" is forbidden'
            'User "system:serviceaccount:schemaop-system:schemaop-controller" cannot get resource "secrets" in API group "" in the namespace "drawing"')
    ;;
  unknown_workload)
    apply_smig upgrade.yaml \
      '{"spec":{"workloads":[{"kind":"Deployment","name":"backend"},{"kind":"Deployment","name":"no-such-worker"}]}}'
    expect=(Stalled True WorkloadNotFound "no-such-worker")
    ;;
  duplicate)
    # The first SchemaMigration holds the database at its current revision.
    apply_smig upgrade.yaml '{"spec":{"targetRevision":"9bc6a98f1c12"}}'
    wait_ready 120
    smig_manifest upgrade.yaml '{"metadata":{"name":"drawing-db-copy"}}' |
      kubectl apply --validate=false -f - >/dev/null || fail "apply of the second SchemaMigration"
    smig_name=drawing-db-copy
    expect=(Stalled True DuplicateDatabase "drawing/drawing-db" "Secret drawing-db")
    ;;
  same_database)
    # One database, one owner, decided by the database's own identity: a
    # second SchemaMigration reaching the same database through another
    # Secret (another URL) waits, whichever Secret it names.
    apply_smig upgrade.yaml '{"spec":{"targetRevision":"9bc6a98f1c12"}}'
    wait_ready 120
    create_db_secret drawing-db-alias DATABASE_URL \
      "postgresql://$E2E_DB_USER:$E2E_DB_PASSWORD@127.0.0.1:$PGPORT/$E2E_DB?application_name=alias"
    smig_manifest upgrade.yaml \
      '{"metadata":{"name":"drawing-db-alias"},"spec":{"database":{"urlSecretRef":{"name":"drawing-db-alias"}}}}' |
      kubectl apply --validate=false -f - >/dev/null || fail "apply of the second SchemaMigration"
    smig_name=drawing-db-alias
    # A wait, not a stall (kstatus): it ends when the other one goes away.
    expect=(Reconciling True DatabaseInUse "drawing/drawing-db")
    ;;
  old_apiserver)
    # `kubectl apply` takes a spec the CRD's CEL rule would refuse on 1.25+
    # (a workload listed twice); the controller refuses it itself, and said
    # at start-up that the server is too old to do it.
    wait_for "the start-up warning about Kubernetes 1.24" 30 \
      controller_log_has a "the API server is Kubernetes v1.24.0-schemaop-test, older than 1.25"
    apply_smig upgrade.yaml \
      '{"spec":{"workloads":[{"kind":"Deployment","name":"backend"},{"kind":"Deployment","name":"backend"}]}}'
    expect=(Stalled True InvalidSpec "spec.workloads[1].name: duplicate")
    ;;
  job_executor)
    # With executor Job the backup is mandatory (design §10.4: the tool
    # commits on its own). This server, like Kubernetes before 1.25, skips
    # the CRD's CEL rule; the controller refuses it itself.
    apply_smig job-executor-alembic.yaml '{"spec":{"backup":{"when":"Never"}}}'
    expect=(Stalled True InvalidSpec "spec.backup.when" "Never is refused with executor Job")
    ;;
  job_env_in_argv)
    # "$(DATABASE_URL)" in a command would have Kubernetes put the URL into
    # argv (design §10.2). This server, like Kubernetes before 1.25, skips
    # the CRD's CEL rule; the controller refuses it itself.
    apply_smig job-executor-alembic.yaml \
      '{"spec":{"job":{"commands":{"upgrade":["alembic","-x","url=$(DATABASE_URL)","upgrade","$TARGET"]}}}}'
    expect=(Stalled True InvalidSpec "spec.job.commands.upgrade[2]" "Kubernetes would expand")
    ;;
  golang_migrate_files)
    # golang-migrate's table is read only for a Job (design §10.8): the
    # engine's files write Alembic's layout. This server skips the CRD's
    # CEL rule; the controller refuses it itself, before any connection.
    apply_smig upgrade.yaml '{"spec":{"database":{"versionTable":"schema_migrations","versionLayout":"GolangMigrate"}}}'
    expect=(Stalled True InvalidSpec "spec.database.versionLayout" "only with executor Job")
    ;;
  *) fail "unknown case $case_name" ;;
esac

wait_for "${expect[0]}=${expect[1]} reason ${expect[2]} on $smig_name" 120 \
  condition_is "${expect[0]}" "${expect[1]}" "${expect[2]}" "$smig_name"
expect_eq "Ready" "False ${expect[2]}" "$(condition Ready "$smig_name")"
message=$(smig "{.status.conditions[?(@.type==\"Ready\")].message}" "$smig_name")
log "message: $message"
for word in "${expect[@]:3}"; do
  expect_contains "the message names $word" "$message" "$word"
done
events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$smig_name" \
  -o custom-columns=TYPE:.type,REASON:.reason --no-headers)
expect_contains "Warning event ${expect[2]}" "$events" "Warning   ${expect[2]}"

# ------------------------------------------------------- nothing changed
expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
expect_database_unchanged "$fingerprint_before"
expect_eq "controller runs in schemaop.run_log" "" "$(run_log_rows)"
expect_eq "backend" "3 3 3" "$(deploy_replicas backend)"
expect_eq "celery-worker" "2 2 2" "$(deploy_replicas celery-worker)"
expect_eq "scale writes" "0" "$(scale_writes)"
expect_eq "Deployment writes" "0" \
  "$(($(api_count "patch deployments") + $(api_count "update deployments")))"
expect_eq "status.workloads (nothing recorded, nothing scaled)" "" "$(smig '{.status.workloads}' "$smig_name")"
if [ -n "$wrong_password" ]; then
  E2E_DB_PASSWORD=$wrong_password expect_no_password_leak
fi
expect_no_password_leak
log "PASS bad_input $case_name"
