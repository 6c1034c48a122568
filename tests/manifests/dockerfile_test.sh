#!/usr/bin/env bash
# Cheap guard on the Dockerfile (Docker itself is not needed): the build stage
# builds with the project's own scripts, the way CI does, and the runtime
# stage runs the binary as the non-root user the manifests expect.
# Usage: dockerfile_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

dockerfile=$source_dir/Dockerfile
# Instructions with continuation lines joined, comments dropped.
instructions=$work/instructions
sed -e '/^[[:space:]]*#/d' "$dockerfile" | awk '{ if (sub(/\\$/, "")) { line = line $0 } else { print line $0; line = "" } }' >"$instructions"
stage() { awk -v n="$1" '/^FROM /{ count++ } count == n' "$instructions"; }

check "two stages, both Debian 12 slim" equals "2 2" \
  "$(grep -c '^FROM ' "$instructions") $(grep -c '^FROM debian:bookworm-slim' "$instructions")"
check "build stage runs scripts/setup" grep -q 'scripts/setup' <(stage 1 | grep '^RUN ')
check "build stage runs scripts/build without tests and benchmarks" grep -Eq \
  'scripts/build .*-DSCHEMAOP_BUILD_TESTS=OFF.*-DSCHEMAOP_BUILD_BENCH=OFF' <(stage 1 | grep '^RUN ')
check "build stage selects its build directory" grep -q 'SCHEMAOP_BUILD_DIR' <(stage 1)
check "runtime stage installs pg_dump/pg_restore" grep -q 'postgresql-client-15' <(stage 2)
check "runtime stage installs the time zones of spec.maintenanceWindow" grep -qw 'tzdata' <(stage 2)
check "runtime stage does not run the build" bash -c '! grep -Eq "scripts/(setup|build)|build-essential|cmake" <<<"$1"' _ "$(stage 2)"
check "runtime runs as 65532" grep -Eq '^USER 65532(:65532)?$' <(stage 2)
check "entrypoint is the schemaop binary" grep -qx 'ENTRYPOINT \["/usr/local/bin/schemaop"\]' <(stage 2)
check "binary copied from the build stage" grep -Eq '^COPY --from=build .*/usr/local/bin/schemaop$' <(stage 2)
check ".dockerignore keeps build trees out of the context" grep -qx '/build\*' "$source_dir/.dockerignore"

finish
