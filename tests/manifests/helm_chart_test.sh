#!/usr/bin/env bash
# Checks of the Helm chart: rendered with a real Helm 3 (from npm, installed by
# scripts/setup: Debian 12 has no helm package), and statically: every .Values path the templates use is
# defined in values.yaml, every included helper is defined, template blocks
# are balanced, the RBAC rules equal the kustomize base's, and the defaults
# agree with manifests/.
# Usage: helm_chart_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

chart=$source_dir/helm/schemaop
templates=$chart/templates

# as_object FILE OUT: wraps a plain YAML document (Chart.yaml, values.yaml)
# in an object kubectl can read, with the document under .spec.
as_object() {
  { printf 'apiVersion: test.schemaop.dev/v1\nkind: Document\nmetadata:\n  name: document\nspec:\n'
    sed -e '/^[[:space:]]*#/d' -e 's/^/  /' "$1"; } >"$2"
}
as_object "$chart/Chart.yaml" "$work/chart.yaml"
as_object "$chart/values.yaml" "$work/values.yaml"

check "Chart.yaml: apiVersion v2, name schemaop, appVersion 0.1.0" equals "v2 schemaop 0.1.0" \
  "$(jp "$work/chart.yaml" '{.spec.apiVersion} {.spec.name} {.spec.appVersion}')"

values_paths_defined() {
  local path ok=0
  while read -r path; do
    # --allow-missing-template-keys=false: an undefined path is an error.
    jp "$work/values.yaml" "{.spec.${path#.Values.}}" >/dev/null 2>&1 ||
      { echo "  $path is used by a template but not defined in values.yaml"; ok=1; }
  done < <(cat "$templates"/*.yaml "$templates"/*.tpl "$templates"/NOTES.txt |
    grep -oE '\.Values(\.[A-Za-z0-9_]+)+' | sort -u)
  return $ok
}
check "every .Values path used by a template is in values.yaml" values_paths_defined

helpers_defined() {
  local name ok=0
  while read -r name; do
    grep -q "define \"$name\"" "$templates/_helpers.tpl" || { echo "  include \"$name\" is not defined"; ok=1; }
  done < <(grep -ohE 'include "[^"]+"' "$templates"/* | sed 's/include "\(.*\)"/\1/' | sort -u)
  return $ok
}
check "every included helper is defined in _helpers.tpl" helpers_defined

blocks_balanced() {
  local file opens ends left right ok=0
  for file in "$templates"/*; do
    opens=$(grep -oE '\{\{-? *(if|range|with|define) ' "$file" | wc -l)
    ends=$(grep -oE '\{\{-? *end *-?\}\}' "$file" | wc -l)
    left=$(grep -o '{{' "$file" | wc -l)
    right=$(grep -o '}}' "$file" | wc -l)
    [ "$opens" -eq "$ends" ] || { echo "  $(basename "$file"): $opens blocks opened, $ends ended"; ok=1; }
    [ "$left" -eq "$right" ] || { echo "  $(basename "$file"): $left '{{' but $right '}}'"; ok=1; }
  done
  return $ok
}
check "template blocks and delimiters are balanced" blocks_balanced

# rules_object TEMPLATE OUT: the static `rules:` part of an RBAC template.
rules_object() {
  { printf 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: rules\n'
    awk '/^rules:/{ on = 1 } /^(---|\{\{)/{ on = 0 } on' "$1"; } >"$2"
}
rules_object "$templates/_helpers.tpl" "$work/chart-clusterrole.yaml"
rules_object "$templates/leader-election-rbac.yaml" "$work/chart-role.yaml"
rendered=$work/base.yaml
render "$source_dir/manifests" "$rendered"
split_objects "$rendered" "$work/base"
check "chart ClusterRole rules equal the kustomize base's" equals \
  "$(permissions "$work/base/ClusterRole_schemaop-controller.yaml")" "$(permissions "$work/chart-clusterrole.yaml")"
# watchNamespaces: the same rules in a Role per namespace, bound by a
# RoleBinding to that Role, instead of the ClusterRole (the template text
# here; the rendered result below).
namespaced_rbac() {
  local ok=0
  [ "$(grep -c 'include "schemaop.controllerRules"' "$templates/clusterrole.yaml")" = 2 ] ||
    { echo "  clusterrole.yaml must include the rules once for the ClusterRole and once per Role"; ok=1; }
  awk '/if not .Values.watchNamespaces/{ c = 1 } /else/{ c = 0 } c && /^kind:/' "$templates/clusterrole.yaml" |
    grep -qx 'kind: ClusterRole' || { echo "  no ClusterRole when watchNamespaces is empty"; ok=1; }
  awk '/range \$namespace := .Values.watchNamespaces/{ r = 1 } r && /^kind:/' "$templates/clusterrole.yaml" |
    grep -qx 'kind: Role' || { echo "  no Role per watched namespace"; ok=1; }
  awk '/range \$namespace := .Values.watchNamespaces/{ r = 1 } r && /^  kind:/' "$templates/clusterrolebinding.yaml" |
    grep -qx '  kind: Role' || { echo "  the per-namespace RoleBinding must bind the Role"; ok=1; }
  grep -q -- '- --namespaces={{ join "," . }}' "$templates/deployment.yaml" ||
    { echo "  --namespaces is not passed"; ok=1; }
  return $ok
}
check "watchNamespaces: a Role and RoleBinding per namespace, no ClusterRole, --namespaces" namespaced_rbac
check "chart leader-election Role rules equal the kustomize base's" equals \
  "$(permissions "$work/base/Role_schemaop-leader-election.yaml")" "$(permissions "$work/chart-role.yaml")"

# The chart rendered by a real Helm 3 (scripts/setup installs it from npm):
# lint, the default install (ClusterRole) and the namespaced one.
helm_bin=${SCHEMAOP_HELM:-/opt/schemaop-tools/helm/helm}
[ -x "$helm_bin" ] || { echo "helm not found at $helm_bin: run scripts/setup" >&2; exit 1; }
check "helm lint passes" "$helm_bin" lint "$chart"
helm_render() {  # helm_render OUT [ARGS...]
  local out=$1; shift
  "$helm_bin" template schemaop "$chart" --namespace schemaop-system --kube-version 1.28.0 "$@" \
    >"$out" 2>"$work/helm.err" || { cat "$work/helm.err" >&2; exit 1; }
}
kinds_of() {  # kinds_of FILE: "Kind/name@namespace" of every object, sorted
  jp_opt "$1" '{.kind}/{.metadata.name}@{.metadata.namespace}{"\n"}' | sort | tr '\n' ' '
}
pick_kind() {  # pick_kind FILE KIND: the first object of that kind
  awk -v kind="$2" '/^---$/ { if (found) exit; doc = ""; next }
    { doc = doc $0 "\n" } $0 == "kind: " kind { found = 1 }
    END { if (found) printf "%s", doc }' "$1"
}
helm_render "$work/helm-default.yaml"
pick_kind "$work/helm-default.yaml" ClusterRole >"$work/helm-clusterrole.yaml"
check "helm template (default): a ClusterRole with the kustomize base's rules" equals \
  "$(permissions "$work/base/ClusterRole_schemaop-controller.yaml")" \
  "$(permissions "$work/helm-clusterrole.yaml")"
helm_render "$work/helm-ns.yaml" --set 'watchNamespaces={drawing,billing}'
namespaced_render() {
  local kinds ns ok=0
  kinds=$(kinds_of "$work/helm-ns.yaml")
  case "$kinds" in *ClusterRole*) echo "  a ClusterRole(Binding) is rendered: $kinds"; ok=1 ;; esac
  for ns in drawing billing; do
    grep -q "Role/schemaop@$ns " <<<"$kinds " || { echo "  no Role in $ns: $kinds"; ok=1; }
    grep -q "RoleBinding/schemaop@$ns " <<<"$kinds " || { echo "  no RoleBinding in $ns: $kinds"; ok=1; }
  done
  grep -q -- '--namespaces=drawing,billing' "$work/helm-ns.yaml" || { echo "  --namespaces=drawing,billing not passed"; ok=1; }
  return $ok
}
check "helm template --set watchNamespaces={drawing,billing}: Roles and RoleBindings there, no ClusterRole, --namespaces" namespaced_render

helm_render "$work/helm-sm.yaml" --set metrics.serviceMonitor.enabled=true \
  --set metrics.serviceMonitor.labels.release=prom
service_monitor() {
  local ok=0
  case "$(kinds_of "$work/helm-default.yaml")" in *ServiceMonitor*) echo "  rendered by default"; ok=1 ;; esac
  pick_kind "$work/helm-sm.yaml" ServiceMonitor >"$work/sm.yaml"
  pick_kind "$work/helm-sm.yaml" Service >"$work/svc.yaml"
  [ -s "$work/sm.yaml" ] || { echo "  no ServiceMonitor with metrics.serviceMonitor.enabled=true"; return 1; }
  equals "prom" "$(jp "$work/sm.yaml" '{.metadata.labels.release}')" || ok=1
  equals "metrics /metrics" "$(jp "$work/sm.yaml" '{.spec.endpoints[0].port} {.spec.endpoints[0].path}')" || ok=1
  # every label the ServiceMonitor selects is on the metrics Service
  local key value
  local selected=0
  while IFS='=' read -r key value; do
    [ -n "$key" ] || continue
    selected=$((selected + 1))
    equals "$value" "$(jp_opt "$work/svc.yaml" "{.metadata.labels.${key//./\\.}}")" || ok=1
  done < <({ jp "$work/sm.yaml" '{.spec.selector.matchLabels}'; echo; } | tr -d '{}"' | tr ',' '\n' | tr ':' '=')
  [ "$selected" -ge 2 ] || { echo "  selects $selected label(s)"; ok=1; }
  return $ok
}
check "metrics.serviceMonitor.enabled=true: a ServiceMonitor selecting the metrics Service; none by default" service_monitor

deployment=$work/base/Deployment_schemaop-controller.yaml
check "default image equals the kustomize base's" equals \
  "$(jp "$deployment" '{.spec.template.spec.containers[0].image}')" \
  "$(jp "$work/values.yaml" '{.spec.image.repository}'):$(jp "$work/chart.yaml" '{.spec.appVersion}')"
check "default ports, backup dir and log format equal the kustomize base's" equals \
  "$(jp "$deployment" '{.spec.template.spec.containers[0].args}' | tr -d '[]"' | tr ',' '\n' | grep -E '^--(metrics|health|backup|log)' | sed 's/.*=:*//' | tr '\n' ' ')" \
  "$(jp "$work/values.yaml" '{.spec.metrics.port}') $(jp "$work/values.yaml" '{.spec.health.port}') $(jp "$work/values.yaml" '{.spec.backup.dir}') $(jp "$work/values.yaml" '{.spec.logFormat}') " 
check "default pod and container security contexts equal the kustomize base's" equals \
  "$(jp "$deployment" '{.spec.template.spec.securityContext} {.spec.template.spec.containers[0].securityContext}')" \
  "$(jp "$work/values.yaml" '{.spec.podSecurityContext} {.spec.securityContext}')"
check "default resources equal the kustomize base's" equals \
  "$(jp "$deployment" '{.spec.template.spec.containers[0].resources}')" "$(jp "$work/values.yaml" '{.spec.resources}')"

finish
