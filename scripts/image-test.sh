#!/usr/bin/env bash
# make image-test: builds Akosha's three images with podman (no Docker daemon)
# and runs them the way the cluster does: read-only root, uid 1000, every
# capability dropped, no privilege escalation, tmpfs for /tmp and the cache.
#
#   1. installs podman, runc, mmdebstrap, curl and jq with apt when missing;
#   2. uses the Dockerfile's pinned bases when their registries answer, else
#      bootstraps local ones from Debian's archive (scripts/image-bases.sh,
#      cached in /var/cache/akosha-image-bases, outside the clone);
#   3. builds the generic, ingest and query images (make image) and prints
#      their size;
#   4. generic image, `serve --dev` on a bind-mounted lake: /health,
#      /health/readiness, two ingests, a /v1/sql answer read back, then
#      `akosha job compact` and `akosha lake verify` in their own containers on
#      the same lake, and the same answer again after the compaction;
#   5. ingest and query images with their own CMD under the func-go contract
#      (LISTEN_ADDRESS set to a non-default port, API-key auth on): health
#      routes, an ingest, the query image reading it back;
#   6. every server is stopped with SIGTERM and must exit 0 within the grace.
#
# Settings: AKOSHA_IMAGE_BASES=auto|registry|local (default auto: local when
# docker.io or gcr.io do not answer), AKOSHA_TEST_GRACE (30 s),
# AKOSHA_TEST_START_DEADLINE (90 s), AKOSHA_TEST_IMAGE / AKOSHA_TEST_TAG
# (localhost/akosha-image-test:test).
#
# Every container is removed on any exit. Waits poll a condition until a
# deadline. A failure prints what failed and the container's last log lines,
# and exits non-zero.
#
# Podman here runs rootful with runc and cgroupfs (this machine's cgroup v2 is
# hybrid, which crun does not handle). Rootful podman asks for 1048576 open
# files and processes; raising a hard limit needs CAP_SYS_RESOURCE, which a
# container host may not grant, so a containers.conf given by CONTAINERS_CONF
# sets limits the machine allows (unless CONTAINERS_CONF is already set).
set -euo pipefail
cd "$(dirname "$0")/.."

PODMAN=podman
IMAGE=${AKOSHA_TEST_IMAGE:-localhost/akosha-image-test}
TAG=${AKOSHA_TEST_TAG:-test}
GRACE=${AKOSHA_TEST_GRACE:-30}            # seconds; the pods' SIGTERM budget (README: up to 30 s)
START_DEADLINE=${AKOSHA_TEST_START_DEADLINE:-90}
RUN_ID=akosha-image-test-$$
WORK=$(mktemp -d /tmp/akosha-image-test.XXXXXX)
CURRENT=""                                # the container whose logs a failure shows

log()  { printf 'image-test: %s\n' "$*"; }
fail() {
  printf 'image-test: FAIL: %s\n' "$*" >&2
  if [[ -n $CURRENT ]] && "$PODMAN" container exists "$CURRENT" 2>/dev/null; then
    printf 'image-test: last log lines of %s:\n' "$CURRENT" >&2
    "$PODMAN" logs --tail 40 "$CURRENT" >&2 2>&1 || true
  fi
  exit 1
}
cleanup() {
  local rc=$?
  if command -v "$PODMAN" >/dev/null; then
    local ids
    ids=$("$PODMAN" ps -aq --filter "label=$RUN_ID" 2>/dev/null || true)
    [[ -n $ids ]] && "$PODMAN" rm -f -t 0 $ids >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  ((rc == 0)) || printf 'image-test: failed (exit %d)\n' "$rc" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. tools -----------------------------------------------------------------
missing=()
for tool in podman:podman runc:runc mmdebstrap:mmdebstrap curl:curl jq:jq; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]})); then
  ((EUID == 0)) || fail "missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
  log "installing ${missing[*]} with apt"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    >"$WORK/apt.log" 2>&1 || { tail -20 "$WORK/apt.log" >&2; fail "apt-get install ${missing[*]} failed"; }
fi
((EUID == 0)) || fail "run as root: this test uses rootful podman (rootless needs uidmap, slirp4netns and fuse-overlayfs, untested here)"

if [[ -z ${CONTAINERS_CONF:-} ]]; then
  nofile=$(ulimit -Hn)
  [[ $nofile == unlimited ]] && nofile=1048576
  # conmon, which starts the container, holds at most 32768 processes here.
  cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=16384:16384"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  export CONTAINERS_CONF=$WORK/containers.conf
fi
"$PODMAN" info >/dev/null 2>"$WORK/info.err" || { cat "$WORK/info.err" >&2; fail "podman does not work here"; }

# --- 2. bases -----------------------------------------------------------------
# A registry "answers" when its /v2/ endpoint returns any HTTP status.
answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$1" || true) =~ ^[1-5][0-9][0-9]$ ]]; }
bases=()
case ${AKOSHA_IMAGE_BASES:-auto} in
  registry) ;;
  local) bases=(local) ;;
  auto) answers https://registry-1.docker.io/v2/ && answers https://gcr.io/v2/ || bases=(local) ;;
  *) fail "AKOSHA_IMAGE_BASES is ${AKOSHA_IMAGE_BASES}; want auto, registry or local" ;;
esac
base_args=()
if ((${#bases[@]})); then
  log "no container registry reachable: local bases from Debian's archive"
  ./scripts/image-bases.sh >"$WORK/bases.out" || fail "scripts/image-bases.sh failed"
  while IFS= read -r line; do
    [[ $line == GO_IMAGE=* || $line == RUNTIME_IMAGE=* ]] && base_args+=("$line")
  done <"$WORK/bases.out"
  ((${#base_args[@]} == 2)) || fail "scripts/image-bases.sh named no GO_IMAGE and RUNTIME_IMAGE"
else
  log "registries reachable: the Dockerfile's pinned bases"
fi

# --- 3. build -------------------------------------------------------------------
log "building $IMAGE{,-ingest,-query}:$TAG"
start=$SECONDS
make --no-print-directory image CONTAINER="$PODMAN" IMAGE="$IMAGE" IMAGE_TAG="$TAG" "${base_args[@]}" \
  >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; fail "make image failed (last lines above)"; }
log "built in $((SECONDS - start)) s"
# Earlier builds' stages and replaced bases are dangling now; without this every
# run with changed sources would keep another 800 MB builder stage. The Go
# module and build caches are cache mounts, which stay.
"$PODMAN" image prune -f >/dev/null || fail "podman image prune failed"
for suffix in "" -ingest -query; do
  bytes=$("$PODMAN" image inspect --format '{{.Size}}' "$IMAGE$suffix:$TAG") || fail "no image $IMAGE$suffix:$TAG after the build"
  log "image $IMAGE$suffix:$TAG: $((bytes / 1000000)) MB"
done
"$PODMAN" run --rm --read-only --user 1000:1000 --cap-drop=ALL "$IMAGE:$TAG" --version >"$WORK/version" 2>&1 \
  || { cat "$WORK/version" >&2; fail "akosha --version does not run in the image"; }
log "akosha --version: $(cat "$WORK/version")"

# --- helpers for the running containers ----------------------------------------
LAKE=$WORK/lake                           # bind-mounted at the image's WORKDIR, /var/lib/akosha
mkdir -p "$LAKE" && chown 1000:1000 "$LAKE"
KEY=image-test-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
RESTRICTED=(--read-only --user 1000:1000 --cap-drop=ALL --security-opt=no-new-privileges
  --tmpfs /tmp:rw,size=512m,mode=1777 --mount type=tmpfs,destination=/var/cache/akosha,U=true
  -v "$LAKE:/var/lib/akosha" --label "$RUN_ID")

# start NAME PORT ARGS...: runs a detached container publishing PORT on
# 127.0.0.1 and sets URL to it.
start() {
  local name=$RUN_ID-$1 port=$2; shift 2
  CURRENT=$name
  "$PODMAN" run -d --name "$name" "${RESTRICTED[@]}" -p "127.0.0.1::$port" "$@" >/dev/null \
    || fail "podman run $name failed"
  local hostport
  hostport=$("$PODMAN" port "$name" "$port/tcp" | head -1) || fail "$name publishes no port $port"
  [[ -n $hostport ]] || fail "$name publishes no port $port"
  URL=http://$hostport
}

# wait_ok PATH: polls URL/PATH until it answers 200, the container exits, or
# START_DEADLINE passes.
wait_ok() {
  local path=$1 deadline=$((SECONDS + START_DEADLINE)) code
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL$path" || true)
    [[ $code == 200 ]] && return 0
    [[ $("$PODMAN" inspect -f '{{.State.Running}}' "$CURRENT") == true ]] \
      || fail "$CURRENT exited before $path answered 200"
    ((SECONDS < deadline)) || fail "$CURRENT: $path answered $code, not 200, within ${START_DEADLINE} s"
    sleep 0.2
  done
}

# call EXPECTED_STATUS METHOD PATH [curl args...]: the body on stdout; fails on
# another status.
call() {
  local want=$1 method=$2 path=$3; shift 3
  local out=$WORK/body code
  code=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 -X "$method" "$URL$path" "$@" || true)
  [[ $code == "$want" ]] || fail "$CURRENT: $method $path answered $code, want $want: $(head -c 500 "$out")"
  cat "$out"
}

# ingest ID...: stores memories with these ids for system image-test and
# checks they were all stored.
ingest() {
  local records="" id
  for id in "$@"; do
    records+="${records:+,}{\"id\":\"$id\",\"content\":\"image test $id\",\"created_at\":\"2026-11-25T10:00:00Z\"}"
  done
  local body
  body=$(call 200 POST /v1/memories "${AUTH[@]}" -H 'Content-Type: application/json' \
    -d "{\"system_id\":\"image-test\",\"records\":[$records]}")
  [[ $(jq -r '"\(.status) \(.stored)"' <<<"$body") == "completed $#" ]] \
    || fail "$CURRENT: ingest of $* answered $body"
}

# read_back IDS: /v1/sql must list exactly these ids (comma-separated, sorted)
# for system image-test.
read_back() {
  local body got
  body=$(call 200 POST /v1/sql "${AUTH[@]}" -H 'Accept: application/json' \
    -d '{"sql":"SELECT string_agg(id, \u0027,\u0027 ORDER BY id) AS ids FROM memories WHERE system_id = \u0027image-test\u0027"}')
  got=$(jq -r '.rows[0][0] // empty' <<<"$body" 2>/dev/null || true)
  [[ $got == "$1" ]] || fail "$CURRENT: /v1/sql read back ids '$got', want $1: $(head -c 500 <<<"$body")"
  log "  /v1/sql reads back $1 (version $(jq -r .version <<<"$body"))"
}

# stop_within_grace: SIGTERM the current container; it must exit 0 before the grace ends.
stop_within_grace() {
  local t0=$SECONDS code
  "$PODMAN" stop -t "$GRACE" "$CURRENT" >/dev/null || fail "podman stop $CURRENT failed"
  code=$("$PODMAN" inspect -f '{{.State.ExitCode}}' "$CURRENT")
  [[ $code == 0 ]] || fail "$CURRENT exited $code after SIGTERM, want 0 (137 means it was killed after the ${GRACE} s grace)"
  log "  SIGTERM: exit 0 after $((SECONDS - t0)) s (grace ${GRACE} s)"
}

# oneshot NAME ARGS...: runs the generic image to completion on the lake; its
# output is in $WORK/NAME.out. Fails on a non-zero exit.
oneshot() {
  local name=$1; shift
  "$PODMAN" run --rm --name "$RUN_ID-$name" "${RESTRICTED[@]}" "$IMAGE:$TAG" "$@" >"$WORK/$name.out" 2>&1 \
    || { tail -30 "$WORK/$name.out" >&2; fail "akosha $* exited non-zero in the image"; }
}

# --- 4. generic image: serve --dev, ingest, SQL, compact ---------------------------
log "generic image: akosha serve --dev (lake ./data in the WORKDIR, a bind mount)"
AUTH=()
start serve 8080 "$IMAGE:$TAG" serve --dev
wait_ok /health
wait_ok /health/readiness
log "  /health and /health/readiness: 200"
ingest m1 m2
ingest m3
read_back m1,m2,m3
oneshot compact job compact --lake ./data
# The two ingests wrote two files into one partition; compaction merges them.
grep -Eq '^ +memories +2 -> 1 files' "$WORK/compact.out" \
  || { cat "$WORK/compact.out" >&2; fail "akosha job compact did not merge memories' 2 files into 1 (output above)"; }
log "  akosha job compact: exit 0, $(grep -E '^ +memories ' "$WORK/compact.out" | tr -s ' ')"
oneshot verify lake verify --lake ./data
log "  akosha lake verify: exit 0"
read_back m1,m2,m3
stop_within_grace

# --- 5. function images under the func-go contract ----------------------------------
FUNC_ENV=(-e LISTEN_ADDRESS=[::]:9090 -e AKOSHA_LAKE_URL=/var/lib/akosha/data -e "AKOSHA_API_KEYS=image-test:admin:$KEY")
AUTH=(-H "Authorization: Bearer $KEY")

log "ingest image: its CMD (function ingest), LISTEN_ADDRESS=[::]:9090, API keys"
start ingest 9090 "${FUNC_ENV[@]}" "$IMAGE-ingest:$TAG"
wait_ok /health/readiness
wait_ok /health/liveness
log "  /health/readiness and /health/liveness: 200"
call 401 POST /v1/memories -H 'Content-Type: application/json' -d '{}' >/dev/null
log "  without a key: 401"
ingest m4
stop_within_grace

log "query image: its CMD (function query), LISTEN_ADDRESS=[::]:9090, API keys"
start query 9090 "${FUNC_ENV[@]}" "$IMAGE-query:$TAG"
wait_ok /health/readiness
wait_ok /health/liveness
log "  /health/readiness and /health/liveness: 200"
read_back m1,m2,m3,m4
stop_within_grace

log "passed: images $IMAGE{,-ingest,-query}:$TAG"
