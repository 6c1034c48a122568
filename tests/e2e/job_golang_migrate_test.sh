#!/usr/bin/env bash
# spec.database.versionLayout GolangMigrate (design §10.8), end to end with
# the golang-migrate example (manifests/examples/drawing/
# job-executor-golang-migrate.yaml) as it is, its command lines included;
# only the image is local. The test API server runs each Job's command here,
# and `migrate` on the Jobs' PATH is testdata/gm-tool.sh, a stand-in that
# keeps golang-migrate's table as golang-migrate does (golang-migrate is not
# packaged in Debian 12), on testdata/golang-migrate/:
#   1 creates notes, 2 adds notes.author, 3 fails half-way (dirty).
#
#   1. target 2 from no version: an upgrade, Ready, the version read from
#      schema_migrations; the drawing's components untouched
#   2. target 1: golang-migrate's numbers make it a downgrade (no history
#      command); Ready at 1, notes.author gone
#   3. target 3: the migration fails half-way and leaves version 3 dirty.
#      Invariant: a dirty version is never taken for a revision. The run is
#      judged failed, the backup is restored (golang-migrate refuses a dirty
#      database, so no undo Job can run), Stalled MigrationFailed naming the
#      dirty version; the database is the one before the run (version 1,
#      clean, no column of migration 3), the writers are back
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin job_golang_migrate
# `migrate` for the Jobs (the server passes its PATH to them).
mkdir -p "$E2E_WORK/bin"
cat >"$E2E_WORK/bin/migrate" <<EOF
#!/bin/sh
exec "$E2E_SRC/tests/e2e/testdata/gm-tool.sh" "$E2E_PG_BIN/psql" "$E2E_SRC/tests/e2e/testdata/golang-migrate" "\$@"
EOF
chmod +x "$E2E_WORK/bin/migrate"
export PATH="$E2E_WORK/bin:$PATH"
start_apiserver
install_drawing_app
load_drawing_data
components_before=$(components_fingerprint)
start_controller a

apply_target() {  # apply_target VERSION
  apply_smig job-executor-golang-migrate.yaml \
    '{"spec":{"targetRevision":"'"$1"'","job":{"image":"local/drawing-migrations","workingDir":"'"$E2E_WORK"'"}}}'
}
gm_row() { q "SELECT version || ' ' || dirty FROM schema_migrations"; }
has_column() { q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'notes'::regclass AND attname = '$1' AND NOT attisdropped"; }
jobs_of() {
  kubectl get jobs -n "$E2E_NS" -l "schemaop.dev/schemamigration=$E2E_SMIG,schemaop.dev/verb=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
}

# 1. An upgrade from no version.
apply_target 2
wait_ready 180
expect_eq "schema_migrations" "2 false" "$(gm_row)"
expect_eq "status.currentRevision (read from schema_migrations)" 2 "$(smig '{.status.currentRevision}')"
expect_eq "planned as an upgrade" upgrade "$(smig '{.status.plan.direction}')"
expect_eq "notes.author" 1 "$(has_column author)"
expect_contains "lastRun.jobLog is the tool's log" "$(smig '{.status.lastRun.jobLog}')" "2/u add_notes_author"
expect_eq "components untouched" "$components_before" "$(components_fingerprint)"
expect_workloads_restored

# 2. A lower number is a downgrade.
apply_target 1
wait_ready 180
expect_eq "schema_migrations after the downgrade" "1 false" "$(gm_row)"
expect_eq "planned as a downgrade (golang-migrate's numbers)" downgrade "$(smig '{.status.plan.direction}')"
expect_eq "notes.author after the downgrade" 0 "$(has_column author)"
expect_eq "one downgrade Job" 1 "$(jobs_of downgrade | grep -c .)"
expect_workloads_restored
fingerprint_before=$(database_fingerprint)

# 3. A migration that fails half-way leaves the version dirty.
apply_target 3
wait_for "Stalled=True MigrationFailed" 180 condition_is Stalled True MigrationFailed
expect_eq "lastRun" "RolledBack MigrationFailed" \
  "$(smig '{.status.lastRun.outcome} {.status.lastRun.reason}')"
message=$(smig '{.status.conditions[?(@.type=="Stalled")].message}')
log "message: $message"
expect_contains "the message names the dirty version" "$message" "marks version 3 dirty"
expect_contains "the backup brought the database back" "$message" "restored from backup"
expect_eq "no undo Job on a dirty database" 1 "$(jobs_of downgrade | grep -c .)"
expect_eq "schema_migrations after the restore" "1 false" "$(gm_row)"
expect_eq "the half-applied column is gone" 0 "$(has_column reviewed)"
expect_database_unchanged "$fingerprint_before"
expect_eq "components untouched" "$components_before" "$(components_fingerprint)"
expect_workloads_restored
expect_not_contains "the URL is in no Job argument" \
  "$(kubectl get jobs -n "$E2E_NS" -o yaml)" "$E2E_DB_PASSWORD"
expect_no_password_leak
log "PASS job_golang_migrate"
