#!/usr/bin/env bash
# Hostile migrations through the operator (issue 7): the run is refused, the
# SchemaMigration is Stalled with the reason a user looks for, the database
# is exactly as before and the workloads are back at their replicas.
#
#   hostile_test.sh drop_table    a revision that drops a table with rows
#   hostile_test.sh writing_check a verification check that deletes rows
#   hostile_test.sh schema_drift  a downgrade that forgets a column its up added
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case_name=${1:?usage: hostile_test.sh drop_table|writing_check|schema_drift}
e2e_begin "hostile_$case_name"
start_apiserver
install_drawing_app
load_drawing_data

# add_revision FILE TEXT: the drawing ConfigMap plus one more migration file.
add_revision() {
  local dir=$E2E_WORK/migrations
  mkdir -p "$dir"
  cp "$E2E_SRC"/migrations/drawing/*.sql "$dir/"
  printf '%s' "$2" >"$dir/$1"
  kubectl create configmap drawing-migrations -n "$E2E_NS" --from-file="$dir" \
    --dry-run=client -o yaml | kubectl apply --validate=false -f - >/dev/null ||
    fail "could not update ConfigMap drawing-migrations"
  log "ConfigMap drawing-migrations gained $1"
}

expect_refused() {  # expect_refused REASON NEEDLE
  wait_for "Stalled=True $1" 180 condition_is Stalled True "$1"
  expect_eq "Ready" "False $1" "$(condition Ready)"
  expect_eq "phase" "Failed" "$(smig '{.status.phase}')"
  local message
  message=$(smig '{.status.conditions[?(@.type=="Stalled")].message}')
  log "message: $message"
  expect_contains "the message names what was lost" "$message" "$2"
  expect_workloads_restored
  expect_no_password_leak
}

start_controller a
case "$case_name" in
  drop_table)
    before=$(database_fingerprint)
    add_revision 900_drop_components.sql "-- revision: drop_components
-- down_revision: 9bc6a98f1c12
-- message: a careless cleanup

-- migrate:up
DROP TABLE components CASCADE;

-- migrate:down
SELECT 1;
"
    apply_smig upgrade.yaml '{"spec":{"targetRevision":"drop_components","verify":{"checks":null}}}'
    expect_refused VerificationFailed "public.components had 5000 rows before the run and 0 after"
    expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
    expect_database_unchanged "$before"
    ;;
  writing_check)
    before=$(database_fingerprint)
    apply_smig upgrade.yaml '{"spec":{"verify":{"checks":[
      {"name":"sneaky","sql":"WITH d AS (DELETE FROM components RETURNING 1) SELECT true"}]}}}'
    expect_refused VerificationFailed "check 'sneaky' tried to write"
    expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
    expect_database_unchanged "$before"
    ;;
  schema_drift)
    add_revision 900_forgetful.sql "-- revision: forgetful
-- down_revision: 9bc6a98f1c12
-- message: adds a column, its down forgets it

-- migrate:up
ALTER TABLE drawings ADD COLUMN extra text;

-- migrate:down
SELECT 1;
"
    apply_smig upgrade.yaml '{"spec":{"targetRevision":"forgetful","verify":{"checks":null}}}'
    expect_settled forgetful
    after_upgrade=$(database_fingerprint)
    apply_smig upgrade.yaml '{"spec":{"targetRevision":"9bc6a98f1c12","verify":{"checks":null}}}'
    expect_refused SchemaDrift "column public.drawings.extra exists but did not at 9bc6a98f1c12"
    expect_eq "database revision" "forgetful" "$(db_revision)"
    expect_database_unchanged "$after_upgrade"
    ;;
  *) fail "unknown case $case_name" ;;
esac
log "PASS hostile $case_name"
