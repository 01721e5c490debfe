#!/usr/bin/env bash
# with-services.sh CMD...: start the real services the tests talk to, run CMD
# with their endpoints in the environment, and stop them whatever CMD does.
#
#   versitygw (S3)  built from its Go module into .tools/bin by `make tools`
#   redis-server    from Debian's redis-server package (installed when missing, as root)
#   chromium        Debian's chromium, for the console's browser tests (installed when missing, as root)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
versitygw="$root/.tools/bin/versitygw"
[ -x "$versitygw" ] || { echo "with-services: $versitygw missing; run 'make tools'" >&2; exit 2; }

if ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "with-services: installing redis-server with apt-get" >&2
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null 2>&1) ||
			(apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null)
	else
		echo "with-services: redis-server is missing; install the Debian package 'redis-server' (apt-get install redis-server)" >&2
		exit 2
	fi
fi

# Chromium drives the web console's browser tests (cmd/akosha, chromedp).
# Like redis-server it comes from Debian's archive when missing; a machine
# where it cannot be installed runs the rest of the suite, and those tests
# skip saying why (AKOSHA_TEST_CHROMIUM=unavailable: ...).
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "with-services: installing chromium with apt-get" >&2
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1) ||
			(apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1) || true
		chromium=$(command -v chromium || true)
	fi
fi
if [ -n "$chromium" ]; then
	export AKOSHA_TEST_CHROMIUM="$chromium"
else
	export AKOSHA_TEST_CHROMIUM="unavailable: chromium is missing and apt-get could not install it"
	echo "with-services: no chromium; the console's browser tests will skip" >&2
fi

free_port() {
	python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# The services' data (the S3 server's objects, Redis' directory) lives on a
# tmpfs when the machine has one with room. On this machine's ext4 (mounted
# with discard) an unlink waits on the kernel's journal and discard work, and
# beside a CPU-bound neighbour that work gets little CPU: removing the suite's
# objects at the end took 36-39 s of an otherwise finished run (5,000 files:
# 18.7 s against 0.06 s on /dev/shm). AKOSHA_TEST_SERVICES_DIR names another
# parent directory.
services_parent=${AKOSHA_TEST_SERVICES_DIR:-}
if [ -z "$services_parent" ]; then
	services_parent=${TMPDIR:-/tmp}
	shm_free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
	if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "${shm_free_kb:-0}" -ge $((1024 * 1024)) ]; then
		services_parent=/dev/shm
	fi
fi
work=$(mktemp -d "$services_parent/akosha-services.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

wait_port() { # port name log
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "with-services: $2 did not start on port $1" >&2
	cat "$3" >&2 || true
	exit 2
}

s3port=$(free_port)
mkdir -p "$work/s3"
export AWS_ACCESS_KEY_ID=akoshatest AWS_SECRET_ACCESS_KEY=akoshatestsecret AWS_REGION=us-east-1
# --keep-alive: versitygw closes every connection after one request unless
# told otherwise (Connection: close), which S3 does not; without it every
# PUT, GET and HEAD of a test or benchmark dialled a new connection, and the
# S3 client's pool of idle connections (lake/storage) was never used.
# AKOSHA_TEST_S3_KEEPALIVE=0 starts it as before.
keepalive=(--keep-alive)
[ "${AKOSHA_TEST_S3_KEEPALIVE:-1}" = 0 ] && keepalive=()
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
	"$versitygw" --port "127.0.0.1:$s3port" --region us-east-1 --quiet "${keepalive[@]}" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
pids+=($!)
wait_port "$s3port" versitygw "$work/versitygw.log"

redisport=$(free_port)
redis-server --port "$redisport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
	>"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$redisport" redis-server "$work/redis.log"

export AKOSHA_TEST_S3_ENDPOINT="http://127.0.0.1:$s3port"
export AKOSHA_TEST_S3_BUCKET=akosha-test
export AKOSHA_TEST_REDIS_URL="redis://127.0.0.1:$redisport/0"
export AKOSHA_TEST_REQUIRE_SERVICES=1
echo "with-services: S3 at $AKOSHA_TEST_S3_ENDPOINT, redis at $AKOSHA_TEST_REDIS_URL" >&2

set +e
"$@"
rc=$?
exit $rc
