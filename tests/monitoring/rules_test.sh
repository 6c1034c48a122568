#!/usr/bin/env bash
# promtool checks of manifests/monitoring: the PrometheusRule's groups are
# valid rules (`promtool check rules`) and fire as rules_test.yaml expects
# (`promtool test rules`).
# Usage: rules_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
KUBECTL=${KUBECTL:-kubectl}
command -v promtool >/dev/null || { echo "promtool not found: run scripts/setup (Debian package prometheus)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/schemaop-rules.XXXXXX")
trap 'rm -rf "$work"' EXIT
export KUBECONFIG="$work/no-kubeconfig"
: >"$KUBECONFIG"
# The PrometheusRule's spec is a Prometheus rule file (JSON is YAML).
"$KUBECTL" annotate --local -f "$source_dir/manifests/monitoring/prometheusrule.yaml" \
  schemaop.dev/test=1 -o jsonpath='{.spec}' >"$work/rules.yaml"
cp "$(dirname "$0")/rules_test.yaml" "$work/"
promtool check rules "$work/rules.yaml"
(cd "$work" && promtool test rules rules_test.yaml)
