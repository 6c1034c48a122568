#!/usr/bin/env bash
# The RBAC of manifests/ is exactly what the controller uses: the controller
# runs as its ServiceAccount (e2e.sh start_controller) through everything it
# does (leader election, an upgrade and a rollback of a Deployment, a
# StatefulSet and a CronJob whose running Job is deleted, with an HPA and a
# KEDA ScaledObject, Events, deletion with its finalizer), the API server
# denies it nothing (e2e.sh fails the test otherwise), and every permission
# the rendered ClusterRole and Roles grant was used at least once, apart from
# the few listed below with the reason they are kept. A missing permission
# fails through the denial check, a superfluous one here.
#
#   rbac_test.sh [namespaced]: with `namespaced`, the RBAC of
#   manifests/namespaced (a Role in the watched namespace, no ClusterRole)
#   and the controller run with --namespaces as that overlay runs it.
mode=${1:-cluster}
if [ "$mode" = namespaced ]; then
  E2E_RBAC_MANIFESTS=manifests/namespaced
fi
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"
# shellcheck source=tests/support/e2e_writers.sh
. "$E2E_SRC/tests/support/e2e_writers.sh"

# Granted but not exercised here, and why kept:
#  - get schemamigrations: the live read after a status-write conflict (the
#    cache may be stale); KubePortImplTest.AConflictForcesOneLiveRead covers
#    it, a conflict cannot be provoked from here.
#  - create/get batch jobs, get pods/log: spec.executor Job only (the e2e
#    job_executor tests run the controller with these manifests' RBAC and
#    fail on any denial).
#  - create/delete core secrets: a rehearsal with executor Job only, its
#    Secret of the scratch copy's URL (e2e_job_executor_alembic_rehearsed
#    and _rehearsal_lossy run with these manifests' RBAC).
not_exercised='^get schemaop.dev schemamigrations$|^(create|get) batch jobs$|^get core pods/log$|^(create|delete) core secrets$'

e2e_begin "rbac_$mode"
start_apiserver
install_drawing_app
load_drawing_data
kubectl apply --validate=false -f - >/dev/null <<'EOF' || fail "apply of the StatefulSet"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: reporting, namespace: drawing}
spec:
  replicas: 1
  serviceName: reporting
  selector: {matchLabels: {app: reporting}}
  template:
    metadata: {labels: {app: reporting}}
    spec: {containers: [{name: reporting, image: python:3.11-slim}]}
EOF
wait_for "the StatefulSet ready" 30 bash -c \
  "[ \"\$(command kubectl get sts reporting -n $E2E_NS -o jsonpath='{.status.readyReplicas}')\" = 1 ]"
# Other writers (design §6.8): a CronJob with a running Job (jobs: Delete),
# an HPA and a KEDA ScaledObject on the Deployments.
apply_cronjob reports
running_job reports reports-1
install_keda_crd
apply_hpa backend backend 1
apply_scaled_object celery-worker celery-worker
controller_flags=(--leader-elect --leader-election-namespace schemaop-system)
if [ "$mode" = namespaced ]; then
  # The overlay's own flag, from its rendered Deployment.
  namespaces=$(command kubectl kustomize "$E2E_SRC/manifests/namespaced" 2>/dev/null | grep -o -- '--namespaces=[^" ]*')
  expect_eq "the namespaced overlay watches the e2e namespace" "--namespaces=$E2E_NS" "$namespaces"
  controller_flags+=("$namespaces")
fi
start_controller a "${controller_flags[@]}"
workloads='{"spec":{"workloads":[{"kind":"Deployment","name":"backend"},{"kind":"Deployment","name":"celery-worker"},{"kind":"StatefulSet","name":"reporting"},{"kind":"CronJob","name":"reports","jobs":"Delete"}]}}'
apply_smig upgrade.yaml "$workloads"
expect_settled seed_default_schemas
apply_smig rollback.yaml "$workloads"
expect_settled 9bc6a98f1c12
kubectl delete smig "$E2E_SMIG" -n "$E2E_NS" --timeout=60s >/dev/null || fail "delete of the SchemaMigration"

# The Lease is renewed (update) every retry period after it was acquired
# (create); a fast run can end before the first renewal, so wait for one.
lease_renewed() {
  kubectl get --raw /_test/authorized |
    grep -q "\"system:serviceaccount:$E2E_CONTROLLER_SA_NS:$E2E_CONTROLLER_SA update coordination.k8s.io leases\""
}
wait_for "the controller to renew its Lease" 30 lease_renewed

# What the controller was allowed to do, as "verb group resource[/sub]".
used=$(kubectl get --raw /_test/authorized |
  grep -o "\"system:serviceaccount:$E2E_CONTROLLER_SA_NS:$E2E_CONTROLLER_SA [^\"]*\"" |
  sed -e 's/^"[^ ]* //' -e 's/"$//' | sort -u)
log "used: $(printf '%s' "$used" | tr '\n' ';')"
# What manifests/ grants it, in the same form (no wildcards there: the
# kustomize test checks that).
if [ "$mode" = namespaced ]; then
  expect_eq "ClusterRoles of the namespaced install" "" \
    "$(kubectl get clusterrole "$E2E_CONTROLLER_SA" -o name 2>/dev/null)"
  controller_role=(role "$E2E_CONTROLLER_SA" -n "$E2E_NS")
else
  controller_role=(clusterrole "$E2E_CONTROLLER_SA")
fi
granted=$(kubectl get "${controller_role[@]}" -o json >"$E2E_WORK/cr.json" &&
  kubectl get role schemaop-leader-election -n "$E2E_CONTROLLER_SA_NS" -o json >"$E2E_WORK/role.json" &&
  for f in "$E2E_WORK/cr.json" "$E2E_WORK/role.json"; do
    command kubectl annotate --local -f "$f" x=y -o \
      jsonpath='{range .rules[*]}{.apiGroups}{"\t"}{.resources}{"\t"}{.verbs}{"\n"}{end}'
  done | awk -F'\t' '
    function items(text, out,   n, i, parts) {
      gsub(/[\[\]"]/, "", text); if (text == "") { out[1] = ""; return 1 }
      n = split(text, parts, ","); for (i = 1; i <= n; i++) out[i] = parts[i]; return n }
    { ng = items($1, g); nr = items($2, r); nv = items($3, v)
      for (i = 1; i <= ng; i++) for (j = 1; j <= nr; j++) for (k = 1; k <= nv; k++)
        print v[k], (g[i] == "" ? "core" : g[i]), r[j] }' | sort -u)
[ -n "$granted" ] || fail "no permissions read from the controller's roles"
unused=$(comm -23 <(printf '%s\n' "$granted") <(printf '%s\n' "$used") | grep -Ev -- "$not_exercised" || true)
expect_eq "permissions granted by manifests/ that the controller never used" "" "$unused"
log "PASS rbac $mode"
