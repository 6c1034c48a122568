#!/usr/bin/env bash
# manifests/examples/argocd: the drawing example with Argo CD sync waves
# (Secret, then migrations + SchemaMigration, then the Deployments) and an
# Application whose ignoreDifferences covers the replica count of exactly the
# workloads the SchemaMigration scales, so self-heal does not fight a run.
# Usage: argocd_example_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

example=$source_dir/manifests/examples/argocd
render "$example" "$work/argocd.yaml"
split_objects "$work/argocd.yaml" "$work/objects"
render "$source_dir/manifests/examples/drawing" "$work/drawing.yaml"
split_objects "$work/drawing.yaml" "$work/drawing"
check "the same objects as manifests/examples/drawing" equals \
  "$(cd "$work/drawing" && ls | tr '\n' ' ')" "$(cd "$work/objects" && ls | tr '\n' ' ')"

wave() { jp_opt "$work/objects/$1.yaml" '{.metadata.annotations.argocd\.argoproj\.io/sync-wave}'; }
waves() {
  local object out=""
  for object in Secret_drawing-db ConfigMap_drawing-migrations SchemaMigration_drawing-db \
    Deployment_backend Deployment_celery-worker; do
    out+="$object=$(wave "$object") "
  done
  echo "$out"
}
check "sync waves: Secret -2, migrations and SchemaMigration -1, Deployments 0" equals \
  "Secret_drawing-db=-2 ConfigMap_drawing-migrations=-1 SchemaMigration_drawing-db=-1 Deployment_backend= Deployment_celery-worker= " \
  "$(waves)"

application=$example/application.yaml
smig=$work/objects/SchemaMigration_drawing-db.yaml
workloads() { jp "$smig" '{range .spec.workloads[*]}apps/{.kind}/{.name}/drawing{"\n"}{end}' | sort; }
ignored() {
  jp "$application" '{range .spec.ignoreDifferences[*]}{.group}/{.kind}/{.name}/{.namespace}{"\n"}{end}' | sort
}
check "ignoreDifferences covers exactly the SchemaMigration's workloads" equals "$(workloads)" "$(ignored)"
check "each of them ignores only /spec/replicas" equals \
  "$(jp "$application" '{range .spec.ignoreDifferences[*]}{.jsonPointers}{"\n"}{end}' | sort -u)" \
  '["/spec/replicas"]'
check "RespectIgnoreDifferences=true and self-heal" equals "RespectIgnoreDifferences=true true" \
  "$(jp "$application" '{.spec.syncPolicy.syncOptions[*]} {.spec.syncPolicy.automated.selfHeal}')"
check "the Application syncs this directory" equals "manifests/examples/argocd" \
  "$(jp "$application" '{.spec.source.path}')"
finish
