# schemaop controller image (Debian 12).
#
#   docker build -t schemaop:0.1.0 .
#
# The build stage uses the project's own scripts/setup and scripts/build, the
# same steps as CI and a developer machine, so the image cannot drift from
# what is tested. The runtime stage carries only the shared libraries the
# binary links against and pg_dump/pg_restore for backups.

FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
ENV SCHEMAOP_BUILD_DIR=/src/build-image
# scripts/setup installs every Debian package the build needs (apt-get);
# scripts/build forwards the extra arguments to cmake on the first configure.
RUN scripts/setup \
 && rm -rf /var/lib/apt/lists/*
RUN scripts/build -DSCHEMAOP_BUILD_TESTS=OFF -DSCHEMAOP_BUILD_BENCH=OFF
# The executable's place in the build tree belongs to controller/cmd; find it
# instead of hard-coding it, and insist on exactly one.
RUN set -eu; \
    binaries=$(find "$SCHEMAOP_BUILD_DIR" -type f -name schemaop -perm -u+x); \
    if [ "$(printf '%s\n' "$binaries" | grep -c .)" != 1 ]; then \
      echo "expected exactly one schemaop executable in $SCHEMAOP_BUILD_DIR, found: $binaries" >&2; exit 1; \
    fi; \
    install -D -m 0755 "$binaries" /out/schemaop; \
    strip --strip-debug /out/schemaop

FROM debian:bookworm-slim AS runtime
# Runtime libraries of the build dependencies (header-only ones need none),
# postgresql-client-15 for pg_dump/pg_restore of the backup step, and tzdata
# for the IANA time zones of spec.maintenanceWindow (/usr/share/zoneinfo).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libcpprest2.10 \
      libpqxx-6.4 \
      libyaml-cpp0.7 \
      libspdlog1.10 \
      libprometheus-cpp-core1.0 \
      libcpp-httplib0.11 \
      libssl3 \
      postgresql-client-15 \
      tzdata \
 && rm -rf /var/lib/apt/lists/*
# Non-root user and group 65532, as the manifests and the Helm chart expect.
RUN groupadd --gid 65532 schemaop \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin schemaop \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/schemaop /var/lib/schemaop/backups
COPY --from=build /out/schemaop /usr/local/bin/schemaop
USER 65532:65532
WORKDIR /var/lib/schemaop
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/schemaop"]
CMD ["controller"]
