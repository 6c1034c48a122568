#!/usr/bin/env bash
# The image tier's first step (CTest fixture `image`): scripts/image builds the
# image from the Dockerfile into OUT_DIR — with BUILD_DIR, the runtime stage
# around that build's executables (`scripts/image --binaries BUILD_DIR`, what
# CI does), else the whole Dockerfile from source — then this checks what a
# user gets —
# the recorded artifacts (digest, size, SBOM), the image's configuration, and
# its files — and unpacks it into OUT_DIR/bundle/rootfs for the tests that run
# the controller inside it (tests/image/in_image.sh).
# Usage: build_test.sh SOURCE_DIR OUT_DIR [BUILD_DIR]
set -euo pipefail
source_dir=$1
out=$2
from=()
[ -n "${3:-}" ] && from=(--binaries "$3")
. "$source_dir/tests/manifests/lib.sh"

# The commit under test, taken before the build starts.
commit=$(git -C "$source_dir" rev-parse HEAD)
git -C "$source_dir" diff --quiet HEAD -- || commit+=-dirty
SCHEMAOP_IMAGE_OUT=$out "$source_dir/scripts/image" "${from[@]}" >"$work/image.log" 2>&1 || {
  tail -n 60 "$work/image.log"; echo "FAIL: scripts/image failed (log above)"; exit 1; }
grep -E '^(image:|digest:|archive:|sbom:|localhost/|schemaop)' "$work/image.log" || true
# shellcheck disable=SC1091
. "$out/image.env"

check "the image records the commit it was built from" equals "$commit" "$COMMIT"
check "the digest is a sha256" grep -Eqx 'sha256:[0-9a-f]{64}' <<<"$DIGEST"
check "the OCI archive exists and is the recorded size" equals "$COMPRESSED_BYTES" "$(stat -c %s "$ARCHIVE")"
check "the size is recorded" grep -q "$TAG: [0-9.]* MB ([0-9.]* MB compressed)" "$out/size.txt"

# The SBOM: the runtime stage's packages, and none of the build's.
sbom=$out/sbom-dpkg.tsv
for p in postgresql-client-15 libpqxx-6.4 libcpprest2.10 libssl3 ca-certificates; do
  check "SBOM lists $p" grep -q "^$p	" "$sbom"
done
for p in build-essential cmake g++ gcc libpqxx-dev postgresql-15 kubernetes-client ccache libgtest-dev; do
  check "SBOM has no $p (build or test tool)" bash -c '! grep -q "^$1	" "$2"' _ "$p" "$sbom"
done

# Unpack the archive as a runtime would (umoci applies the layers, whiteouts
# included, and writes the runtime configuration derived from the image's).
rm -rf "$out/oci" "$out/bundle"
mkdir -p "$out/oci"
tar -xf "$ARCHIVE" -C "$out/oci"
umoci unpack --image "$out/oci:${TAG#localhost/}" "$out/bundle" >"$work/umoci.log" 2>&1 || {
  cat "$work/umoci.log"; echo "FAIL: umoci unpack"; exit 1; }
rm -rf "$out/oci"
rootfs=$out/bundle/rootfs
config=$out/bundle/config.json
check "the image runs as 65532:65532" equals "65532 65532" \
  "$(jq -r '"\(.process.user.uid) \(.process.user.gid)"' "$config")"
check "entrypoint and command" equals '/usr/local/bin/schemaop controller' \
  "$(jq -r '.process.args | join(" ")' "$config")"
check "working directory" equals /var/lib/schemaop "$(jq -r .process.cwd "$config")"
check "the backup directory belongs to 65532" equals "65532:65532 750" \
  "$(stat -c '%u:%g %a' "$rootfs/var/lib/schemaop/backups")"

# No apt source of the build host, no package lists or caches.
check "no apt sources in the image" equals "" \
  "$(find "$rootfs/etc/apt" -name 'sources.list' -o -name '*.sources' -o -name '*.list' | sed "s|^$rootfs||")"
check "no apt package lists" equals "" "$(find "$rootfs/var/lib/apt/lists" -type f ! -name lock | head -3)"
check "no apt caches or .deb files" equals "" \
  "$(find "$rootfs/var/cache/apt" -type f \( -name '*.bin' -o -name '*.deb' \) | head -3)"

# Inside the image: every library resolves, pg_dump is the chosen major version.
in_root() { chroot --userspec=65532:65532 "$rootfs" "$@"; }
check "every shared library of schemaop resolves" bash -c '! chroot --userspec=65532:65532 "$1" /usr/bin/ldd /usr/local/bin/schemaop | grep "not found"' _ "$rootfs"
check "pg_dump in the image is PostgreSQL 15" grep -q '^pg_dump (PostgreSQL) 15\.' <(in_root /usr/lib/postgresql/15/bin/pg_dump --version)
check "pg_restore in the image is PostgreSQL 15" grep -q '^pg_restore (PostgreSQL) 15\.' <(in_root /usr/lib/postgresql/15/bin/pg_restore --version)

finish
