# shellcheck shell=bash
# The controller half of the e2e harness (tests/support/e2e.sh sources it):
# the controller's identity and RBAC, starting, stopping and killing
# `schemaop controller` processes, their probes and metrics.

# ---- The controller's identity (issue 8 item 5). The test API server
# enforces RBAC: the controller runs as the ServiceAccount of manifests/ with
# exactly the Roles, ClusterRoles and bindings `kubectl kustomize manifests/`
# renders, so a missing permission fails a test (and a superfluous one shows
# in the kustomize test's get-only/no-wildcard checks and in review). The
# tests' own kubectl stays the all-powerful admin of $KUBECONFIG.
E2E_CONTROLLER_SA_NS=schemaop-system
E2E_CONTROLLER_SA=schemaop-controller
# The kustomization whose RBAC the controller gets (manifests/namespaced for
# the namespaced install), or E2E_RBAC_RENDERED: a file of objects already
# rendered (the Helm chart's), whose RBAC objects are used instead.
E2E_RBAC_MANIFESTS=${E2E_RBAC_MANIFESTS:-manifests}
E2E_RBAC_RENDERED=${E2E_RBAC_RENDERED:-}
# controller_kubeconfig: applies the rendered RBAC once and sets
# E2E_CONTROLLER_KUBECONFIG to a kubeconfig holding a token of the
# controller's ServiceAccount.
controller_kubeconfig() {
  local file=$E2E_WORK/controller.kubeconfig rendered=$E2E_WORK/rendered-manifests.yaml
  if [ ! -s "$file" ]; then
    if [ -n "$E2E_RBAC_RENDERED" ]; then
      cp "$E2E_RBAC_RENDERED" "$rendered"
    else
      command kubectl kustomize "$E2E_SRC/$E2E_RBAC_MANIFESTS" >"$rendered" 2>"$E2E_WORK/kustomize.err" ||
        fail "kubectl kustomize $E2E_RBAC_MANIFESTS/: $(cat "$E2E_WORK/kustomize.err")"
    fi
    # Only the RBAC objects (the rest of an install is not the controller's identity); kustomize
    # separates objects with a bare `---` line.
    awk 'function flush() { if (doc ~ /(^|\n)kind: (Cluster)?Role(Binding)?\n/) printf "---\n%s", doc; doc = "" }
         /^---$/ { flush(); next } { doc = doc $0 "\n" } END { flush() }' "$rendered" >"$E2E_WORK/rbac.yaml"
    grep -Eq '^kind: (Cluster)?Role$' "$E2E_WORK/rbac.yaml" || fail "no role rendered from $E2E_RBAC_MANIFESTS/"
    kubectl create namespace "$E2E_CONTROLLER_SA_NS" --dry-run=client -o yaml |
      kubectl apply --validate=false -f - >/dev/null || fail "create namespace $E2E_CONTROLLER_SA_NS"
    kubectl apply --validate=false -f "$E2E_WORK/rbac.yaml" >/dev/null || fail "apply of the rendered RBAC"
    local token
    token=$(printf '{"serviceAccount":{"namespace":"%s","name":"%s"}}' "$E2E_CONTROLLER_SA_NS" "$E2E_CONTROLLER_SA" |
      kubectl create --raw /_test/tokens -f - | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    [ -n "$token" ] || fail "no token for the controller's ServiceAccount"
    sed "s/^\( *token: \).*/\1$token/" "$KUBECONFIG" >"$file.tmp"
    grep -q "token: $token" "$file.tmp" || fail "the controller kubeconfig has no token line"
    mv "$file.tmp" "$file"
    log "controller runs as system:serviceaccount:$E2E_CONTROLLER_SA_NS:$E2E_CONTROLLER_SA with the RBAC of ${E2E_RBAC_RENDERED:-$E2E_RBAC_MANIFESTS/}"
  fi
  E2E_CONTROLLER_KUBECONFIG=$file
}
# controller_rbac_without RESOURCE: removes the rule granting RESOURCE (e.g.
# secrets) from the controller's ClusterRole, as a mistaken install would.
controller_rbac_without() {
  local index
  index=$(kubectl get clusterrole "$E2E_CONTROLLER_SA" -o jsonpath='{range .rules[*]}{.resources}{"\n"}{end}' |
    grep -nx "\[\"$1\"\]" | cut -d: -f1)
  [ -n "$index" ] || fail "no rule for $1 alone in ClusterRole $E2E_CONTROLLER_SA"
  kubectl patch clusterrole "$E2E_CONTROLLER_SA" --type=json \
    -p "[{\"op\":\"remove\",\"path\":\"/rules/$((index - 1))\"}]" >/dev/null ||
    fail "removing $1 from ClusterRole $E2E_CONTROLLER_SA"
  log "ClusterRole $E2E_CONTROLLER_SA no longer grants $1"
}

# Every request the API server denied the controller fails the test (it
# means manifests/ lacks a permission the controller uses), unless it
# matches E2E_ALLOWED_DENIALS (an extended regex over "<verb> <resource>
# <namespace>/<name>", for a test that removes a permission on purpose).
# On a failing test the denials are printed as a diagnosis.
controller_denials() {
  kubectl get --raw /_test/denied 2>/dev/null |
    grep -o "\"system:serviceaccount:$E2E_CONTROLLER_SA_NS:$E2E_CONTROLLER_SA [^\"]*\"" |
    sed -e 's/^"[^ ]* //' -e 's/"$//'
}
check_controller_denials() {  # check_controller_denials EXIT_CODE
  local denials
  denials=$(controller_denials | { [ -n "${E2E_ALLOWED_DENIALS:-}" ] && grep -Ev -- "$E2E_ALLOWED_DENIALS" || cat; } |
    sort | uniq -c)
  [ -z "$denials" ] && return 0
  if [ "$1" -eq 0 ]; then
    printf '\nFAIL: the API server denied the controller (manifests/rbac.yaml lacks a permission it uses):\n%s\n' "$denials" >&2
    return 1
  fi
  printf '\nthe API server denied the controller:\n%s\n' "$denials" >&2
}

# start_controller ID [FLAGS...]: a `schemaop controller` process, log in
# controller-ID.log (controller_log ID), as the controller's ServiceAccount
# (above). Metrics and health probes are off unless FLAGS bind them (e.g.
# --health-probe-bind-address=127.0.0.1:0, then wait_controller_ready ID):
# most tests observe the controller through the API server and the
# database, like a user.
start_controller() {
  local id=$1 defaults=()
  shift
  [[ " $* " == *" --metrics-bind-address"* ]] || defaults+=(--metrics-bind-address=0)
  [[ " $* " == *" --health-probe-bind-address"* ]] || defaults+=(--health-probe-bind-address=0)
  controller_kubeconfig
  if [ -z "${E2E_DENIALS_CHECKED:-}" ]; then
    E2E_DENIALS_CHECKED=1
    # Before e2e_cleanup stops the API server; it gets the exit code via $?.
    # set +e first: under errexit, (exit "$__rc") with a failing code would end
    # the trap there, leaving every process and the scratch database behind.
    trap '__rc=$?; set +e; check_controller_denials "$__rc" || __rc=1; (exit "$__rc"); e2e_cleanup' EXIT
  fi
  # The controller gets the database only from the Secret: none of the
  # test's libpq variables (PGPASSWORD would hide a missing password).
  # shellcheck disable=SC2086
  env -u PGPASSWORD -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGAPPNAME \
    "$SCHEMAOP_BIN" controller --kubeconfig "$E2E_CONTROLLER_KUBECONFIG" \
    --backup-dir "$E2E_WORK/backups" --pg-bin-dir "$E2E_PG_BIN" \
    "${defaults[@]}" --log-level="${E2E_LOG_LEVEL:-debug}" \
    ${SCHEMAOP_CONTROLLER_ARGS:-} "$@" </dev/null >>"$(controller_log "$id")" 2>&1 &
  E2E_CONTROLLER_PID[$id]=$!
  E2E_PIDS+=("$!")
  log "controller $id started (pid $!)"
}

controller_log() { echo "$E2E_WORK/controller-$1.log"; }  # controller_log ID
controller_log_has() { grep -q -- "$2" "$(controller_log "$1")"; }  # controller_log_has ID TEXT

# controller_port ID WHAT: the port controller ID says it serves WHAT on
# ("health probes" or "metrics"), empty before it says so.
controller_port() {
  sed -n "s/.*serving $2 on [0-9.]*:\([0-9]*\).*/\1/p" "$(controller_log "$1")" | head -1
}
controller_ready() {  # controller_ready ID: its /readyz answers 200
  local port
  port=$(controller_port "$1" "health probes")
  [ -n "$port" ] && http_ok "$port" /readyz
}
# wait_controller_ready ID: a controller started with health probes bound
# serves /readyz with 200 (the manager is up: leading, or standing by).
wait_controller_ready() {
  wait_for "controller $1 to serve /readyz" 60 controller_ready "$1"
}

# free_port: a loopback TCP port nobody listens on right now.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return 0; }
  done
  fail "no free port found"
}

# http_get PORT PATH: a plain HTTP/1.0 GET on 127.0.0.1 (bash only, no curl).
http_get() {
  local body
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&"$fd"
  body=$(cat <&"$fd")
  exec {fd}>&-
  printf '%s\n' "$body" | tr -d '\r'
}

# http_ok PORT PATH: the GET answers 200.
http_ok() { http_get "$1" "$2" | head -1 | grep -Eq '^HTTP/1\.[01] 200 '; }

# metric_sum PORT NAME: the sum of every series of metric NAME.
metric_sum() {
  http_get "$1" /metrics | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d\n", s }'
}

# start_resyncing_controller ID: a controller that resyncs every second,
# with /metrics on $E2E_METRICS_PORT (for wait_reconciles).
start_resyncing_controller() {
  start_controller_with_metrics "$1" --resync-period=1s
}

# start_controller_with_metrics ID [FLAGS...]: start_controller with /metrics
# on a port the kernel picks (127.0.0.1:0), read back from the controller's
# log into E2E_METRICS_PORT: no race with parallel tests over a port that
# free_port found free a moment earlier.
start_controller_with_metrics() {
  local id=$1
  shift
  start_controller "$id" --metrics-bind-address=127.0.0.1:0 "$@"
  has_metrics_port() { [ -n "$(controller_port "$id" metrics)" ]; }
  wait_for "controller $id to serve /metrics" 30 has_metrics_port
  E2E_METRICS_PORT=$(controller_port "$id" metrics)
  wait_for "the controller's /metrics" 30 http_get "$E2E_METRICS_PORT" /metrics
}

# wait_reconciles N: N more reconciles of that controller than now.
wait_reconciles() {
  local before
  before=$(metric_sum "$E2E_METRICS_PORT" schemaop_reconcile_total)
  wait_for "$1 more reconciles (resync every 1s)" 60 eval \
    "[ \$((\$(metric_sum \"\$E2E_METRICS_PORT\" schemaop_reconcile_total) - $before)) -ge $1 ]"
}

controller_alive() { kill -0 "${E2E_CONTROLLER_PID[$1]}" 2>/dev/null; }

kill9_controller() {  # kill9_controller ID
  local pid=${E2E_CONTROLLER_PID[$1]}
  kill -KILL "$pid" 2>/dev/null || fail "controller $1 (pid $pid) was not running"
  wait "$pid" 2>/dev/null || true
  log "controller $1 killed with SIGKILL"
}

# stop_controller ID: SIGTERM and wait (SIGKILL after 30 s); the exit code
# is then in E2E_CONTROLLER_EXIT[ID].
stop_controller() {
  kill -TERM "${E2E_CONTROLLER_PID[$1]}" 2>/dev/null || true
  retry_until 30 bash -c "! kill -0 ${E2E_CONTROLLER_PID[$1]}" || kill -KILL "${E2E_CONTROLLER_PID[$1]}" 2>/dev/null
  wait_controller_exit "$1" 10
}

# wait_controller_exit ID SECONDS: controller ID ends by itself within
# SECONDS; its exit code is then in E2E_CONTROLLER_EXIT[ID].
wait_controller_exit() {
  local pid=${E2E_CONTROLLER_PID[$1]} code=0
  wait_for "controller $1 (pid $pid) to exit" "$2" bash -c "! kill -0 $pid"
  wait "$pid" 2>/dev/null || code=$?
  E2E_CONTROLLER_EXIT[$1]=$code
  log "controller $1 exited with code $code"
}

# One SchemaMigration at its target, workloads restored, nothing running.
expect_settled() {  # expect_settled REVISION
  wait_ready 180
  expect_eq "database revision" "$1" "$(db_revision)"
  expect_eq "status.currentRevision" "$1" "$(smig '{.status.currentRevision}')"
  expect_workloads_restored
  expect_eq "Reconciling" "False" "$(condition Reconciling | cut -d' ' -f1)"
}

# The controller's runs recorded in schemaop.run_log, one line each:
# "FROM>TO outcome" (runs of the local mode used to prepare data excluded).
# The controller's runs that move the version table (the window, or a run
# of a plan without phases), one line "FROM>TO outcome" each; the expand and
# contract phase runs of a plan with phases are left out (run_log_phase_rows).
run_log_rows() {
  q "SELECT array_to_string(from_versions, ',') || '>' || array_to_string(to_versions, ',')
            || ' ' || outcome
     FROM schemaop.run_log WHERE actor LIKE 'schemaop-controller%'
      AND $(run_log_moves_versions) ORDER BY id"
}
run_log_moves_versions() {
  echo "NOT (coalesce(plan->'phases'->>'first', 'all') IN ('expand', 'contract')
             AND plan->'phases'->>'first' = plan->'phases'->>'last')"
}
# Every controller run, "PHASE FROM>TO outcome" (PHASE: expand, window,
# contract, or all for a run of every phase).
run_log_phase_rows() {
  q "SELECT CASE WHEN plan->'phases'->>'first' = plan->'phases'->>'last'
                 THEN plan->'phases'->>'first' ELSE 'all' END
            || ' ' || array_to_string(from_versions, ',') || '>' || array_to_string(to_versions, ',')
            || ' ' || outcome
     FROM schemaop.run_log WHERE actor LIKE 'schemaop-controller%' ORDER BY id"
}

# ------------------------------------------------------- leader election

# The identity holding the controllers' Lease ("" while none does).
lease_holder() {
  kubectl get lease schemaop-leader -n schemaop-system -o jsonpath='{.spec.holderIdentity}'
}

# start_elected_pair LEASE_SECONDS: controllers a and b (identities e2e-a,
# e2e-b) with --leader-elect and that lease duration; once one holds the
# Lease, E2E_LEADER / E2E_STANDBY are their ids (a or b).
start_elected_pair() {
  kubectl create namespace schemaop-system --dry-run=client -o yaml |
    kubectl apply --validate=false -f - >/dev/null || fail "create namespace schemaop-system"
  local election=(--leader-elect --leader-election-namespace schemaop-system
                  --lease-duration "$1s" --renew-deadline 3s --retry-period 500ms)
  start_controller a "${election[@]}" --identity e2e-a
  start_controller b "${election[@]}" --identity e2e-b
  has_lease_holder() { [ -n "$(lease_holder)" ]; }
  wait_for "a leader" 60 has_lease_holder
  case "$(lease_holder)" in
    e2e-a) E2E_LEADER=a E2E_STANDBY=b ;;
    e2e-b) E2E_LEADER=b E2E_STANDBY=a ;;
    *) fail "unexpected Lease holder [$(lease_holder)]" ;;
  esac
  log "leader: e2e-$E2E_LEADER"
}
