package delta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/akosha/akosha/lake/storage"
)

// checkpointRef names one complete classic checkpoint: a single file, or
// every part of a multi-part checkpoint in part order.
type checkpointRef struct {
	version int64
	keys    []string
}

// listing is what a LIST of _delta_log/ tells about the log.
type listing struct {
	commits     map[int64]bool
	checkpoints map[int64]*checkpointRef // complete checkpoints only
	latest      int64                    // newest version with a commit or checkpoint, -1 if none
}

// logName classifies a file name directly inside _delta_log/.
type logName struct {
	version     int64
	commit      bool
	checkpoint  bool
	part, parts int // multi-part checkpoint: part (1-based) of parts; 0 for single files
}

// parseLogName recognizes "%020d.json", "%020d.checkpoint.parquet" and
// "%020d.checkpoint.%010d.%010d.parquet". Everything else (CRC files,
// V2/UUID checkpoints, compacted logs, temp files) is not part of what a
// protocol-1 reader uses and is ignored.
func parseLogName(name string) (logName, bool) {
	if len(name) < 21 || !allDigits(name[:20]) {
		return logName{}, false
	}
	v, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil {
		return logName{}, false
	}
	rest := name[20:]
	switch rest {
	case ".json":
		return logName{version: v, commit: true}, true
	case ".checkpoint.parquet":
		return logName{version: v, checkpoint: true}, true
	}
	// .checkpoint.0000000001.0000000003.parquet
	const pre, suf = ".checkpoint.", ".parquet"
	if len(rest) == len(pre)+10+1+10+len(suf) && strings.HasPrefix(rest, pre) && strings.HasSuffix(rest, suf) {
		mid := rest[len(pre) : len(rest)-len(suf)]
		if mid[10] == '.' && allDigits(mid[:10]) && allDigits(mid[11:]) {
			part, _ := strconv.Atoi(mid[:10])
			parts, _ := strconv.Atoi(mid[11:])
			if part >= 1 && part <= parts {
				return logName{version: v, checkpoint: true, part: part, parts: parts}, true
			}
		}
	}
	return logName{}, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// newListing indexes log objects with version >= from.
func (t *Table) newListing(objs []storage.ObjectInfo, from int64) *listing {
	l := &listing{commits: map[int64]bool{}, checkpoints: map[int64]*checkpointRef{}, latest: -1}
	type partSet struct {
		keys []string
		have int
	}
	multi := map[[2]int64]*partSet{} // (version, parts) → parts seen
	for _, o := range objs {
		name, ok := strings.CutPrefix(o.Key, t.logDir)
		if !ok || strings.Contains(name, "/") { // e.g. _delta_log/.tmp/, _sidecars/
			continue
		}
		n, ok := parseLogName(name)
		if !ok || n.version < from {
			continue
		}
		switch {
		case n.commit:
			l.commits[n.version] = true
		case n.parts == 0:
			// A single-file checkpoint wins over any multi-part set.
			l.checkpoints[n.version] = &checkpointRef{version: n.version, keys: []string{o.Key}}
		default:
			id := [2]int64{n.version, int64(n.parts)}
			ps := multi[id]
			if ps == nil {
				ps = &partSet{keys: make([]string, n.parts)}
				multi[id] = ps
			}
			if ps.keys[n.part-1] == "" {
				ps.keys[n.part-1] = o.Key
				ps.have++
			}
		}
		if n.commit && n.version > l.latest {
			l.latest = n.version
		}
	}
	// Writers put parts one by one: only a set with every part is usable.
	for id, ps := range multi {
		if ps.have == len(ps.keys) && l.checkpoints[id[0]] == nil {
			l.checkpoints[id[0]] = &checkpointRef{version: id[0], keys: ps.keys}
		}
	}
	for v := range l.checkpoints {
		if v > l.latest {
			l.latest = v
		}
	}
	return l
}

// checkpointsBelow returns the complete checkpoints with version <= to,
// newest first.
func (l *listing) checkpointsBelow(to int64) []*checkpointRef {
	var out []*checkpointRef
	for v, c := range l.checkpoints {
		if v <= to {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version > out[j].version })
	return out
}

// missingCommit returns the first version in [from, to] without a JSON
// commit, or -1 when all are present.
func (l *listing) missingCommit(from, to int64) int64 {
	for v := from; v <= to; v++ {
		if !l.commits[v] {
			return v
		}
	}
	return -1
}

// list lists the log from version from onwards. With from > 0 it does not
// list the whole log: keys are zero-padded, so the versions of one block of
// 1000 share a 17-digit key prefix, and listing block by block from the
// block of from stops at the end of the log. This stands in for S3's
// start-after, which the Store interface does not offer, and keeps loading a
// long-lived table (millions of commits) proportional to the recent tail.
func (t *Table) list(ctx context.Context, from int64) (*listing, error) {
	if from <= 0 {
		objs, err := t.store.List(ctx, t.logDir)
		if err != nil {
			return nil, fmt.Errorf("list log: %w", err)
		}
		return t.newListing(objs, 0), nil
	}
	var all []storage.ObjectInfo
	for block := from / 1000; ; block++ {
		objs, err := t.store.List(ctx, fmt.Sprintf("%s%017d", t.logDir, block))
		if err != nil {
			return nil, fmt.Errorf("list log from %d: %w", from, err)
		}
		all = append(all, objs...)
		// Continue only if this block is full up to its last version.
		last := fmt.Sprintf("%s%020d.", t.logDir, block*1000+999)
		full := false
		for _, o := range objs {
			if strings.HasPrefix(o.Key, last) {
				full = true
				break
			}
		}
		if !full {
			break
		}
	}
	return t.newListing(all, from), nil
}

// lastCheckpoint is the _last_checkpoint hint. Unknown fields (checksum,
// checkpointSchema, v2Checkpoint, ...) are ignored.
type lastCheckpoint struct {
	Version       int64 `json:"version"`
	Size          int64 `json:"size"`
	Parts         *int  `json:"parts,omitempty"`
	SizeInBytes   int64 `json:"sizeInBytes,omitempty"`
	NumOfAddFiles int64 `json:"numOfAddFiles,omitempty"`
}

// readLastCheckpoint returns the hint, or nil when it is absent or
// unreadable: it is only an optimization, so a torn or foreign one is
// logged and ignored, never trusted.
func (t *Table) readLastCheckpoint(ctx context.Context) (*lastCheckpoint, error) {
	b, err := storage.ReadAll(ctx, t.store, t.lastCheckpointKey())
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read _last_checkpoint: %w", err)
	}
	var lc lastCheckpoint
	if err := json.Unmarshal(b, &lc); err != nil || lc.Version < 0 {
		t.logger().Warn("delta: ignoring unreadable _last_checkpoint", "table", t.prefix, "err", err)
		return nil, nil
	}
	return &lc, nil
}

// readCommit reads and parses one JSON commit. A missing commit wraps
// storage.ErrNotExist.
func (t *Table) readCommit(ctx context.Context, v int64, withCommitInfo bool) ([]Action, []byte, error) {
	data, err := storage.ReadAll(ctx, t.store, t.commitKey(v))
	if err != nil {
		return nil, nil, fmt.Errorf("commit %d: %w", v, err)
	}
	acts, err := parseCommit(data, withCommitInfo)
	if err != nil {
		return nil, nil, fmt.Errorf("commit %d: %w", v, err)
	}
	return acts, data, nil
}

// ReadCommit returns the actions of one committed version, commitInfo
// included.
func (t *Table) ReadCommit(ctx context.Context, version int64) ([]Action, error) {
	acts, _, err := t.readCommit(ctx, version, true)
	return acts, err
}

// readCommits fetches versions [from, to] concurrently (they are independent
// GETs; on object storage latency, not bandwidth, dominates) and returns
// them in version order.
func (t *Table) readCommits(ctx context.Context, from, to int64) ([][]Action, error) {
	n := int(to - from + 1)
	if n <= 0 {
		return nil, nil
	}
	out := make([][]Action, n)
	err := parallel(ctx, n, func(ctx context.Context, i int) error {
		acts, _, err := t.readCommit(ctx, from+int64(i), false)
		out[i] = acts
		return err
	})
	return out, err
}

// parallel runs fn for 0..n-1 on up to readConcurrency goroutines and
// returns the first error, cancelling the rest.
func parallel(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(n, readConcurrency)
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil
				mu.Unlock()
				if stop || i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
