#!/usr/bin/env bash
# What Flux (kstatus) and Argo CD (docs/argocd-health.lua) see, computed from
# every status the real controller publishes: a `kubectl get -w` watch
# records each version of the SchemaMigrations through an upgrade, a
# rollback, a run that fails verification (rolled back, Stalled), an unknown
# revision (Stalled) and its fix, suspension, and a deletion;
# tests/e2e/status_health.lua then checks the invariants on every record
# (kstatus Current only when Ready for the generation, Argo CD and kstatus
# agree, a run in progress is InProgress/Progressing).
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin gitops
start_apiserver
install_drawing_app
load_drawing_data
start_controller a

# One Lua table per watch event, read by status_health.lua (S/N/B turn the
# printed strings into string/number/boolean; "" = absent). In a kubectl
# jsonpath template `{"..."}` prints its text as is.
lit() { printf '{"%s"}' "$1"; }
fld() { printf '{"%s=%s[==["}{%s}{"]==],"}' "$1" "$2" "$3"; }  # fld KEY S|N|B JSONPATH
template=$(
  lit "{metadata={"
  fld name S .metadata.name; fld generation N .metadata.generation
  fld deletionTimestamp S .metadata.deletionTimestamp
  lit "},spec={"; fld suspend B .spec.suspend
  lit "},status={"
  fld phase S .status.phase; fld observedGeneration N .status.observedGeneration
  fld currentRevision S .status.currentRevision
  # The conditions kstatus and Argo CD read, one by one: a `{range}` over
  # the conditions stops `kubectl get -w` from printing after its first
  # object (kubectl 1.32).
  lit "conditions={"
  for type in Ready Reconciling Stalled; do
    lit "{type=S[==[$type]==],"
    for key in status reason message observedGeneration; do
      fld "$key" "$([ "$key" = observedGeneration ] && echo N || echo S)" \
        ".status.conditions[?(@.type==\"$type\")].$key"
    done
    lit "},"
  done
  lit '}}}\n'
)
records=$E2E_WORK/status-records.lua
command kubectl --kubeconfig "$KUBECONFIG" get smig -n "$E2E_NS" -w --request-timeout=0 -o "jsonpath=$template" \
  >"$records" 2>"$E2E_WORK/status-watch.err" &
watch_pid=$!
E2E_PIDS+=("$watch_pid")

# A kstatus of the live object, through the same checker (one record).
kstatus_now() {  # kstatus_now NAME
  kubectl get smig "$1" -n "$E2E_NS" -o "jsonpath=$template" >"$E2E_WORK/one.lua"
  lua5.4 "$E2E_SRC/tests/e2e/status_health.lua" "$E2E_SRC/docs/argocd-health.lua" "$E2E_WORK/one.lua" |
    sed -n "s/^final $1 //p"
}

# 1. Upgrade and rollback: InProgress while running, Current when Ready.
apply_smig upgrade.yaml
wait_ready 180
expect_eq "kstatus after the upgrade" "Current" "$(kstatus_now "$E2E_SMIG")"
apply_smig rollback.yaml
wait_ready 180
expect_eq "kstatus after the rollback" "Current" "$(kstatus_now "$E2E_SMIG")"

# 2. A run whose verification fails: rolled back, Stalled -> Failed/Degraded.
apply_smig upgrade.yaml \
  '{"spec":{"verify":{"checks":[{"name":"never","sql":"SELECT false"}]}}}'
wait_for "Stalled=True after the failed check" 180 condition_is Stalled True
expect_eq "kstatus after a failed verification" "Failed" "$(kstatus_now "$E2E_SMIG")"

# 3. An unknown revision (Stalled), then the fix (Current again).
apply_smig upgrade.yaml '{"spec":{"targetRevision":"no_such_revision"}}'
wait_for "Stalled=True reason UnknownRevision" 60 condition_is Stalled True UnknownRevision
expect_eq "kstatus of an unknown revision" "Failed" "$(kstatus_now "$E2E_SMIG")"
apply_smig upgrade.yaml
wait_ready 180
expect_eq "kstatus after the fix" "Current" "$(kstatus_now "$E2E_SMIG")"

# 4. Suspended at the target: still Current. A target changed while
# suspended: not applied, Failed for kstatus (Argo CD: Suspended), so what
# depends on it waits.
kubectl patch smig "$E2E_SMIG" -n "$E2E_NS" --type merge -p '{"spec":{"suspend":true}}' >/dev/null ||
  fail "kubectl patch suspend"
wait_for "reason Suspended" 60 condition_is Ready True Suspended
expect_eq "kstatus suspended at the target" "Current" "$(kstatus_now "$E2E_SMIG")"
kubectl patch smig "$E2E_SMIG" -n "$E2E_NS" --type merge \
  -p '{"spec":{"targetRevision":"9bc6a98f1c12"}}' >/dev/null || fail "kubectl patch targetRevision"
wait_for "Stalled=True reason Suspended" 60 condition_is Stalled True Suspended
expect_eq "kstatus of a new target while suspended" "Failed" "$(kstatus_now "$E2E_SMIG")"
expect_eq "database revision while suspended" "seed_default_schemas" "$(db_revision)"

# 5. Deletion: the finalizer holds the object a moment (Terminating).
kubectl delete smig "$E2E_SMIG" -n "$E2E_NS" --wait=true --timeout=60s >/dev/null ||
  fail "kubectl delete smig/$E2E_SMIG"
sleep 1
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
[ -s "$E2E_WORK/status-watch.err" ] && log "watch stderr: $(head -c 300 "$E2E_WORK/status-watch.err")"

log "$(wc -l <"$records") recorded statuses"
lua5.4 "$E2E_SRC/tests/e2e/status_health.lua" "$E2E_SRC/docs/argocd-health.lua" "$records" \
  >"$E2E_WORK/status-health.out" 2>&1 || {
  cat "$E2E_WORK/status-health.out"
  fail "a recorded status breaks an invariant (above)"
}
cat "$E2E_WORK/status-health.out"
seen=$(cat "$E2E_WORK/status-health.out")
expect_contains "a run in progress was recorded" "$seen" "seen Migrating InProgress Progressing"
expect_contains "a finished run was recorded" "$seen" "seen Succeeded Current Healthy"
expect_contains "a stalled run was recorded" "$seen" "Failed Degraded"
expect_no_password_leak
log "PASS gitops"
