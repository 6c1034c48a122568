# schemaop controller image (Debian 12).
#
#   scripts/image                     # builds it (with or without Docker), see README "Install"
#   docker build -t schemaop:0.1.0 .  # the same with a Docker daemon and Docker Hub access
#
# The build stage compiles with the project's own scripts/setup (--build-only:
# the compiler and the libraries' headers, no PostgreSQL server, kubectl or
# test tools) and scripts/build, the same steps as CI and a developer
# machine. The runtime stage carries only the shared libraries the binary
# links against and pg_dump/pg_restore for backups.

# The base of both stages: Debian 12 slim, pinned by digest (the digest of
# docker.io/library/debian:bookworm-slim as a public Docker build resolved
# it; verify and bump it, docs/operations.md §6.5). scripts/image builds a
# local equivalent with mmdebstrap on hosts without registry access and
# passes it here (--build-arg BASE_IMAGE=...).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251

# The build dependencies, a stage of their own so that a builder can keep it
# (scripts/image tags it as its cache). Layer caching: the package install
# depends on scripts/setup alone, so a source edit reuses it.
FROM ${BASE_IMAGE} AS build-deps
WORKDIR /src
COPY scripts/setup scripts/setup
RUN scripts/setup --build-only \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

FROM build-deps AS build
ENV SCHEMAOP_BUILD_DIR=/src/build-image
COPY . .
# The commit `schemaop --version` reports (the build context has no .git).
ARG SCHEMAOP_COMMIT=unknown
# scripts/build forwards the extra arguments to cmake on the first configure.
# The compiler cache lives in a build cache mount (BuildKit and buildah), so
# rebuilding after a source edit recompiles only what changed.
RUN --mount=type=cache,id=schemaop-ccache,target=/root/.cache/ccache \
    CCACHE_DIR=/root/.cache/ccache scripts/build -DSCHEMAOP_BUILD_TESTS=OFF -DSCHEMAOP_BUILD_BENCH=OFF \
      -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "-DSCHEMAOP_COMMIT=${SCHEMAOP_COMMIT}"
# The two executables, stripped of debug sections (scripts/image-binaries:
# the same step `scripts/image --binaries` runs on binaries built outside).
RUN scripts/image-binaries "$SCHEMAOP_BUILD_DIR" /out

# The runtime without the binaries: both final stages below start from it,
# so the image CI tests (runtime-prebuilt) and the image users build
# (runtime) differ only in where the two executables come from.
FROM ${BASE_IMAGE} AS runtime-base
# Runtime libraries of the build dependencies (header-only ones need none),
# and tzdata for the IANA time zones of spec.maintenanceWindow
# (/usr/share/zoneinfo).
# PostgreSQL client major version: 15, Debian 12's. pg_dump refuses servers of
# a NEWER major version, so this image backs up PostgreSQL 15 and older
# (down to 9.2) — the servers the tests run against. For PostgreSQL 16 or
# newer, build with a newer client (docs/operations.md "The image").
# Afterwards: apt's lists and caches are cleaned, and no apt source is left
# (the build host's mirror stays out of the image; the runtime installs
# nothing).
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
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
# Non-root user and group 65532, as the manifests and the Helm chart expect.
RUN groupadd --gid 65532 schemaop \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin schemaop \
 && install -d -o 65532 -g 65532 -m 0750 /var/lib/schemaop /var/lib/schemaop/backups
USER 65532:65532
WORKDIR /var/lib/schemaop
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/schemaop"]
CMD ["controller"]

# The runtime with executables compiled outside this Dockerfile: the named
# build context `binaries` holds schemaop and kubectl-schemaop as
# scripts/image-binaries writes them. `scripts/image --binaries BUILD_DIR`
# builds this target from a Debian 12 build directory (CI's own build, so
# the image tier does not compile everything a second time):
#   buildah bud --target runtime-prebuilt --build-context binaries=DIR ...
#   docker buildx build --target runtime-prebuilt --build-context binaries=DIR ...
FROM runtime-base AS runtime-prebuilt
COPY --from=binaries schemaop kubectl-schemaop /usr/local/bin/

# The default target: the runtime with the executables compiled above.
FROM runtime-base AS runtime
COPY --from=build /out/schemaop /out/kubectl-schemaop /usr/local/bin/
