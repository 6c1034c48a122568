#!/usr/bin/env bash
# The Helm chart installed for real: rendered by a real Helm 3 with
# non-default values (another release namespace and name, one watched
# namespace, another Lease, text logs, an extra flag), every object applied to
# the API server, then the controller run as the chart's ServiceAccount with
# the chart's RBAC (any request it is denied fails the test) and the
# arguments of the chart's Deployment, upgrading the drawing example.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

helm_bin=${SCHEMAOP_HELM:-/opt/schemaop-tools/helm/helm}
[ -x "$helm_bin" ] || fail "helm not found at $helm_bin: run scripts/setup"

e2e_begin helm
start_apiserver
rendered=$E2E_WORK/helm.yaml
"$helm_bin" template dbmig "$E2E_SRC/helm/schemaop" --namespace ops --include-crds \
  --kube-version 1.28.0 \
  --set fullnameOverride=dbmig --set 'watchNamespaces={drawing}' \
  --set leaderElection.leaseName=dbmig-leader --set logFormat=text \
  --set 'extraArgs={--resync-period=2m}' --set image.repository=registry.example.com/schemaop \
  >"$rendered" 2>"$E2E_WORK/helm.err" || fail "helm template: $(cat "$E2E_WORK/helm.err")"
for ns in ops drawing; do
  kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply --validate=false -f - >/dev/null ||
    fail "create namespace $ns"
done
kubectl apply --validate=false -f "$rendered" >"$E2E_WORK/helm-apply.log" 2>&1 ||
  fail "kubectl apply of the rendered chart: $(cat "$E2E_WORK/helm-apply.log")"
kubectl wait --for=condition=Established crd/schemamigrations.schemaop.dev --timeout=30s >/dev/null ||
  fail "the chart's CRD is not established"
objects=$(kubectl get deploy,svc,pvc,sa,role,rolebinding -n ops -o name | sort | tr '\n' ' ')
log "installed in ops: $objects"
for object in deployment.apps/dbmig service/dbmig-metrics persistentvolumeclaim/dbmig-backups \
  serviceaccount/dbmig; do
  expect_contains "the chart installed $object" "$objects" "$object"
done
expect_eq "no ClusterRole with watchNamespaces set" "" \
  "$(kubectl get clusterrole -o name | grep dbmig || true)"
expect_contains "a Role in the watched namespace" "$(kubectl get role -n drawing -o name)" "dbmig"

# The controller as the chart runs it: the Deployment's arguments, apart from
# what only makes sense in the pod (ports, the backup volume).
mapfile -t chart_args < <(kubectl get deploy dbmig -n ops \
  -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}')
args=()
for arg in "${chart_args[@]}"; do
  case "$arg" in
    controller | --metrics-bind-address=* | --health-probe-bind-address=* | --backup-dir=*) ;;
    *) args+=("$arg") ;;
  esac
done
log "chart arguments: ${args[*]}"
expect_contains "the extra flag is passed" "${args[*]}" "--resync-period=2m"
E2E_CONTROLLER_SA_NS=ops E2E_CONTROLLER_SA=dbmig E2E_RBAC_RENDERED=$rendered
install_drawing_app
load_drawing_data
POD_NAMESPACE=ops start_controller a "${args[@]}" --identity helm-a
holds_lease() {
  [ "$(kubectl get lease dbmig-leader -n ops -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" = helm-a ]
}
wait_for "controller a to hold the Lease ops/dbmig-leader" 60 holds_lease
apply_smig upgrade.yaml
wait_ready 180
expect_eq "database revision" "seed_default_schemas" "$(db_revision)"
expect_workloads_restored
controller_log_has a "INFO" || fail "the controller did not log in text format (--log-format=text)"
expect_no_password_leak
log "PASS helm"
