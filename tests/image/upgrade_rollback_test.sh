#!/usr/bin/env bash
# The e2e upgrade and rollback of the drawing example (tests/e2e/
# upgrade_rollback_test.sh, unchanged) with every `schemaop` process —
# the controller, its pg_dump, the local mode that loads the data — running
# INSIDE the image built by tests/image/build_test.sh (fixture `image`):
# tests/image/in_image.sh is the harness's SCHEMAOP_BIN. The test API server
# and PostgreSQL run on the host (fixture `postgres`).
#
# Besides everything the e2e test checks, this checks what the image
# promises: `schemaop --version` names the commit under test; every process
# seen inside the image runs as 65532:65532 without capabilities; nothing is
# written outside the backup volume and /tmp (the root is read-only, and no
# file of the image changed); the backup lands in the volume, owned by 65532.
# Usage: upgrade_rollback_test.sh BUNDLE_DIR
set -euo pipefail
bundle=$1
here=$(cd "$(dirname "$0")" && pwd)
: "${SCHEMAOP_SOURCE_DIR:?}"
rootfs=$bundle/rootfs
[ -x "$rootfs/usr/local/bin/schemaop" ] || { echo "FAIL: no unpacked image at $rootfs (fixture image_build)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/schemaop-image-e2e.XXXXXX")
sampler=""
cleanup() {
  [ -n "$sampler" ] && touch "$work/stop-sampling" && wait "$sampler" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; failures=$((failures + 1)); }
expect() {  # expect DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}

export SCHEMAOP_IMAGE_ROOTFS=$rootfs
export SCHEMAOP_IMAGE_TMP=$work/image-tmp
mkdir -m 1777 "$SCHEMAOP_IMAGE_TMP"
export SCHEMAOP_BIN=$here/in_image.sh
# The controller inside sees the backup volume where the manifests mount it.
export E2E_CONTROLLER_BACKUP_DIR=/var/lib/schemaop/backups

# --version inside the image names the commit under test.
commit=$(git -C "$SCHEMAOP_SOURCE_DIR" rev-parse HEAD)
git -C "$SCHEMAOP_SOURCE_DIR" diff --quiet HEAD -- || commit+=-dirty
expect "schemaop --version inside the image" "schemaop 0.1.0 (commit $commit)" "$("$SCHEMAOP_BIN" --version)"

# Every process started through in_image.sh (it records its PID, which
# schemaop keeps through its execs) and their children (pg_dump), sampled
# while the test runs; the wrapper's own steps before setpriv drops the
# privileges (mount, unshare, setpriv: a container runtime's part) are not
# the image's processes: "uid gid effective-capabilities no_new_privs command".
export SCHEMAOP_IMAGE_PIDS=$work/pids
: >"$SCHEMAOP_IMAGE_PIDS"
touch "$work/start-marker"
sleep 1  # the marker's mtime is strictly older than anything written after it
sample() {
  local pid child
  while [ ! -e "$work/stop-sampling" ]; do
    while read -r pid; do
      [ -d "/proc/$pid" ] || continue
      for child in "$pid" $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        awk '/^Name:/ { c = $2 } /^Uid:/ { u = $2 } /^Gid:/ { g = $2 } /^CapEff:/ { e = $2 }
             /^NoNewPrivs:/ { n = $2 } END { if (c != "") print u, g, e, n, c }' \
          "/proc/$child/status" 2>/dev/null || true
      done
    done <"$SCHEMAOP_IMAGE_PIDS"
    sleep 0.2
  done | awk '$5 !~ /^(bash|mount|umount|unshare|setpriv|env|install|chown|mkdir|touch|ln)$/ &&
               !seen[$0]++ { print; fflush() }' >"$work/processes.txt"
}
sample &
sampler=$!

# The e2e test as is; its work directory is kept for the checks below.
mkdir "$work/e2e"
status=0
E2E_KEEP=1 TMPDIR=$work/e2e bash "$SCHEMAOP_SOURCE_DIR/tests/e2e/upgrade_rollback_test.sh" || status=$?
touch "$work/stop-sampling"
wait "$sampler" 2>/dev/null || true
sampler=""
expect "the e2e upgrade and rollback with schemaop inside the image" 0 "$status"

e2e_work=$(find "$work/e2e" -mindepth 1 -maxdepth 1 -type d -name 'schemaop-e2e-*' | head -1)
echo "processes seen inside the image:"
sed 's/^/  /' "$work/processes.txt"
grep -q ' schemaop$' "$work/processes.txt" && ok "the controller was seen running inside the image" ||
  bad "no schemaop process was seen inside the image"
grep -q ' pg_dump$' "$work/processes.txt" && ok "the backup's pg_dump ran inside the image" ||
  echo "note: pg_dump ran too briefly to be sampled"
[ -s "$work/processes.txt" ] || bad "no process was sampled inside the image"
expect "processes not running as 65532:65532, without capabilities, with no_new_privs" "" \
  "$(awk '$1 != 65532 || $2 != 65532 || $3 != "0000000000000000" || $4 != 1' "$work/processes.txt")"

# Nothing written outside the backup volume and /tmp.
expect "files of the image changed by the run" "" \
  "$(find "$rootfs" -xdev -newer "$work/start-marker" -not -path "$rootfs/tmp" | head -20)"
if [ -n "$e2e_work" ]; then
  expect "controller log mentions a read-only file system" "" \
    "$(cat "$e2e_work"/controller-*.log | grep -i 'read-only file system' | head -5)"
  dumps=$(find "$e2e_work/backups" -type f -name '*.dump' -printf '%u:%g %f\n')
  if [ -n "$dumps" ] && ! grep -qv '^65532:65532 ' <<<"$dumps"; then
    ok "the backup is in the volume, written by 65532: $dumps"
  else
    bad "backups in the volume owned by 65532:65532, got: [$dumps]"
  fi
  echo "written to /tmp inside the image:"
  (cd "$SCHEMAOP_IMAGE_TMP" && find . -mindepth 1 -maxdepth 1 -printf '  %p\n')
  rm -rf "$e2e_work"
else
  bad "the e2e work directory was not kept"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
