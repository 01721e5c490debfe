# syntax=docker/dockerfile:1.7
#
# Akosha's container image: one static-ish binary (`akosha`) on distroless/cc.
# DuckDB is linked through cgo (duckdb-go ships prebuilt static libraries that
# need libstdc++ at run time), so the build stage is a full Go toolchain with a
# C/C++ compiler and the runtime stage is distroless "cc" (glibc, libstdc++,
# CA certificates, tzdata; no shell, no package manager).
#
#   make image                                   # builds the three tags below
#   docker build -t akosha .                     # generic: ENTRYPOINT akosha, args from the pod
#   docker build --target ingest -t akosha-ingest .   # CMD function ingest (for kn func deploy)
#   docker build --target query  -t akosha-query  .   # CMD function query
#
# The image runs as uid/gid 1000 with a read-only root filesystem: every
# writable path is a volume (/var/cache/akosha for the NVMe cache, /tmp for
# DuckDB spill files and temporary downloads).

ARG GO_VERSION=1.26.8
ARG DEBIAN=bookworm

FROM golang:${GO_VERSION}-${DEBIAN} AS build
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
 && mkdir -p /out/var/cache/akosha /out/tmp

# Runtime: distroless cc of the same Debian release as the build stage (glibc).
FROM gcr.io/distroless/cc-debian12 AS akosha
COPY --from=build /out/akosha /usr/local/bin/akosha
COPY --from=build --chown=1000:1000 /out/var/cache/akosha /var/cache/akosha
COPY --from=build --chown=1000:1000 --chmod=1777 /out/tmp /tmp
USER 1000:1000
ENV LISTEN_ADDRESS=[::]:8080 \
    AKOSHA_CACHE_DIR=/var/cache/akosha \
    TMPDIR=/tmp \
    HOME=/tmp
EXPOSE 8080
VOLUME ["/var/cache/akosha", "/tmp"]
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
