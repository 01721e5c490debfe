package query

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/akosha/akosha/functions/query/search"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/jobmetrics"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// GET /v1/lake: the state of the lake and its jobs, for the console's Lake
// page and for operators with curl. Everything comes from the log and a few
// small objects; no data file is read.

// commitsScanned bounds how far back a table's operations are counted: the
// latest commits show what the jobs have been doing, and reading the whole
// log of a busy lake on every request would not do.
const commitsScanned = 200

// lakeStatusTTL is how long one answer is reused: listing the indexes and
// the job records costs a few store round trips, and a page refreshed by
// several people at once should cost them once.
const lakeStatusTTL = 5 * time.Second

// TierStat is what one tier of a table holds.
type TierStat struct {
	Files   int   `json:"files"`
	Bytes   int64 `json:"bytes"`
	Records int64 `json:"records"`
}

// CommitRef is one commit of a table's log.
type CommitRef struct {
	Version   int64  `json:"version"`
	Operation string `json:"operation"`
	Timestamp string `json:"timestamp,omitempty"` // RFC 3339, from commitInfo
}

// OperationStat is the last commit of one operation among those scanned,
// and how many of them there were.
type OperationStat struct {
	CommitRef
	Commits int `json:"commits"`
}

// TableStatus is one table in GET /v1/lake.
type TableStatus struct {
	Name       string              `json:"name"`
	Version    int64               `json:"version"`
	LastCommit *CommitRef          `json:"last_commit"`
	Files      int                 `json:"files"`
	Bytes      int64               `json:"bytes"`
	Records    int64               `json:"records"`
	Tiers      map[string]TierStat `json:"tiers"`
	Operations []OperationStat     `json:"operations"`
}

// IndexStatus sums one table's vector index objects.
type IndexStatus struct {
	Table   string `json:"table"`
	Objects int    `json:"objects"`
	Bytes   int64  `json:"bytes"`
	Newest  string `json:"newest,omitempty"`
	// Segments are, per tier, the index segments a search uses now
	// (vecindex.Segments): an operator sees the index job keep each tier
	// to a few, and which carry their full-text part.
	Segments []TierSegments `json:"segments,omitempty"`
}

// TierSegments counts the segments a search of one tier visits.
type TierSegments struct {
	Tier     string `json:"tier"`
	Segments int    `json:"segments"`
	Vectors  int64  `json:"vectors"`
	FullText int    `json:"full_text"` // of Segments, those with a full-text (BM25) segment
}

// LakeStatus is the answer of GET /v1/lake.
type LakeStatus struct {
	Tables         []TableStatus       `json:"tables"`
	Indexes        []IndexStatus       `json:"indexes"`
	Jobs           []jobmetrics.Record `json:"jobs"`
	CommitsScanned int                 `json:"commits_scanned"`
	AsOf           string              `json:"as_of"`
	ElapsedMS      float64             `json:"elapsed_ms"`
}

// lakeStatus remembers each commit's operation (commits never change, so
// a version once read is never read again) and the last answer.
type lakeStatus struct {
	mu      sync.Mutex
	commits map[string]map[int64]CommitRef // table -> version -> commit
	last    *LakeStatus
	lastAt  time.Time
	lastKey string
}

func newLakeStatus() *lakeStatus { return &lakeStatus{commits: map[string]map[int64]CommitRef{}} }

func (f *Function) serveLake(w http.ResponseWriter, r *http.Request) {
	st, err := f.LakeStatus(r.Context())
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

// LakeStatus answers GET /v1/lake on the latest snapshots this process has.
func (f *Function) LakeStatus(ctx context.Context) (*LakeStatus, error) {
	start := time.Now()
	snaps := f.snapshots()
	key := snaps.versions()
	s := f.status
	s.mu.Lock()
	defer s.mu.Unlock() // one computation at a time; the others take its answer
	if s.last != nil && s.lastKey == key && time.Since(s.lastAt) < lakeStatusTTL {
		return s.last, nil
	}
	out := &LakeStatus{Tables: []TableStatus{}, Indexes: []IndexStatus{}, CommitsScanned: commitsScanned}
	for _, name := range lake.Tables {
		snap := snaps[name]
		ts := TableStatus{Name: name, Version: snap.Version, Tiers: map[string]TierStat{}, Operations: []OperationStat{}}
		for a := range snap.AllFiles() {
			tier := "none"
			if v := a.PartitionValues["tier"]; v != nil {
				tier = *v
			}
			t := ts.Tiers[tier]
			t.Files++
			t.Bytes += a.Size
			if st, err := a.ParsedStats(); err == nil && st.NumRecords > 0 {
				t.Records += st.NumRecords
			}
			ts.Tiers[tier] = t
			ts.Files++
			ts.Bytes += a.Size
		}
		for _, t := range ts.Tiers {
			ts.Records += t.Records
		}
		commits, err := s.recentCommits(ctx, f.lake, name, snap.Version)
		if err != nil {
			return nil, err
		}
		ts.Operations = operations(commits)
		if c, ok := s.commits[name][snap.Version]; ok && c.Operation != "" {
			ts.LastCommit = &c
		}
		out.Tables = append(out.Tables, ts)
		idx, err := indexStatus(ctx, f.lake.Store(), name)
		if err != nil {
			return nil, err
		}
		if name == schemas.TableMemories && idx.Objects > 0 {
			if idx.Segments, err = f.segmentsByTier(ctx, snap); err != nil {
				return nil, fmt.Errorf("the index segments of %s: %w", name, err)
			}
		}
		if idx.Objects > 0 {
			out.Indexes = append(out.Indexes, idx)
		}
	}
	jobs, err := jobmetrics.ReadRecords(ctx, f.lake.Store())
	if err != nil {
		return nil, fmt.Errorf("read the job records: %w", err)
	}
	out.Jobs = jobs
	out.AsOf = time.Now().UTC().Format(time.RFC3339)
	out.ElapsedMS = float64(time.Since(start).Microseconds()) / 1000
	s.last, s.lastAt, s.lastKey = out, time.Now(), key
	return out, nil
}

// recentCommits returns the table's last commitsScanned commits up to
// version, newest first, reading only those not seen before (eight at a
// time: on S3 each is a round trip). A version the log no longer holds (log
// retention, or below a checkpoint) is left out.
func (s *lakeStatus) recentCommits(ctx context.Context, l *lake.Lake, name string, version int64) ([]CommitRef, error) {
	t, err := l.Table(name)
	if err != nil {
		return nil, err
	}
	seen := s.commits[name]
	if seen == nil {
		seen = map[int64]CommitRef{}
		s.commits[name] = seen
	}
	lo := max(0, version-commitsScanned+1)
	var missing []int64
	for v := version; v >= lo; v-- {
		if _, ok := seen[v]; !ok {
			missing = append(missing, v)
		}
	}
	read := make([]*CommitRef, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, v := range missing {
		g.Go(func() error {
			actions, err := t.Log.ReadCommit(gctx, v)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				// Gone with log retention: remembered as such, so it is
				// not asked for again, and left out.
				read[i] = &CommitRef{Version: v}
				return nil
			}
			c := CommitRef{Version: v, Operation: "UNKNOWN"}
			for _, a := range actions {
				if a.CommitInfo == nil {
					continue
				}
				if op, ok := a.CommitInfo["operation"].(string); ok {
					c.Operation = op
				}
				if ms, err := strconv.ParseInt(fmt.Sprint(a.CommitInfo["timestamp"]), 10, 64); err == nil {
					c.Timestamp = time.UnixMilli(ms).UTC().Format(time.RFC3339)
				}
			}
			read[i] = &c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, c := range read {
		if c != nil {
			seen[c.Version] = *c
		}
	}
	var out []CommitRef
	for v := version; v >= lo; v-- {
		if c, ok := seen[v]; ok && c.Operation != "" {
			out = append(out, c)
		}
	}
	for v := range seen { // keep the memory bounded as the log grows
		if v < lo {
			delete(seen, v)
		}
	}
	return out, nil
}

// operations sums commits (newest first) by operation, newest operation first.
func operations(commits []CommitRef) []OperationStat {
	by := map[string]*OperationStat{}
	var order []string
	for _, c := range commits {
		o := by[c.Operation]
		if o == nil {
			o = &OperationStat{CommitRef: c}
			by[c.Operation] = o
			order = append(order, c.Operation)
		}
		o.Commits++
	}
	out := make([]OperationStat, 0, len(order))
	for _, op := range order {
		out = append(out, *by[op])
	}
	return out
}

// indexStatus sums the objects under a table's _indexes/.
func indexStatus(ctx context.Context, store storage.Store, table string) (IndexStatus, error) {
	objs, err := store.List(ctx, table+"/_indexes/")
	if err != nil {
		return IndexStatus{}, fmt.Errorf("list the indexes of %s: %w", table, err)
	}
	st := IndexStatus{Table: table}
	var newest time.Time
	for _, o := range objs {
		st.Objects++
		st.Bytes += o.Size
		if o.ModTime.After(newest) {
			newest = o.ModTime
		}
	}
	if !newest.IsZero() {
		st.Newest = newest.UTC().Format(time.RFC3339)
	}
	return st, nil
}

// segmentsByTier counts, per tier with indexes, the segments a search of
// snap would visit: the search's own listing of the manifests (read once,
// listed at most every IndexListTTL) and its choice (State.Segments).
func (f *Function) segmentsByTier(ctx context.Context, snap *delta.Snapshot) ([]TierSegments, error) {
	if err := f.vectors.RefreshIndexes(ctx, search.IndexListTTL); err != nil {
		return nil, err
	}
	tiers := f.vectors.IndexedTiers()
	if len(tiers) == 0 {
		return nil, nil
	}
	live := map[string]map[string]int64{}
	for a := range snap.AllFiles() {
		p, err := lake.PartitionOf(a.PartitionValues)
		if err != nil {
			continue
		}
		if live[p.Tier] == nil {
			live[p.Tier] = map[string]int64{}
		}
		live[p.Tier][a.Path] = a.Size
	}
	out := make([]TierSegments, 0, len(tiers))
	for _, tier := range tiers {
		ts := TierSegments{Tier: tier}
		for _, m := range f.vectors.Segments(lake.Partition{Tier: tier}, live[tier]) {
			ts.Segments++
			ts.Vectors += int64(m.Vectors)
			if m.Text.Key != "" {
				ts.FullText++
			}
		}
		out = append(out, ts)
	}
	return out, nil
}
