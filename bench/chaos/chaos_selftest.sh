# shellcheck shell=bash
# Proof that the soak's checker can fail (bench/chaos/run --self-test, and
# --plant KIND in a soak): each plant_* function damages the settled
# system the way a broken controller or engine would, so that exactly one
# invariant is violated; unplant_* puts it back. The self-test checks that a
# clean system has no violation, that each planted one is reported under
# its kind, and that the soak's verdict is then a failure.

CHAOS_PLANTABLE=(data replicas run_log revision secret crash)

plant() {  # plant KIND
  case "$1" in
    data)
      # A value the user wrote changes: the digest of the original rows moves.
      CHAOS_PLANT_SAVED=$(q "SELECT coalesce(quantity::text, 'NULL') FROM components WHERE id = 1")
      q "UPDATE components SET quantity = coalesce(quantity, 0) + 1 WHERE id = 1" >/dev/null
      ;;
    replicas)
      kubectl scale deploy backend -n "$E2E_NS" --replicas=2 >/dev/null || fail "kubectl scale"
      retry_until 30 deploy_ready backend 2 || fail "backend did not reach 2"
      ;;
    run_log)
      # The last run's identity again, once as an "interrupted" run that
      # had committed something and once as a second success of its
      # generation under another plan digest.
      q "INSERT INTO schemaop.run_log (from_versions, to_versions, direction, actor, outcome,
                                       finished_at, progress, run_key)
         SELECT from_versions, to_versions, direction, actor, o, clock_timestamp(), p::jsonb, k
         FROM (SELECT * FROM schemaop.run_log WHERE outcome = 'succeeded' AND run_key IS NOT NULL
               ORDER BY id DESC LIMIT 1) AS r,
              LATERAL (VALUES ('failed', '{\"phase\":\"forward\",\"step\":1}',
                               split_part(r.run_key, '#', 1) || '#interrupted-planted'),
                              ('succeeded', '{}', split_part(r.run_key, '/', 1) || '/'
                               || split_part(r.run_key, '/', 2) || '/planted')) AS v (o, p, k)" \
        >/dev/null
      ;;
    revision)
      # The version table elsewhere for a moment (the sampler sees it),
      # and still there when the checker looks.
      q "UPDATE alembic_version SET version_num = '5e2f8d4b7a10'" >/dev/null
      sleep 1
      ;;
    secret)
      # The password in an Event (through a file: never on a command line)
      # and in a log line of a (planted) controller log.
      (umask 077 && printf 'apiVersion: v1\nkind: Event\nmetadata: {name: chaos-planted, namespace: %s}\ninvolvedObject: {kind: SchemaMigration, name: %s, namespace: %s}\nreason: Planted\nmessage: "planted %s"\ntype: Warning\n' \
        "$E2E_NS" "$E2E_SMIG" "$E2E_NS" "$E2E_DB_PASSWORD" >"$CHAOS_WORK/planted-event.yaml")
      kubectl apply --validate=false -f "$CHAOS_WORK/planted-event.yaml" >/dev/null || fail "planting the Event"
      rm -f "$CHAOS_WORK/planted-event.yaml"
      (umask 077 && printf 'planted %s\n' "$E2E_DB_PASSWORD" >"$E2E_WORK/controller-planted.log")
      ;;
    crash)
      # A controller dies by a signal it did not get from the soak.
      kill -SEGV "${E2E_CONTROLLER_PID[b]}"
      retry_until 10 bash -c "! kill -0 ${E2E_CONTROLLER_PID[b]}" || fail "controller b survived SIGSEGV"
      ensure_controllers
      ;;
    *) fail "unknown plant $1 (${CHAOS_PLANTABLE[*]})" ;;
  esac
  log "planted: $1"
}

unplant() {  # unplant KIND
  case "$1" in
    data) q "UPDATE components SET quantity = ${CHAOS_PLANT_SAVED} WHERE id = 1" >/dev/null ;;
    replicas)
      kubectl scale deploy backend -n "$E2E_NS" --replicas=3 >/dev/null || fail "kubectl scale"
      retry_until 30 deploy_ready backend 3 || fail "backend did not come back to 3"
      ;;
    run_log) q "DELETE FROM schemaop.run_log WHERE run_key LIKE '%planted'" >/dev/null ;;
    revision) q "UPDATE alembic_version SET version_num = '$CHAOS_TARGET'" >/dev/null ;;
    secret)
      kubectl delete event chaos-planted -n "$E2E_NS" >/dev/null || fail "deleting the planted Event"
      rm -f "$E2E_WORK/controller-planted.log"
      unset "CHAOS_LOG_READ[$E2E_WORK/controller-planted.log]"
      ;;
    crash) ;;
  esac
}

# self_test: clean -> 0 violations; each plant -> a violation of its kind;
# the verdict with violations is a failure.
self_test() {
  local kind before after bad=0
  check_all full
  if [ "$(violation_count)" != 0 ]; then
    echo "self-test: the clean, settled system already shows violations:" >&2
    cat "$CHAOS_WORK/violations" >&2
    return 1
  fi
  echo "self-test: clean system, 0 violations"
  for kind in "${CHAOS_PLANTABLE[@]}"; do
    before=$(grep -c "^$kind: " "$CHAOS_WORK/violations" || true)
    plant "$kind"
    check_all full
    after=$(grep -c "^$kind: " "$CHAOS_WORK/violations" || true)
    unplant "$kind"
    if ((after > before)); then
      echo "self-test: planted $kind -> detected: $(grep "^$kind: " "$CHAOS_WORK/violations" | tail -1 | cut -c1-160)"
    else
      echo "self-test: planted $kind -> NOT detected" >&2
      bad=1
    fi
  done
  # Only the planted kinds were reported.
  if grep -v -E "^($(IFS='|'; echo "${CHAOS_PLANTABLE[*]}")): " "$CHAOS_WORK/violations" >&2; then
    echo "self-test: unexpected violations above" >&2
    bad=1
  fi
  # The verdict the soak gives with these violations.
  if report >/dev/null; then
    echo "self-test: the soak's verdict with $(violation_count) violations was success" >&2
    bad=1
  else
    echo "self-test: the soak's verdict with $(violation_count) violations is failure (as it must be)"
  fi
  # Everything put back: the next check is clean again.
  mv "$CHAOS_WORK/violations" "$CHAOS_WORK/violations.planted"
  rm -f "$CHAOS_WORK/violations.seen"
  check_all full
  if [ "$(violation_count)" != 0 ]; then
    echo "self-test: violations remain after undoing the plants:" >&2
    cat "$CHAOS_WORK/violations" >&2
    bad=1
  fi
  return "$bad"
}
