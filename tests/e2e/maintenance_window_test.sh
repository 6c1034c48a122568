#!/usr/bin/env bash
# spec.maintenanceWindow (design §6.6: no run starts outside a window), with
# the example manifests/examples/drawing/maintenance-window-patch.yaml
# (Europe/Berlin, from the controller's tzdata) and its schedule moved to an
# hour relative to now, so the test does not depend on the day it runs:
#
#   closed  the window opens in 12 hours: the run waits with Ready=False,
#           Reconciling=True, Stalled=False, reason OutsideMaintenanceWindow
#           and status.nextWindow as kubectl shows them; resyncs every second
#           touch nothing (no scale write, no status write, database and rows
#           unchanged, no run in schemaop.run_log); a bad window (refused by
#           the CRD, or by the controller's own validation) changes nothing.
#   open    the window opened this hour: the run goes through to Ready.
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

case_name=${1:?usage: maintenance_window_test.sh closed|open}
e2e_begin "window_$case_name"
start_apiserver
install_drawing_app
load_drawing_data
fingerprint_before=$(database_fingerprint)
start_controller_with_metrics a --resync-period=1s
metrics_port=$E2E_METRICS_PORT
admin_delete counters

example=$E2E_SRC/manifests/examples/drawing/maintenance-window-patch.yaml
berlin_hour=$((10#$(TZ=Europe/Berlin date +%H)))

# apply_window SCHEDULE [EXTRA-MERGE-PATCH]: upgrade.yaml with the example's
# window, its schedule replaced.
apply_window() {
  kubectl patch --local -f "$E2E_SRC/manifests/examples/drawing/upgrade.yaml" --type=merge \
    --patch-file "$example" -o yaml >"$E2E_WORK/with-window.yaml" || fail "could not apply the example patch"
  kubectl patch --local -f "$E2E_WORK/with-window.yaml" --type=merge \
    -p "{\"spec\":{\"maintenanceWindow\":{\"schedule\":\"$1\"${2:-}}}}" -o yaml >"$E2E_WORK/smig.yaml" ||
    fail "could not set the schedule $1"
  kubectl apply --validate=false -f "$E2E_WORK/smig.yaml" >"$E2E_WORK/apply.out" 2>&1
}

expect_untouched() {
  expect_eq "Deployments at their replicas" "3 3 3|2 2 2" \
    "$(deploy_replicas backend)|$(deploy_replicas celery-worker)"
  expect_eq "scale writes" "0" "$(scale_writes)"
  expect_eq "database revision" "9bc6a98f1c12" "$(db_revision)"
  expect_eq "controller runs in schemaop.run_log" "" "$(run_log_rows)"
  expect_database_unchanged "$fingerprint_before"
}

case "$case_name" in
  closed)
    hour=$(((berlin_hour + 12) % 24))
    berlin_day=$(TZ=Europe/Berlin date +%F)
    if ((hour < berlin_hour)); then
      berlin_day=$(TZ=Europe/Berlin date -d "$berlin_day 12:00 +1 day" +%F)
    fi
    expected_next=$(date -u -d "TZ=\"Europe/Berlin\" $berlin_day $(printf %02d "$hour"):00" +%Y-%m-%dT%H:%M:%SZ)
    apply_window "0 $hour * * *" || fail "kubectl apply: $(cat "$E2E_WORK/apply.out")"
    wait_for "Ready=False OutsideMaintenanceWindow" 60 condition_is Ready False OutsideMaintenanceWindow
    expect_eq "Reconciling (waiting is progress)" "True OutsideMaintenanceWindow" "$(condition Reconciling)"
    expect_eq "Stalled" "False OutsideMaintenanceWindow" "$(condition Stalled)"
    expect_eq "status.nextWindow" "$expected_next" "$(smig '{.status.nextWindow}')"
    message=$(smig '{.status.conditions[?(@.type=="Ready")].message}')
    expect_contains "the message names the next window" "$message" "$expected_next"
    expect_contains "the message names the zone" "$message" "Europe/Berlin"
    expect_contains "an Event says so" \
      "$(kubectl get events -n "$E2E_NS" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')" \
      "OutsideMaintenanceWindow: Outside the maintenance window"
    # Resyncs every second re-evaluate the gate and change nothing.
    expect_eq "scale writes before the resyncs" "0" "$(scale_writes)"
    rv=$(smig '{.metadata.resourceVersion}')
    admin_delete counters
    reconciles_before=$(metric_sum "$metrics_port" schemaop_reconcile_total)
    three_more_reconciles() {
      [ $(($(metric_sum "$metrics_port" schemaop_reconcile_total) - reconciles_before)) -ge 3 ]
    }
    wait_for "three more reconciles (resync every 1s)" 60 three_more_reconciles
    expect_eq "API writes while waiting" "0" "$(api_writes)"
    expect_eq "resourceVersion while waiting" "$rv" "$(smig '{.metadata.resourceVersion}')"
    expect_eq "phase while waiting" "Planning" "$(smig '{.status.phase}')"
    expect_untouched

    # Bad windows: the CRD's pattern refuses a schedule that is not five
    # fields; what only the controller can check becomes InvalidSpec.
    if apply_window "every saturday"; then
      fail "the API server accepted schedule 'every saturday'"
    fi
    expect_contains "the API server names the field" "$(cat "$E2E_WORK/apply.out")" \
      "spec.maintenanceWindow.schedule"
    apply_window "0 25 * * *" || fail "kubectl apply: $(cat "$E2E_WORK/apply.out")"
    wait_for "Stalled=True InvalidSpec (hour 25)" 60 condition_is Stalled True InvalidSpec
    expect_contains "InvalidSpec names the field" \
      "$(smig '{.status.conditions[?(@.type=="Stalled")].message}')" \
      "spec.maintenanceWindow.schedule: invalid schedule \"0 25 * * *\": hour field"
    apply_window "0 $hour * * *" ',"timeZone":"Mars/Olympus_Mons"' ||
      fail "kubectl apply: $(cat "$E2E_WORK/apply.out")"
    wait_for "the unknown zone reported" 60 eval \
      '[[ "$(smig "{.status.conditions[?(@.type==\"Stalled\")].message}")" == *"unknown time zone \"Mars/Olympus_Mons\""* ]]'
    expect_eq "Stalled" "True InvalidSpec" "$(condition Stalled)"
    apply_window "0 $hour * * *" ',"duration":"0s"' || fail "kubectl apply: $(cat "$E2E_WORK/apply.out")"
    wait_for "the zero duration reported" 60 eval \
      '[[ "$(smig "{.status.conditions[?(@.type==\"Stalled\")].message}")" == *"spec.maintenanceWindow.duration"* ]]'
    expect_untouched
    # Fixed again: waiting again, for the same window.
    apply_window "0 $hour * * *" || fail "kubectl apply: $(cat "$E2E_WORK/apply.out")"
    wait_for "Ready=False OutsideMaintenanceWindow again" 60 condition_is Ready False OutsideMaintenanceWindow
    expect_eq "status.nextWindow" "$expected_next" "$(smig '{.status.nextWindow}')"
    expect_untouched
    ;;
  open)
    apply_window "0 $berlin_hour * * *" || fail "kubectl apply: $(cat "$E2E_WORK/apply.out")"
    expect_settled seed_default_schemas
    expect_eq "status.nextWindow" "" "$(smig '{.status.nextWindow}')"
    expect_eq "controller runs" "9bc6a98f1c12>seed_default_schemas succeeded" "$(run_log_rows)"
    expect_not_contains "no wait was reported" \
      "$(kubectl get events -n "$E2E_NS" -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}')" \
      "OutsideMaintenanceWindow"
    ;;
  *) fail "unknown case $case_name" ;;
esac
expect_no_password_leak
log "PASS window_$case_name"
