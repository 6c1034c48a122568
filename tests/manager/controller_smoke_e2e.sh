#!/usr/bin/env bash
# Smoke e2e of `schemaop controller` (label e2e, CTest fixture `postgres`):
# the test API server, the real controller binary and kubectl as the user's
# client. Applies the CRD, a Secret with the harness database URL, the
# drawing migrations ConfigMap, Deployments backend (3) and celery-worker (2)
# and a SchemaMigration to seed_default_schemas; waits for Ready=True and
# checks the database revision, the restored replicas, the metrics, that a
# no-op reconcile writes nothing, that the password is in no log or status,
# and that SIGTERM stops the controller cleanly (exit 0).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${SCHEMAOP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
: "${SCHEMAOP_PG_STATE:?needs the postgres fixture (SCHEMAOP_PG_STATE)}"
work=${SCHEMAOP_E2E_WORK:-${TMPDIR:-/tmp}}
state="$work/controller_smoke_e2e.$$.state"
env_sh="$here/e2e_env.sh"

fail() { echo "FAIL: $*" >&2; [ -n "${E2E_CONTROLLER_LOG:-}" ] && tail -40 "$E2E_CONTROLLER_LOG" >&2; exit 1; }
cleanup() { "$env_sh" stop "$state" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Waits (deadline, no fixed sleep) until "$@" succeeds.
wait_until() {
  local what=$1; shift
  local deadline=$(( $(date +%s) + 120 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 0.2
  done
}

# shellcheck disable=SC1090
. "$SCHEMAOP_PG_STATE"
psql=("$PGHARNESS_BIN/psql" -X -v ON_ERROR_STOP=1 -qAt)
db=smoke_e2e_$$
# The database is owned by the harness's non-superuser role, whose URL the
# controller gets (as on a managed service).
"${psql[@]}" "$PGHARNESS_URL" -c "DROP DATABASE IF EXISTS $db" \
  -c "CREATE DATABASE $db OWNER $PGHARNESS_OWNER"
db_url="${PGHARNESS_OWNER_URL%/postgres}/$db"
password=$PGHARNESS_OWNER_PASSWORD
[ -n "$password" ] || fail "could not read the harness owner's password"

"$env_sh" start "$state"
# shellcheck disable=SC1090
. "$state"
k() { $E2E_KUBECTL "$@"; }
apply() { k apply --validate=false -f - >/dev/null; }

k create namespace drawing --dry-run=client -o yaml | apply
k -n drawing create secret generic drawing-db --from-literal=DATABASE_URL="$db_url" \
  --dry-run=client -o yaml | apply
files=()
for f in "$src"/migrations/drawing/*.sql; do files+=(--from-file="$f"); done
k -n drawing create configmap drawing-migrations "${files[@]}" --dry-run=client -o yaml | apply
k apply --validate=false -f "$src/manifests/examples/drawing/backend.yaml" \
  -f "$src/manifests/examples/drawing/celery-worker.yaml" >/dev/null
k -n drawing scale deployment/backend --replicas=3 >/dev/null
k -n drawing scale deployment/celery-worker --replicas=2 >/dev/null
cat <<'YAML' | apply
apiVersion: schemaop.dev/v1alpha1
kind: SchemaMigration
metadata: {name: drawing-db, namespace: drawing}
spec:
  targetRevision: seed_default_schemas
  database:
    urlSecretRef: {name: drawing-db, key: DATABASE_URL}
  migrations:
    configMapRef: {name: drawing-migrations}
  workloads:
    - {kind: Deployment, name: backend}
    - {kind: Deployment, name: celery-worker}
YAML

k -n drawing wait --for=condition=Ready smig/drawing-db --timeout=300s >/dev/null ||
  fail "SchemaMigration did not become Ready: $(k -n drawing get smig drawing-db -o yaml)"
echo "ok: Ready=True"

revision=$("${psql[@]}" "$db_url" -c "SELECT version_num FROM alembic_version")
[ "$revision" = seed_default_schemas ] || fail "database at '$revision', expected seed_default_schemas"
echo "ok: database at $revision"
[ "$(k -n drawing get smig drawing-db -o jsonpath='{.status.currentRevision}')" = seed_default_schemas ] ||
  fail "status.currentRevision is not seed_default_schemas"
[ "$(k -n drawing get smig drawing-db -o jsonpath='{.status.lastRun.outcome}')" = Succeeded ] ||
  fail "status.lastRun.outcome is not Succeeded"

for pair in backend=3 celery-worker=2; do
  name=${pair%=*}; want=${pair#*=}
  got=$(k -n drawing get deployment "$name" -o jsonpath='{.spec.replicas}')
  [ "$got" = "$want" ] || fail "deployment $name has spec.replicas $got, expected $want"
  wait_until "deployment $name status.replicas=$want" \
    bash -c "[ \"\$($E2E_KUBECTL -n drawing get deployment $name -o jsonpath='{.status.replicas}')\" = $want ]"
done
echo "ok: backend=3 celery-worker=2 restored"

metrics=$(curl -fsS "$E2E_METRICS_URL/metrics")
grep -q 'schemaop_runs_total{outcome="Succeeded"} 1' <<<"$metrics" || fail "runs_total missing: $metrics"
grep -q 'schemaop_current_revision_info{name="drawing-db",namespace="drawing",revision="seed_default_schemas"} 1' \
  <<<"$metrics" || fail "current_revision_info missing"
grep -q '^schemaop_downtime_seconds_count 1' <<<"$metrics" || fail "downtime histogram missing"
echo "ok: metrics"

# A no-op reconcile (already at target) writes nothing. Trigger one with a
# metadata change and wait until the controller has reconciled it.
reconciles() {
  curl -fsS "$E2E_METRICS_URL/metrics" |
    awk '/^schemaop_reconcile_total/ {s += $2} END {print s + 0}'
}
before=$(reconciles)
curl -fsS -X DELETE "$E2E_APISERVER_URL/_test/counters" >/dev/null
k -n drawing annotate smig drawing-db schemaop.dev/smoke=noop >/dev/null
wait_until "a reconcile after the annotation" bash -c "[ \$(curl -fsS $E2E_METRICS_URL/metrics | awk '/^schemaop_reconcile_total/ {s += \$2} END {print s + 0}') -gt $before ]"
counters=$(curl -fsS "$E2E_APISERVER_URL/_test/counters")
writes=$(sed -n 's/.*"writes":\([0-9]*\).*/\1/p' <<<"$counters")
# The one write is kubectl's annotate patch.
[ "$writes" = 1 ] || fail "the no-op reconcile wrote to the API server: $counters"
echo "ok: no-op reconcile wrote nothing ($counters)"

if grep -qF -- "$password" "$E2E_CONTROLLER_LOG"; then fail "the database password is in the controller log"; fi
if k -n drawing get smig drawing-db -o yaml | grep -qF -- "$password"; then fail "the password is in the status"; fi
if k -n drawing get events -o yaml | grep -qF -- "$password"; then fail "the password is in an Event"; fi
echo "ok: no secret in log, status or events"

# The controller ran as the ServiceAccount of manifests/ (e2e_env.sh): the
# API server denied it nothing, so the RBAC there covers what it did.
denied=$(curl -fsS "$E2E_APISERVER_URL/_test/denied")
[ "$(sed -n 's/.*"total":\([0-9]*\).*/\1/p' <<<"$denied")" = 0 ] ||
  fail "the API server denied the controller (manifests/rbac.yaml lacks a permission): $denied"
echo "ok: the controller's RBAC (manifests/) covered every request"

"$env_sh" stop-controller "$state"
. "$state"
[ "$E2E_CONTROLLER_EXIT" = 0 ] || fail "controller exited with $E2E_CONTROLLER_EXIT after SIGTERM"
grep -q "shutting down gracefully" "$E2E_CONTROLLER_LOG" || fail "no graceful shutdown logged"
echo "ok: SIGTERM -> exit 0"
"${psql[@]}" "$PGHARNESS_URL" -c "DROP DATABASE IF EXISTS $db"
echo PASS
