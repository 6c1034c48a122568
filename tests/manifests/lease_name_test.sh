#!/usr/bin/env bash
# The leader-election Lease has one name: the controller's default
# (`schemaop controller --help`), the one manifests/ (kustomize, base and
# namespaced) and helm/ (default values) pass with --leader-election-id.
# Two installs that disagree would each elect a leader of their own.
# Usage: lease_name_test.sh SOURCE_DIR SCHEMAOP_BINARY
set -euo pipefail
source_dir=$1
schemaop=$2
. "$(dirname "$0")/lib.sh"

# CLI11 prints "--leader-election-id,--lease-name TEXT=schemaop-leader ..."
# (older releases: "TEXT [schemaop-leader]").
"$schemaop" controller --help >"$work/help.txt"
default=$(sed -nE 's/^ *--leader-election-id[^ ]* [A-Z]+(=| \[)([^] ]+).*/\2/p' "$work/help.txt")
check "schemaop controller --help shows the default Lease name" test -n "$default"

# lease_name DEPLOYMENT_FILE: its --leader-election-id (the default when absent).
lease_name() {
  local args
  args=$(jp "$1" '{.spec.template.spec.containers[0].args}' | tr -d '[]"' | tr ',' '\n')
  if grep -q -- '^--leader-election-id=' <<<"$args"; then
    sed -n 's/^--leader-election-id=//p' <<<"$args"
  else
    echo "$default"
  fi
}

for tree in manifests manifests/namespaced; do
  render "$source_dir/$tree" "$work/rendered.yaml"
  rm -rf "$work/objects"
  split_objects "$work/rendered.yaml" "$work/objects"
  check "$tree: the Lease name is the controller's default ($default)" equals "$default" \
    "$(lease_name "$work/objects/Deployment_schemaop-controller.yaml")"
  check "$tree: --leader-election-id is given explicitly" grep -q -- '--leader-election-id=' \
    "$work/objects/Deployment_schemaop-controller.yaml"
done

helm_bin=${SCHEMAOP_HELM:-/opt/schemaop-tools/helm/helm}
[ -x "$helm_bin" ] || { echo "helm not found at $helm_bin: run scripts/setup" >&2; exit 1; }
"$helm_bin" template schemaop "$source_dir/helm/schemaop" --namespace schemaop-system \
  --kube-version 1.28.0 >"$work/helm.yaml" 2>"$work/helm.err" || { cat "$work/helm.err" >&2; exit 1; }
awk '/^---$/ { if (found) exit; doc = ""; next }
  { doc = doc $0 "\n" } $0 == "kind: Deployment" { found = 1 }
  END { if (found) printf "%s", doc }' "$work/helm.yaml" >"$work/helm-deployment.yaml"
check "helm (default values): the Lease name is the controller's default ($default)" equals \
  "$default" "$(lease_name "$work/helm-deployment.yaml")"

finish
