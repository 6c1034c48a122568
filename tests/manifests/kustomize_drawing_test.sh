#!/usr/bin/env bash
# `kubectl kustomize manifests/examples/drawing` renders the runbook's
# application: the migrations ConfigMap holding exactly the files of
# migrations/drawing, backend (3) and celery-worker (2), the database Secret
# and the SchemaMigration; rollback.yaml retargets the same object, and
# upgrade-manual.yaml asks for approval (spec.approval: Manual).
# Usage: kustomize_drawing_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

example=$source_dir/manifests/examples/drawing
migrations=$source_dir/migrations/drawing
rendered=$work/drawing.yaml
render "$example" "$rendered"
objects=$work/objects
split_objects "$rendered" "$objects"

check "rendered objects" equals "ConfigMap_drawing-migrations.yaml Deployment_backend.yaml Deployment_celery-worker.yaml Namespace_drawing.yaml SchemaMigration_drawing-db.yaml Secret_drawing-db.yaml " \
  "$(cd "$objects" && ls | tr '\n' ' ')"
all_in_drawing() {
  local file ok=0
  for file in "$objects"/*.yaml; do
    case $file in */Namespace_*) continue ;; esac
    equals "drawing" "$(jp "$file" '{.metadata.namespace}')" || ok=1
  done
  return $ok
}
check "every namespaced object is in namespace drawing" all_in_drawing

configmap=$objects/ConfigMap_drawing-migrations.yaml
sql_files() { (cd "$migrations" && ls -- *.sql | tr '\n' ' '); }
runbook_files_present() {
  local file ok=0
  for file in 5e2f8d4b7a10.sql 9bc6a98f1c12.sql add_flexible_schemas.sql seed_default_schemas.sql; do
    [ -f "$migrations/$file" ] || { echo "  missing $migrations/$file"; ok=1; }
  done
  return $ok
}
check "migrations/drawing has the runbook's revisions" runbook_files_present
configmap_keys() {
  # jsonpath cannot list map keys; read them from the printed JSON map.
  jp "$configmap" '{.data}' | grep -o '"[^"]*\.sql":' | tr -d '":' | sort | tr '\n' ' '
}
keys_match_files() {
  equals "$(sql_files)" "$(configmap_keys)" && return 0
  echo "  every *.sql file of migrations/drawing must be listed in migrations/drawing/kustomization.yaml"
  return 1
}
check "ConfigMap has one key per migration file, no more" keys_match_files
same_content() {
  local file key ok=0
  for file in "$migrations"/*.sql; do
    key=$(basename "$file")
    # jsonpath needs the dots of a key escaped.
    jp "$configmap" "{.data.${key//./\\.}}" >"$work/from-configmap"
    # jsonpath prints the value as is; cmp against the file byte for byte.
    cmp "$file" "$work/from-configmap" || ok=1
  done
  return $ok
}
check "each ConfigMap value is the migration file byte for byte" same_content
check "ConfigMap name has no hash suffix (stable reference)" equals "drawing-migrations" "$(jp "$configmap" '{.metadata.name}')"

check "backend runs 3 replicas, celery-worker 2" equals "3 2" \
  "$(jp "$objects/Deployment_backend.yaml" '{.spec.replicas}') $(jp "$objects/Deployment_celery-worker.yaml" '{.spec.replicas}')"
check "Secret drawing-db holds DATABASE_URL with a placeholder password" \
  bash -c 'url=$1; case $url in postgresql://*CHANGE-ME*@*) exit 0 ;; *) exit 1 ;; esac' _ \
  "$(jp "$objects/Secret_drawing-db.yaml" '{.stringData.DATABASE_URL}')"

migration=$objects/SchemaMigration_drawing-db.yaml
references() {
  jp "$1" '{.spec.database.urlSecretRef.name}/{.spec.database.urlSecretRef.key} {.spec.migrations.configMapRef.name} {range .spec.workloads[*]}{.kind}/{.name} {end}'
}
expected_references="drawing-db/DATABASE_URL drawing-migrations Deployment/backend Deployment/celery-worker "
check "SchemaMigration upgrades to seed_default_schemas" equals "schemaop.dev/v1alpha1 seed_default_schemas" \
  "$(jp "$migration" '{.apiVersion} {.spec.targetRevision}')"
check "SchemaMigration references the rendered Secret, ConfigMap and Deployments" equals "$expected_references" \
  "$(references "$migration")"

rollback=$example/rollback.yaml
check "rollback.yaml is the same object with target 9bc6a98f1c12" equals \
  "SchemaMigration drawing/drawing-db 9bc6a98f1c12" \
  "$(jp "$rollback" '{.kind} {.metadata.namespace}/{.metadata.name} {.spec.targetRevision}')"
check "rollback.yaml keeps the references of upgrade.yaml" equals "$expected_references" "$(references "$rollback")"
check "rollback.yaml backs up before the downgrade" equals "Downgrade" "$(jp "$rollback" '{.spec.backup.when}')"

manual=$example/upgrade-manual.yaml
check "upgrade-manual.yaml is upgrade.yaml with approval Manual" equals \
  "SchemaMigration drawing/drawing-db seed_default_schemas Manual" \
  "$(jp "$manual" '{.kind} {.metadata.namespace}/{.metadata.name} {.spec.targetRevision} {.spec.approval}')"
check "upgrade-manual.yaml keeps the references of upgrade.yaml" equals "$expected_references" "$(references "$manual")"

# Every revision named in the example exists in migrations/drawing.
revision_exists() { grep -qx -- "-- revision: $1" "$migrations/$1.sql"; }
check "upgrade target is a shipped revision" revision_exists seed_default_schemas
check "rollback target is a shipped revision" revision_exists 9bc6a98f1c12

finish
