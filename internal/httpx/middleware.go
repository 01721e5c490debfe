package httpx

import (
	"context"
	"net/http"
	"time"
)

// WithTimeout returns middleware that gives each request's context a
// deadline d from now (none when d <= 0). It does not write anything itself:
// work that honours the context stops at the deadline with
// context.DeadlineExceeded, which WriteErr answers as 503 timeout. Unlike
// http.TimeoutHandler it neither buffers the response nor races the handler
// for the ResponseWriter, so streaming answers and Flush keep working.
func WithTimeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if d <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
