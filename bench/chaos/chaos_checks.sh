# shellcheck shell=bash
# shellcheck disable=SC2034  # CHAOS_*, KIND, R: read by bench/chaos/run
# The chaos soak's invariants (bench/chaos/run sources this after
# tests/support/e2e.sh). Each check appends one line per violation to
# $CHAOS_WORK/violations ("KIND: details") and never stops the soak; the soak
# exits non-zero when that file is not empty at the end.
#
#   revision   the version table holds one revision of the chain. While a
#              run is open in schemaop.run_log it is the run's start, its
#              target, or a revision its plan passes through (a segmented
#              plan commits step by step); once the run is closed it is the
#              target (succeeded) or the start (rolled back, or failed
#              before its first commit): never elsewhere. Sampled every
#              CHAOS_SAMPLE_S seconds by one psql session (\watch) reading
#              the version table and the run's row in one statement, and
#              checked again at every settle point.
#   replicas   when Ready=True for the current generation: every workload
#              at the replicas the user set (backend 3, celery-worker 2;
#              spec, status and ready), and status.workloads records them.
#   data       when Ready: the semantic digest of the drawing tables
#              (chaos_data_digest) and the schema dump equal the ones the
#              fault-free warm-up recorded at that revision.
#   run_log    no run executed twice: per run identity (run_key without its
#              #interrupted- suffix) at most one row not marked interrupted;
#              an interrupted row is failed with its cursor at its plan's start
#              (section 0, or the first of its phase; it
#              committed nothing); per SchemaMigration generation at most
#              one succeeded run; no row left running once settled.
#   secret     the database password (from the Secret) appears in no
#              controller log, API server log, Event or status.

CHAOS_CHAIN=(9bc6a98f1c12 add_flexible_schemas seed_default_schemas)

violation() {  # violation KIND DETAILS
  local line="$1: $2"
  printf '%s\n' "$line" >>"$CHAOS_WORK/violations"
  printf '[%s] VIOLATION %s\n' "$(date +%H:%M:%S)" "$line" >&2
}
# violation_once KIND KEY DETAILS: one violation per KEY (a bad state seen
# by several checks or samples is counted once).
violation_once() {
  grep -qxF -- "$1 $2" "$CHAOS_WORK/violations.seen" 2>/dev/null && return 0
  printf '%s\n' "$1 $2" >>"$CHAOS_WORK/violations.seen"
  violation "$1" "$3"
}
violation_count() { [ -f "$CHAOS_WORK/violations" ] && wc -l <"$CHAOS_WORK/violations" || echo 0; }

# ------------------------------------------------------------------ data

# chaos_data_digest: "<common>/<extension>/<schema>". common covers every
# drawings row and the original columns of every component (they must
# survive every upgrade and downgrade unchanged); extension the rows the
# flexible-schema revisions add, without serial ids and timestamps (a
# re-seeded schema `default` gets a new id, so components are compared by
# the schema's name); schema the md5 of pg_dump --schema-only.
chaos_data_digest() {
  local common ext="-" schema
  common=$(q "SELECT count(*) || ':' || md5(string_agg(x, '|' ORDER BY k)) FROM (
      SELECT 'd' || lpad(id::text, 10, '0') AS k, md5(d::text) AS x FROM drawings AS d
      UNION ALL
      SELECT 'c' || lpad(id::text, 10, '0'),
             md5(row(id, drawing_id, component_type, description, material_type, quantity,
                     created_at, updated_at, instance_identifier)::text)
      FROM components) AS s") || return 1
  if [ "$(q "SELECT to_regclass('public.component_schemas') IS NOT NULL")" = t ]; then
    ext=$(q "SELECT count(*) || ':' || md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
        SELECT 's:' || row(name, description, version, is_default, is_active)::text AS x
        FROM component_schemas
        UNION ALL
        SELECT 'f:' || row(s.name, f.field_name, f.field_type, f.field_config, f.help_text,
                           f.display_order, f.is_required, f.is_active)::text
        FROM component_schema_fields AS f JOIN component_schemas AS s ON s.id = f.schema_id
        UNION ALL
        SELECT 'c:' || row(c.id, s.name, c.dynamic_data)::text
        FROM components AS c LEFT JOIN component_schemas AS s ON s.id = c.schema_id
        WHERE c.schema_id IS NOT NULL OR c.dynamic_data IS NOT NULL) AS t") || return 1
  fi
  schema=$("$E2E_PG_BIN/pg_dump" --schema-only --no-owner --schema=public -d "$E2E_DB" |
    grep -v -e '^--' -e '^\\restrict ' -e '^\\unrestrict ' | md5sum | cut -c1-12) || return 1
  echo "$common/$ext/$schema"
}

# chaos_record_reference REVISION: the digest at REVISION, reached without
# faults (the warm-up); the common part must equal the first revision's.
chaos_record_reference() {
  local digest
  digest=$(chaos_data_digest) || fail "digest at $1 failed"
  CHAOS_REF[$1]=$digest
  if [ -n "${CHAOS_REF_COMMON:-}" ] && [ "${digest%%/*}" != "$CHAOS_REF_COMMON" ]; then
    fail "warm-up: the original rows changed on the way to $1 ($CHAOS_REF_COMMON -> ${digest%%/*})"
  fi
  CHAOS_REF_COMMON=${digest%%/*}
  log "reference digest at $1: $digest"
}

check_data() {  # check_data REVISION
  local now want=${CHAOS_REF[$1]:-}
  [ -n "$want" ] || { violation data "no reference digest for revision [$1]"; return; }
  now=$(chaos_data_digest) || { violation data "could not compute the digest at $1"; return; }
  [ "$now" = "$want" ] && return 0
  local what=()
  [ "${now%%/*}" = "${want%%/*}" ] || what+=("original rows")
  local n=${now#*/} w=${want#*/}
  [ "${n%%/*}" = "${w%%/*}" ] || what+=("flexible-schema rows")
  [ "${now##*/}" = "${want##*/}" ] || what+=("schema")
  violation data "at $1 (${CHAOS_CONTEXT:-}): ${what[*]} differ: expected $want, got $now"
}

# ------------------------------------------------------------ workloads

# The SchemaMigration and both workloads in one request (at most 3 s: a
# poll held up by kubectl's retries would add to the recovery time):
# "SchemaMigration|name|gen|observed|current|ready|reconciling||||stalled"
# and "Deployment|name|gen|observed||||spec|status|ready|" lines.
chaos_state() {
  kubectl --request-timeout=3s get "smig/$E2E_SMIG" deploy/backend deploy/celery-worker -n "$E2E_NS" -o jsonpath='{range .items[*]}{.kind}|{.metadata.name}|{.metadata.generation}|{.status.observedGeneration}|{.status.currentRevision}|{.status.conditions[?(@.type=="Ready")].status}|{.status.conditions[?(@.type=="Reconciling")].status}|{.spec.replicas}|{.status.replicas}|{.status.readyReplicas}|{.status.conditions[?(@.type=="Stalled")].status}{"\n"}{end}' 2>/dev/null
}

# settled TARGET: Ready=True for the current generation at TARGET, nothing
# reconciling, the database at TARGET, both workloads back. Sets
# CHAOS_STALLED=1 when the current generation is Stalled instead.
settled() {
  local state smig gen observed current ready reconciling stalled
  CHAOS_STALLED=0
  state=$(chaos_state) || return 1
  smig=$(grep '^SchemaMigration|' <<<"$state") || return 1
  IFS='|' read -r _ _ gen observed current ready reconciling _ _ _ stalled <<<"$smig"
  [ "$gen" = "$observed" ] && [ "$stalled" = True ] && CHAOS_STALLED=1
  [ "$gen" = "$observed" ] && [ "$current" = "$1" ] && [ "$ready" = True ] &&
    [ "$reconciling" != True ] || return 1
  grep -q '^Deployment|backend|.*|3|3|3|$' <<<"$state" || return 1
  grep -q '^Deployment|celery-worker|.*|2|2|2|$' <<<"$state" || return 1
  [ "$(db_revision)" = "$1" ]
}

check_replicas() {
  local state recorded
  state=$(chaos_state) || { violation replicas "could not read the workloads"; return; }
  grep -q '^Deployment|backend|.*|3|3|3|$' <<<"$state" &&
    grep -q '^Deployment|celery-worker|.*|2|2|2|$' <<<"$state" ||
    violation replicas "Ready=True but the workloads are not at 3 and 2 (${CHAOS_CONTEXT:-}): $(grep '^Deployment' <<<"$state" | tr '\n' ' ')"
  recorded=$(smig '{range .status.workloads[*]}{.name}={.originalReplicas} {end}' 2>/dev/null | sed 's/ $//')
  case "$recorded" in
    "" | "backend=3 celery-worker=2") ;;
    *) violation replicas "status.workloads records [$recorded], not backend=3 celery-worker=2 (${CHAOS_CONTEXT:-})" ;;
  esac
}

# --------------------------------------------------------------- run_log

check_run_log() {
  local rows
  rows=$(q "SELECT 'twice ' || split_part(run_key, '#', 1) || ': ' || string_agg(id || ' ' || outcome, ', ')
            FROM schemaop.run_log WHERE run_key IS NOT NULL
            GROUP BY split_part(run_key, '#', 1)
            HAVING count(*) FILTER (WHERE run_key NOT LIKE '%#interrupted-%') > 1
            UNION ALL
            SELECT 'interrupted run ' || id || ' (' || run_key || ') is ' || outcome || ' with cursor '
                   || progress::text
            FROM schemaop.run_log WHERE run_key LIKE '%#interrupted-%'
              AND (outcome <> 'failed' OR coalesce(progress->>'phase', 'forward') <> 'forward'
                   OR coalesce((progress->>'step')::int, 0) <> coalesce((plan->'start'->>'step')::int, 0)
                   OR coalesce((progress->>'section')::int, 0) <> coalesce((plan->'start'->>'section')::int, 0)
                   OR coalesce((progress->>'statement')::int, 0) <> coalesce((plan->'start'->>'statement')::int, 0))
            UNION ALL
            SELECT 'generation ' || split_part(run_key, '/', 1) || '/' || split_part(run_key, '/', 2)
                   || coalesce(substring(run_key from '/phase/[a-z]+'), '')
                   || ' succeeded ' || count(*) || ' times: runs ' || string_agg(id::text, ', ')
            FROM schemaop.run_log WHERE run_key IS NOT NULL AND outcome = 'succeeded'
            GROUP BY split_part(run_key, '/', 1), split_part(run_key, '/', 2),
                     substring(run_key from '/phase/[a-z]+') HAVING count(*) > 1
            UNION ALL
            SELECT 'run ' || id || ' still running after the SchemaMigration settled'
            FROM schemaop.run_log WHERE outcome = 'running'") ||
    { violation run_log "could not read schemaop.run_log"; return; }
  local line
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    violation_once run_log "$line" "$line"
  done <<<"$rows"
}

# -------------------------------------------------------------- revision

# The sampler: one psql session printing, every CHAOS_SAMPLE_S seconds,
# "S|time|versions|run id|outcome|from|to|plan path|phase" for the open run
# (else the last run) in one statement, so the two are one snapshot. phase:
# expand, window or contract for one phase's run of a plan with phases
# (design §3.1), else all.
start_revision_sampler() {
  local sql
  sql="SELECT 'S', to_char(clock_timestamp(), 'HH24:MI:SS.MS'),
         (SELECT coalesce(string_agg(version_num, ',' ORDER BY version_num), '') FROM alembic_version),
         r.id, r.outcome, array_to_string(r.from_versions, ','), array_to_string(r.to_versions, ','),
         (SELECT string_agg(v, ',') FROM jsonb_array_elements(coalesce(r.plan->'steps', '[]')) AS st,
                 jsonb_array_elements_text(st->'versions_after') AS v),
         CASE WHEN r.plan->'phases'->>'first' = r.plan->'phases'->>'last'
              THEN r.plan->'phases'->>'first' ELSE 'all' END
       FROM (SELECT * FROM schemaop.run_log ORDER BY (outcome = 'running') DESC, id DESC LIMIT 1) AS r"
  printf '%s\n\\watch %s\n' "$sql" "${CHAOS_SAMPLE_S:-0.25}" |
    PGAPPNAME=chaos_sampler "$E2E_PG_BIN/psql" -X -q -At -F '|' >>"$CHAOS_WORK/samples" 2>>"$CHAOS_WORK/sampler.log" &
  CHAOS_SAMPLER_PID=$!
  E2E_PIDS+=("$CHAOS_SAMPLER_PID")
}

# check_samples: the samples since the last call (the sampler restarts
# itself if its session ended).
check_samples() {
  local total
  kill -0 "$CHAOS_SAMPLER_PID" 2>/dev/null || start_revision_sampler
  total=$(wc -l <"$CHAOS_WORK/samples")
  tail -n +$((CHAOS_SAMPLES_READ + 1)) "$CHAOS_WORK/samples" | head -n $((total - CHAOS_SAMPLES_READ)) |
    awk -F'|' -v chain=" ${CHAOS_CHAIN[*]} " '
      $1 != "S" { next }
      { v = $3; id = $4; outcome = $5; from = $6; to = $7; path = $8; phase = $9; bad = "" }
      # An expand phase never moves the version table (it stays at from); a
      # contract phase runs at the target (design §3.1).
      phase == "expand" { path = ""; to = from }
      phase == "contract" { path = ""; from = to }
      index(chain, " " v " ") == 0 { bad = "not one revision of the chain" }
      bad == "" && outcome == "running" && index("," from "," to "," path ",", "," v ",") == 0 { bad = "outside the open run" }
      bad == "" && outcome == "succeeded" && v != to { bad = "not the target of the succeeded run" }
      bad == "" && (outcome == "rolled_back" || outcome == "failed") && v != from { bad = "not the start of the " outcome " run" }
      bad != "" && !seen[v "|" bad "|" id "|" outcome]++ {
        printf "version table at %s: [%s] %s (run %s %s, phase %s, %s>%s)\n", $2, v, bad, id, outcome, phase, $6, $7 }' |
    while IFS= read -r line; do violation_once revision "${line#* at * }" "$line"; done
  CHAOS_SAMPLES_READ=$total
  CHAOS_SAMPLE_COUNT=$total
}

# ---------------------------------------------------------------- secret

# check_secret [full]: new bytes of every log since the last call; with
# `full` also every Event and the SchemaMigration's status.
check_secret() {
  local f size from
  for f in "$E2E_WORK"/controller-*.log "$E2E_WORK"/apiserver.log "$E2E_WORK"/apiserver.out; do
    [ -f "$f" ] || continue
    size=$(stat -c %s "$f")
    from=${CHAOS_LOG_READ[$f]:-0}
    if ((size > from)) && tail -c +$((from + 1)) "$f" | head -c $((size - from)) | grep -qF -- "$E2E_DB_PASSWORD"; then
      violation secret "the database password appears in $(basename "$f") (after byte $from)"
    fi
    CHAOS_LOG_READ[$f]=$size
  done
  [ "${1:-}" = full ] || return 0
  local where
  for where in events smig; do
    kubectl get "$where" -n "$E2E_NS" -o yaml >"$CHAOS_WORK/leak-$where.txt" 2>&1 || continue
    if grep -qF -- "$E2E_DB_PASSWORD" "$CHAOS_WORK/leak-$where.txt"; then
      violation secret "the database password appears in the ${where} of namespace $E2E_NS"
    fi
  done
  rm -f "$CHAOS_WORK"/leak-*.txt
}

# check_all [full]: every invariant, at a settle point (the target reached).
check_all() {
  check_samples
  local now
  now=$(db_revision)
  check_replicas
  if [ "$now" = "$CHAOS_TARGET" ]; then
    check_data "$now"
  else
    violation revision "settled, but the version table holds [$now], not the target $CHAOS_TARGET (${CHAOS_CONTEXT:-})"
  fi
  check_run_log
  check_secret "${1:-}"
}
