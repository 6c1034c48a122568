#!/usr/bin/env bash
# The controller is killed with SIGKILL while a run is in PHASE, then a new
# controller process starts: the database ends at the start or the target
# revision (never half-way) and every workload is back at its recorded
# replicas. Each phase is held open long enough to land the kill in it:
#
#   Planning     API latency on GET .../scale (read while recording replicas)
#   ScalingDown  API latency on PATCH .../scale
#   Draining     the API server's deployment controller paused (pods stay)
#   BackingUp    the test holds ACCESS EXCLUSIVE on drawings from Draining on
#                (pg_dump waits)
#   Migrating    the test holds SHARE on alembic_version (the window waits;
#                the expand phase before it runs through)
#   RollingBack  a failing check, then API latency on status writes
#   ScalingUp    API latency on PATCH .../scale once the SQL is under way
#   LateScaleDown  as ScalingDown, but the killed controller's scale-to-0
#                is held by the API server until after the new controller
#                has finished: that late write must not land (invariant:
#                a scale write lands only on the state it was decided on,
#                design §6.3), so the writers stay up once Ready
#
#   crash_test.sh PHASE
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

phase=${1:?usage: crash_test.sh PHASE}
e2e_begin "crash_$(tr '[:upper:]' '[:lower:]' <<<"$phase")"
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(components_fingerprint)
start_controller a

patch='{"spec":{"lockTimeout":"300s"}}'
final=seed_default_schemas
undo_hold=(admin_delete faults)
case "$phase" in
  Planning)
    admin_post latency '{"method":"GET","path":"/deployments/[^/]+/scale$","delayMs":3000}'
    ;;
  ScalingDown)
    admin_post latency '{"method":"PATCH","path":"/deployments/[^/]+/scale$","delayMs":5000}'
    ;;
  LateScaleDown)
    late_ms=45000
    admin_post latency "{\"method\":\"PATCH\",\"path\":\"/deployments/[^/]+/scale$\",\"delayMs\":$late_ms}"
    ;;
  Draining)
    admin_post settings '{"controllersPaused":true}'
    undo_hold=(admin_post settings '{"controllersPaused":false}')
    ;;
  BackingUp)
    # The lock is taken once the run drains (the expand phase before it
    # reads every table's row count beside the writers).
    patch='{"spec":{"lockTimeout":"300s","backup":{"when":"Always"}}}'
    admin_post settings '{"controllersPaused":true}'
    undo_hold=(release_lock)
    ;;
  Migrating)
    hold_window_lock
    undo_hold=(release_lock)
    ;;
  RollingBack)
    patch='{"spec":{"lockTimeout":"300s","verify":{"checks":[{"name":"never-true","sql":"SELECT false"}]}}}'
    final=9bc6a98f1c12
    hold_window_lock
    ;;
  ScalingUp)
    hold_window_lock
    ;;
  *) fail "unknown phase $phase" ;;
esac

# pg_dump connects as application_name schemaop; it is the one taking
# table locks one by one (LOCK TABLE ... IN ACCESS SHARE MODE).
pg_dump_waits_for_lock() {
  [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
          AND application_name LIKE 'schemaop%' AND wait_event_type = 'Lock'
          AND query LIKE 'LOCK TABLE%'")" -ge 1 ]
}

apply_smig upgrade.yaml "$patch"
case "$phase" in
  BackingUp)
    wait_for "phase Draining" 120 phase_is Draining
    hold_lock "LOCK TABLE drawings IN ACCESS EXCLUSIVE MODE;"
    admin_post settings '{"controllersPaused":false}'
    ;;
  RollingBack | ScalingUp)
    wait_for "phase Migrating" 120 phase_is Migrating
    wait_for "the migration to wait for the test's lock" 60 schemaop_waits_for_lock
    if [ "$phase" = RollingBack ]; then
      admin_post latency '{"method":"PUT","path":"/schemamigrations/[^/]+/status$","delayMs":3000}'
      admin_post latency '{"method":"PATCH","path":"/schemamigrations/[^/]+/status$","delayMs":3000}'
    else
      admin_post latency '{"method":"PATCH","path":"/deployments/[^/]+/scale$","delayMs":5000}'
    fi
    release_lock
    ;;
esac
wait_for "phase ${phase#Late}" 180 phase_is "${phase/LateScaleDown/ScalingDown}"
case "$phase" in
  BackingUp) wait_for "pg_dump to wait for the test's lock" 60 pg_dump_waits_for_lock ;;
  Migrating) wait_for "the migration to wait for the test's lock" 60 schemaop_waits_for_lock ;;
esac
if [ "$phase" = LateScaleDown ]; then
  # The killed controller's scale-to-0 is then inside the API server, held
  # for late_ms; the new controller must finish before it lands.
  scale_write_arrived() { [ "$(api_count "patch deployments/scale")" -ge 1 ]; }
  wait_for "the scale-to-0 to be held by the API server" 30 scale_write_arrived
  killed_at=$(date +%s%N)
fi
kill9_controller a
recorded=$(smig '{range .status.workloads[*]}{.name}={.originalReplicas} {end}' | sed 's/ $//')
log "killed in phase $(smig '{.status.phase}'); recorded workloads: [$recorded]; database at $(db_revision)"
"${undo_hold[@]}"
admin_delete faults
revision_after_kill=$(db_revision)
case "$revision_after_kill" in
  9bc6a98f1c12 | seed_default_schemas) log "ok: database at $revision_after_kill after the kill" ;;
  *) fail "database half-way after the kill: [$revision_after_kill]" ;;
esac

start_controller b
if [ "$phase" = RollingBack ]; then
  wait_for "Stalled=True VerificationFailed" 180 condition_is Stalled True VerificationFailed
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_workloads_restored
else
  expect_settled "$final"
fi
if [ "$phase" = LateScaleDown ]; then
  settled_ms=$((($(date +%s%N) - killed_at) / 1000000))
  [ "$settled_ms" -lt "$late_ms" ] ||
    fail "the new controller took ${settled_ms} ms, longer than the late write is held (${late_ms} ms): the test proves nothing; raise late_ms"
  log "settled ${settled_ms} ms after the kill; waiting for the held scale-to-0 to reach the store"
  sleep $(((late_ms - settled_ms) / 1000 + 5))
  expect_eq "replicas (spec status ready) after the dead controller's late scale-to-0" \
    "3 3 3 / 2 2 2" "$(deploy_replicas backend) / $(deploy_replicas celery-worker)"
  expect_eq "Ready after the late write" "True" "$(condition Ready | cut -d' ' -f1)"
fi
expect_eq "recorded original replicas" "backend=3 celery-worker=2" \
  "$(smig '{range .status.workloads[*]}{.name}={.originalReplicas} {end}' | sed 's/ $//')"
expect_eq "original rows" "$fingerprint_before" "$(components_fingerprint)"
outcomes=$(run_log_rows)
log "runs: $outcomes"
[ "$(grep -c ' running$' <<<"$outcomes")" = 0 ] || fail "a run is still open in schemaop.run_log: $outcomes"
if [ "$phase" != RollingBack ]; then
  expect_eq "successful runs" "1" "$(grep -c ' succeeded$' <<<"$outcomes")"
  # Each phase of the drawing chain's plan ran to success exactly once.
  phase_rows=$(run_log_phase_rows)
  expect_eq "successful expand, window, contract runs" "1 1 1" \
    "$(for p in expand window contract; do grep -c "^$p .* succeeded$" <<<"$phase_rows"; done | xargs)"
fi
expect_no_password_leak
log "PASS crash in $phase"
