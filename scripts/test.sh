#!/usr/bin/env bash
# test.sh: make test's body. The race-enabled suite and the passes without
# the race detector (the vector generator and HNSW's compute-bound tests,
# the manifests' module, the generated API client) run side by side: the
# race suite ends with one long package on one core, and the other passes
# fill the other core meanwhile. The second group's output is held and
# printed after the suite's, so each reads in one piece; the exit status
# is the first failure's.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
TEST_FLAGS=${TEST_FLAGS:--count=1 -timeout 15m}
RACE=${RACE--race}

# Where the suite's CPU goes besides the tests (perf over a whole run): a
# sixth is linking some 45 test binaries, eight of them with DuckDB's
# static library. Without the symbol table and DWARF (-s -w; stack traces
# and race reports use Go's own tables and keep their names and lines),
# and with gold for the external link, linking a DuckDB binary takes 6
# CPU-s instead of 10; with mold (Debian's package, installed here like
# redis-server when we may) 3.8. Either is used only where installed.
if ! command -v mold >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q mold >/dev/null 2>&1 ||
		echo "make test: could not install mold; linking with gold or ld" >&2
fi
ldflags="-s -w"
if command -v mold >/dev/null 2>&1; then
	ldflags="$ldflags -extldflags=-fuse-ld=mold"
elif command -v ld.gold >/dev/null 2>&1; then
	ldflags="$ldflags -extldflags=-fuse-ld=gold"
fi
# The race detector sleeps a second before each binary exits (TSan's
# atexit_sleep_ms, for reports from other threads); Go's goroutines are
# joined by then, and 45 binaries would wait 45 s.
export GORACE="${GORACE:-atexit_sleep_ms=0}"
# Without -trimpath the build cache keys every package on its directory, so
# a fresh clone (CI's, or a second worktree) compiled all of akosha again
# under -race: 110 CPU-s of a run. With it, a clone reuses what any other
# clone on the machine compiled; error messages name module paths.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"

"$GO" vet ./... || exit 1
# go test would vet every package again with its own subset of the
# analyzers: the full vet above already ran them.
TEST_FLAGS="$TEST_FLAGS -vet=off"

# The race detector sees races only between goroutines a test binary runs,
# and costs three to five times the CPU. A package whose code and tests
# start no goroutine (no go statement, errgroup or test server) and share
# nothing behind a lock gives it nothing to see, so it runs in the pass
# without it (jobs/age: 38 CPU-s under -race, 7 without). The split is
# computed, not listed: a package that gains a goroutine moves under the
# race detector by itself. The match is on the package's own files, so a
# comment that mentions one of these words keeps it there too.
race_pkgs=()
plain_pkgs=()
while read -r pkg dir; do
	if [ -z "$RACE" ] || grep -qE '(^|[^[:alnum:]_])go[[:space:]]+(func[[:space:]]*\(|[[:alpha:]_][[:alnum:]_.]*\()|errgroup|httptest|http\.Serve|ListenAndServe|sync\.' "$dir"/*.go; then
		race_pkgs+=("$pkg")
	else
		plain_pkgs+=("$pkg")
	fi
done < <("$GO" list -f '{{.ImportPath}} {{.Dir}}' ./...)

# The tests' vectors (testdata/textvec) come from a corpus of the Go source
# tree, cached in $TMPDIR by the first process that scans it, and so are
# the vector sets generated from it. The corpus and the sets the suite uses
# are made once here, without the race detector: 2.5 CPU-s for the corpus
# against 17 in each race-enabled test binary that would otherwise get
# there first, and a set's 2-5 s against up to three times that under
# -race. Only time depends on it.
"$GO" run ./testdata/textvec/warm || echo "make test: could not warm textvec's caches; the tests make their vectors themselves" >&2

# The tests that run akosha as a process (the crash loop, the generated
# client against serve --dev) share one build of it.
bindir=$(mktemp -d "${TMPDIR:-/tmp}/akosha-test-bin.XXXXXX")
others=$(mktemp "${TMPDIR:-/tmp}/akosha-test-others.XXXXXX")
trap 'rm -f "$others"; rm -rf "$bindir"' EXIT
"$GO" build "-ldflags=$ldflags" -o "$bindir/akosha" ./cmd/akosha || exit 1
export AKOSHA_TEST_BINARY="$bindir/akosha"
(
	set -e
	# shellcheck disable=SC2086
	"$GO" test $TEST_FLAGS "-ldflags=$ldflags" -short ./testdata/textvec ./lake/hnsw
	if [ "${#plain_pkgs[@]}" -gt 0 ]; then
		# shellcheck disable=SC2086
		./scripts/with-services.sh "$GO" test $TEST_FLAGS "-ldflags=$ldflags" "${plain_pkgs[@]}"
	fi
	(cd deploy/check && "$GO" vet ./... && "$GO" test -count=1 -vet=off "-ldflags=$ldflags" ./...)
	# A client generated from api/openapi.yaml drives akosha serve --dev
	# (its own module: the generator stays out of akosha's dependencies).
	(cd api/clienttest && "$GO" vet ./... && "$GO" test -count=1 -vet=off "-ldflags=$ldflags" ./...)
) >"$others" 2>&1 &
others_pid=$!

# The console's browser test saves its screenshots here (bin/ is ignored by git).
export AKOSHA_TEST_ARTEFACTS=${AKOSHA_TEST_ARTEFACTS:-$root/bin/test-artefacts}
# shellcheck disable=SC2086
./scripts/with-services.sh "$GO" test $TEST_FLAGS "-ldflags=$ldflags" $RACE "${race_pkgs[@]}"
suite=$?
wait "$others_pid"
rest=$?
echo "--- without the race detector: testdata/textvec, lake/hnsw, ${plain_pkgs[*]:-(no other package)}, deploy/check, api/clienttest"
cat "$others"
if [ "$suite" -ne 0 ]; then
	echo "make test: the race-enabled suite failed" >&2
	exit "$suite"
fi
if [ "$rest" -ne 0 ]; then
	echo "make test: a pass without the race detector failed" >&2
	exit "$rest"
fi
