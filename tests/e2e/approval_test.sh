#!/usr/bin/env bash
# spec.approval: Manual (design §9), as a reviewer uses it with kubectl:
#  1. the plan and its hash appear in status, Ready=False Reconciling=True
#     Stalled=False AwaitingApproval; nothing is scaled, backed up or
#     migrated, and resyncs while waiting write nothing; `schemaop plan`
#     prints the same hash and the same sections per phase for the same
#     files;
#  2. a wrong approvedPlanHash keeps it waiting and says so; a malformed one
#     is refused by the API server naming the field;
#  3. the right hash approved while the controller is down, then the files
#     change before it comes back: it plans again, the new hash waits, the
#     old approval does not run it (and the CLI agrees on the new hash);
#  4. the new hash approved: it runs to Ready.
# Also: `schemaop plan` hashes exactly the bytes design §9.1 documents.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin approval
start_apiserver
install_drawing_app
load_drawing_data
database_before=$(database_fingerprint)
start_resyncing_controller a

awaiting_approval() {
  condition_is Reconciling True AwaitingApproval &&
    [ "$(smig '{.status.observedGeneration}')" = "$(smig '{.metadata.generation}')" ]
}
expect_waiting_untouched() {  # expect_waiting_untouched WHAT
  expect_eq "$1: Ready, Stalled" "False AwaitingApproval False AwaitingApproval" \
    "$(condition Ready) $(condition Stalled)"
  expect_eq "$1: phase" "Planning" "$(smig '{.status.phase}')"
  expect_eq "$1: backend" "3 3 3" "$(deploy_replicas backend)"
  expect_eq "$1: celery-worker" "2 2 2" "$(deploy_replicas celery-worker)"
  expect_eq "$1: scale writes" "0" "$(scale_writes)"
  expect_eq "$1: database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_eq "$1: controller runs" "" "$(run_log_rows)"
  expect_eq "$1: backups" "" "$(ls "$E2E_WORK/backups")"
  expect_database_unchanged "$database_before"
}
plan_hash_of() {  # plan_hash_of MIGRATIONS_DIR: `schemaop plan`'s hash line
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" --migrations "$1" plan seed_default_schemas |
    sed -n 's/^plan hash: //p'
}
ready_message() { smig '{.status.conditions[?(@.type=="Ready")].message}'; }
patch_hash() {
  kubectl patch smig "$E2E_SMIG" -n "$E2E_NS" --type merge \
    -p "{\"spec\":{\"approvedPlanHash\":\"$1\"}}" >"$E2E_WORK/patch.out" 2>&1
}

# 0. The byte format of design §9.1, recomputed here independently: a
# one-step plan from base to a1 whose up section is "SELECT 1;" + newline.
doc=$E2E_WORK/doc-example
mkdir -p "$doc"
printf -- '-- revision: a1\n-- migrate:up\nSELECT 1;\n' >"$doc/a1.sql"
documented=$(printf '16:schemaop-plan-v1;0:;2:a1;2:a1;2:up;2:tx;10:SELECT 1;\n;' | sha256sum | cut -d' ' -f1)
expect_eq "schemaop plan hashes the bytes design §9.1 describes" "$documented" \
  "$(DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" --migrations "$doc" --version-table doc_example_version \
       plan a1 | sed -n 's/^plan hash: //p')"

# 1. Waiting, with the plan and its hash, nothing touched.
apply_smig upgrade-manual.yaml
wait_for "AwaitingApproval" 120 awaiting_approval
hash=$(smig '{.status.plan.planHash}')
[[ $hash =~ ^[0-9a-f]{64}$ ]] || fail "status.plan.planHash is not a sha256: '$hash'"
expect_eq "the plan" "upgrade add_flexible_schemas/upgrade seed_default_schemas/upgrade" \
  "$(smig '{.status.plan.direction} {range .status.plan.steps[*]}{.revision}/{.direction} {end}' | sed 's/ $//')"
expect_eq "the run pins the published plan" "$hash" "$(smig '{.status.run.planDigest}')"
expect_contains "the message names the hash and the kubectl patch" "$(ready_message)" \
  "kubectl patch schemamigration drawing-db -n drawing --type merge -p '{\"spec\":{\"approvedPlanHash\":\"$hash\"}}'"
expect_eq "schemaop plan prints the status hash" "$hash" "$(plan_hash_of "$E2E_SRC/migrations/drawing")"
# The plan's phases (design §3.1): status.plan.steps[].phases, section
# numbers per step, list the sections `schemaop plan` prints per phase
# (REV#N), in the same order; the CLI's REV(version) entries are the
# version rows, which status does not list.
status_phase_line() {  # status_phase_line PHASE
  kubectl get smig "$E2E_SMIG" -n "$E2E_NS" -o json |
    jq -r --arg p "$1" \
      '"\($p):" + ([.status.plan.steps[] | .revision as $r | (.phases[$p] // [])[] | " \($r)#\(.)"] | join(""))'
}
cli_phase_line() {  # cli_phase_line PHASE
  DATABASE_URL=$E2E_DB_URL "$SCHEMAOP_BIN" --migrations "$E2E_SRC/migrations/drawing" \
    plan seed_default_schemas | sed -n "s/^  $1:/$1:/p" | sed 's/ [A-Za-z0-9_]*(version)//g'
}
for phase in expand window contract; do
  expect_eq "status.plan phases = schemaop plan ($phase)" "$(cli_phase_line "$phase")" \
    "$(status_phase_line "$phase")"
done
expect_contains "the expand phase is not empty" "$(status_phase_line expand)" "add_flexible_schemas#1"
expect_contains "an Event says it waits" "$(kubectl get events -n "$E2E_NS" -o jsonpath='{.items[*].reason}')" \
  AwaitingApproval
expect_waiting_untouched "before approval"
# Waiting costs no writes: resyncs re-check the plan (reads only).
admin_delete counters
wait_reconciles 3
expect_eq "API writes while waiting" "0" "$(api_writes)"

# 2. A wrong hash: still waiting, and the message says it does not match.
wrong=$(printf '%064d' 0)
patch_hash "$wrong" || fail "kubectl patch with a well-formed hash failed: $(cat "$E2E_WORK/patch.out")"
wait_for "the wrong hash to be reported" 60 eval \
  '[ "$(smig "{.status.observedGeneration}")" = 2 ] && awaiting_approval'
expect_contains "the message names the mismatch" "$(ready_message)" \
  "spec.approvedPlanHash $wrong does not match the plan to run now ($hash)"
expect_waiting_untouched "with a wrong hash"
# Malformed: the API server refuses it (CRD pattern), naming the field.
if patch_hash "${hash^^}"; then
  fail "an upper-case approvedPlanHash was accepted"
fi
expect_contains "the refusal names the field" "$(cat "$E2E_WORK/patch.out")" "spec.approvedPlanHash"
expect_eq "the refused patch changed nothing" "$wrong" "$(smig '{.spec.approvedPlanHash}')"

# 3. The right hash, approved while the controller is down; the files change
# before it is back. What it finds is a new plan: it must wait again.
stop_controller a
patch_hash "$hash" || fail "kubectl patch failed: $(cat "$E2E_WORK/patch.out")"
changed=$E2E_WORK/migrations
mkdir -p "$changed"
cp "$E2E_SRC"/migrations/drawing/*.sql "$changed/"
sed -i 's/^-- migrate:up$/-- migrate:up\nSELECT 1; -- reviewed later/' "$changed/seed_default_schemas.sql"
kubectl create configmap drawing-migrations -n "$E2E_NS" --from-file="$changed" \
  --dry-run=client -o yaml | kubectl apply --validate=false -f - >/dev/null ||
  fail "could not update ConfigMap drawing-migrations"
start_controller b
wait_for "a new plan hash" 120 eval \
  '[ "$(smig "{.status.plan.planHash}")" != "$hash" ] && awaiting_approval'
new_hash=$(smig '{.status.plan.planHash}')
expect_contains "the old approval is named as not matching" "$(ready_message)" \
  "spec.approvedPlanHash $hash does not match the plan to run now ($new_hash)"
expect_eq "schemaop plan agrees on the changed files" "$new_hash" "$(plan_hash_of "$changed")"
expect_waiting_untouched "after the files changed"

# 4. The new plan approved: it runs to Ready.
patch_hash "$new_hash" || fail "kubectl patch failed: $(cat "$E2E_WORK/patch.out")"
expect_settled seed_default_schemas
expect_eq "one controller run" "9bc6a98f1c12>seed_default_schemas succeeded" "$(run_log_rows)"
expect_eq "the approved (changed) file is the one that ran" "1" \
  "$(q "SELECT count(*) FROM schemaop.revision_archive
        WHERE revision = 'seed_default_schemas' AND file_text LIKE '%reviewed later%'")"
expect_contains "an Event records the approval" \
  "$(kubectl get events -n "$E2E_NS" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')" \
  "Approved: Plan $new_hash approved"
expect_no_password_leak
log "PASS approval"
