#!/usr/bin/env bash
# `schemaop ARGS...` run INSIDE the image, as its container would run it:
# the unpacked image (SCHEMAOP_IMAGE_ROOTFS, from tests/image/build_test.sh)
# as the root filesystem, mounted read-only; the image's user 65532:65532
# and working directory; no capabilities, no_new_privs; a clean environment.
# Writable are only /tmp (bound to the host directory SCHEMAOP_IMAGE_TMP)
# and the backup volume. The network is the host's (the test API server and
# PostgreSQL listen on 127.0.0.1), like a pod reaching its services.
#
# Used as SCHEMAOP_BIN by tests/image/upgrade_rollback_test.sh. The e2e
# harness's host paths are mapped the way a Deployment maps its volumes:
#   --kubeconfig FILE   copied to /tmp/kubeconfig (the harness's file stays put)
#   --backup-dir DIR    DIR bound at /var/lib/schemaop/backups (the manifests' volume)
#   --pg-bin-dir DIR    the image's own /usr/lib/postgresql/15/bin
#   --migrations DIR    DIR bound read-only at /tmp/migrations (the local mode)
# and DATABASE_URL (the local mode's) is passed on.
# The process keeps its PID through every step (exec), so the harness's
# signals and waits reach the controller itself. Needs root (mount, chroot).
set -euo pipefail
: "${SCHEMAOP_IMAGE_ROOTFS:?set SCHEMAOP_IMAGE_ROOTFS to the unpacked image root}"
: "${SCHEMAOP_IMAGE_TMP:?set SCHEMAOP_IMAGE_TMP to the host directory mounted at /tmp}"
rootfs=$SCHEMAOP_IMAGE_ROOTFS
uid=65532
gid=65532
backups=/var/lib/schemaop/backups

if [ "${1:-}" != --in-mount-namespace ]; then
  [ "$(id -u)" = 0 ] || { echo "in_image.sh: needs root (a mount namespace and chroot)" >&2; exit 1; }
  # The PID stays schemaop's through every exec below: the test watches it
  # (SCHEMAOP_IMAGE_PIDS, tests/image/upgrade_rollback_test.sh).
  [ -n "${SCHEMAOP_IMAGE_PIDS:-}" ] && echo "$$" >>"$SCHEMAOP_IMAGE_PIDS"
  # A private mount namespace: every mount below disappears with the process.
  exec unshare --mount --propagation private -- "$0" --in-mount-namespace "$@"
fi
shift

args=()
backup_src=""
migrations_src=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig | --backup-dir | --pg-bin-dir | --migrations) opt=$1 value=${2:?$1 needs a value}; shift 2 ;;
    --kubeconfig=* | --backup-dir=* | --pg-bin-dir=* | --migrations=*) opt=${1%%=*} value=${1#*=}; shift ;;
    *) args+=("$1"); shift; continue ;;
  esac
  case "$opt" in
    --kubeconfig)
      install -m 0600 -o "$uid" -g "$gid" "$value" "$SCHEMAOP_IMAGE_TMP/kubeconfig-$$"
      args+=(--kubeconfig "/tmp/kubeconfig-$$") ;;
    --backup-dir) backup_src=$value; args+=(--backup-dir "$backups") ;;
    --pg-bin-dir) args+=(--pg-bin-dir /usr/lib/postgresql/15/bin) ;;
    --migrations) migrations_src=$value; args+=(--migrations /tmp/migrations) ;;
  esac
done

# The root filesystem, read-only (readOnlyRootFilesystem: true).
mount --bind "$rootfs" "$rootfs"
mount -o remount,bind,ro "$rootfs"
mount --bind "$SCHEMAOP_IMAGE_TMP" "$rootfs/tmp"
if [ -n "$backup_src" ]; then
  # The volume belongs to the image's group, as fsGroup: 65532 makes it in a pod.
  chown "$uid:$gid" "$backup_src"
  mount --bind "$backup_src" "$rootfs$backups"
fi
if [ -n "$migrations_src" ]; then
  mkdir -p "$SCHEMAOP_IMAGE_TMP/migrations"
  mount --bind "$migrations_src" "$rootfs/tmp/migrations"
  mount -o remount,bind,ro "$rootfs/tmp/migrations"
fi
mount -t proc proc "$rootfs/proc"
# /dev as a container runtime provides it: a tmpfs with the usual devices.
mount -t tmpfs -o mode=0755,nosuid tmpfs "$rootfs/dev"
for dev in null zero full random urandom; do
  touch "$rootfs/dev/$dev"
  mount --bind "/dev/$dev" "$rootfs/dev/$dev"
done
ln -s /proc/self/fd "$rootfs/dev/fd"

# The image's entrypoint as its user, in its working directory, with what a
# runtime sets in the environment (PATH, HOME), the SCHEMAOP_/POD_ settings
# and DATABASE_URL (not the test harness's own variables).
environment=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent)
while IFS= read -r name; do
  environment+=("$name=${!name}")
done < <(compgen -e | grep -E '^(SCHEMAOP_|POD_|DATABASE_URL$)' |
           grep -Ev '^SCHEMAOP_(IMAGE_|BIN$|APISERVER_BIN$|PG_STATE$|SOURCE_DIR$|CONTROLLER_ARGS$)' || true)
exec env -i "${environment[@]}" unshare --root="$rootfs" --wd=/var/lib/schemaop -- \
  /usr/bin/setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs \
  --inh-caps=-all --bounding-set=-all -- /usr/local/bin/schemaop "${args[@]}"
