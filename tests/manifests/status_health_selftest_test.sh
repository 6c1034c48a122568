#!/usr/bin/env bash
# The checker of tests/e2e/gitops_test.sh (tests/e2e/status_health.lua) finds
# what it is there to find: a status that kstatus calls Current while the
# migration is not Ready, a run in progress that Argo CD would call Healthy.
# Usage: status_health_selftest_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

checker() {
  lua5.4 "$source_dir/tests/e2e/status_health.lua" "$source_dir/docs/argocd-health.lua" "$1"
}
# record GENERATION OBSERVED PHASE READY RECONCILING STALLED: one line as
# gitops_test.sh's watch prints it.
record() {
  local c out=""
  for c in "Ready $4" "Reconciling $5" "Stalled $6"; do
    out+="{type=S[==[${c% *}]==],status=S[==[${c#* }]==],reason=S[==[X]==],message=S[==[m]==],observedGeneration=N[==[$2]==],},"
  done
  printf '{metadata={name=S[==[db]==],generation=N[==[%s]==],deletionTimestamp=S[==[]==],},spec={suspend=B[==[]==],},status={phase=S[==[%s]==],observedGeneration=N[==[%s]==],currentRevision=S[==[]==],conditions={%s}}}\n' \
    "$1" "$3" "$2" "$out"
}

{ record 1 1 Migrating False True False; record 1 1 Succeeded True False False
  record 2 1 Succeeded True False False; record 2 2 Failed False False True; } >"$work/good.lua"
check "consistent statuses pass" checker "$work/good.lua"

record 1 1 Failed False False False >"$work/not-ready-current.lua"
out=$(checker "$work/not-ready-current.lua" || true)
check "Ready=False with neither Reconciling nor Stalled is a violation" \
  contains "$out" "kstatus Current without Ready=True"

record 1 1 Migrating True False False >"$work/running-healthy.lua"
out=$(checker "$work/running-healthy.lua" || true)
check "a run in progress reported Ready is a violation" contains "$out" "a run in progress is kstatus Current"
finish
