#!/usr/bin/env bash
# Builds the Dockerfile's two base images from Debian's archive, for machines
# that reach no container registry, and loads them into podman's store:
#
#   localhost/akosha-base/golang:<go version>-bookworm   builder: Debian bookworm with gcc/g++,
#                                                        the host's Go toolchain and CA bundle
#   localhost/akosha-base/cc:debian12                    runtime: glibc, libstdc++, tzdata and a CA
#                                                        bundle, unpacked without a shell or package
#                                                        manager (what distroless/cc holds)
#
# The root filesystems are bootstrapped once with mmdebstrap and kept as
# tarballs in $AKOSHA_BASES_CACHE (default /var/cache/akosha-image-bases),
# outside any clone, keyed by a hash of this script and the Go version; later
# runs only re-import them when podman's store lost them. The last lines of
# stdout are GO_IMAGE=... and RUNTIME_IMAGE=..., for --build-arg.
#
# The CA bundle is the machine's: its module downloads may go through a
# re-signing proxy, which the builder must trust as the host does.
set -euo pipefail

CACHE=${AKOSHA_BASES_CACHE:-/var/cache/akosha-image-bases}
CA_BUNDLE=${AKOSHA_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PODMAN=${PODMAN:-podman}
SUITE=bookworm
MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)

die() { echo "image-bases: $*" >&2; exit 1; }
log() { echo "image-bases: $*" >&2; }

command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (apt-get install mmdebstrap)"
command -v go >/dev/null || die "go is missing: the builder base carries the host's Go toolchain"
[[ -r $CA_BUNDLE ]] || die "no CA bundle at $CA_BUNDLE (set AKOSHA_CA_BUNDLE)"

GOROOT=$(go env GOROOT)
[[ $(basename "$GOROOT") == go ]] || die "GOROOT $GOROOT is not named go; copy-in would misplace it"
GO_VERSION=$(go env GOVERSION)
GO_VERSION=${GO_VERSION#go}
KEY=$( { cat "$0"; echo "$GO_VERSION"; sha256sum "$CA_BUNDLE"; } | sha256sum | cut -c1-12)
GO_IMAGE=localhost/akosha-base/golang:$GO_VERSION-$SUITE
RUNTIME_IMAGE=localhost/akosha-base/cc:debian12
mkdir -p "$CACHE"

# bootstrap NAME ARGS...: $CACHE/NAME-$KEY.tar, made by mmdebstrap unless cached.
bootstrap() {
  local name=$1; shift
  local tar=$CACHE/$name-$KEY.tar
  if [[ ! -s $tar ]]; then
    log "bootstrapping $name from Debian's archive (once; cached in $tar)"
    rm -f "$CACHE/$name"-*.tar
    # A per-process name, renamed when complete: a concurrent or interrupted
    # run never leaves a half-written tarball under the cached name.
    mmdebstrap --quiet --format=tar "$@" "$SUITE" "$tar.$$.part" "${MIRRORS[@]}" >&2 \
      || { rm -f "$tar.$$.part"; die "mmdebstrap failed for $name"; }
    mv "$tar.$$.part" "$tar"
  fi
  echo "$tar"
}

# load IMAGE TAR CHANGES...: import TAR as IMAGE unless podman has it with this key.
load() {
  local image=$1 tar=$2; shift 2
  if [[ $("$PODMAN" image inspect --format '{{index .Labels "akosha.base.key"}}' "$image" 2>/dev/null) == "$KEY" ]]; then
    return
  fi
  log "importing $image"
  local changes=(--change "LABEL akosha.base.key=$KEY")
  local c
  for c in "$@"; do changes+=(--change "$c"); done
  "$PODMAN" import --quiet "${changes[@]}" "$tar" "$image" >/dev/null || die "podman import of $tar failed"
}

# Go's proxy settings as the host resolves them, so the builder downloads modules
# the way `go` on this machine does.
go_env=()
for v in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE; do
  go_env+=("ENV $v=$(go env "$v")")
done

builder=$(bootstrap golang --variant=apt \
  --include=ca-certificates,gcc,g++,libc6-dev,make,git,pkg-config \
  --customize-hook="copy-in $GOROOT /usr/local" \
  --customize-hook="upload $CA_BUNDLE /etc/ssl/certs/ca-certificates.crt" \
  --customize-hook='mkdir -p "$1/go/bin" "$1/go/pkg" && chmod -R 1777 "$1/go"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*')
load "$GO_IMAGE" "$builder" \
  "ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  "ENV GOPATH=/go" "ENV GOTOOLCHAIN=local" "${go_env[@]}" "WORKDIR /go" 'CMD ["bash"]'

runtime=$(bootstrap cc --variant=extract \
  --include=libc6,libgcc-s1,libstdc++6,tzdata,netbase \
  --customize-hook="upload $CA_BUNDLE /etc/ssl/certs/ca-certificates.crt" \
  --customize-hook='printf "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" > "$1/etc/passwd"' \
  --customize-hook='printf "root:x:0:\nnonroot:x:65532:\n" > "$1/etc/group"' \
  --customize-hook='mkdir -p "$1/tmp" && chmod 1777 "$1/tmp" && ldconfig -r "$1"' \
  --customize-hook='rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/lintian "$1"/usr/share/locale "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*')
load "$RUNTIME_IMAGE" "$runtime" "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"

echo "GO_IMAGE=$GO_IMAGE"
echo "RUNTIME_IMAGE=$RUNTIME_IMAGE"
