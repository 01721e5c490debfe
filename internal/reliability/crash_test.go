package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/lease"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
)

// buildAkosha builds the binary, or takes the one make test built for
// every test that runs akosha as a process (AKOSHA_TEST_BINARY): linking it
// with DuckDB costs several CPU-seconds a time.
func buildAkosha(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("AKOSHA_TEST_BINARY"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("AKOSHA_TEST_BINARY: %v", err)
		}
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "akosha")
	cmd := exec.Command(goTool, "build", "-ldflags=-s -w", "-o", bin, "github.com/akosha/akosha/cmd/akosha")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is one akosha process.
type child struct {
	name string
	cmd  *exec.Cmd
	url  string // functions: http://127.0.0.1:port
	log  string // its stdout and stderr
	out  *bytes.Buffer
	done chan struct{}
}

func startChild(t *testing.T, bin, logDir, name string, env []string, args ...string) *child {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, log: logPath, out: &bytes.Buffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = env
	c.cmd.Stdout = &teeWriter{f: f, buf: c.out}
	c.cmd.Stderr = f
	if err := c.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		c.cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c
}

// teeWriter keeps a command's stdout in its log file and in memory.
type teeWriter struct {
	mu  sync.Mutex
	f   *os.File
	buf *bytes.Buffer
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	return w.f.Write(p)
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *child) exitCode() int { return c.cmd.ProcessState.ExitCode() }

func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startIngest starts `akosha function ingest` and waits for its readiness.
// A process that exits before it is ready (its port was taken between
// freePort and its listen) is started again on another port.
func startIngest(t *testing.T, bin, logDir, name string, env []string) *child {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	for try := 0; ; try++ {
		port := freePort(t)
		c := startChild(t, bin, logDir, fmt.Sprintf("%s-%d", name, try), append(env[:len(env):len(env)],
			fmt.Sprintf("LISTEN_ADDRESS=127.0.0.1:%d", port)), "function", "ingest")
		c.url = fmt.Sprintf("http://127.0.0.1:%d", port)
		ready := waitFor(time.Minute, func() bool {
			if c.exited() {
				return true
			}
			resp, err := hc.Get(c.url + "/health/readiness")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		switch {
		case ready && !c.exited():
			return c
		case c.exited() && try < 2:
			continue
		}
		c.kill()
		t.Fatalf("%s did not become ready:\n%s", c.name, c.tail())
	}
}

// baseEnv is the children's environment: the test's own without any
// AKOSHA_* setting, plus the lake and auth.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AKOSHA_") || strings.HasPrefix(kv, "LISTEN_ADDRESS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// leaseHeld reports whether a run of the compact job holds its lease (a
// killed run keeps it until it expires).
func leaseHeld(ctx context.Context, leases lease.Acquirer) (bool, error) {
	ls, err := leases.Acquire(ctx, "compact", time.Minute)
	if err == nil {
		return false, ls.Release(ctx)
	}
	if errors.Is(err, lease.ErrHeld) {
		return true, nil
	}
	return false, err
}

// releaseDeadLease frees the compact job's lease when a killed run holds it.
// A real deployment waits for the lease to expire (a minute after the last
// renewal); the test takes it over as a taker whose clock is two minutes
// ahead would (the lease protocol itself, not a deletion) and releases it.
func releaseDeadLease(ctx context.Context, leases, future lease.Acquirer) error {
	held, err := leaseHeld(ctx, leases)
	if err != nil || !held {
		return err
	}
	ls, err := future.Acquire(ctx, "compact", time.Minute)
	if err != nil {
		return err
	}
	return ls.Release(ctx)
}

// TestCrashLoop kills `akosha function ingest` with SIGKILL at random
// moments under load from concurrent clients, and `akosha job compact` at
// random moments of its run, restarts them and retries every
// unacknowledged request with its Idempotency-Key. At the end the lake
// holds exactly the acknowledged records, once each, and its log verifies.
//
// AKOSHA_CRASH_ITERATIONS sets the number of kills (default 8; `make crash`
// runs 50).
func TestCrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop: not in -short")
	}
	iterations := envInt(t, "AKOSHA_CRASH_ITERATIONS", 8)
	const clients, perBatch = 6, 10
	cfg := testenv.S3Config(t)
	ctx := context.Background()
	store := newS3(t, cfg)
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	bin := buildAkosha(t)
	logDir := t.TempDir()
	apiKey := "crash-" + testenv.RandomID() + testenv.RandomID()
	env := baseEnv(
		"AKOSHA_LAKE_URL=s3://"+cfg.Bucket+"/"+cfg.Prefix,
		"AKOSHA_S3_ENDPOINT="+cfg.Endpoint,
		"AKOSHA_S3_REGION="+cfg.Region,
		"AKOSHA_API_KEYS=crash-client:operator:"+apiKey,
		"AKOSHA_LOG_LEVEL=warn",
	)
	authHdr := http.Header{"Authorization": {"Bearer " + apiKey}}
	leases := lease.NewStore(store, lease.Options{Holder: "crash-test"})
	future := lease.NewStore(store, lease.Options{Holder: "crash-test (for the expiry)",
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
	start := time.Now()

	// The clients: each sends its batches one after another, retrying an
	// unacknowledged one with the same key (whichever process is up) until
	// it is acknowledged.
	led := &faultLedger{batches: map[string]batch{}, answers: map[string]ingestAnswer{}, abandoned: map[string]bool{}}
	var current atomic.Pointer[string]
	var stopNew atomic.Bool
	var lostThenLanded, lostThenFresh atomic.Int64
	var cw sync.WaitGroup
	for c := range clients {
		cw.Add(1)
		go func() {
			defer cw.Done()
			hc := &http.Client{Timeout: 30 * time.Second}
			for b := 0; !stopNew.Load(); b++ {
				key := fmt.Sprintf("crash-c%d-b%d", c, b)
				bt := newBatch(key, fmt.Sprintf("sys-%d", c%3), uint64(2_000_000+c*100_000+b), perBatch, false, time.Now())
				led.mu.Lock()
				led.batches[key] = bt
				led.mu.Unlock()
				led.attempted.Add(int64(len(bt.ids)))
				first, lost := time.Now(), false
				for {
					u := current.Load()
					if u == nil {
						time.Sleep(10 * time.Millisecond)
						continue
					}
					at := post(ctx, hc, *u+"/v1/memories", bt, authHdr)
					led.attempts.Add(1)
					if at.acked() {
						if at.ans.Status != "completed" || at.ans.Stored != len(bt.ids) {
							t.Errorf("%s: acknowledged as %+v", key, at.ans)
						}
						if at.ans.Duplicate {
							led.dupAnswers.Add(1)
						}
						if lost && at.ans.Duplicate {
							lostThenLanded.Add(1)
						} else if lost {
							lostThenFresh.Add(1)
						}
						led.mu.Lock()
						led.answers[key] = at.ans
						led.mu.Unlock()
						led.acked.Add(int64(len(bt.ids)))
						break
					}
					if !at.retryable() {
						t.Errorf("%s: %s", key, at)
						return
					}
					lost = true
					if at.err != nil {
						led.lost.Add(1)
					} else {
						led.count(at.status)
					}
					if time.Since(first) > 3*time.Minute {
						t.Errorf("%s: not acknowledged in 3 minutes: %s", key, at)
						return
					}
					time.Sleep(time.Duration(10+rand.IntN(20)) * time.Millisecond)
				}
			}
		}()
	}

	var compactKilled, compactFinished, compactStarted, finishedCommits int
	// How long the last whole compaction run took: kills are spread over
	// that, so that some land while groups are being committed.
	fullRun := 500 * time.Millisecond
	compacted := func(j *child) int { // groups a finished run committed, from its summary
		var groups, n int
		fmt.Sscanf(j.out.String(), "compact: %d groups, %d compacted", &groups, &n)
		return n
	}
	leaseBlocked := -1
	for it := range iterations {
		p := startIngest(t, bin, logDir, fmt.Sprintf("ingest-%03d", it), env)
		current.Store(&p.url)
		ingestKill := time.Now().Add(time.Duration(50+rng.IntN(451)) * time.Millisecond)

		// The compaction job, started a moment later and killed at its own
		// random moment unless it finished first.
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		held, err := leaseHeld(ctx, leases)
		if err != nil {
			t.Fatalf("iteration %d: lease: %v", it, err)
		}
		if held && leaseBlocked < 0 {
			// Once: the next run meets the killed run's lease and changes nothing.
			j := startChild(t, bin, logDir, fmt.Sprintf("compact-%03d-blocked", it), env, "job", "compact")
			<-j.done
			leaseBlocked = j.exitCode()
			if leaseBlocked != 4 {
				t.Errorf("compact after a killed run that held the lease: exit %d, want 4 (leased)\n%s", leaseBlocked, j.tail())
			}
		}
		if err := releaseDeadLease(ctx, leases, future); err != nil {
			t.Fatalf("iteration %d: lease: %v", it, err)
		}
		j := startChild(t, bin, logDir, fmt.Sprintf("compact-%03d", it), env, "job", "compact")
		jobStart := time.Now()
		compactStarted++
		// Every fifth run is left to finish: it keeps the lake compacted and
		// times a whole run.
		spare := it%5 == 4
		window := max(450*time.Millisecond, fullRun*6/5)
		jobKill := jobStart.Add(50*time.Millisecond + time.Duration(rng.Int64N(int64(window)+1)))
		if spare {
			jobKill = jobStart.Add(5 * time.Minute)
		}

		for p != nil || j != nil {
			now := time.Now()
			if p != nil && !now.Before(ingestKill) {
				current.Store(nil)
				p.kill()
				if p.exitCode() != -1 { // -1: ended by a signal
					t.Errorf("%s ended on its own (exit %d) before the kill:\n%s", p.name, p.exitCode(), p.tail())
				}
				p = nil
			}
			if j != nil && j.exited() {
				if code := j.exitCode(); code != 0 {
					t.Errorf("%s: exit %d\n%s", j.name, code, j.tail())
				}
				compactFinished++
				finishedCommits += compacted(j)
				if spare {
					fullRun = time.Since(jobStart)
				}
				j = nil
			} else if j != nil && !now.Before(jobKill) {
				j.kill()
				if j.exitCode() == -1 {
					compactKilled++
				} else {
					compactFinished++ // it finished as the signal came
					finishedCommits += compacted(j)
				}
				j = nil
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The last process stays up: every client gets its last batch
	// acknowledged, then SIGTERM stops it gracefully (exit 0).
	last := startIngest(t, bin, logDir, "ingest-final", env)
	current.Store(&last.url)
	stopNew.Store(true)
	drained := make(chan struct{})
	go func() { cw.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Minute):
		t.Fatal("the clients did not finish in 5 minutes")
	}
	last.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-last.done:
		if code := last.exitCode(); code != 0 {
			t.Errorf("ingest after SIGTERM: exit %d, want 0\n%s", code, last.tail())
		}
	case <-time.After(time.Minute):
		last.kill()
		t.Errorf("ingest did not stop within a minute of SIGTERM")
	}

	// The job resumes: a run to completion after all the kills.
	if err := releaseDeadLease(ctx, leases, future); err != nil {
		t.Fatal(err)
	}
	j := startChild(t, bin, logDir, "compact-final", env, "job", "compact")
	<-j.done
	if code := j.exitCode(); code != 0 {
		t.Fatalf("final compaction: exit %d\n%s", code, j.tail())
	}
	finalCompact := strings.TrimSpace(strings.SplitN(j.out.String(), "\n", 2)[0])
	finishedCommits += compacted(j)

	// The Delta log verifies: every live file of every table exists with
	// the logged size.
	v := startChild(t, bin, logDir, "verify", env, "lake", "verify", "--table=")
	<-v.done
	if code := v.exitCode(); code != 0 {
		t.Fatalf("akosha lake verify: exit %d\n%s", code, v.tail())
	}
	verified := strings.ReplaceAll(strings.TrimSpace(v.out.String()), "\n", "; ")

	// The lake holds exactly the acknowledged set.
	au, err := auditMemories(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range au.Missing {
		t.Errorf("live file: %s", m)
	}
	for appID, vs := range au.Txns {
		if len(vs) > 1 {
			t.Errorf("txn %s committed in versions %v", appID, vs)
		}
	}
	var expected int64
	wantIDs := map[string]bool{}
	for key, bt := range led.batches {
		ans, ok := led.answers[key]
		if !ok {
			t.Errorf("%s was never acknowledged", key)
			continue
		}
		vs := au.Txns[ingestAppID(key)]
		switch {
		case len(vs) != 1:
			t.Errorf("%s was acknowledged (%+v) but the log holds it %d times", key, ans, len(vs))
			continue
		case !ans.Duplicate && ans.Version != vs[0]:
			t.Errorf("%s was acknowledged at version %d but committed at %d", key, ans.Version, vs[0])
		case ans.Duplicate && ans.Version < vs[0]:
			t.Errorf("%s was acknowledged as a duplicate of version %d but committed at %d", key, ans.Version, vs[0])
		}
		expected += int64(len(bt.ids))
		for _, id := range bt.ids {
			wantIDs[id] = true
			if n := au.IDs[id]; n != 1 {
				t.Errorf("acknowledged %s (batch %s) is in the lake %d times", id, key, n)
			}
		}
	}
	for id, n := range au.IDs {
		if !wantIDs[id] {
			t.Errorf("%s is in the lake (%d rows) but was never acknowledged", id, n)
		}
	}
	if au.IngestedRows != expected || au.LiveRows != expected || int64(len(au.IDs)) != expected {
		t.Errorf("log wrote %d rows, live files hold %d rows of %d ids; want %d", au.IngestedRows, au.LiveRows, len(au.IDs), expected)
	}
	// And SQL agrees: rows = distinct ids = acknowledged.
	l, err := lake.Open(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	q, err := query.Open(l, a, query.Config{CacheDir: t.TempDir(), SQLTimeout: time.Minute, MemoryLimit: "512MB", Threads: 2}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Stop(ctx)
	res, err := q.Query(ctx, "SELECT count(*), count(DISTINCT system_id || '/' || id) FROM memories", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, d := num(res.Rows[0][0]), num(res.Rows[0][1]); n != expected || d != expected {
		t.Errorf("SQL counts %d rows, %d distinct; want %d", n, d, expected)
	}

	fig := &figures{name: "SIGKILL crash loop"}
	fig.add("iterations", "%d (%s in all)", iterations, time.Since(start).Round(time.Second))
	fig.add("ingest processes killed with SIGKILL under load", "%d, 50-500 ms after each became ready; %d clients sending throughout", iterations, clients)
	fig.add("compaction jobs", "%d started: %d killed with SIGKILL at a random moment of the run, %d finished (every fifth is left to)",
		compactStarted, compactKilled, compactFinished)
	if leaseBlocked >= 0 {
		fig.add("run after a killed job that held the lease", "exit %d (leased, changed nothing)", leaseBlocked)
	}
	fig.add("batches acknowledged", "%d of %d records each (%d records)", len(led.answers), perBatch, expected)
	fig.add("ingest attempts", "%d: %d answers lost to a kill, 5xx %s", led.attempts.Load(), led.lost.Load(), led.statuses())
	fig.add("batches retried after a lost answer", "%d: %d had landed before the kill (answered duplicate), %d had not (committed by the retry)",
		lostThenLanded.Load()+lostThenFresh.Load(), lostThenLanded.Load(), lostThenFresh.Load())
	fig.add("records checked", "%d acknowledged = %d rows in live files = %d distinct ids = %d rows written by the log; 0 lost, 0 doubled",
		expected, au.LiveRows, len(au.IDs), au.IngestedRows)
	fig.add("log", "%d versions of memories, %d idempotency keys, none twice", au.Commits, len(au.Txns))
	fig.add("compaction commits", "%d: %d by runs that were killed later in the run, %d by runs that finished (the final one included)",
		au.Compactions, au.Compactions-int64(finishedCommits), finishedCommits)
	fig.add("SIGTERM of the last ingest process", "exit %d", last.exitCode())
	fig.add("final compaction", "%s", finalCompact)
	fig.add("akosha lake verify", "%s", verified)
	fig.report(t)
}
