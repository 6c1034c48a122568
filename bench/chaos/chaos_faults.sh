# shellcheck shell=bash
# shellcheck disable=SC2034  # CHAOS_*, KIND, R: read by bench/chaos/run
# The chaos soak's fault menu (bench/chaos/run sources this after
# tests/support/e2e.sh). Every choice comes from bash's $RANDOM, seeded once
# with --seed, so a run's sequence of faults, targets and delays can be
# replayed (the timing of the processes themselves is not replayable).
#
# Two controllers run with --leader-elect (ids a and b); each process gets
# a new identity chaos-ID-N (as a restarted pod gets a new $POD_NAME_<pid>),
# so a new leader fences the sessions of any earlier one (design §4.2).

CHAOS_LEASE_S=${CHAOS_LEASE_S:-3}
declare -A CHAOS_INCARNATION=([a]=0 [b]=0)

# The kinds and their weights (out of 100; --kinds keeps some of them).
CHAOS_KINDS=(retarget:12 kill_leader:10 kill_leader_wait:8 stop_leader:8 kill_standby:4
             api_errors:14 api_slow:8 api_freeze:6 api_outage:6 watch_drop:6 watch_expire:6
             pg_terminate:12)

# only_kinds K1,K2,...: the menu reduced to those kinds (--kinds).
only_kinds() {
  local kept=() entry
  for entry in "${CHAOS_KINDS[@]}"; do
    [[ ",$1," == *",${entry%%:*},"* ]] && kept+=("$entry")
  done
  [ ${#kept[@]} -gt 0 ] || fail "--kinds $1: none of the kinds exists (${CHAOS_KINDS[*]%%:*})"
  CHAOS_KINDS=("${kept[@]}")
}

# The random helpers set a variable instead of printing: $RANDOM in a
# command substitution's subshell would not advance the seeded sequence.
pick_kind() {  # -> KIND
  local total=0 r entry
  for entry in "${CHAOS_KINDS[@]}"; do total=$((total + ${entry#*:})); done
  r=$((RANDOM % total))
  KIND=${CHAOS_KINDS[0]%%:*}
  for entry in "${CHAOS_KINDS[@]}"; do
    r=$((r - ${entry#*:}))
    ((r < 0)) && { KIND=${entry%%:*}; return; }
  done
}
rand_between() { R=$(($1 + RANDOM % ($2 - $1 + 1))); }  # rand_between LO HI -> R
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')"; }

# admin METHOD PATH [JSON]: the test API server's admin API over a plain
# socket, not kubectl: under a 503 or latency rule kubectl's own retries
# (discovery, Retry-After) would delay the request that lifts the fault by
# seconds, so a fault would last longer than the soak says. Requests without
# credentials act as the admin on the plain-HTTP test server.
admin() {
  local port body=${3:-} fd status
  port=$(sed -n 's/^listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$E2E_WORK/apiserver.out")
  exec {fd}<>"/dev/tcp/127.0.0.1/$port" || fail "admin $1 /_test/$2: cannot connect"
  printf '%s /_test/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "${#body}" "$body" >&"$fd"
  status=$(head -1 <&"$fd" | tr -d '\r')
  exec {fd}>&-
  [[ "$status" =~ ^HTTP/1\.[01]\ 2 ]] || fail "admin $1 /_test/$2 $body: $status"
}

# ------------------------------------------------------------ controllers

chaos_start_controller() {  # chaos_start_controller ID
  CHAOS_INCARNATION[$1]=$((CHAOS_INCARNATION[$1] + 1))
  start_controller "$1" --leader-elect --leader-election-namespace schemaop-system \
    --lease-duration "${CHAOS_LEASE_S}s" --renew-deadline "$((CHAOS_LEASE_S - 1))s" \
    --retry-period 500ms --identity "chaos-$1-${CHAOS_INCARNATION[$1]}"
}

# leader_id -> LEADER: a or b, the live process whose identity holds the
# Lease; one at random when the holder is dead or unknown.
leader_id() {
  local holder id
  holder=$(lease_holder 2>/dev/null || true)
  for id in a b; do
    if [ "$holder" = "chaos-$id-${CHAOS_INCARNATION[$id]}" ] && controller_alive "$id"; then
      LEADER=$id
      return
    fi
  done
  other_id ""
  LEADER=$OTHER
}
other_id() {  # other_id ID -> OTHER: the other controller (a random one for "")
  case "$1" in
    a) OTHER=b ;;
    b) OTHER=a ;;
    *) ((RANDOM % 2)) && OTHER=a || OTHER=b ;;
  esac
}

chaos_kill() {  # chaos_kill ID: SIGKILL, reaped here
  local pid=${E2E_CONTROLLER_PID[$1]}
  kill -CONT "$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ensure_controllers: both controllers running. A controller that exited
# by itself is restarted; exit 1 is its documented answer to a lost Lease
# or a failed start (the API server frozen or failing); any other code
# (a crash: abort, segfault) is a violation.
ensure_controllers() {
  local id pid code
  for id in a b; do
    pid=${E2E_CONTROLLER_PID[$id]:-}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      continue
    fi
    if [ -n "$pid" ]; then
      code=0
      wait "$pid" 2>/dev/null || code=$?
      if [ "$code" != 1 ] && [ "$code" != 137 ]; then
        violation crash "controller chaos-$id-${CHAOS_INCARNATION[$id]} exited with code $code (${CHAOS_CONTEXT:-}); log: $(tail -n 3 "$(controller_log "$id")" | tr '\n' ' ')"
      fi
      CHAOS_EXITS=$((CHAOS_EXITS + 1))
    fi
    chaos_start_controller "$id"
  done
}

# ----------------------------------------------------------------- faults

# inject KIND: one fault, described in CHAOS_DESC (not in a subshell: it
# changes the soak's state). Faults with a
# duration end here (the process resumed, the rules cleared).
inject() {
  case "$1" in
    retarget) flip_target; CHAOS_DESC="retarget to $CHAOS_TARGET" ;;
    kill_leader) fault_kill_leader now ;;
    kill_leader_wait) fault_kill_leader after-takeover ;;
    stop_leader) fault_stop_leader ;;
    kill_standby)
      leader_id
      other_id "$LEADER"
      chaos_kill "$OTHER"
      chaos_start_controller "$OTHER"
      CHAOS_DESC="SIGKILL standby $OTHER, restarted"
      ;;
    api_errors) fault_api_errors ;;
    api_slow) fault_api_slow ;;
    api_freeze) fault_api_freeze ;;
    api_outage) fault_api_outage ;;
    watch_drop) admin POST close-watches '{}'; CHAOS_DESC="every watch closed" ;;
    watch_expire)
      admin POST expire-history '{}'
      admin POST close-watches '{}'
      CHAOS_DESC="watch history expired and every watch closed (410 on resume)"
      ;;
    pg_terminate) fault_pg_terminate ;;
    *) fail "unknown fault kind $1" ;;
  esac
}

fault_kill_leader() {  # now | after-takeover
  local id other holder waited=0
  leader_id
  id=$LEADER
  other_id "$id"
  other=$OTHER
  holder=chaos-$id-${CHAOS_INCARNATION[$id]}
  chaos_kill "$id"
  if [ "$1" = after-takeover ]; then
    takeover() { local h; h=$(lease_holder 2>/dev/null) && [ -n "$h" ] && [ "$h" != "$holder" ]; }
    retry_until $((CHAOS_LEASE_S + 30)) takeover || waited=1
  fi
  chaos_start_controller "$id"
  if [ "$1" = after-takeover ]; then
    ((waited == 0)) && CHAOS_DESC="SIGKILL leader $id; $other took the Lease; $id restarted" ||
      CHAOS_DESC="SIGKILL leader $id; no takeover within $((CHAOS_LEASE_S + 30))s; $id restarted"
  else
    CHAOS_DESC="SIGKILL leader $id, restarted at once"
  fi
}

# SIGSTOP the leader past its lease (its sessions stay open: the standby
# must fence them), then SIGCONT: it must notice it lost the Lease.
fault_stop_leader() {
  local id pid ms
  leader_id
  id=$LEADER
  pid=${E2E_CONTROLLER_PID[$id]}
  rand_between $((CHAOS_LEASE_S * 1000 + 500)) $((CHAOS_LEASE_S * 1000 + 3000))
  ms=$R
  kill -STOP "$pid" 2>/dev/null || { CHAOS_DESC="SIGSTOP leader $id: not running"; return; }
  sleep_ms "$ms"
  kill -CONT "$pid" 2>/dev/null || true
  CHAOS_DESC="SIGSTOP leader $id for ${ms}ms, then SIGCONT"
}

CHAOS_API_PATHS=("/schemamigrations/[^/]+/status$" "/schemamigrations" "/deployments/[^/]+/scale$"
                 "/deployments" "/leases/" "/secrets/" "/configmaps/" "/events" ".")
fault_api_errors() {
  local codes=(409 500 429 503) code path method count body
  code=${codes[RANDOM % 4]}
  path=${CHAOS_API_PATHS[RANDOM % ${#CHAOS_API_PATHS[@]}]}
  rand_between 1 3
  count=$R
  method=""
  if [ "$code" = 409 ]; then
    local methods=(PUT PATCH)
    method=${methods[RANDOM % 2]}
  fi
  body=$(printf '{"path":"%s","code":%s,"count":%s%s}' "$path" "$code" "$count" \
    "${method:+,\"method\":\"$method\"}")
  admin POST faults "$body"
  CHAOS_DESC="$count x $code on ${method:-any} $path"
}

fault_api_slow() {
  local path ms hold
  path=${CHAOS_API_PATHS[RANDOM % ${#CHAOS_API_PATHS[@]}]}
  rand_between 200 2500
  ms=$R
  rand_between 1000 3000
  hold=$R
  admin POST latency "$(printf '{"path":"%s","delayMs":%s,"count":-1}' "$path" "$ms")"
  sleep_ms "$hold"
  admin DELETE faults
  CHAOS_DESC="${ms}ms latency on $path for ${hold}ms"
}

# The API server stops answering (SIGSTOP: connections hang, as with a
# hung or partitioned control plane), then resumes with its state.
fault_api_freeze() {
  local ms
  rand_between 1000 4000
  ms=$R
  kill -STOP "$CHAOS_APISERVER_PID"
  sleep_ms "$ms"
  kill -CONT "$CHAOS_APISERVER_PID"
  CHAOS_DESC="API server frozen (SIGSTOP) for ${ms}ms"
}

# A restart as a client sees it: every request 503 (Retry-After: 1) and
# every watch closed for a while, then back with the watch history gone
# (a resume from an old resourceVersion gets 410). The test API server
# keeps its objects in memory only, so its process is not restarted.
fault_api_outage() {
  local ms
  rand_between 1000 3000
  ms=$R
  admin POST faults '{"path":".","code":503,"count":-1}'
  admin POST close-watches '{}'
  sleep_ms "$ms"
  admin DELETE faults
  admin POST expire-history '{}'
  admin POST close-watches '{}'
  CHAOS_DESC="API server unavailable (503, watches closed) for ${ms}ms, back with the history expired"
}

# pg_terminate_backend of the controllers' sessions (migration, lock,
# pg_dump): all of them or one at random, as soon as one exists (up to 5 s).
fault_pg_terminate() {
  local which=all limit=1000 n=0 deadline=$((SECONDS + 5))
  ((RANDOM % 2)) && which=one limit=1
  while ((n == 0 && SECONDS < deadline)); do
    n=$(q "SELECT count(pg_terminate_backend(pid)) FROM (
             SELECT pid FROM pg_stat_activity WHERE datname = current_database()
               AND application_name LIKE 'schemaop%' AND pid <> pg_backend_pid()
             ORDER BY random() LIMIT $limit) AS s") || n=0
    ((n > 0)) || sleep 0.05
  done
  CHAOS_DESC="pg_terminate_backend of $which of the controllers' sessions: $n terminated"
}

# ------------------------------------------------------------------ targets

# flip_target: a new spec.targetRevision (another revision of the chain).
flip_target() {
  local i now=0
  for i in 0 1 2; do [ "${CHAOS_CHAIN[$i]}" = "$CHAOS_TARGET" ] && now=$i; done
  apply_target "${CHAOS_CHAIN[(now + 1 + RANDOM % 2) % 3]}"
}

# The SchemaMigration for each target, rendered once: the example with that
# target and checks that hold there (the examples' checks hold at their own
# targets; add_flexible_schemas gets its structure checked).
render_targets() {
  local rev checks
  for rev in "${CHAOS_CHAIN[@]}"; do
    case "$rev" in
      9bc6a98f1c12) checks=$(kubectl patch --local -f "$E2E_SRC/manifests/examples/drawing/rollback.yaml" \
                       --type=merge -p '{}' -o jsonpath='{.spec.verify.checks}') ;;
      add_flexible_schemas) checks='[{"name":"flexible-tables-exist","sql":"SELECT count(*) = 2 FROM pg_tables WHERE tablename IN ('"'"'component_schemas'"'"', '"'"'component_schema_fields'"'"')"}]' ;;
      seed_default_schemas) checks=$(kubectl patch --local -f "$E2E_SRC/manifests/examples/drawing/upgrade.yaml" \
                       --type=merge -p '{}' -o jsonpath='{.spec.verify.checks}') ;;
    esac
    smig_manifest upgrade.yaml "{\"spec\":{\"targetRevision\":\"$rev\",\"verify\":{\"checks\":$checks}}}" \
      >"$CHAOS_WORK/smig-$rev.yaml" || fail "could not render the SchemaMigration for $rev"
  done
}

apply_target() {  # apply_target REVISION (retried while API faults last)
  applied() { kubectl apply --validate=false -f "$CHAOS_WORK/smig-$1.yaml" >>"$CHAOS_WORK/apply.log" 2>&1; }
  retry_until 120 applied "$1" || fail "kubectl apply of target $1 failed for 120 s: $(tail -3 "$CHAOS_WORK/apply.log")"
  CHAOS_TARGET=$1
  CHAOS_FLIPS=$((CHAOS_FLIPS + 1))
}
