package fnrun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/fnrun"
)

// function is a test function implementing every hook of the contract.
type function struct {
	name    string
	started chan struct{} // Start blocks until it is closed; nil: no wait
	events  *events

	mu       sync.Mutex
	cfg      map[string]string
	startErr error
	ready    bool
	readyErr error
	alive    bool
	aliveErr error
}

func newFunction(name string, ev *events) *function {
	return &function{name: name, events: ev, ready: true, alive: true}
}

func (f *function) Start(ctx context.Context, cfg map[string]string) error {
	if f.started != nil {
		select {
		case <-f.started:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg = cfg
	f.events.add(f.name + " started")
	return f.startErr
}

func (f *function) Stop(ctx context.Context) error {
	f.events.add(f.name + " stopped")
	return nil
}

func (f *function) Ready(ctx context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready, f.readyErr
}

func (f *function) Alive(ctx context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alive, f.aliveErr
}

func (f *function) Handle(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %s %s", f.name, r.Method, r.URL.Path)
}

func (f *function) set(fn func(*function)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// events records what happened, in order, across goroutines.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.list)
}

// served is a server running on a fresh 127.0.0.1 port.
type served struct {
	server *fnrun.Server
	url    string
	cancel context.CancelFunc // starts the shutdown, as SIGTERM would
	done   chan struct{}      // closed when Serve has returned err
	err    error
}

// serve runs s until the test ends or cancel is called.
func serve(t *testing.T, s *fnrun.Server) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &served{server: s, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = s.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		r.wait(t)
	})
	return r
}

// wait returns Serve's result.
func (r *served) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10 s")
		return nil
	}
}

var client = &http.Client{Timeout: 10 * time.Second}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitStatus polls url until it answers status.
func waitStatus(t *testing.T, url string, status int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, body := get(t, url)
		if got == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s = %d %q, want %d", url, got, body, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLifecycle(t *testing.T) {
	ev := &events{}
	fn := newFunction("ingest", ev)
	fn.started = make(chan struct{})
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{{Name: "ingest", Fn: fn}}})

	// While Start runs: alive, not ready, and requests are turned away.
	steps := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/health/liveness", 200, "ALIVE"},
		{"/health/readiness", 503, "NOT READY: ingest is starting"},
		{"/v1/memories", 503, `{"error":{"code":"not_ready","message":"ingest is starting"}}` + "\n"},
	}
	for _, s := range steps {
		if status, body := get(t, srv.url+s.path); status != s.wantStatus || body != s.wantBody {
			t.Errorf("before Start returned: GET %s = %d %q, want %d %q", s.path, status, body, s.wantStatus, s.wantBody)
		}
	}

	close(fn.started)
	waitStatus(t, srv.url+"/health/readiness", 200)
	steps = []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/health/readiness", 200, "READY"},
		{"/health/liveness", 200, "ALIVE"},
		{"/v1/memories", 200, "ingest GET /v1/memories"},
		{"/any/other/path", 200, "ingest GET /any/other/path"},
	}
	for _, s := range steps {
		if status, body := get(t, srv.url+s.path); status != s.wantStatus || body != s.wantBody {
			t.Errorf("after Start returned: GET %s = %d %q, want %d %q", s.path, status, body, s.wantStatus, s.wantBody)
		}
	}

	srv.cancel()
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil after a clean shutdown", err)
	}
	if got, want := ev.get(), []string{"ingest started", "ingest stopped"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestStartReceivesTheConfiguration(t *testing.T) {
	t.Setenv("AKOSHA_FNRUN_TEST", "from the environment")
	tests := []struct {
		name   string
		config map[string]string
		want   string
	}{
		{"the environment by default, as func-go", nil, "from the environment"},
		{"an explicit config instead", map[string]string{"AKOSHA_FNRUN_TEST": "explicit"}, "explicit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := newFunction("query", &events{})
			srv := serve(t, &fnrun.Server{Config: tt.config, Mounts: []fnrun.Mount{{Name: "query", Fn: fn}}})
			waitStatus(t, srv.url+"/health/readiness", 200)

			fn.mu.Lock()
			got := fn.cfg["AKOSHA_FNRUN_TEST"]
			fn.mu.Unlock()
			if got != tt.want {
				t.Errorf("cfg[AKOSHA_FNRUN_TEST] = %q, want %q", got, tt.want)
			}
		})
	}
}

// slowFunction answers /slow only when released, like a long query.
type slowFunction struct {
	entered chan struct{}
	release chan struct{}
	events  *events
}

func (f *slowFunction) Handle(w http.ResponseWriter, r *http.Request) {
	close(f.entered)
	<-f.release
	f.events.add("request finished")
	io.WriteString(w, "slow answer")
}

func (f *slowFunction) Stop(context.Context) error {
	f.events.add("stopped")
	return nil
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	ev := &events{}
	fn := &slowFunction{entered: make(chan struct{}), release: make(chan struct{}), events: ev}
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{{Name: "query", Fn: fn}}})
	waitStatus(t, srv.url+"/health/readiness", 200)

	type result struct {
		status int
		body   string
		err    error
	}
	answer := make(chan result, 1)
	go func() {
		resp, err := client.Get(srv.url + "/slow")
		if err != nil {
			answer <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answer <- result{resp.StatusCode, string(b), err}
	}()
	<-fn.entered

	srv.cancel() // SIGTERM, as far as the server is concerned

	// New connections are refused once the listener is closed...
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.url, "http://"), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// ...but the server waits for the request in flight.
	select {
	case <-srv.done:
		t.Fatalf("Serve returned %v with a request in flight", srv.err)
	case <-time.After(100 * time.Millisecond):
	}

	close(fn.release)
	if r := <-answer; r.err != nil || r.status != 200 || r.body != "slow answer" {
		t.Errorf("in-flight request = %d %q %v, want 200 \"slow answer\"", r.status, r.body, r.err)
	}
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if got, want := ev.get(), []string{"request finished", "stopped"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v: Stop comes after the last request", got, want)
	}
}

func TestShutdownGraceRunsOut(t *testing.T) {
	ev := &events{}
	fn := &slowFunction{entered: make(chan struct{}), release: make(chan struct{}), events: ev}
	defer close(fn.release)
	srv := serve(t, &fnrun.Server{
		ShutdownGrace: 50 * time.Millisecond,
		Mounts:        []fnrun.Mount{{Name: "query", Fn: fn}},
	})
	waitStatus(t, srv.url+"/health/readiness", 200)
	go client.Get(srv.url + "/stuck")
	<-fn.entered

	srv.cancel()
	err := srv.wait(t)
	if err == nil || !strings.Contains(err.Error(), "graceful shutdown") {
		t.Errorf("Serve = %v, want a graceful shutdown error", err)
	}
	if got := ev.get(); !slices.Contains(got, "stopped") {
		t.Errorf("events = %v: Stop must run even when the grace runs out", got)
	}
}

func TestHealthReporters(t *testing.T) {
	broken := errors.New("redis: connection refused")
	tests := []struct {
		name      string
		change    func(*function)
		readiness int
		liveness  int
		readyBody string
		aliveBody string
	}{
		{"all well", func(*function) {}, 200, 200, "READY", "ALIVE"},
		{"not ready", func(f *function) { f.ready = false }, 503, 200, "NOT READY: query", "ALIVE"},
		{"readiness check fails", func(f *function) { f.ready, f.readyErr = true, broken }, 503, 200,
			"NOT READY: query readiness check failed", "ALIVE"},
		{"not alive", func(f *function) { f.alive = false }, 200, 503, "READY", "NOT ALIVE: query"},
		{"liveness check fails", func(f *function) { f.alive, f.aliveErr = true, broken }, 200, 503,
			"READY", "NOT ALIVE: query liveness check failed"},
	}
	fn := newFunction("query", &events{})
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{{Name: "query", Fn: fn}}})
	waitStatus(t, srv.url+"/health/readiness", 200)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn.set(func(f *function) { f.ready, f.readyErr, f.alive, f.aliveErr = true, nil, true, nil })
			fn.set(tt.change)
			if status, body := get(t, srv.url+"/health/readiness"); status != tt.readiness || body != tt.readyBody {
				t.Errorf("readiness = %d %q, want %d %q", status, body, tt.readiness, tt.readyBody)
			}
			if status, body := get(t, srv.url+"/health/liveness"); status != tt.liveness || body != tt.aliveBody {
				t.Errorf("liveness = %d %q, want %d %q", status, body, tt.liveness, tt.aliveBody)
			}
		})
	}
}

func TestSeveralFunctionsInOneServer(t *testing.T) {
	ev := &events{}
	ingest, query := newFunction("ingest", ev), newFunction("query", ev)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics") })
	srv := serve(t, &fnrun.Server{
		Mounts: []fnrun.Mount{
			{Name: "ingest", Fn: ingest, Routes: []string{"POST /v1/memories", "POST /v1/entities"}},
			{Name: "query", Fn: query, Routes: []string{"/v1/sql", "GET /v1/memories/"}},
		},
		Handlers: map[string]http.Handler{"/metrics": metrics},
	})
	waitStatus(t, srv.url+"/health/readiness", 200)
	// The patterns it reports are the ones it registered, health routes first.
	if got, want := srv.server.Patterns(), []string{"/health/readiness", "/health/liveness",
		"POST /v1/memories", "POST /v1/entities", "/v1/sql", "GET /v1/memories/", "/metrics"}; !slices.Equal(got, want) {
		t.Errorf("Patterns() = %q, want %q", got, want)
	}

	routes := []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"POST", "/v1/memories", 200, "ingest POST /v1/memories"},
		{"GET", "/v1/memories/sb-1/m-1", 200, "query GET /v1/memories/sb-1/m-1"},
		{"POST", "/v1/sql", 200, "query POST /v1/sql"},
		{"GET", "/metrics", 200, "metrics"},
		{"GET", "/v1/entities", 405, ""}, // ingest owns only POST
		{"GET", "/nobody/owns/this", 404, ""},
	}
	for _, r := range routes {
		req, _ := http.NewRequest(r.method, srv.url+r.path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.wantStatus || (r.wantBody != "" && string(body) != r.wantBody) {
			t.Errorf("%s %s = %d %q, want %d %q", r.method, r.path, resp.StatusCode, body, r.wantStatus, r.wantBody)
		}
	}

	// Readiness of the server is readiness of every function.
	query.set(func(f *function) { f.ready = false })
	if status, body := get(t, srv.url+"/health/readiness"); status != 503 || body != "NOT READY: query" {
		t.Errorf("readiness with query not ready = %d %q, want 503", status, body)
	}

	srv.cancel()
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve = %v", err)
	}
	// Started in mount order, stopped in reverse.
	if got, want := ev.get(), []string{"ingest started", "query started", "query stopped", "ingest stopped"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestStartFailureStopsTheServer(t *testing.T) {
	ev := &events{}
	ingest, query := newFunction("ingest", ev), newFunction("query", ev)
	ingest.startErr = errors.New("lake unreachable")
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{
		{Name: "ingest", Fn: ingest, Routes: []string{"/v1/memories"}},
		{Name: "query", Fn: query, Routes: []string{"/v1/sql"}},
	}})

	err := srv.wait(t)
	if err == nil || !strings.Contains(err.Error(), "start ingest: lake unreachable") {
		t.Errorf("Serve = %v, want the start error", err)
	}
	// As in func-go, a function whose Start was called gets its Stop, to
	// release what it set up; query never started, so it is not stopped.
	if got, want := ev.get(), []string{"ingest started", "ingest stopped"}; !slices.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

func TestShutdownDuringStartAbortsIt(t *testing.T) {
	ev := &events{}
	fn := newFunction("ingest", ev)
	fn.started = make(chan struct{}) // never closed: Start waits for its context
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{{Name: "ingest", Fn: fn}}})
	waitStatus(t, srv.url+"/health/liveness", 200)

	srv.cancel()
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil: shutting down while starting is not an error", err)
	}
}

func TestServeRejectsBadMounts(t *testing.T) {
	fn := newFunction("f", &events{})
	tests := []struct {
		name    string
		mounts  []fnrun.Mount
		extra   map[string]http.Handler
		wantErr string
	}{
		{"no functions", nil, nil, "no functions"},
		{"no name", []fnrun.Mount{{Fn: fn}}, nil, "no name"},
		{"same name twice", []fnrun.Mount{{Name: "a", Fn: fn, Routes: []string{"/a"}}, {Name: "a", Fn: fn, Routes: []string{"/b"}}}, nil, "two functions named"},
		{"no Handle method", []fnrun.Mount{{Name: "a", Fn: struct{}{}}}, nil, "has no Handle"},
		{"two catch-alls", []fnrun.Mount{{Name: "a", Fn: fn}, {Name: "b", Fn: fn}}, nil, `function b: route "/"`},
		{"a route owned twice", []fnrun.Mount{{Name: "a", Fn: fn, Routes: []string{"/mcp"}}, {Name: "b", Fn: fn, Routes: []string{"/mcp"}}}, nil, `route "/mcp"`},
		{"a bad pattern", []fnrun.Mount{{Name: "a", Fn: fn, Routes: []string{"/v1/{sql"}}}, nil, `route "/v1/{sql"`},
		{"an extra handler over a health route", []fnrun.Mount{{Name: "a", Fn: fn}}, map[string]http.Handler{"/health/readiness": http.NotFoundHandler()}, `route "/health/readiness"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			// Should the mounts be accepted after all, the timeout ends the test.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s := &fnrun.Server{Mounts: tt.mounts, Handlers: tt.extra}
			err = s.Serve(ctx, ln)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Serve = %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestListenAddress(t *testing.T) {
	tests := []struct {
		name, addr, env, want string
	}{
		{"default", "", "", "[::]:8080"},
		{"LISTEN_ADDRESS", "", "127.0.0.1:9090", "127.0.0.1:9090"},
		{"an explicit address wins", ":7070", "127.0.0.1:9090", ":7070"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LISTEN_ADDRESS", tt.env)
			if got := fnrun.ListenAddress(tt.addr); got != tt.want {
				t.Errorf("ListenAddress(%q) with LISTEN_ADDRESS=%q = %q, want %q", tt.addr, tt.env, got, tt.want)
			}
		})
	}
}

func TestRunListensOnLISTEN_ADDRESS(t *testing.T) {
	// Find a free port, then hand it to the server through the environment.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("LISTEN_ADDRESS", addr)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fnrun.Run(ctx, fnrun.Mount{Name: "ingest", Fn: newFunction("ingest", &events{})}) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing ready on LISTEN_ADDRESS %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSIGTERMStopsCleanly(t *testing.T) {
	ev := &events{}
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{{Name: "ingest", Fn: newFunction("ingest", ev)}}})
	waitStatus(t, srv.url+"/health/readiness", 200) // by now the server catches SIGTERM

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.wait(t); err != nil {
		t.Errorf("Serve after SIGTERM = %v, want nil (exit 0)", err)
	}
	if got := ev.get(); !slices.Contains(got, "ingest stopped") {
		t.Errorf("events = %v, want Stop called", got)
	}
}

func TestAServerServesOnce(t *testing.T) {
	s := &fnrun.Server{Mounts: []fnrun.Mount{{Name: "f", Fn: newFunction("f", &events{})}}}
	srv := serve(t, s)
	waitStatus(t, srv.url+"/health/readiness", 200) // the first Serve is running

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Serve(ctx, ln); err == nil {
		t.Error("second Serve succeeded, want an error")
	}
}

func TestHandlerFunc(t *testing.T) {
	// A plain function, func-go's "static" form, is a Handler too.
	var h fnrun.Handler = fnrun.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	srv := serve(t, &fnrun.Server{Mounts: []fnrun.Mount{{Name: "static", Fn: h}}})
	waitStatus(t, srv.url+"/health/readiness", 200)
	if status, body := get(t, srv.url+"/"); status != 200 || body != "hi" {
		t.Errorf("GET / = %d %q", status, body)
	}
}
