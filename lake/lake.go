// Package lake is Akosha's storage core: three Delta tables (memories,
// entities, relations) of Parquet files on a Store, written in atomic commits.
//
// The store holds the truth; a Lake only caches each table's latest snapshot
// so that readers and writers in one process need not replay the log.
package lake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/tenants"
	"github.com/akosha/akosha/schemas"
)

// Tables are the lake's tables, in a fixed order.
var Tables = []string{schemas.TableMemories, schemas.TableEntities, schemas.TableRelations}

// Lake is one lake root: a store and its tables.
type Lake struct {
	store   storage.Store
	tables  map[string]*Table
	tenants *tenants.Registry
	erased  *erasures.Log
}

// Table is one Delta table with the process's view of its latest snapshot.
type Table struct {
	Name string
	Log  *delta.Table

	mu   sync.Mutex // serialises refreshes; readers take snap under it
	snap *delta.Snapshot
}

// Open opens the lake on store, creating any table that does not exist yet.
// Creating is a put-if-absent of version 0, so processes racing to create
// the same lake agree on one table.
func Open(ctx context.Context, store storage.Store) (*Lake, error) {
	l := &Lake{store: store, tables: map[string]*Table{}, tenants: tenants.New(store), erased: erasures.New(store)}
	for _, name := range Tables {
		t := &Table{Name: name, Log: delta.NewTable(store, name)}
		snap, err := t.Log.Snapshot(ctx)
		if errors.Is(err, storage.ErrNotExist) {
			snap, err = create(ctx, t.Log, name)
		}
		if err != nil {
			return nil, fmt.Errorf("open table %s: %w", name, err)
		}
		if err := checkLayout(name, snap.Metadata); err != nil {
			return nil, err
		}
		t.snap = snap
		l.tables[name] = t
	}
	return l, nil
}

func create(ctx context.Context, log *delta.Table, name string) (*delta.Snapshot, error) {
	schema, err := schemas.DeltaSchemaString(name)
	if err != nil {
		return nil, err
	}
	snap, err := log.Create(ctx, delta.Metadata{
		Name:             name,
		SchemaString:     schema,
		PartitionColumns: schemas.PartitionColumns,
		Configuration:    map[string]string{},
	})
	if errors.Is(err, storage.ErrExists) {
		// Another process created it first: read theirs.
		return log.Snapshot(ctx)
	}
	return snap, err
}

// Tenants is the lake's system -> tenant mapping (lake/tenants), shared by
// everything in the process that uses this Lake, so a process reads the
// claims it wrote. Open does not read it: Refresh (or Poll) does, and the
// table is created by the first claim.
func (l *Lake) Tenants() *tenants.Registry { return l.tenants }

// Erasures is the lake's erasure log (lake/erasures): a table of its own,
// outside Tables, so no job compacts, ages, indexes or vacuums it. Open
// does not read it; the first erasure creates it.
func (l *Lake) Erasures() *erasures.Log { return l.erased }

// Store is the store the lake lives on.
func (l *Lake) Store() storage.Store { return l.store }

// Table returns one of the lake's tables by name.
func (l *Lake) Table(name string) (*Table, error) {
	t, ok := l.tables[name]
	if !ok {
		return nil, fmt.Errorf("no table %q (want memories, entities or relations)", name)
	}
	return t, nil
}

// Cached returns the snapshot this process last saw, without I/O. It may lag
// the log; Refresh catches up.
func (t *Table) Cached() *delta.Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snap
}

// Refresh applies versions committed since the cached snapshot and returns
// the new latest snapshot.
func (t *Table) Refresh(ctx context.Context) (*delta.Snapshot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	snap, err := t.Log.Update(ctx, t.snap)
	if err != nil {
		return nil, fmt.Errorf("refresh %s: %w", t.Name, err)
	}
	t.snap = snap
	return snap, nil
}

// Commit commits actions on top of the cached snapshot. The log resolves any
// versions this process has not seen yet (re-checking conflicts and
// idempotency keys against them), and the result becomes the cached snapshot,
// so a process always reads its own writes.
func (t *Table) Commit(ctx context.Context, actions []delta.Action) (*delta.CommitResult, error) {
	base := t.Cached()
	res, err := t.Log.Commit(ctx, base, actions)
	if err != nil {
		return nil, err
	}
	t.advance(res.Snapshot)
	return res, nil
}

// advance moves the cached snapshot forward, never back: concurrent commits
// finish in any order.
func (t *Table) advance(s *delta.Snapshot) {
	if s == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.snap == nil || s.Version > t.snap.Version {
		t.snap = s
	}
}

// Refresh brings every table's snapshot up to its log's latest version,
// for a reader that must see commits made since the last poll.
func (l *Lake) Refresh(ctx context.Context) error {
	for _, name := range Tables {
		if _, err := l.tables[name].Refresh(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Poll refreshes every table each interval until ctx ends, so that readers see
// other processes' commits within about that interval.
func (l *Lake) Poll(ctx context.Context, every time.Duration, onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, name := range Tables {
			if _, err := l.tables[name].Refresh(ctx); err != nil && onErr != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
		if _, err := l.tenants.Refresh(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// OpenURL opens the lake a URL names: a directory, file://... or
// s3://bucket/prefix (see storage.Open).
func OpenURL(ctx context.Context, lakeURL string) (*Lake, error) {
	store, err := storage.Open(ctx, lakeURL)
	if err != nil {
		return nil, err
	}
	return Open(ctx, store)
}
