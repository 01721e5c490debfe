// Package tenants keeps which tenant each system belongs to, as data in the
// lake: a small Delta table `systems` (system_id, tenant, created_at,
// created_by) beside memories, entities and relations.
//
// Why a table of its own, written before the data: Delta has no commit
// across tables, so a system's mapping cannot land in the same version as
// its first records. Ingest claims the systems of a batch first (one commit
// to `systems`, idempotent) and commits the records after; a crash between
// the two leaves a claimed system without records, which is harmless (the
// retry finds the claim and writes the records). The reverse order could
// leave records no tenant owns.
//
// Uniqueness: a claim commits, with its file, a txn action whose appId is
// "akosha-system:<system_id>". The Delta log refuses a second txn with an
// appId it holds, so of two processes claiming one system for different
// tenants at once exactly one wins; the loser reads the winner and is
// refused (ForeignError). Each file holds one system's row, and its add
// action carries the system and tenant as tags, so readers build the
// mapping from the log alone, without reading a data file: the query
// function rebuilds it every poll at no I/O cost beyond the log.
//
// A system changes tenant only through Move (the admin command
// `akosha tenant move`): one commit removing the system's file and adding a
// new one, with operation AKOSHA TENANT MOVE and who/from/to in its
// commitInfo, so the log is the audit trail.
//
// Systems never claimed (written before the table existed, or by a path
// that does not claim, such as an import of a lake copied in by hand)
// belong to the default tenant.
package tenants

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Table is the mapping table's name and key prefix in the lake.
const Table = "systems"

// DefaultTenant is the tenant of every system nobody claimed for another
// (internal/auth.DefaultTenant: the two must stay equal).
const DefaultTenant = "default"

// Tags of a mapping file's add action: the one system it holds and its
// tenant.
const (
	TagSystem = "akosha.system"
	TagTenant = "akosha.tenant"
)

// validName is the syntax of system ids and tenant names.
var validName = schemas.ValidSystemID

// Row is one system's mapping, as other engines read the table.
type Row struct {
	SystemID  string    `parquet:"system_id"`
	Tenant    string    `parquet:"tenant"`
	CreatedAt time.Time `parquet:"created_at,timestamp(microsecond)"`
	CreatedBy string    `parquet:"created_by"`
}

const schemaString = `{"type":"struct","fields":[` +
	`{"name":"system_id","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"tenant","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"created_at","type":"timestamp","nullable":false,"metadata":{}},` +
	`{"name":"created_by","type":"string","nullable":false,"metadata":{}}]}`

// ForeignError refuses a write into a system another tenant owns.
type ForeignError struct {
	System string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("system %q belongs to another tenant", e.System)
}

// Map is the mapping at one version of the table. It is immutable.
type Map struct {
	// Version is the table's version; -1 when the table does not exist.
	Version int64
	owner   map[string]string    // system -> tenant
	files   map[string]delta.Add // system -> the add holding its row
	scopes  sync.Map             // tenant -> *Scope, computed once per Map
}

// Empty is the mapping of a lake without a systems table.
func Empty() *Map {
	return &Map{Version: -1, owner: map[string]string{}, files: map[string]delta.Add{}}
}

func mapOf(snap *delta.Snapshot) *Map {
	m := &Map{Version: snap.Version, owner: map[string]string{}, files: map[string]delta.Add{}}
	for a := range snap.AllFiles() {
		sys, ten := a.Tags[TagSystem], a.Tags[TagTenant]
		if sys == "" || ten == "" {
			continue // not ours: nothing to map
		}
		m.owner[sys], m.files[sys] = ten, a
	}
	return m
}

// TenantOf is the tenant owning sys: DefaultTenant when nobody claimed it.
func (m *Map) TenantOf(sys string) string {
	if t, ok := m.owner[sys]; ok {
		return t
	}
	return DefaultTenant
}

// Claimed reports whether sys has a row.
func (m *Map) Claimed(sys string) bool { _, ok := m.owner[sys]; return ok }

// Systems lists the claimed systems of tenant, sorted.
func (m *Map) Systems(tenant string) []string {
	var out []string
	for s, t := range m.owner {
		if t == tenant {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Tenants lists the tenants other than the default that own a system,
// sorted.
func (m *Map) Tenants() []string {
	seen := map[string]bool{}
	for _, t := range m.owner {
		if t != DefaultTenant {
			seen[t] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Len is the number of claimed systems.
func (m *Map) Len() int { return len(m.owner) }

// Scope is the systems one reader may see. The zero value sees nothing;
// All() sees every system.
type Scope struct {
	all  bool
	deny bool            // set holds the systems it may NOT see
	set  map[string]bool // systems it may see (or, with deny, may not)
	list []string        // set, sorted
	key  string          // fingerprint for result cache keys
}

// Everything is the scope of a fleet-wide reader.
func Everything() *Scope { return &Scope{all: true} }

// ScopeOf is what a reader of tenant sees: the systems claimed for it; for
// the default tenant every system not claimed for another (the systems
// never claimed are its own). In a lake where no other tenant owns a
// system that is every system, so a single-tenant deployment reads
// everything, unconfined, as before tenants existed. fleetWide (an admin
// over every tenant) sees everything.
func (m *Map) ScopeOf(tenant string, fleetWide bool) *Scope {
	if fleetWide {
		return Everything()
	}
	if tenant == "" {
		tenant = DefaultTenant
	}
	if s, ok := m.scopes.Load(tenant); ok {
		return s.(*Scope)
	}
	s := &Scope{set: map[string]bool{}}
	if tenant == DefaultTenant {
		s.deny = true
		for sys, t := range m.owner {
			if t != DefaultTenant {
				s.set[sys] = true
			}
		}
		if len(s.set) == 0 {
			s = Everything()
		}
	} else {
		for sys, t := range m.owner {
			if t == tenant {
				s.set[sys] = true
			}
		}
	}
	if !s.all {
		s.list = slices.Sorted(maps.Keys(s.set))
		h := sha256.New()
		fmt.Fprintf(h, "deny=%v\n", s.deny)
		for _, sys := range s.list {
			h.Write([]byte(sys))
			h.Write([]byte{'\n'})
		}
		s.key = "scope:" + hex.EncodeToString(h.Sum(nil)[:12])
	}
	actual, _ := m.scopes.LoadOrStore(tenant, s)
	return actual.(*Scope)
}

// All reports whether the scope sees every system (no confinement).
func (s *Scope) All() bool { return s.all }

// Allows reports whether the scope sees system sys.
func (s *Scope) Allows(sys string) bool {
	if s.all {
		return true
	}
	return s.set[sys] != s.deny
}

// Key fingerprints the scope for cache keys: "" for All, else the same
// string for the same set of systems.
func (s *Scope) Key() string { return s.key }

// List is the scope's systems, sorted: those it sees, or with deny those it
// does not. Meaningless when All.
func (s *Scope) List() (systems []string, deny bool) { return s.list, s.deny }

// Filter narrows systems (nil: any) to the scope. The result is nil only
// when both allow everything; an empty map sees nothing.
func (s *Scope) Filter(systems map[string]bool) map[string]bool {
	if s.all {
		return systems
	}
	out := map[string]bool{}
	if systems == nil {
		if s.deny {
			return nil // the caller must still filter rows: see Allows
		}
		for sys := range s.set {
			out[sys] = true
		}
		return out
	}
	for sys := range systems {
		if s.Allows(sys) {
			out[sys] = true
		}
	}
	return out
}

// Registry reads and writes the mapping of one lake. It is safe for
// concurrent use.
type Registry struct {
	store storage.Store
	log   *delta.Table

	mu   sync.Mutex // serialises refreshes and writes (which do I/O)
	snap *delta.Snapshot
	// cur is read without mu: every query request reads it, and must not
	// wait for a claim's round trips to S3.
	cur atomic.Pointer[Map]
}

// New returns the registry of the lake in store. It does no I/O: the table
// is read by Refresh and created by the first claim.
func New(store storage.Store) *Registry {
	r := &Registry{store: store, log: delta.NewTable(store, Table)}
	r.cur.Store(Empty())
	return r
}

// Current is the mapping last read or written, without I/O.
func (r *Registry) Current() *Map { return r.cur.Load() }

// Refresh reads the versions committed since the last read.
func (r *Registry) Refresh(ctx context.Context) (*Map, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshLocked(ctx)
}

func (r *Registry) refreshLocked(ctx context.Context) (*Map, error) {
	var snap *delta.Snapshot
	var err error
	if r.snap == nil {
		snap, err = r.log.Snapshot(ctx)
		if errors.Is(err, storage.ErrNotExist) {
			return r.cur.Load(), nil
		}
	} else {
		snap, err = r.log.Update(ctx, r.snap)
	}
	if err != nil {
		return nil, fmt.Errorf("tenants: read the %s table: %w", Table, err)
	}
	r.set(snap)
	return r.cur.Load(), nil
}

func (r *Registry) set(snap *delta.Snapshot) {
	if r.snap != nil && snap.Version <= r.snap.Version {
		return
	}
	r.snap = snap
	r.cur.Store(mapOf(snap))
}

// ensureLocked creates the table when it does not exist yet.
func (r *Registry) ensureLocked(ctx context.Context) error {
	if r.snap != nil {
		return nil
	}
	if _, err := r.refreshLocked(ctx); err != nil {
		return err
	}
	if r.snap != nil {
		return nil
	}
	snap, err := r.log.Create(ctx, delta.Metadata{
		Name: Table, SchemaString: schemaString,
		PartitionColumns: []string{}, Configuration: map[string]string{},
		Description: "Akosha: the tenant of each system (written by ingest and `akosha tenant move`)",
	})
	if errors.Is(err, storage.ErrExists) {
		_, err = r.refreshLocked(ctx)
		return err
	}
	if err != nil {
		return fmt.Errorf("tenants: create the %s table: %w", Table, err)
	}
	r.set(snap)
	return nil
}

// maxClaimTries bounds how often a claim re-reads the winners of races it
// lost before it gives up.
const maxClaimTries = 5

// Claim makes sure every system of systems belongs to tenant, claiming for
// it those nobody owns yet, in one commit, before their first records are
// written. A system another tenant owns refuses the whole claim with a
// *ForeignError, and nothing is claimed. Systems already tenant's cost
// nothing but a map lookup.
func (r *Registry) Claim(ctx context.Context, systems []string, tenant, by string) error {
	if tenant == "" {
		tenant = DefaultTenant
	}
	if !validName(tenant) {
		return fmt.Errorf("tenants: invalid tenant %q", tenant)
	}
	check := func(m *Map) ([]string, error) {
		var todo []string
		for _, sys := range systems {
			switch t, ok := m.owner[sys]; {
			case !ok:
				if !slices.Contains(todo, sys) {
					todo = append(todo, sys)
				}
			case t != tenant:
				return nil, &ForeignError{System: sys}
			}
		}
		return todo, nil
	}
	if todo, err := check(r.Current()); err != nil || len(todo) == 0 {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for try := 1; ; try++ {
		if err := r.ensureLocked(ctx); err != nil {
			return err
		}
		if _, err := r.refreshLocked(ctx); err != nil {
			return err
		}
		todo, err := check(r.cur.Load())
		if err != nil || len(todo) == 0 {
			return err
		}
		for _, sys := range todo {
			if !validName(sys) {
				return fmt.Errorf("tenants: invalid system_id %q", sys)
			}
		}
		now := time.Now().UTC()
		actions := []delta.Action{{CommitInfo: map[string]any{
			"operation": "AKOSHA TENANT CLAIM", "operationParameters": map[string]any{"tenant": tenant, "by": by, "systems": strings.Join(todo, ",")},
		}}}
		var written []string
		for _, sys := range todo {
			a, err := r.writeRow(ctx, Row{SystemID: sys, Tenant: tenant, CreatedAt: now, CreatedBy: by})
			if err != nil {
				r.discard(written)
				return err
			}
			written = append(written, Table+"/"+a.Path)
			actions = append(actions,
				delta.Action{Txn: &delta.Txn{AppID: claimAppID(sys), Version: 1, LastUpdated: now.UnixMilli()}},
				delta.Action{Add: &a})
		}
		res, err := r.log.Commit(ctx, r.snap, actions)
		if err == nil {
			r.set(res.Snapshot)
			// A first push of a large fleet claims thousands of systems
			// at once: the log line names a few and counts the rest.
			shown := todo
			if len(shown) > 10 {
				shown = shown[:10]
			}
			slog.Info("tenants: claimed systems", "tenant", tenant, "by", by, "count", len(todo), "systems", shown, "version", res.Version)
			return nil
		}
		if !errors.Is(err, delta.ErrTxnCommitted) && !errors.Is(err, delta.ErrConflict) {
			if !errors.Is(err, delta.ErrUnknownOutcome) {
				r.discard(written)
			}
			return fmt.Errorf("tenants: claim %v for %s: %w", todo, tenant, err)
		}
		// Lost a race for one of the systems: read who won and check again.
		r.discard(written)
		if try >= maxClaimTries {
			return fmt.Errorf("tenants: claim %v for %s: %w", todo, tenant, err)
		}
	}
}

func claimAppID(sys string) string { return "akosha-system:" + sys }

// Move gives system sys to tenant to: one commit that removes its row and
// adds the new one, logged with who asked. It answers the tenant it had.
// Moving an unclaimed system claims it for to.
func (r *Registry) Move(ctx context.Context, sys, to, by string) (from string, version int64, err error) {
	if !validName(sys) {
		return "", 0, fmt.Errorf("tenants: invalid system_id %q", sys)
	}
	if !validName(to) {
		return "", 0, fmt.Errorf("tenants: invalid tenant %q", to)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.ensureLocked(ctx); err != nil {
		return "", 0, err
	}
	if _, err := r.refreshLocked(ctx); err != nil {
		return "", 0, err
	}
	cur := r.cur.Load()
	from = cur.TenantOf(sys)
	if from == to && cur.Claimed(sys) {
		return from, r.snap.Version, nil
	}
	now := time.Now().UTC()
	a, err := r.writeRow(ctx, Row{SystemID: sys, Tenant: to, CreatedAt: now, CreatedBy: by})
	if err != nil {
		return "", 0, err
	}
	actions := []delta.Action{{CommitInfo: map[string]any{
		"operation":           "AKOSHA TENANT MOVE",
		"operationParameters": map[string]any{"system_id": sys, "from": from, "to": to, "by": by},
	}}}
	if old, ok := cur.files[sys]; ok {
		rm := old.RemoveAt(now.UnixMilli())
		actions = append(actions, delta.Action{Remove: &rm})
	} else {
		actions = append(actions, delta.Action{Txn: &delta.Txn{AppID: claimAppID(sys), Version: 1, LastUpdated: now.UnixMilli()}})
	}
	actions = append(actions, delta.Action{Add: &a})
	res, err := r.log.Commit(ctx, r.snap, actions)
	if err != nil {
		if !errors.Is(err, delta.ErrUnknownOutcome) {
			r.discard([]string{Table + "/" + a.Path})
		}
		return "", 0, fmt.Errorf("tenants: move %s from %s to %s (run it again): %w", sys, from, to, err)
	}
	r.set(res.Snapshot)
	slog.Warn("tenants: system moved between tenants", "system_id", sys, "from", from, "to", to, "by", by, "version", res.Version)
	return from, res.Version, nil
}

// writeRow writes one mapping file and returns its add action.
func (r *Registry) writeRow(ctx context.Context, row Row) (delta.Add, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[Row](&buf)
	if _, err := w.Write([]Row{row}); err != nil {
		return delta.Add{}, fmt.Errorf("tenants: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return delta.Add{}, fmt.Errorf("tenants: encode: %w", err)
	}
	path := ulid.Make().String() + ".parquet"
	if err := r.store.Put(ctx, Table+"/"+path, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		return delta.Add{}, fmt.Errorf("tenants: write %s: %w", path, err)
	}
	ts := row.CreatedAt.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
	stats, _ := json.Marshal(map[string]any{
		"numRecords": 1,
		"minValues":  map[string]string{"system_id": row.SystemID, "tenant": row.Tenant, "created_at": ts},
		"maxValues":  map[string]string{"system_id": row.SystemID, "tenant": row.Tenant, "created_at": ts},
		"nullCount":  map[string]int{"system_id": 0, "tenant": 0, "created_at": 0, "created_by": 0},
	})
	return delta.Add{
		Path: path, PartitionValues: map[string]*string{}, Size: int64(buf.Len()),
		ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: string(stats),
		Tags: map[string]string{TagSystem: row.SystemID, TagTenant: row.Tenant},
	}, nil
}

// discard deletes files that no commit names, on a deadline of its own.
func (r *Registry) discard(keys []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, k := range keys {
		if err := r.store.Delete(ctx, k); err != nil {
			slog.Warn("tenants: delete an uncommitted file (vacuum will)", "key", k, "err", err)
		}
	}
}
