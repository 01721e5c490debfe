package fnrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os/signal"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/akosha/akosha/internal/httpx"
)

// Mount is one function of a server.
type Mount struct {
	// Name identifies the function in logs and health answers.
	Name string
	// Fn is the function instance; it must implement Handler.
	Fn any
	// Routes are the ServeMux patterns the function owns, e.g.
	// "POST /v1/memories" or "/v1/sql"; a pattern ending in "/" owns the
	// subtree below it. Empty means "/": every path no other pattern claims.
	Routes []string
}

// Run serves the functions until SIGTERM, SIGINT or ctx's end; see Server.
func Run(ctx context.Context, fns ...Mount) error {
	s := &Server{Mounts: fns}
	return s.Run(ctx)
}

// Server serves one or more functions. Set its fields, then call Run (or
// Listen and Serve) once.
type Server struct {
	// Addr overrides LISTEN_ADDRESS.
	Addr string
	// Mounts are the functions; at least one.
	Mounts []Mount
	// Handlers are extra routes (ServeMux pattern to handler), for paths
	// that belong to no single function: /metrics, a combined /health, an
	// /mcp dispatching to both. They are served from the moment the server
	// listens, before the functions have started (see Started).
	Handlers map[string]http.Handler
	// Config is what Start receives; nil means the environment (Environ).
	// Each function gets its own copy.
	Config map[string]string
	// ShutdownGrace bounds the wait for in-flight requests on shutdown;
	// DefaultShutdownGrace when zero.
	ShutdownGrace time.Duration
	// StopTimeout bounds each Stop hook; DefaultStopTimeout when zero.
	StopTimeout time.Duration

	used     atomic.Bool
	mounts   atomic.Pointer[[]*mount] // set once by Serve, before it listens
	patterns atomic.Pointer[[]string] // the mux's patterns, set with mounts
	stopping atomic.Bool
}

// mount is a Mount being served.
type mount struct {
	name    string
	fn      Handler
	started atomic.Bool // Start returned nil (or there is no Start)
	tried   atomic.Bool // Start was called, so Stop must be
}

// Run listens (see Listen) and serves (see Serve).
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Listen opens the server's listener on ListenAddress(s.Addr).
func (s *Server) Listen() (net.Listener, error) {
	addr := ListenAddress(s.Addr)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fnrun: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Started reports whether every function's Start has returned successfully.
// It is safe to call from any goroutine, including the server's handlers.
func (s *Server) Started() bool {
	mounts := s.functions()
	for _, m := range mounts {
		if !m.started.Load() {
			return false
		}
	}
	return len(mounts) > 0
}

// Patterns are the ServeMux patterns the server registered, in the order it
// registered them (the health routes, each function's, then Handlers); none
// before Serve. They are what the server routes, read from the registrations
// themselves, so a contract can be checked against them.
func (s *Server) Patterns() []string {
	if p := s.patterns.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// functions returns the mounts being served; none before Serve.
func (s *Server) functions() []*mount {
	if p := s.mounts.Load(); p != nil {
		return *p
	}
	return nil
}

// Serve serves the functions on ln until SIGTERM, SIGINT or ctx's end, then
// shuts down gracefully (see the package documentation) and returns nil, or
// the errors of Start, of serving, of the grace period running out and of
// Stop. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.used.CompareAndSwap(false, true) {
		ln.Close()
		return errors.New("fnrun: a Server serves only once")
	}
	mux, err := s.routes()
	if err != nil {
		ln.Close()
		return err
	}
	// Signals are caught before anything starts, so that a SIGTERM during a
	// slow Start is a clean shutdown, not the default exit.
	sigCtx, stopSignals := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()

	srv := &http.Server{
		Handler: mux,
		// Slow-header clients hold a connection without a request; bodies
		// and answers are bounded per request instead (httpx.WithTimeout),
		// since ingest uploads and SQL answers can legitimately be slow.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
		// Request contexts do not derive from ctx: cancelling ctx starts a
		// graceful shutdown, it must not abort the requests it waits for.
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	slog.Info("fnrun: listening", "addr", ln.Addr().String(), "functions", s.names())

	// The start context outlives ctx: functions may tie background work to
	// it, and that work must keep running while in-flight requests finish.
	// shutdown cancels it early only to abort a Start still running.
	startCtx, cancelStart := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStart()
	startDone := make(chan error, 1)
	go func() { startDone <- s.start(startCtx) }()

	var runErr error
	pending := startDone // nil once Start has finished
wait:
	for {
		select {
		case <-sigCtx.Done():
			slog.Info("fnrun: shutting down", "cause", context.Cause(sigCtx).Error())
			break wait
		case err := <-serveErr:
			serveErr = nil
			runErr = fmt.Errorf("fnrun: serve: %w", err)
			break wait
		case err := <-pending:
			pending = nil
			if err != nil {
				runErr = err
				break wait
			}
			slog.Info("fnrun: ready", "functions", s.names())
		}
	}
	// From here a second signal kills the process at once, as an impatient
	// operator expects.
	stopSignals()
	return errors.Join(runErr, s.shutdown(ctx, srv, serveErr, pending, cancelStart))
}

// start calls each function's Start in order and marks it started.
func (s *Server) start(ctx context.Context) error {
	cfg := s.Config
	if cfg == nil {
		cfg = Environ()
	}
	for _, m := range s.functions() {
		if err := ctx.Err(); err != nil {
			return err // shut down before this function's turn
		}
		m.tried.Store(true)
		if st, ok := m.fn.(Starter); ok {
			begin := time.Now()
			if err := st.Start(ctx, maps.Clone(cfg)); err != nil {
				return fmt.Errorf("fnrun: start %s: %w", m.name, err)
			}
			slog.Info("fnrun: started", "function", m.name, "took", time.Since(begin).Round(time.Millisecond).String())
		}
		m.started.Store(true)
	}
	return nil
}

// shutdown stops the server: no new connections, in-flight requests finish,
// then every function that was started is stopped, last mounted first.
// serveErr and startDone are nil when already received from.
func (s *Server) shutdown(ctx context.Context, srv *http.Server, serveErr <-chan error,
	startDone <-chan error, cancelStart context.CancelFunc) error {
	s.stopping.Store(true)
	var errs []error

	if startDone != nil {
		cancelStart() // Stop must not run concurrently with a Start
	}

	grace := orDefault(s.ShutdownGrace, DefaultShutdownGrace)
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(graceCtx); err != nil {
		slog.Warn("fnrun: requests still running after the grace period; closing their connections", "grace", grace.String())
		srv.Close()
		errs = append(errs, fmt.Errorf("fnrun: graceful shutdown: %w", err))
	}
	if serveErr != nil {
		if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("fnrun: serve: %w", err))
		}
	}

	stopTimeout := orDefault(s.StopTimeout, DefaultStopTimeout)
	if startDone != nil {
		select {
		case err := <-startDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, err)
			}
		case <-time.After(stopTimeout):
			// A Start that ignores its context: calling Stop now would race
			// it, so leave the function as it is; the process is exiting.
			return errors.Join(append(errs, fmt.Errorf("fnrun: Start did not return within %v of shutdown", stopTimeout))...)
		}
	}

	for _, m := range slices.Backward(s.functions()) {
		st, ok := m.fn.(Stopper)
		if !ok || !m.tried.Load() {
			continue
		}
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		err := st.Stop(stopCtx)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("fnrun: stop %s: %w", m.name, err))
		}
	}
	cancelStart()
	slog.Info("fnrun: stopped", "functions", s.names())
	return errors.Join(errs...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (s *Server) names() []string {
	mounts := s.functions()
	names := make([]string, len(mounts))
	for i, m := range mounts {
		names[i] = m.name
	}
	return names
}

// routes validates the mounts and builds the server's ServeMux.
func (s *Server) routes() (*http.ServeMux, error) {
	if len(s.Mounts) == 0 {
		return nil, errors.New("fnrun: no functions to serve")
	}
	mux := http.NewServeMux()
	var patterns []string
	register := func(pattern string, h http.Handler) error {
		if err := handle(mux, pattern, h); err != nil {
			return err
		}
		patterns = append(patterns, pattern)
		return nil
	}
	if err := register("/health/readiness", http.HandlerFunc(s.readiness)); err != nil {
		return nil, err
	}
	if err := register("/health/liveness", http.HandlerFunc(s.liveness)); err != nil {
		return nil, err
	}
	var mounts []*mount
	seen := map[string]bool{}
	for i, m := range s.Mounts {
		fn, ok := m.Fn.(Handler)
		switch {
		case m.Name == "":
			return nil, fmt.Errorf("fnrun: mount %d has no name", i)
		case seen[m.Name]:
			return nil, fmt.Errorf("fnrun: two functions named %q", m.Name)
		case !ok:
			return nil, fmt.Errorf("fnrun: function %s (%T) has no Handle(http.ResponseWriter, *http.Request) method", m.Name, m.Fn)
		}
		seen[m.Name] = true
		mt := &mount{name: m.Name, fn: fn}
		mounts = append(mounts, mt)
		routes := m.Routes
		if len(routes) == 0 {
			routes = []string{"/"}
		}
		for _, pattern := range routes {
			if err := register(pattern, s.gate(mt)); err != nil {
				return nil, fmt.Errorf("fnrun: function %s: %w", m.Name, err)
			}
		}
		logImplements(mt)
	}
	for _, pattern := range slices.Sorted(maps.Keys(s.Handlers)) {
		if err := register(pattern, s.Handlers[pattern]); err != nil {
			return nil, err
		}
	}
	s.mounts.Store(&mounts)
	s.patterns.Store(&patterns)
	return mux, nil
}

// handle registers h, turning ServeMux's panic on a bad or conflicting
// pattern into an error: a wiring mistake should fail the start with a
// message, not a stack trace.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	if h == nil {
		return fmt.Errorf("route %q: nil handler", pattern)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("route %q: %v", pattern, p)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

func logImplements(m *mount) {
	_, start := m.fn.(Starter)
	_, stop := m.fn.(Stopper)
	_, ready := m.fn.(ReadinessReporter)
	_, alive := m.fn.(LivenessReporter)
	slog.Debug("fnrun: function", "name", m.name, "start", start, "stop", stop, "ready", ready, "alive", alive)
}

// gate sends requests to m once it has started, and 503 before: Handle
// may depend on what Start sets up.
func (s *Server) gate(m *mount) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.started.Load() {
			w.Header().Set("Retry-After", "1")
			httpx.WriteError(w, http.StatusServiceUnavailable, httpx.CodeNotReady, m.name+" is starting")
			return
		}
		m.fn.Handle(w, r)
	})
}

// readiness answers /health/readiness: ready when every function has started
// and reports ready, and the server is not shutting down.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		health(w, http.StatusServiceUnavailable, "NOT READY: shutting down")
		return
	}
	mounts := s.functions()
	for _, m := range mounts {
		if !m.started.Load() {
			health(w, http.StatusServiceUnavailable, "NOT READY: "+m.name+" is starting")
			return
		}
	}
	for _, m := range mounts {
		rr, ok := m.fn.(ReadinessReporter)
		if !ok {
			continue
		}
		ready, err := rr.Ready(r.Context())
		if err != nil {
			// The detail may name internal hosts; it goes to the log only.
			slog.Warn("fnrun: readiness check failed", "function", m.name, "err", err)
			health(w, http.StatusServiceUnavailable, "NOT READY: "+m.name+" readiness check failed")
			return
		}
		if !ready {
			health(w, http.StatusServiceUnavailable, "NOT READY: "+m.name)
			return
		}
	}
	health(w, http.StatusOK, "READY")
}

// liveness answers /health/liveness: alive unless a started function reports
// otherwise. A function still starting is alive, so that a slow start is not
// mistaken for a hang and restarted.
func (s *Server) liveness(w http.ResponseWriter, r *http.Request) {
	for _, m := range s.functions() {
		lr, ok := m.fn.(LivenessReporter)
		if !ok || !m.started.Load() {
			continue
		}
		alive, err := lr.Alive(r.Context())
		if err != nil {
			slog.Warn("fnrun: liveness check failed", "function", m.name, "err", err)
			health(w, http.StatusServiceUnavailable, "NOT ALIVE: "+m.name+" liveness check failed")
			return
		}
		if !alive {
			health(w, http.StatusServiceUnavailable, "NOT ALIVE: "+m.name)
			return
		}
	}
	health(w, http.StatusOK, "ALIVE")
}

func health(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}
