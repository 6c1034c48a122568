#!/usr/bin/env bash
# Any scalable kind as a writer (design §6.3, issue 9 item 1), as a user
# drives it with kubectl:
#   rollout:  an Argo Rollout (a CRD with a scale subresource; the test's
#             stand-in for Argo's CRD, testdata/rollout-crd.yaml) listed with
#             apiVersion + kind + name next to the drawing Deployments
#             (manifests/examples/argo-rollouts/), with the example's RBAC
#             for rollouts/scale: it is recorded (apiVersion, kind,
#             replicas), scaled to 0 with its pods gone while the SQL runs,
#             and restored after.
#   no_rbac:  the Rollout without the example's grant for rollouts/scale:
#             the run waits with KubernetesError quoting the API server's 403,
#             nothing recorded or scaled; with the grant applied it goes on.
#   no_scale: a kind without a scale subresource (and one no API serves):
#             a clear InvalidSpec naming the kind and the fix, nothing
#             changed (database, workloads, no scale write).
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case_name=${1:?usage: scalable_kind_test.sh rollout|no_rbac|no_scale}
e2e_begin "scalable_kind_$case_name"
start_apiserver
install_drawing_app
load_drawing_data
examples=$E2E_SRC/manifests/examples/argo-rollouts
testdata=$(dirname "$0")/testdata

apply_crd() {  # apply_crd FILE NAME
  kubectl apply --validate=false -f "$1" >>"$E2E_WORK/kubectl-apply.log" 2>&1 ||
    fail "kubectl apply $1: $(tail -3 "$E2E_WORK/kubectl-apply.log")"
  kubectl wait --for=condition=Established "crd/$2" --timeout=30s >/dev/null ||
    fail "CRD $2 was not Established"
}
# "spec pods" of the Rollout: spec.replicas and the pods its scale's
# status.selector matches.
rollout_replicas() {
  local spec selector pods
  spec=$(kubectl get rollout editor -n "$E2E_NS" -o jsonpath='{.spec.replicas}') || return 1
  selector=$(kubectl get rollout editor -n "$E2E_NS" -o jsonpath='{.status.selector}') || return 1
  [ -n "$selector" ] || { echo "$spec no-selector"; return 0; }
  pods=$(kubectl get pods -n "$E2E_NS" -l "$selector" --no-headers 2>/dev/null | wc -l)
  echo "$spec $pods"
}
rollout_at() { [ "$(rollout_replicas)" = "$1" ]; }

case "$case_name" in
  rollout)
    apply_crd "$testdata/rollout-crd.yaml" rollouts.argoproj.io
    kubectl apply --validate=false -f "$examples/rollout.yaml" >/dev/null || fail "apply rollout.yaml"
    wait_for "Rollout editor at 2 pods" 30 rollout_at "2 2"
    start_controller a
    # The example's grant for rollouts/scale (the default RBAC covers apps only).
    kubectl apply --validate=false -f "$examples/rbac.yaml" >/dev/null || fail "apply rbac.yaml"
    admin_delete counters

    hold_window_lock
    # upgrade.yaml with the example's workloads patch, as `kubectl patch
    # --patch-file` applies it (lockTimeout raised: the test holds a lock).
    kubectl patch --local -f "$E2E_SRC/manifests/examples/drawing/upgrade.yaml" --type=merge \
      --patch-file "$examples/workloads-patch.yaml" -o yaml |
      kubectl patch --local -f - --type=merge -p '{"spec":{"lockTimeout":"300s"}}' -o yaml \
        >"$E2E_WORK/smig.yaml" || fail "could not render upgrade.yaml with workloads-patch.yaml"
    kubectl apply --validate=false -f "$E2E_WORK/smig.yaml" >/dev/null || fail "apply of the SchemaMigration"
    wait_for "phase Migrating" 60 phase_is Migrating
    wait_for "the migration to wait for the test's lock" 60 schemaop_waits_for_lock
    expect_eq "Rollout during the migration (spec pods)" "0 0" "$(rollout_replicas)"
    expect_eq "backend during the migration" "0 0 0" "$(deploy_replicas backend)"
    expect_eq "recorded workloads (apiVersion kind name replicas)" \
      "-Deployment/backend=3 -Deployment/celery-worker=2 argoproj.io/v1alpha1-Rollout/editor=2" \
      "$(smig '{range .status.workloads[*]}{.apiVersion}-{.kind}/{.name}={.originalReplicas} {end}' | sed 's/ $//')"
    expect_eq "WorkloadsScaledDown" "True ScaledDown" "$(condition WorkloadsScaledDown)"
    release_lock

    expect_settled seed_default_schemas
    wait_for "Rollout editor back at 2 pods" 60 rollout_at "2 2"
    expect_workloads_restored
    expect_eq "scale writes to the Rollout (to 0, back to 2)" "2" \
      "$(($(api_count "patch rollouts/scale") + $(api_count "update rollouts/scale")))"
    expect_eq "Rollout object writes (only its scale subresource)" "0" \
      "$(($(api_count "patch rollouts") + $(api_count "update rollouts")))"
    events=$(kubectl get events -n "$E2E_NS" --field-selector "involvedObject.name=$E2E_SMIG" \
      -o custom-columns=MESSAGE:.message --no-headers)
    expect_contains "the ScalingDown event names the Rollout" "$events" "Rollout/editor (2)"
    ;;
  no_rbac)
    apply_crd "$testdata/rollout-crd.yaml" rollouts.argoproj.io
    kubectl apply --validate=false -f "$examples/rollout.yaml" >/dev/null || fail "apply rollout.yaml"
    wait_for "Rollout editor at 2 pods" 30 rollout_at "2 2"
    E2E_ALLOWED_DENIALS='^get rollouts/scale drawing/editor$'
    start_controller a
    admin_delete counters
    kubectl patch --local -f "$E2E_SRC/manifests/examples/drawing/upgrade.yaml" --type=merge \
      --patch-file "$examples/workloads-patch.yaml" -o yaml >"$E2E_WORK/smig.yaml" ||
      fail "could not render upgrade.yaml with workloads-patch.yaml"
    kubectl apply --validate=false -f "$E2E_WORK/smig.yaml" >/dev/null || fail "apply of the SchemaMigration"
    wait_for "Reconciling=True KubernetesError" 60 condition_is Reconciling True KubernetesError
    message=$(smig '{.status.conditions[?(@.type=="Ready")].message}')
    log "message: $message"
    expect_contains "the message quotes the 403" "$message" \
      'cannot get resource "rollouts/scale" in API group "argoproj.io" in the namespace "drawing"'
    expect_eq "scale writes" "0" "$(scale_writes)"
    expect_eq "Rollout scale writes" "0" "$(api_count "patch rollouts/scale")"
    expect_eq "status.workloads (nothing recorded)" "" "$(smig '{.status.workloads}')"
    expect_eq "Rollout untouched" "2 2" "$(rollout_replicas)"
    expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
    kubectl apply --validate=false -f "$examples/rbac.yaml" >/dev/null || fail "apply rbac.yaml"
    expect_settled seed_default_schemas
    wait_for "Rollout editor back at 2 pods" 60 rollout_at "2 2"
    expect_workloads_restored
    ;;
  no_scale)
    apply_crd "$testdata/noscale-crd.yaml" workers.example.com
    printf 'apiVersion: example.com/v1\nkind: Worker\nmetadata:\n  name: importer\n  namespace: %s\nspec:\n  replicas: 1\n' \
      "$E2E_NS" | kubectl apply --validate=false -f - >/dev/null || fail "apply Worker importer"
    fingerprint_before=$(database_fingerprint)
    start_controller a
    admin_delete counters
    apply_smig upgrade.yaml \
      '{"spec":{"workloads":[{"kind":"Deployment","name":"backend"},{"apiVersion":"example.com/v1","kind":"Worker","name":"importer"}]}}'
    wait_for "Stalled=True InvalidSpec" 60 condition_is Stalled True InvalidSpec
    message=$(smig '{.status.conditions[?(@.type=="Ready")].message}')
    log "message: $message"
    for word in "spec.workloads[1]" "kind Worker (apiVersion example.com/v1)" \
                "no scale subresource" "subresources.scale"; do
      expect_contains "the message names $word" "$message" "$word"
    done
    expect_eq "Worker unchanged" "1" "$(kubectl get worker importer -n "$E2E_NS" -o jsonpath='{.spec.replicas}')"

    # A kind no API server serves: the same refusal, naming the apiVersion.
    apply_smig upgrade.yaml \
      '{"spec":{"workloads":[{"kind":"Deployment","name":"backend"},{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","name":"editor"}]}}'
    wait_for "the message to name argoproj.io/v1alpha1" 60 eval \
      '[[ "$(smig "{.status.conditions[?(@.type==\"Ready\")].message}")" == *"serves no apiVersion argoproj.io/v1alpha1"* ]]'
    message=$(smig '{.status.conditions[?(@.type=="Ready")].message}')
    log "message: $message"
    expect_contains "the fix is named" "$message" "install the CustomResourceDefinition"
    expect_eq "Stalled" "True InvalidSpec" "$(condition Stalled)"

    # A kind other than Deployment/StatefulSet without apiVersion: the
    # controller's own validation (this API server ignores CEL rules, like
    # every server before 1.25).
    apply_smig upgrade.yaml \
      '{"spec":{"workloads":[{"kind":"Rollout","name":"editor"}]}}'
    wait_for "the message to ask for apiVersion" 60 eval \
      '[[ "$(smig "{.status.conditions[?(@.type==\"Ready\")].message}")" == *"spec.workloads[0].apiVersion: required for kind"* ]]'

    expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
    expect_database_unchanged "$fingerprint_before"
    expect_eq "controller runs in schemaop.run_log" "" "$(run_log_rows)"
    expect_eq "backend" "3 3 3" "$(deploy_replicas backend)"
    expect_eq "scale writes" "0" "$(scale_writes)"
    expect_eq "Worker writes" "0" "$(($(api_count "patch workers") + $(api_count "update workers")))"
    expect_eq "status.workloads (nothing recorded)" "" "$(smig '{.status.workloads}')"
    ;;
  *) fail "unknown case $case_name" ;;
esac
expect_no_password_leak
log "PASS scalable_kind $case_name"
