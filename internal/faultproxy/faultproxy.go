// Package faultproxy is an HTTP proxy for fault injection: it stands in front
// of a real server (the S3 server in tests) and, at configurable rates,
// answers 500 or 503 SlowDown instead of forwarding, resets the connection
// before or after forwarding, delays requests, or cuts response bodies
// short. It is the only fake the tests use, and it fakes only failures.
package faultproxy

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Rates are probabilities per request, each in [0, 1]; their sum should
// stay at or below 1.
type Rates struct {
	Error500    float64 // answer 500 InternalError without forwarding
	SlowDown503 float64 // answer 503 SlowDown without forwarding
	ResetBefore float64 // drop the connection without forwarding
	ResetAfter  float64 // forward, then drop the connection: the outcome is unknown to the client
	Truncate    float64 // forward, then send only part of the response body
	Delay       float64 // forward after DelayFor
	DelayFor    time.Duration
}

// Uniform spreads total evenly over every kind of fault.
func Uniform(total float64) Rates {
	r := total / 6
	return Rates{Error500: r, SlowDown503: r, ResetBefore: r, ResetAfter: r, Truncate: r, Delay: r, DelayFor: 200 * time.Millisecond}
}

// Counts are the faults injected so far, by kind.
type Counts struct {
	Requests, Error500, SlowDown503, ResetBefore, ResetAfter, Truncate, Delay int64
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	*httptest.Server
	mu     sync.Mutex
	rates  Rates
	rng    *rand.Rand
	counts struct {
		requests, e500, e503, resetBefore, resetAfter, truncate, delay atomic.Int64
	}
}

// New starts a proxy to target (e.g. http://127.0.0.1:7070).
func New(target string, rates Rates, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	p := &Proxy{rates: rates, rng: rand.New(rand.NewPCG(seed, seed+1))}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, rp)
	}))
	return p, nil
}

// SetRates changes the fault rates (0 turns faults off).
func (p *Proxy) SetRates(r Rates) {
	p.mu.Lock()
	p.rates = r
	p.mu.Unlock()
}

// Counts reports the faults injected so far.
func (p *Proxy) Counts() Counts {
	c := &p.counts
	return Counts{c.requests.Load(), c.e500.Load(), c.e503.Load(), c.resetBefore.Load(), c.resetAfter.Load(), c.truncate.Load(), c.delay.Load()}
}

// Faults is the number of requests that met a fault.
func (c Counts) Faults() int64 {
	return c.Error500 + c.SlowDown503 + c.ResetBefore + c.ResetAfter + c.Truncate + c.Delay
}

func (p *Proxy) draw() (kind string, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.rng.Float64()
	r := p.rates
	for _, k := range []struct {
		name string
		rate float64
	}{{"500", r.Error500}, {"503", r.SlowDown503}, {"reset-before", r.ResetBefore}, {"reset-after", r.ResetAfter}, {"truncate", r.Truncate}, {"delay", r.Delay}} {
		if x < k.rate {
			return k.name, r.DelayFor
		}
		x -= k.rate
	}
	return "", 0
}

const s3Error = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by faultproxy</Message></Error>`

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	p.counts.requests.Add(1)
	kind, delay := p.draw()
	switch kind {
	case "500":
		p.counts.e500.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, s3Error, "InternalError")
	case "503":
		p.counts.e503.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, s3Error, "SlowDown")
	case "reset-before":
		p.counts.resetBefore.Add(1)
		reset(w)
	case "reset-after":
		p.counts.resetAfter.Add(1)
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r) // the server did the work; the client never hears
		reset(w)
	case "truncate":
		p.counts.truncate.Add(1)
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		reset(w)
	case "delay":
		p.counts.delay.Add(1)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		rp.ServeHTTP(w, r)
	default:
		rp.ServeHTTP(w, r)
	}
}

// reset closes the client's connection without an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}
