package query_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
)

// proxy forwards TCP to a real server until it is cut: it stands for Redis
// going away mid-run (fault injection in front of the real redis-server).
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				c.Close()
				p.mu.Unlock()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				p.mu.Unlock()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

// Cut drops every connection and refuses new ones.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
}

func TestRedisResultCacheSharedAndSurvivesOutage(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	host := strings.TrimPrefix(redisURL, "redis://")
	host = host[:strings.IndexByte(host, '/')]
	px := newProxy(t, host)
	viaProxy := "redis://" + px.ln.Addr().String() + "/0"

	s := testenv.S3(t)
	p1 := startProcess(t, s, query.Config{RedisURL: viaProxy})
	p2 := startProcess(t, s, query.Config{RedisURL: viaProxy})
	push(t, p1, records(2, 1, 30, 9))
	waitVersion(t, p2, p1)

	stmt := "SELECT system_id, count(*) AS n FROM memories GROUP BY ALL ORDER BY ALL /* " + testenv.RandomID() + " */"
	a1, c1 := sqlQuery(t, p1, stmt, 0)
	a2, c2 := sqlQuery(t, p2, stmt, 0)
	if c1 != "miss" || c2 != "l2" {
		t.Errorf("first process %s, second %s; want miss then l2 (shared through Redis)", c1, c2)
	}
	if len(a1.Rows) != len(a2.Rows) || a1.Rows[0][1] != a2.Rows[0][1] {
		t.Errorf("answers differ: %v vs %v", a1.Rows, a2.Rows)
	}
	if _, c := sqlQuery(t, p2, stmt, 0); c != "l1" {
		t.Errorf("third ask: %s, want l1", c)
	}

	// Redis goes away: answers stay correct, computed or from L1.
	px.Cut()
	stmt2 := strings.Replace(stmt, "count(*)", "count(id)", 1)
	a3, c3 := sqlQuery(t, p1, stmt2, 0)
	if c3 != "miss" || a3.Rows[0][1] != a1.Rows[0][1] {
		t.Errorf("without Redis: %s %v", c3, a3.Rows)
	}
	// New data makes old answers unreachable, with or without Redis.
	push(t, p1, records(2, 1, 10, 10))
	a4, c4 := sqlQuery(t, p1, stmt, 0)
	var before, after float64
	for i := range a1.Rows {
		before += a1.Rows[i][1].(float64)
	}
	for i := range a4.Rows {
		after += a4.Rows[i][1].(float64)
	}
	if c4 != "miss" || after != before+10 {
		t.Errorf("after a commit: %s, %v records (was %v)", c4, after, before)
	}
}

func TestWithoutRedis(t *testing.T) {
	p := startProcess(t, testenv.S3(t), query.Config{})
	push(t, p, records(1, 1, 5, 11))
	if _, c := sqlQuery(t, p, "SELECT count(*) FROM memories", 0); c != "miss" {
		t.Errorf("first: %s", c)
	}
	if _, c := sqlQuery(t, p, "SELECT count(*) FROM memories", 0); c != "l1" {
		t.Errorf("second: %s", c)
	}
}
