#!/usr/bin/env bash
# Drives the REAL kubectl against schemaop-test-apiserver.
# Usage: kubectl_test.sh <path to schemaop-test-apiserver> <testdata dir> [--tls]
set -u -o pipefail

SERVER_BIN=$1
TESTDATA=$2
EXTRA=${3:-}
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- server log (tail) ---" >&2
  tail -n 30 "$WORK/server.err" >&2
  exit 1
}
pass() { echo "ok: $*"; }

# expect_contains <description> <haystack> <needle>
expect_contains() {
  if [[ "$2" != *"$3"* ]]; then
    fail "$1: expected to find [$3] in:
$2"
  fi
  pass "$1"
}

# retry_until <deadline seconds> <command...>: polls a condition, no fixed sleep
retry_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then return 1; fi
    sleep 0.1
  done
}

args=(--port 0 --kubeconfig-out "$WORK/kubeconfig" --deployment-delay-ms 100
      --bookmark-interval-ms 200)
if [[ "$EXTRA" == "--tls" ]]; then
  # Every request must authenticate: kubectl's client certificate (CN
  # schemaop-test, O system:masters) is what makes it the admin here.
  args+=(--tls --cert-dir "$WORK/certs" --require-auth)
fi
"$SERVER_BIN" "${args[@]}" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
retry_until 20 grep -q '^listening on ' "$WORK/server.out" || fail "server did not start"
URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
pass "server started at $URL"
if [[ "$EXTRA" == "--tls" ]]; then
  [[ "$URL" == https://* ]] || fail "TLS server URL is not https: $URL"
  # Without a client certificate the TLS handshake must be refused.
  if curl -s --cacert "$WORK/certs/ca.crt" "$URL/version" >/dev/null 2>&1; then
    fail "TLS server accepted a client without a certificate"
  fi
  pass "TLS requires a client certificate"
fi

K=(kubectl --kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/cache" --request-timeout=20s)

out=$("${K[@]}" version 2>&1) || fail "kubectl version: $out"
expect_contains "version" "$out" "Server Version: v1.32"

# --- CRD and custom resources ------------------------------------------------
out=$("${K[@]}" apply --validate=false -f "$TESTDATA/crd.yaml" 2>&1) || fail "apply crd: $out"
expect_contains "CRD created" "$out" "customresourcedefinition.apiextensions.k8s.io/schemamigrations.schemaop.dev created"
out=$("${K[@]}" wait --for=condition=Established crd/schemamigrations.schemaop.dev --timeout=20s 2>&1) ||
  fail "wait Established: $out"
out=$("${K[@]}" api-resources --api-group=schemaop.dev 2>&1) || fail "api-resources: $out"
expect_contains "discovery lists short name" "$out" "smig"

out=$("${K[@]}" apply --validate=false -f "$TESTDATA/smig.yaml" 2>&1) || fail "apply smig: $out"
expect_contains "CR created" "$out" "schemamigration.schemaop.dev/drawing-db created"
out=$("${K[@]}" get smig drawing-db -o jsonpath='{.spec.database.versionTable} {.metadata.generation}' 2>&1)
expect_contains "schema default applied, generation 1" "$out" "alembic_version 1"

# kubectl wait watches for the condition while we set it through /status.
"${K[@]}" wait --for=condition=Ready smig/drawing-db --timeout=30s >"$WORK/wait.out" 2>&1 &
WAIT_PID=$!
out=$("${K[@]}" patch smig drawing-db --subresource=status --type=merge \
  -p '{"status":{"phase":"Succeeded","currentRevision":"seed_default_schemas","conditions":[{"type":"Ready","status":"True","reason":"AtTarget","message":"at target"}]}}' 2>&1) ||
  fail "status patch: $out"
wait "$WAIT_PID" || fail "kubectl wait --for=condition=Ready: $(cat "$WORK/wait.out")"
expect_contains "kubectl wait saw Ready" "$(cat "$WORK/wait.out")" "condition met"

out=$("${K[@]}" get smig 2>&1) || fail "get smig: $out"
expect_contains "printer column header" "$out" "CURRENT"
header=$(echo "$out" | head -1 | tr -s ' ')
[[ "$header" == "NAME CURRENT TARGET PHASE READY AGE" ]] || fail "printer columns header: $header"
row=$(echo "$out" | grep drawing-db | tr -s ' ')
expect_contains "printer column values" "$row" "drawing-db seed_default_schemas seed_default_schemas Succeeded True"

# Status is ignored on the main resource; spec changes bump generation.
"${K[@]}" patch smig drawing-db --type=merge -p '{"status":{"phase":"Hacked"},"spec":{"targetRevision":"9bc6a98f1c12"}}' >/dev/null 2>&1 ||
  fail "spec patch"
out=$("${K[@]}" get smig drawing-db -o jsonpath='{.status.phase} {.metadata.generation} {.spec.targetRevision}')
expect_contains "status ignored on main resource, generation bumped" "$out" "Succeeded 2 9bc6a98f1c12"

# 422 with field paths like the real server.
cat >"$WORK/bad.yaml" <<'EOF'
apiVersion: schemaop.dev/v1alpha1
kind: SchemaMigration
metadata: {name: bad, namespace: default}
spec:
  database: {urlSecretRef: {name: s, key: k}}
  workloads: [{kind: Job, name: x}]
  drainTimeoutSeconds: -5
EOF
out=$("${K[@]}" apply --validate=false -f "$WORK/bad.yaml" 2>&1) && fail "invalid object accepted: $out"
expect_contains "422 names the object" "$out" 'The SchemaMigration "bad" is invalid'
expect_contains "422 required" "$out" "spec.targetRevision: Required value"
expect_contains "422 enum" "$out" 'spec.workloads[0].kind: Unsupported value: "Job"'
expect_contains "422 minimum" "$out" "spec.drainTimeoutSeconds: Invalid value: -5"

# 409 on a stale resourceVersion.
"${K[@]}" get smig drawing-db -o json >"$WORK/old.json"
sed 's/"targetRevision": "9bc6a98f1c12"/"targetRevision": "add_flexible_schemas"/' "$WORK/old.json" >"$WORK/new1.json"
sed 's/"targetRevision": "9bc6a98f1c12"/"targetRevision": "seed_default_schemas"/' "$WORK/old.json" >"$WORK/new2.json"
out=$("${K[@]}" replace --validate=false -f "$WORK/new1.json" 2>&1) || fail "first replace: $out"
out=$("${K[@]}" replace --validate=false -f "$WORK/new2.json" 2>&1) && fail "stale replace accepted: $out"
expect_contains "409 on stale resourceVersion" "$out" "the object has been modified; please apply your changes to the latest version and try again"

# Server-side apply creates and updates.
cat >"$WORK/ssa.yaml" <<'EOF'
apiVersion: schemaop.dev/v1alpha1
kind: SchemaMigration
metadata: {name: ssa, namespace: default}
spec:
  targetRevision: seed_default_schemas
  database: {urlSecretRef: {name: s, key: k}}
EOF
out=$("${K[@]}" apply --server-side --validate=false -f "$WORK/ssa.yaml" 2>&1) || fail "server-side apply: $out"
expect_contains "server-side apply" "$out" "schemamigration.schemaop.dev/ssa serverside-applied"

# --- Deployments: scale subresource and the simulated controller --------------
cat >"$WORK/deploy.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers: [{name: app, image: busybox, ports: [{containerPort: 80}]}]
EOF
out=$("${K[@]}" apply --validate=false -f "$WORK/deploy.yaml" 2>&1) || fail "apply deployment: $out"
out=$("${K[@]}" wait --for=jsonpath='{.status.readyReplicas}'=2 deploy/backend --timeout=30s 2>&1) ||
  fail "deployment never became ready: $out"
out=$("${K[@]}" scale deployment backend --replicas=3 2>&1) || fail "scale: $out"
expect_contains "kubectl scale" "$out" "deployment.apps/backend scaled"
out=$("${K[@]}" wait --for=jsonpath='{.status.replicas}'=3 deploy/backend --timeout=30s 2>&1) ||
  fail "status.replicas did not follow spec: $out"
pass "status.replicas follows kubectl scale"
out=$("${K[@]}" get pods -l app=backend -o name 2>&1)
[[ $(echo "$out" | grep -c '^pod/') == 3 ]] || fail "expected 3 pods, got: $out"
pass "pods follow replicas"
"${K[@]}" scale deployment backend --replicas=0 >/dev/null 2>&1 || fail "scale to 0"
out=$("${K[@]}" wait --for=jsonpath='{.status.observedGeneration}'=3 deploy/backend --timeout=30s 2>&1) ||
  fail "observedGeneration after scale to 0: $out"
out=$("${K[@]}" get pods -l app=backend -o name 2>&1)
[[ -z "$out" || "$out" == "No resources found"* ]] || fail "pods left after scaling to 0: $out"
pass "scale to zero removes pods"
out=$("${K[@]}" get deploy backend 2>&1)
expect_contains "deployment table" "$out" "0/0"

# --- Events -------------------------------------------------------------------
cat >"$WORK/event.yaml" <<'EOF'
apiVersion: v1
kind: Event
metadata: {name: drawing-db.1, namespace: default}
involvedObject: {apiVersion: schemaop.dev/v1alpha1, kind: SchemaMigration, name: drawing-db, namespace: default}
reason: MigrationSucceeded
message: moved to seed_default_schemas
type: Normal
source: {component: schemaop}
EOF
"${K[@]}" create --validate=false -f "$WORK/event.yaml" >/dev/null 2>&1 || fail "create event"
out=$("${K[@]}" get events 2>&1) || fail "get events: $out"
expect_contains "kubectl get events" "$out" "MigrationSucceeded"
expect_contains "event object column" "$out" "schemamigration/drawing-db"

# --- Finalizers ---------------------------------------------------------------
cat >"$WORK/held.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: default, finalizers: [schemaop.dev/hold], labels: {tier: db}}
data: {a: "1"}
EOF
"${K[@]}" apply --validate=false -f "$WORK/held.yaml" >/dev/null 2>&1 || fail "create held"
out=$("${K[@]}" get cm -l 'tier in (db,cache)' -o name 2>&1)
expect_contains "set-based label selector" "$out" "configmap/held"
out=$("${K[@]}" get cm -l 'tier notin (db)' -o name 2>&1)
[[ "$out" != *held* ]] || fail "notin selector matched held"
out=$("${K[@]}" patch cm held --type=json -p '[{"op":"test","path":"/data/a","value":"2"}]' 2>&1) &&
  fail "failed json-patch test accepted"
expect_contains "json patch test failure is 422" "$out" "test failed"
out=$("${K[@]}" delete cm held --wait=false 2>&1) || fail "delete held: $out"
out=$("${K[@]}" get cm held -o jsonpath='{.metadata.deletionTimestamp}' 2>&1) || fail "held vanished: $out"
[[ -n "$out" ]] || fail "deletionTimestamp not set"
pass "delete with a finalizer sets deletionTimestamp and keeps the object"
"${K[@]}" wait --for=delete cm/held --timeout=30s >"$WORK/wait-delete.out" 2>&1 &
WAIT_PID=$!
"${K[@]}" patch cm held --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 ||
  fail "remove finalizer"
wait "$WAIT_PID" || fail "kubectl wait --for=delete: $(cat "$WORK/wait-delete.out")"
out=$("${K[@]}" get cm held 2>&1) && fail "held still exists: $out"
expect_contains "removed once finalizers are gone" "$out" 'configmaps "held" not found'

# --- Authentication and RBAC --------------------------------------------------
# kubectl sends a bearer token only over https: over plain http it sends none
# and is the anonymous admin, so this part runs in the TLS variant.
if [[ "$EXTRA" == "--tls" ]]; then
token=$(printf '{"user":"jane","groups":["dev"]}' | "${K[@]}" create --raw /_test/tokens -f - |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n "$token" ]] || fail "no token from /_test/tokens"
out=$("${K[@]}" --token="$token" get secrets -n default 2>&1) && fail "jane listed secrets: $out"
expect_contains "kubectl prints the real 403 message" "$out" \
  'Error from server (Forbidden): secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"'
cat >"$WORK/rbac.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cm-reader, namespace: default}
rules:
  - {apiGroups: [""], resources: [configmaps], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-cm-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
subjects:
  - {kind: Group, name: dev}
YAML
out=$("${K[@]}" apply --validate=false -f "$WORK/rbac.yaml" 2>&1) || fail "apply of a Role and RoleBinding: $out"
out=$("${K[@]}" --token="$token" get cm -n default -o name 2>&1) || fail "jane cannot list configmaps: $out"
pass "a RoleBinding to a Group grants its Role in that namespace"
out=$("${K[@]}" --token="$token" get cm -A 2>&1) && fail "jane listed configmaps cluster-wide: $out"
expect_contains "a Role grants nothing cluster-wide" "$out" "at the cluster scope"
out=$("${K[@]}" --token="$token" delete cm -n default some-map 2>&1) && fail "jane deleted a configmap: $out"
expect_contains "verbs outside the Role are forbidden" "$out" \
  'configmaps "some-map" is forbidden: User "jane" cannot delete resource "configmaps" in API group "" in the namespace "default"'
out=$("${K[@]}" --token=no-such-token get cm 2>&1) && fail "an unknown token was accepted: $out"
expect_contains "an unknown token is 401" "$out" "Unauthorized"
fi

# --- Clean shutdown -----------------------------------------------------------
kill -TERM "$SERVER_PID"
deadline=$((SECONDS + 20))
while kill -0 "$SERVER_PID" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "server did not exit after SIGTERM"
  sleep 0.1
done
wait "$SERVER_PID"
rc=$?
SERVER_PID=""
[[ $rc == 0 ]] || fail "server exit code $rc after SIGTERM"
pass "clean exit on SIGTERM"
echo "ALL PASSED"
