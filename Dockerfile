# syntax=docker/dockerfile:1.7
#
# Akosha's container image: one static-ish binary (`akosha`) on distroless/cc.
# DuckDB is linked through cgo (duckdb-go ships prebuilt static libraries that
# need libstdc++ at run time), so the build stage is a full Go toolchain with a
# C/C++ compiler and the runtime stage is distroless "cc" (glibc, libstdc++,
# CA certificates, tzdata; no shell, no package manager).
#
#   make image                                   # the three tags below, with docker or podman
#   docker build -t akosha .                     # generic: ENTRYPOINT akosha, args from the pod
#   docker build --target ingest -t akosha-ingest .   # CMD function ingest (for kn func deploy)
#   docker build --target query  -t akosha-query  .   # CMD function query
#
# The bases are pinned by digest; the release builds amd64 and arm64 from them,
# so each must be its image's multi-arch index digest (`docker buildx
# imagetools inspect IMAGE:TAG` prints it). A machine without registry access
# names local bases of the same kind instead: make image GO_IMAGE=...
# RUNTIME_IMAGE=... (scripts/image-bases.sh bootstraps both from Debian's
# archive; make image-test uses them).
#
# The image runs as uid/gid 1000 with a read-only root filesystem: every
# writable path is a volume (/var/cache/akosha for the NVMe cache, /tmp for
# DuckDB spill files and temporary downloads, /var/lib/akosha, the working
# directory, for `akosha serve --dev`'s ./data lake).

ARG GO_IMAGE=golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12@sha256:b7550f0b15838de14c564337eef2b804ba593ae55d81ca855421bd52f19bb480

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=1 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.Version=${VERSION}" -o /out/akosha ./cmd/akosha \
 && /out/akosha --version \
 && mkdir -p /out/var/cache/akosha /out/var/lib/akosha /out/tmp

# Runtime: distroless cc of the same Debian release as the build stage (glibc).
FROM ${RUNTIME_IMAGE} AS akosha
COPY --from=build /out/akosha /usr/local/bin/akosha
COPY --from=build --chown=1000:1000 /out/var/cache/akosha /var/cache/akosha
COPY --from=build --chown=1000:1000 /out/var/lib/akosha /var/lib/akosha
COPY --from=build --chown=1000:1000 --chmod=1777 /out/tmp /tmp
USER 1000:1000
WORKDIR /var/lib/akosha
ENV LISTEN_ADDRESS=[::]:8080 \
    AKOSHA_CACHE_DIR=/var/cache/akosha \
    TMPDIR=/tmp \
    HOME=/tmp
EXPOSE 8080
VOLUME ["/var/cache/akosha", "/tmp", "/var/lib/akosha"]
ENTRYPOINT ["/usr/local/bin/akosha"]
CMD ["--help"]

# Per-function images for `kn func deploy --build=false`, which cannot set the
# container's arguments.
FROM akosha AS ingest
CMD ["function", "ingest"]

FROM akosha AS query
CMD ["function", "query"]

# The default target (plain `docker build .`) is the generic image.
FROM akosha
