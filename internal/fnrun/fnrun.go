// Package fnrun runs functions the way Knative Functions' Go runtime
// (knative.dev/func-go/http) does, for a project that cannot download it: the
// same instance interfaces, the same health routes, the same LISTEN_ADDRESS
// and the same graceful stop, so a function written for one runs under the
// other.
//
// A function is any value with Handle(w, r). It may also implement Starter,
// Stopper, ReadinessReporter and LivenessReporter. The runner
//
//   - listens on the explicit address, else LISTEN_ADDRESS, else [::]:8080;
//   - calls Start with the configuration (the environment as a map), while
//     already answering health checks, so a slow start is alive but not ready;
//   - serves /health/readiness (200 "READY" once every Start has returned and
//     every ReadinessReporter agrees, else 503) and /health/liveness (200
//     "ALIVE" unless a LivenessReporter says otherwise, then 503);
//   - sends every other request to the function's Handle (503 not_ready until
//     its Start has returned);
//   - on SIGTERM, SIGINT or the context's end stops accepting connections,
//     lets in-flight requests finish (up to ShutdownGrace), calls Stop and
//     returns nil, so the process exits 0.
//
// Unlike func-go it can serve several functions in one process (`akosha
// serve`): each Mount owns the ServeMux patterns it lists, and paths that
// belong to several (/mcp, /metrics, /health) get an explicit handler from
// the caller in Server.Handlers.
package fnrun

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"
)

// Handler is a function instance which can handle a request.
type Handler interface {
	Handle(http.ResponseWriter, *http.Request)
}

// Starter is a function with a start hook. Start receives the configuration
// (see Server.Config) and a context that ends when the server gives up on the
// start (shutdown during Start) or after Stop has returned, so it may carry
// the function's background work. An error aborts the server.
type Starter interface {
	Start(ctx context.Context, cfg map[string]string) error
}

// Stopper is a function with a stop hook, called once after the last request
// has been answered (or the grace period has run out), with a deadline of
// Server.StopTimeout.
type Stopper interface {
	Stop(ctx context.Context) error
}

// ReadinessReporter is a function that reports whether it can take requests.
type ReadinessReporter interface {
	Ready(ctx context.Context) (bool, error)
}

// LivenessReporter is a function that reports whether it is alive; a function
// that is not gets restarted by Kubernetes.
type LivenessReporter interface {
	Alive(ctx context.Context) (bool, error)
}

// HandlerFunc adapts a plain function to Handler.
type HandlerFunc func(http.ResponseWriter, *http.Request)

// Handle calls f(w, r).
func (f HandlerFunc) Handle(w http.ResponseWriter, r *http.Request) { f(w, r) }

const (
	// DefaultListenAddress is where functions listen without LISTEN_ADDRESS.
	DefaultListenAddress = "[::]:8080"
	// DefaultShutdownGrace is how long in-flight requests get to finish, as in
	// func-go. Kubernetes kills the pod terminationGracePeriodSeconds after
	// SIGTERM (default 30 s), so the pod spec should allow for the grace plus
	// the Stop hooks.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultStopTimeout bounds each Stop hook, as func-go does.
	DefaultStopTimeout = 30 * time.Second
)

// ListenAddress returns addr when set, else $LISTEN_ADDRESS, else
// DefaultListenAddress.
func ListenAddress(addr string) string {
	if addr != "" {
		return addr
	}
	if env := os.Getenv("LISTEN_ADDRESS"); env != "" {
		return env
	}
	return DefaultListenAddress
}

// Environ returns the process environment as a map, the configuration func-go
// gives Start.
func Environ() map[string]string {
	env := os.Environ()
	cfg := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		cfg[k] = v
	}
	return cfg
}
