package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/akosha/akosha/api"
	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/fnrun"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/lake"
)

// runtime is what the functions of one process share: one lake (so that a
// process reads its own writes), one authenticator, one metrics registry.
type runtime struct {
	lake *lake.Lake
	auth *auth.Authenticator
	reg  *prometheus.Registry
	http *httpx.Metrics
}

func (g *globals) newRuntime(ctx context.Context, dev bool) (*runtime, error) {
	if dev && g.lakeURL == "" {
		g.lakeURL = "./data"
	}
	l, err := g.openLake(ctx)
	if err != nil {
		return nil, err
	}
	a, err := auth.NewFromEnv(dev)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hm, err := httpx.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &runtime{lake: l, auth: a, reg: reg, http: hm}, nil
}

// sharedHandlers are the routes every process serves whatever functions it
// runs, without auth: /health (JSON), /metrics, and the API contract the
// process implements, /openapi.json.
func (rt *runtime) sharedHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		"GET " + api.Path: api.Handler(),
		"GET /health": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			versions := map[string]int64{}
			for _, name := range lake.Tables {
				t, _ := rt.lake.Table(name)
				versions[name] = t.Cached().Version
			}
			httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": Version, "lake_version": versions})
		}),
		"GET /metrics": promhttp.HandlerFor(rt.reg, promhttp.HandlerOpts{Registry: rt.reg}),
	}
}

// pollLake keeps the process's snapshots within about a second of the log,
// for other processes' commits; it stops with ctx.
func (rt *runtime) pollLake(ctx context.Context) {
	go rt.lake.Poll(ctx, time.Second, func(err error) { slog.Warn("lake poll", "err", err) })
}

func (rt *runtime) ingestMount() (fnrun.Mount, *ingest.Function, error) {
	cfg, err := ingest.ConfigFromEnv()
	if err != nil {
		return fnrun.Mount{}, nil, err
	}
	f, err := ingest.Open(rt.lake, rt.auth, cfg, rt.reg)
	if err != nil {
		return fnrun.Mount{}, nil, err
	}
	return fnrun.Mount{Name: "ingest", Fn: wrapped{f, rt.http.Wrap("ingest", http.HandlerFunc(f.Handle))}, Routes: ingest.Routes()}, f, nil
}

func (rt *runtime) queryMount() (fnrun.Mount, *query.Function, error) {
	cfg, err := query.ConfigFromEnv()
	if err != nil {
		return fnrun.Mount{}, nil, err
	}
	f, err := query.Open(rt.lake, rt.auth, cfg, rt.reg)
	if err != nil {
		return fnrun.Mount{}, nil, err
	}
	routes := append(query.Routes(), "POST /mcp", "POST /mcp/v1")
	return fnrun.Mount{Name: "query", Fn: wrapped{f, rt.http.Wrap("query", http.HandlerFunc(f.Handle))}, Routes: routes}, f, nil
}

// withoutMCP drops the MCP JSON-RPC paths from a function's routes: in
// akosha serve one /mcp answers with both functions' tools. Session-Buddy's
// other paths under /mcp (/mcp/status, /mcp/store_memory) stay ingest's.
func withoutMCP(m fnrun.Mount) fnrun.Mount {
	var routes []string
	for _, r := range m.Routes {
		_, path, _ := strings.Cut(r, " ")
		if path == "" {
			path = r
		}
		if !slices.Contains(ingest.MCPPaths(), path) {
			routes = append(routes, r)
		}
	}
	m.Routes = routes
	return m
}

// bothServer is the server of `akosha serve`: both functions, the shared
// routes, and one /mcp answering with both functions' tools.
func (rt *runtime) bothServer() (*fnrun.Server, error) {
	im, in, err := rt.ingestMount()
	if err != nil {
		return nil, err
	}
	qm, q, err := rt.queryMount()
	if err != nil {
		return nil, err
	}
	handlers := rt.sharedHandlers()
	tools := &mcp.Server{Name: "akosha", Tools: append(in.MCPTools(), q.MCPTools()...)}
	both := rt.http.Wrap("mcp", rt.auth.Require(auth.Read, tools))
	for _, p := range ingest.MCPPaths() {
		handlers["POST "+p] = both
	}
	return &fnrun.Server{Mounts: []fnrun.Mount{withoutMCP(im), withoutMCP(qm)}, Handlers: handlers}, nil
}

// functionServer is the server of `akosha function NAME`: one function and
// the shared routes, as its container runs it. It also returns the function,
// whose own routes (Patterns) a test holds to the server's.
func (rt *runtime) functionServer(name string) (*fnrun.Server, interface{ Patterns() []string }, error) {
	var m fnrun.Mount
	var fn interface{ Patterns() []string }
	var err error
	switch name {
	case "ingest":
		m, fn, err = rt.ingestMount()
	case "query":
		m, fn, err = rt.queryMount()
	default:
		return nil, nil, usageError{fmt.Errorf("unknown function %q (want ingest or query)", name)}
	}
	if err != nil {
		return nil, nil, err
	}
	return &fnrun.Server{Mounts: []fnrun.Mount{m}, Handlers: rt.sharedHandlers()}, fn, nil
}

// wrapped serves a function through a middleware while keeping its
// lifecycle hooks (Stop, Ready, Alive) visible to the runner.
type wrapped struct {
	fn interface {
		Stop(context.Context) error
		Ready(context.Context) (bool, error)
		Alive(context.Context) (bool, error)
	}
	h http.Handler
}

func (w wrapped) Handle(rw http.ResponseWriter, r *http.Request) { w.h.ServeHTTP(rw, r) }
func (w wrapped) Stop(ctx context.Context) error                 { return w.fn.Stop(ctx) }
func (w wrapped) Ready(ctx context.Context) (bool, error)        { return w.fn.Ready(ctx) }
func (w wrapped) Alive(ctx context.Context) (bool, error)        { return w.fn.Alive(ctx) }

func newServeCmd(g *globals) *cobra.Command {
	var addr string
	var dev bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the ingest and query functions in one process",
		Long: `serve runs both functions in one process on --addr.

--dev turns auth off, uses no Redis and keeps the lake in ./data unless --lake says otherwise:
everything a laptop needs, nothing to install.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.newRuntime(cmd.Context(), dev)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			rt.pollLake(ctx)
			srv, err := rt.bothServer()
			if err != nil {
				return err
			}
			srv.Addr = addr
			slog.Info("akosha serving", "addr", fnrun.ListenAddress(addr), "lake", g.lakeURL, "dev", dev)
			return srv.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", ":8080", "listen address")
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: no auth, no Redis, lake in ./data")
	return cmd
}

func newFunctionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "function ingest|query",
		Short: "Run one function, as its container does (listens on LISTEN_ADDRESS, default [::]:8080)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := g.newRuntime(cmd.Context(), false)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			rt.pollLake(ctx)
			srv, _, err := rt.functionServer(args[0])
			if err != nil {
				return err
			}
			return srv.Run(ctx)
		},
	}
	return cmd
}

var _ = os.Getenv
