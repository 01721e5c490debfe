package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
)

// committer is group commit for one table: requests that arrive while a
// commit is being prepared share the next one, so a busy process makes a few
// commits per second instead of one per request. A request is answered only
// after the commit that carries its records has landed in the log.
//
// Bounded wait: the first request of a group waits at most maxWait for
// company. Bounded size: a group closes at maxRecords. Encoding and upload of
// a group overlap with the collection of the next; at most flushes groups are
// staged or committed at once, and a group whose wait is over keeps growing
// until one of them is done (adaptive batching: under load, groups grow
// instead of queueing). Log commits are made one at a time, in order,
// because concurrent commits from one process would only race each other for
// versions.
type committer[R any] struct {
	table      string
	lake       *lake.Lake
	stage      func(context.Context, storage.Store, []R) (*lake.Staged, error)
	maxWait    time.Duration
	maxRecords int
	observe    func(table string, groupRecords, attempts int, d time.Duration, err error) // metrics hook; may be nil

	in       chan *request[R]
	flushing chan struct{} // bounds groups being staged at once: backpressure
	commitMu sync.Mutex
	wg       sync.WaitGroup
	stopOnce sync.Once
	stop     chan struct{}
}

// request is one HTTP request's records waiting for a commit.
type request[R any] struct {
	ctx  context.Context
	recs []R
	txn  *delta.Txn // idempotency key, or nil
	done chan commitResult
}

// commitResult is what a request learns: the version its records landed in,
// or, for a repeated idempotency key, the version of the first commit.
type commitResult struct {
	Version   int64
	Duplicate bool
	Attempts  int // log versions tried (1 when no other writer got in the way)
	Err       error
}

func newCommitter[R any](table string, l *lake.Lake, stage func(context.Context, storage.Store, []R) (*lake.Staged, error), maxWait time.Duration, maxRecords, flushes int) *committer[R] {
	c := &committer[R]{
		table: table, lake: l, stage: stage, maxWait: maxWait, maxRecords: maxRecords,
		in: make(chan *request[R]), stop: make(chan struct{}),
		flushing: make(chan struct{}, flushes),
	}
	c.wg.Add(1)
	go c.loop()
	return c
}

// Submit queues recs for the next commit and waits for its outcome. When ctx
// ends before the records are staged they are dropped; once a commit is under
// way the request waits for it, because its outcome is what makes a retry
// safe to answer.
func (c *committer[R]) Submit(ctx context.Context, recs []R, txn *delta.Txn) commitResult {
	req := &request[R]{ctx: ctx, recs: recs, txn: txn, done: make(chan commitResult, 1)}
	select {
	case c.in <- req:
	case <-ctx.Done():
		return commitResult{Err: ctx.Err()}
	case <-c.stop:
		return commitResult{Err: errors.New("ingest is shutting down")}
	}
	return <-req.done
}

func (c *committer[R]) setObserve(fn func(string, int, int, time.Duration, error)) { c.observe = fn }

// Close stops accepting requests and waits for the commits in flight.
func (c *committer[R]) Close() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
}

func (c *committer[R]) loop() {
	defer c.wg.Done()
	for {
		var first *request[R]
		select {
		case first = <-c.in:
		case <-c.stop:
			return
		}
		group := []*request[R]{first}
		n := len(first.recs)
		timer := time.NewTimer(c.maxWait)
		var free chan<- struct{} // nil until the bounded wait is over
		slot := false
	collect:
		for n < c.maxRecords {
			select {
			case r := <-c.in:
				group = append(group, r)
				n += len(r.recs)
			case <-timer.C:
				// The wait is over: the group closes as soon as it can be
				// flushed. While every flush slot is busy it keeps growing,
				// since its requests would wait for a slot anyway; under
				// load that makes fewer, larger commits and files.
				free = c.flushing
			case free <- struct{}{}:
				slot = true
				break collect
			case <-c.stop:
				break collect
			}
		}
		timer.Stop()
		if !slot {
			c.flushing <- struct{}{}
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() { <-c.flushing }()
			c.flush(group)
		}()
	}
}

// flush stages and commits one group, answering every request in it.
func (c *committer[R]) flush(group []*request[R]) {
	start := time.Now()
	// Requests whose caller gave up before anything was written are dropped.
	live := group[:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- commitResult{Err: err}
			continue
		}
		live = append(live, r)
	}
	group = live
	// A key repeated inside one group (a client retrying in parallel) follows
	// the first request that carries it.
	leaders, followers := splitByKey(group)
	for len(leaders) > 0 {
		res, dupKey, dupTxn := c.commit(leaders)
		if dupKey == "" {
			// Metrics first: once a request is answered, its caller may read
			// them and must find this group counted.
			if c.observe != nil {
				total := 0
				for _, r := range leaders {
					total += len(r.recs)
				}
				c.observe(c.table, total, res.Attempts, time.Since(start), res.Err)
			}
			for _, r := range leaders {
				r.done <- res
			}
			for _, f := range followers {
				f.req.done <- commitResult{Version: res.Version, Duplicate: res.Err == nil, Err: res.Err}
			}
			return
		}
		// One key was already committed (by another pod, or an earlier
		// attempt): answer it and its followers with the first result, and
		// commit the rest without it.
		rest := leaders[:0]
		for _, r := range leaders {
			if r.txn != nil && r.txn.AppID == dupKey {
				r.done <- commitResult{Version: dupTxn.CommitVersion, Duplicate: true}
				continue
			}
			rest = append(rest, r)
		}
		keep := followers[:0]
		for _, f := range followers {
			if f.key == dupKey {
				f.req.done <- commitResult{Version: dupTxn.CommitVersion, Duplicate: true}
				continue
			}
			keep = append(keep, f)
		}
		leaders, followers = rest, keep
	}
	for _, f := range followers { // unreachable in practice: leaders exist for every follower
		f.req.done <- commitResult{Err: errors.New("internal: follower without leader")}
	}
}

type follower[R any] struct {
	key string
	req *request[R]
}

func splitByKey[R any](group []*request[R]) ([]*request[R], []follower[R]) {
	seen := map[string]bool{}
	var leaders []*request[R]
	var followers []follower[R]
	for _, r := range group {
		if r.txn == nil {
			leaders = append(leaders, r)
			continue
		}
		if seen[r.txn.AppID] {
			followers = append(followers, follower[R]{key: r.txn.AppID, req: r})
			continue
		}
		seen[r.txn.AppID] = true
		leaders = append(leaders, r)
	}
	return leaders, followers
}

// commit stages the group's records and commits them with every request's
// txn. It returns the duplicate key when the log already holds one of them.
func (c *committer[R]) commit(group []*request[R]) (commitResult, string, delta.Txn) {
	// The group outlives any single request: it is bounded by its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A key already in this process's snapshot needs no I/O at all.
	if t, err := c.lake.Table(c.table); err == nil {
		snap := t.Cached()
		for _, r := range group {
			if r.txn == nil {
				continue
			}
			if prev, ok := snap.Txn(r.txn.AppID); ok {
				return commitResult{}, r.txn.AppID, prev
			}
		}
	}
	var recs []R
	var txns []delta.Txn
	for _, r := range group {
		recs = append(recs, r.recs...)
		if r.txn != nil {
			txns = append(txns, *r.txn)
		}
	}
	st, err := c.stage(ctx, c.lake.Store(), recs)
	if err != nil {
		return commitResult{Err: fmt.Errorf("stage: %w", err)}, "", delta.Txn{}
	}
	c.commitMu.Lock()
	res, err := c.lake.Commit(ctx, st, txns...)
	c.commitMu.Unlock()
	var dup *delta.TxnCommittedError
	if errors.As(err, &dup) {
		return commitResult{}, dup.Txn.AppID, dup.Txn
	}
	if err != nil {
		return commitResult{Err: fmt.Errorf("commit: %w", err)}, "", delta.Txn{}
	}
	return commitResult{Version: res.Version, Attempts: res.Attempts}, "", delta.Txn{}
}
