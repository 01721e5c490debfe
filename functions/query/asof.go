package query

// Time travel: as_of on POST /v1/sql, POST /v1/search, GET
// /v1/memories/{system_id}/{id} and the MCP tool search_all_systems.
//
// as_of names a past state of the lake: a version of the memories table
// (an integer), or an RFC 3339 time. Each table is resolved to the newest
// version committed at or before the time (delta.Table.VersionAt: a binary
// search over the log's commit timestamps); with a version, the memories
// table takes that version and the other tables are resolved at its commit
// time, so a statement joining them sees one moment of the lake.
//
// The answer comes from those snapshots exactly as a request on the latest
// one would (the same planner, latest-wins views and search), with three
// differences:
//
//   - Each past snapshot has its own key index (which files share record
//     keys): the latest one's counts are those of other files. It is seeded
//     with the hashes the latest index already read (data files never
//     change), so usually nothing is read from the store to build it.
//   - Loaded snapshots and their key indexes are kept in a small LRU
//     (maxPastSnapshots): a client paging through one past version reads
//     the log once.
//   - A search is answered by this process even with tier stores (they keep
//     the latest snapshot warm; a past one is rare and read here).
//
// Result cache keys carry every table's version (snapshots.versions), so an
// as_of answer and a latest one never share an entry; an as_of that
// resolves to the latest versions is the latest answer, and shares it.
//
// Errors, in the API's error shape: 400 invalid_as_of (neither a version
// nor an RFC 3339 time), 404 version_not_found (after the latest version,
// or a time before the table's first commit), 410 version_not_retained
// (below the oldest version the log can rebuild since vacuum cleaned it,
// or whose data files vacuum has deleted).

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Error codes of time travel.
const (
	CodeInvalidAsOf        = "invalid_as_of"
	CodeVersionNotFound    = "version_not_found"
	CodeVersionNotRetained = "version_not_retained"
)

const (
	// maxPastSnapshots bounds the loaded past snapshots kept, with their
	// key indexes: a past key index counts every record of the files it
	// covers (some 40 bytes a record in its maps), so at the sizing target
	// (1M memories) a full one is about 40 MB.
	maxPastSnapshots = 4
	maxCommitTimes   = 4096 // memoized commit times (a few per as_of time)
)

// AsOf is the as_of argument: "" for the latest snapshot, a memories table
// version ("12"), or an RFC 3339 time. In JSON it is a number or a string.
type AsOf string

// UnmarshalJSON takes a number, a string or null. Anything else is kept as
// its JSON text, so that the request is refused with invalid_as_of (and a
// message saying what was sent) rather than as malformed JSON.
func (a *AsOf) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*a = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			s = `""` // as_of given but empty: refused, never the latest
		}
		*a = AsOf(s)
	default:
		*a = AsOf(b)
	}
	return nil
}

// MarshalJSON writes a version as a number and a time as a string.
func (a AsOf) MarshalJSON() ([]byte, error) {
	if _, err := strconv.ParseUint(string(a), 10, 63); err == nil {
		return []byte(a), nil
	}
	return json.Marshal(string(a))
}

// asOfSpec is a parsed AsOf: a version (>= 0) or a time.
type asOfSpec struct {
	version int64 // -1: by time
	at      time.Time
}

func parseAsOf(a AsOf) (*asOfSpec, error) {
	s := strings.TrimSpace(string(a))
	if s == "" && a == "" {
		return nil, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		if v < 0 {
			return nil, httpx.Errorf(http.StatusBadRequest, CodeInvalidAsOf, "as_of %d: a table version is 0 or more", v)
		}
		return &asOfSpec{version: v}, nil
	}
	if s == `""` {
		return nil, httpx.Errorf(http.StatusBadRequest, CodeInvalidAsOf,
			"as_of is empty: give a table version (an integer, e.g. 12) or an RFC 3339 time (e.g. 2026-11-25T10:00:00Z), or leave it out for the latest")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, httpx.Errorf(http.StatusBadRequest, CodeInvalidAsOf,
			"as_of %q: want a table version (an integer, e.g. 12) or an RFC 3339 time (e.g. 2026-11-25T10:00:00Z)", truncate(s, 60))
	}
	return &asOfSpec{version: -1, at: t}, nil
}

// pastSnapshots is the LRU of loaded past snapshots, and the memo of commit
// times that resolving times reads.
type pastSnapshots struct {
	mu      sync.Mutex
	byKey   map[string]*list.Element // "table@version" -> *pastSnapshot
	byPtr   map[*delta.Snapshot]*pastSnapshot
	order   *list.List // front: most recently used
	times   map[string]time.Time
	loading singleflight.Group
}

type pastSnapshot struct {
	key  string
	snap *delta.Snapshot
	keys *keyIndex
}

func newPastSnapshots() *pastSnapshots {
	return &pastSnapshots{byKey: map[string]*list.Element{}, byPtr: map[*delta.Snapshot]*pastSnapshot{},
		order: list.New(), times: map[string]time.Time{}}
}

func (p *pastSnapshots) get(key string) *pastSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.byKey[key]; ok {
		p.order.MoveToFront(e)
		return e.Value.(*pastSnapshot)
	}
	return nil
}

func (p *pastSnapshots) put(ps *pastSnapshot) *pastSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.byKey[ps.key]; ok {
		p.order.MoveToFront(e)
		return e.Value.(*pastSnapshot)
	}
	p.byKey[ps.key] = p.order.PushFront(ps)
	p.byPtr[ps.snap] = ps
	for p.order.Len() > maxPastSnapshots {
		old := p.order.Remove(p.order.Back()).(*pastSnapshot)
		delete(p.byKey, old.key)
		delete(p.byPtr, old.snap)
	}
	return ps
}

// commitTime memoizes a table's commit times: a version's never changes.
func (p *pastSnapshots) commitTime(table string, v int64, get func() (time.Time, error)) (time.Time, error) {
	key := table + "@" + strconv.FormatInt(v, 10)
	p.mu.Lock()
	t, ok := p.times[key]
	p.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := get()
	if err != nil {
		return t, err
	}
	p.mu.Lock()
	if len(p.times) >= maxCommitTimes {
		clear(p.times) // rare, and cheap to relearn
	}
	p.times[key] = t
	p.mu.Unlock()
	return t, nil
}

// snapshotsAt resolves as_of to the tables' snapshots ("" : the latest).
func (f *Function) snapshotsAt(ctx context.Context, a AsOf) (snapshots, error) {
	spec, err := parseAsOf(a)
	if err != nil || spec == nil {
		return f.snapshots(), err
	}
	at := spec.at
	versions := map[string]int64{}
	if spec.version >= 0 {
		mem, err := f.lake.Table(schemas.TableMemories)
		if err != nil {
			return nil, err
		}
		versions[schemas.TableMemories] = spec.version
		if spec.version > mem.Cached().Version {
			// Maybe committed since the last poll.
			if _, err := mem.Refresh(ctx); err != nil {
				return nil, fmt.Errorf("as_of: %w", err)
			}
		}
		if spec.version == mem.Cached().Version {
			at = time.Time{} // the latest memories: the latest of every table
		} else if spec.version > mem.Cached().Version {
			return nil, httpx.Errorf(http.StatusNotFound, CodeVersionNotFound,
				"as_of %d: the memories table's latest version is %d", spec.version, mem.Cached().Version)
		} else {
			at, err = f.past.commitTime(schemas.TableMemories, spec.version, func() (time.Time, error) {
				return mem.Log.CommitTime(ctx, spec.version)
			})
			if errors.Is(err, storage.ErrNotExist) {
				// A version before the latest whose commit is gone: log
				// cleanup took it (CheckRetained says so, or finds the
				// checkpoint that still holds it).
				if rerr := mem.Log.CheckRetained(ctx, spec.version); rerr != nil {
					err = rerr
				}
			}
			if err != nil {
				return nil, asOfError(schemas.TableMemories, a, err)
			}
		}
	}
	out := snapshots{}
	for _, name := range lake.Tables {
		t, err := f.lake.Table(name)
		if err != nil {
			return nil, err
		}
		v, ok := versions[name]
		if !ok {
			if at.IsZero() {
				out[name] = t.Cached()
				continue
			}
			v, err = t.Log.VersionAt(ctx, at, func(v int64, get func() (time.Time, error)) (time.Time, error) {
				return f.past.commitTime(name, v, get)
			})
			if errors.Is(err, delta.ErrBeforeFirstVersion) && name != schemas.TableMemories && spec.version >= 0 {
				// A table created after that memories version: empty then,
				// as its first version (create only) is.
				v, err = 0, nil
			}
			if err != nil {
				return nil, asOfError(name, a, err)
			}
		}
		snap, err := f.snapshotAt(ctx, t, v)
		if err != nil {
			return nil, asOfError(name, a, err)
		}
		out[name] = snap
	}
	return out, nil
}

// snapshotAt is table t at version v: the cached latest when v is its
// version, else a past snapshot, from the LRU or loaded (once however many
// requests want it at the same time).
func (f *Function) snapshotAt(ctx context.Context, t *lake.Table, v int64) (*delta.Snapshot, error) {
	if latest := t.Cached(); latest.Version == v {
		return latest, nil
	}
	key := t.Name + "@" + strconv.FormatInt(v, 10)
	if ps := f.past.get(key); ps != nil {
		// Loaded before, maybe before vacuum cleaned the log below it:
		// a version the log no longer holds is not answered from memory
		// (nor from the result caches, which are read after this).
		if err := t.Log.CheckRetained(ctx, v); err != nil {
			return nil, err
		}
		return ps.snap, nil
	}
	got, err, _ := f.past.loading.Do(key, func() (any, error) {
		snap, err := t.Log.SnapshotAt(ctx, v)
		if err != nil {
			return nil, err
		}
		return f.past.put(&pastSnapshot{key: key, snap: snap, keys: f.keys.child()}).snap, nil
	})
	if err != nil {
		return nil, err
	}
	return got.(*delta.Snapshot), nil
}

// keysFor is the key index of table's snapshot snap: the function's own for
// the latest version, the snapshot's own for a past one (made anew should
// the LRU have dropped it while a request still reads it).
func (f *Function) keysFor(table string, snap *delta.Snapshot) *keyIndex {
	t, err := f.lake.Table(table)
	if err != nil || t.Cached().Version == snap.Version {
		return f.keys
	}
	f.past.mu.Lock()
	ps := f.past.byPtr[snap]
	f.past.mu.Unlock()
	if ps != nil {
		return ps.keys
	}
	key := table + "@" + strconv.FormatInt(snap.Version, 10)
	return f.past.put(&pastSnapshot{key: key, snap: snap, keys: f.keys.child()}).keys
}

// isPast reports whether snaps are not all the latest (an as_of request).
func (f *Function) isPast(snaps snapshots) bool {
	for name, s := range snaps {
		if t, err := f.lake.Table(name); err == nil && t.Cached().Version != s.Version {
			return true
		}
	}
	return false
}

// asOfError maps a failure to resolve or load a past version onto the API.
func asOfError(table string, a AsOf, err error) error {
	var he *httpx.Error
	switch {
	case errors.As(err, &he):
		return err
	case errors.Is(err, delta.ErrIncompleteLog):
		return httpx.Errorf(http.StatusGone, CodeVersionNotRetained,
			"as_of %s: the %s table's log no longer holds that version (vacuum cleans the log past its --log-retention); ask for a later version or time",
			string(a), table)
	case errors.Is(err, delta.ErrBeforeFirstVersion):
		return httpx.Errorf(http.StatusNotFound, CodeVersionNotFound,
			"as_of %s: the %s table had no version yet at that time", string(a), table)
	case errors.Is(err, storage.ErrNotExist):
		return httpx.Errorf(http.StatusNotFound, CodeVersionNotFound,
			"as_of %s: the %s table has no such version", string(a), table)
	}
	return fmt.Errorf("as_of %s: %s: %w", string(a), table, err)
}

// pastDataGone is the answer when a past snapshot's data file is no longer
// in the store: vacuum deleted it, past its grace, after a later commit
// removed it from the table.
func pastDataGone() error {
	return httpx.Errorf(http.StatusGone, CodeVersionNotRetained,
		"as_of: a data file of that version was deleted by vacuum (removed files are kept for its --grace only); ask for a later version or time")
}

// asOfQuery is a GET route's ?as_of= ("" when absent; given but empty is
// refused by parseAsOf).
func asOfQuery(r *http.Request) AsOf {
	q := r.URL.Query()
	if !q.Has("as_of") {
		return ""
	}
	if v := q.Get("as_of"); v != "" {
		return AsOf(v)
	}
	return `""`
}
