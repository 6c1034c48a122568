#!/usr/bin/env bash
# The monitoring files against a real controller's /metrics: every series
# the alerting rules (manifests/monitoring/prometheusrule.yaml) and the
# Grafana dashboard (grafana-dashboard.json) query is exported, with the
# labels they select on; the per-object gauges say what a run is doing
# (schemaop_writers_down_since_seconds while the writers are at zero, gone
# afterwards; schemaop_phase; schemaop_condition).
# shellcheck source=tests/support/e2e.sh
. "$(dirname "$0")/../support/e2e.sh"

e2e_begin monitoring
start_apiserver
install_drawing_app
load_drawing_data
start_controller_with_metrics a
metrics_port=$E2E_METRICS_PORT
scrape() { http_get "$metrics_port" /metrics | sed '1,/^$/d'; }  # the body
series() { scrape | grep -F "$1" || true; }

# Pods take 3 s to terminate: the drain is long enough to scrape. One
# status write conflicts (409), so the retry counter has a series.
admin_post settings '{"deploymentDelayMs":3000}'
admin_post faults '{"path":"schemamigrations/drawing-db/status$","code":409,"count":1}'
apply_smig upgrade.yaml
wait_for "phase Draining" 60 phase_is Draining
# The gauges follow the status at the end of the reconcile that wrote it:
# scrape until the drain shows, and check that one scrape.
during=$E2E_WORK/metrics-during-run.txt
draining_scraped() {
  scrape >"$during"
  grep -q 'schemaop_phase{name="drawing-db",namespace="drawing",phase="Draining"} 1' "$during"
}
wait_for "/metrics to show phase Draining" 10 draining_scraped
down=$(grep -F 'schemaop_writers_down_since_seconds{name="drawing-db",namespace="drawing"}' "$during" || true)
log "during the drain: $down"
[ -n "$down" ] || fail "no schemaop_writers_down_since_seconds for drawing/drawing-db while draining:
$(grep -E '^schemaop_(phase|writers|condition)' "$during")"
since=${down##* }
now=$(date +%s)
awk -v s="$since" -v n="$now" 'BEGIN { exit !(s > n - 60 && s <= n + 1) }' ||
  fail "schemaop_writers_down_since_seconds = $since is not the scale-down time (now $now)"
expect_contains "Reconciling gauge while draining" "$(grep -F 'schemaop_condition{' "$during")" \
  'schemaop_condition{condition="Reconciling",name="drawing-db",namespace="drawing"} 1'
wait_ready 180
expect_eq "writers-down gauge after the run" "" "$(series schemaop_writers_down_since_seconds'{')"
expect_contains "phase gauge after the run" "$(series 'schemaop_phase{')" \
  'schemaop_phase{name="drawing-db",namespace="drawing",phase="Succeeded"} 1'
expect_eq "phase series of drawing-db after the run" "1" "$(series 'schemaop_phase{' | grep -c drawing-db)"
expect_contains "Ready gauge after the run" "$(series 'schemaop_condition{')" \
  'schemaop_condition{condition="Ready",name="drawing-db",namespace="drawing"} 1'

# One API server error, so the labelled error counter has a series.
admin_post faults '{"method":"GET","pathPrefix":"/api/v1/namespaces/drawing/secrets/drawing-db","code":500,"count":1}'
kubectl annotate smig "$E2E_SMIG" -n "$E2E_NS" schemaop.dev/poke=1 --overwrite >/dev/null
wait_for "schemaop_apiserver_errors_total{code=\"500\"}" 60 \
  bash -c "$(declare -f http_get); http_get $metrics_port /metrics | grep -q 'schemaop_apiserver_errors_total{code=\"500\"}'"

# Every series (and label) the rules and the dashboard select, in the
# scrapes during and after the run.
{ cat "$E2E_WORK/metrics-during-run.txt"; scrape; } >"$E2E_WORK/metrics.txt"
queries() {
  kubectl annotate --local -f "$E2E_SRC/manifests/monitoring/prometheusrule.yaml" schemaop.dev/t=1 \
    -o jsonpath='{range .spec.groups[*].rules[*]}{.expr}{"\n"}{end}'
  grep -o '"expr": "[^"]*\(\\"[^"]*\)*"' "$E2E_SRC/manifests/monitoring/grafana-dashboard.json" |
    sed 's/^"expr": "//; s/"$//; s/\\"/"/g'
}
queries >"$E2E_WORK/queries.txt"
[ "$(wc -l <"$E2E_WORK/queries.txt")" -ge 15 ] || fail "too few queries found: $(cat "$E2E_WORK/queries.txt")"
missing=""
for name in $(grep -o 'schemaop_[a-z_]*' "$E2E_WORK/queries.txt" | sort -u); do
  grep -q "^$name[{ ]" "$E2E_WORK/metrics.txt" || missing+=" $name"
done
expect_eq "series the rules and dashboard use that /metrics lacks" "" "$missing"
# label keys inside name{...} selectors (job is Prometheus's own)
bad_labels=""
while read -r selector; do
  name=${selector%%\{*}
  for key in $(grep -o '[a-z_]*=~\?"' <<<"${selector#*\{}" | sed 's/=~\?"$//'); do
    [ "$key" = job ] && continue
    grep -q "^$name{\(.*,\)\?$key=" "$E2E_WORK/metrics.txt" || bad_labels+=" $name:$key"
  done
done < <(grep -o 'schemaop_[a-z_]*{[^}]*}' "$E2E_WORK/queries.txt" | sort -u)
expect_eq "labels the queries select that /metrics lacks" "" "$bad_labels"
log "PASS monitoring"
