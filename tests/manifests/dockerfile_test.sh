#!/usr/bin/env bash
# Cheap guard on the Dockerfile (Docker itself is not needed; the image tier,
# tests/image, builds and runs the image): the base is a pinned ARG, the
# build stage builds with the project's own scripts (build dependencies only,
# the package layer before the sources), and the runtime stage is cleaned of
# apt's state and runs the binary as the non-root user the manifests expect.
# The two final targets — runtime (compiled in the image, the default) and
# runtime-prebuilt (executables from a build outside, what CI's image tier
# builds) — share every instruction but the one COPY that brings the
# executables, and both take them through scripts/image-binaries.
# Usage: dockerfile_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
. "$(dirname "$0")/lib.sh"

dockerfile=$source_dir/Dockerfile
# Instructions with continuation lines joined, comments dropped.
instructions=$work/instructions
sed -e '/^[[:space:]]*#/d' "$dockerfile" | awk '{ if (sub(/\\$/, "")) { line = line $0 } else { print line $0; line = "" } }' >"$instructions"
# stage N: the instructions of the Nth FROM (0: the ARGs before the first).
stage() { awk -v n="$1" '/^FROM /{ count++ } count == n' "$instructions"; }

check "stages: build dependencies, build, runtime base, the two runtimes (default last)" \
  equals "build-deps build runtime-base runtime-prebuilt runtime" \
  "$(sed -n 's/^FROM .* AS \(.*\)$/\1/p' "$instructions" | paste -sd' ')"
check "the base image is an ARG pinned by digest to Debian 12 slim" grep -Eqx \
  'ARG BASE_IMAGE=(docker\.io/library/)?debian:bookworm-slim@sha256:[0-9a-f]{64}' <(stage 0)
check "build-deps and runtime-base start from the base image ARG, the runtimes from runtime-base" equals \
  "build-deps:BASE_IMAGE build:build-deps runtime-base:BASE_IMAGE runtime-prebuilt:runtime-base runtime:runtime-base" \
  "$(sed -nE 's/^FROM \$?\{?([A-Za-z_-]+)\}? AS (.*)$/\2:\1/p' "$instructions" | paste -sd' ')"
check "the build-deps stage installs only build dependencies (scripts/setup --build-only)" \
  grep -q 'scripts/setup --build-only' <(stage 1 | grep '^RUN ')
# Layer caching: the package install sees scripts/setup alone, so a source
# edit does not redo it.
check "scripts/setup is copied and run before the sources are copied" equals \
  "COPY scripts/setup scripts/setup|RUN scripts/setup --build-only|COPY . ." \
  "$({ stage 1; stage 2; } | grep -E '^(COPY|RUN)' | head -3 | sed -E 's/^(RUN scripts\/setup --build-only).*/\1/' | paste -sd'|')"
check "build stage runs scripts/build without tests and benchmarks" grep -Eq \
  'scripts/build .*-DSCHEMAOP_BUILD_TESTS=OFF.*-DSCHEMAOP_BUILD_BENCH=OFF' <(stage 2 | grep '^RUN ')
check "build stage records the commit for --version" grep -q 'DSCHEMAOP_COMMIT=\${SCHEMAOP_COMMIT}' <(stage 2)
check "build stage selects its build directory" grep -q 'SCHEMAOP_BUILD_DIR' <(stage 2)
# The build-only package set: the compiler and headers, no server or test tools.
build_packages=$(sed -n '/^build_packages=(/,/^)/p' "$source_dir/scripts/setup")
check "scripts/setup has a build-only package list" grep -q 'build-essential' <<<"$build_packages"
for p in postgresql-15 postgresql-client-15 kubernetes-client libgtest-dev clang npm; do
  check "build-only packages exclude $p" bash -c '! grep -qw -- "$1" <<<"$2"' _ "$p" "$build_packages"
done
check "runtime stage installs pg_dump/pg_restore 15" grep -q 'postgresql-client-15' <(stage 3)
check "runtime stage installs the time zones of spec.maintenanceWindow" grep -qw 'tzdata' <(stage 3)
check "runtime stage cleans apt explicitly" grep -q 'apt-get clean' <(stage 3 | grep '^RUN ')
check "runtime stage removes apt lists" grep -q 'rm -rf /var/lib/apt/lists/\*' <(stage 3 | grep '^RUN ')
check "runtime stage removes the build host's apt sources" \
  grep -q 'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/\*' <(stage 3 | grep '^RUN ')
check "runtime stage does not run the build" bash -c '! grep -Eq "scripts/(setup|build)|build-essential|cmake" <<<"$1"' _ "$(stage 3)"
check "runtime runs as 65532" grep -Eq '^USER 65532(:65532)?$' <(stage 3)
check "entrypoint is the schemaop binary" grep -qx 'ENTRYPOINT \["/usr/local/bin/schemaop"\]' <(stage 3)
check "the build stage collects the executables with scripts/image-binaries" \
  grep -qx 'RUN scripts/image-binaries "$SCHEMAOP_BUILD_DIR" /out' <(stage 2)
check "scripts/image --binaries collects them with scripts/image-binaries too" \
  grep -q '"$root/scripts/image-binaries" "$binaries_from" "$staged"' "$source_dir/scripts/image"
check "runtime-prebuilt adds only the executables of the named context 'binaries'" equals \
  'COPY --from=binaries schemaop kubectl-schemaop /usr/local/bin/' "$(stage 4 | grep -v '^FROM ')"
check "runtime (the default) adds only the executables of the build stage" equals \
  'COPY --from=build /out/schemaop /out/kubectl-schemaop /usr/local/bin/' "$(stage 5 | grep -v '^FROM ')"
check ".dockerignore keeps build trees out of the context" grep -qx '/build\*' "$source_dir/.dockerignore"

finish
