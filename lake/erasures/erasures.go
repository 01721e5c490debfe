// Package erasures keeps the lake's erasure log (issue 16): what was
// forgotten, by whom, when, and how much; never what. It is a small Delta
// table `_erasures` beside memories, entities and relations, one row per
// delete (or per compaction pass that removed expired records), so that
// other engines read it as they read the rest of the lake, and a row, once
// committed, is as durable as the data commit it records.
//
// Why a table of its own and not a column or a commitInfo: the data tables'
// logs are pruned by vacuum and rewritten by every compaction, and the
// erasure record must outlive both; and a user asks "what was forgotten"
// across every table at once.
//
// Each row is written as one Parquet file whose add action carries the
// row's tenant and system as tags and its time as statistics, so a reader
// picks the files a question needs from the log alone and reads only
// those (List reads at most limit files).
//
// The table is not in lake.Tables: the jobs (compact, age, index, vacuum)
// iterate that list, so they never compact, age, index or vacuum the log.
// It is append-only: nothing in Akosha removes a row.
//
// Lakes written before the table existed hold one JSON object per erasure
// under _erasures/<UTC time>-<random>.json (the same prefix: the table's
// data files are named part-*.parquet and its log lives in _delta_log/, so
// the two never collide). They are read as they are, beside the table, and
// never imported: an import would have to be exactly-once across processes
// for no gain, and a process of the older version still running during an
// upgrade may write more of them. One caveat follows: to another engine
// they are files of the table directory the log does not name, so its
// VACUUM of _erasures (Spark, delta-rs) would delete them. Akosha's vacuum
// never touches the table.
package erasures

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
)

// Table is the erasure log's table name and key prefix in the lake.
const Table = "_erasures"

// Prefix is the key prefix of the table, and of the JSON erasure records
// written before it existed.
const Prefix = Table + "/"

// Operations a row records.
const (
	OpDelete = "delete" // a user's delete (REST, MCP, akosha delete)
	OpExpire = "expire" // compaction removed records past their expires_at
)

// Tags of a row file's add action, so readers filter without reading it.
const (
	TagTenant = "akosha.tenant"
	TagSystem = "akosha.system"
	TagWhen   = "akosha.when" // RFC 3339 with nanoseconds: exact, unlike the statistics
)

// Record is one erasure: who forgot what, when, and how much. It holds the
// filter (ids and labels) and counts, never content.
type Record struct {
	ID        string    `json:"id"`   // unique; ties in When sort by it
	When      time.Time `json:"when"` // the data commit's time
	Who       string    `json:"who"`  // the principal's name, cli:<user>, job:compact
	Tenant    string    `json:"tenant,omitempty"`
	Operation string    `json:"operation"`
	SystemID  string    `json:"system_id,omitempty"`
	// Filter is the delete's filter as JSON (table, system_id, project,
	// session_id, kind, before, ids, all_records_of_system).
	Filter  json.RawMessage        `json:"filter"`
	Deleted int64                  `json:"deleted"` // records removed, every table
	Tables  map[string]TableCounts `json:"tables"`
	// Key is the object holding the record: a Parquet file of the table,
	// or a legacy JSON object.
	Key string `json:"key"`
	// Legacy is set on records read from a JSON object written before the
	// table existed.
	Legacy bool `json:"legacy,omitempty"`
}

// TableCounts is what one erasure did to one table.
type TableCounts struct {
	Deleted int64 `json:"deleted"`
	Rows    int64 `json:"rows"`
	Files   int   `json:"files_rewritten"`
	Version int64 `json:"version,omitempty"`
}

// row is a Record as the table stores it.
type row struct {
	ID        string    `parquet:"id"`
	When      time.Time `parquet:"when,timestamp(microsecond)"`
	Who       string    `parquet:"who"`
	Tenant    string    `parquet:"tenant"`
	Operation string    `parquet:"operation"`
	SystemID  string    `parquet:"system_id"`
	Filter    string    `parquet:"filter"`
	Deleted   int64     `parquet:"deleted"`
	Tables    string    `parquet:"tables"`
}

const schemaString = `{"type":"struct","fields":[` +
	`{"name":"id","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"when","type":"timestamp","nullable":false,"metadata":{}},` +
	`{"name":"who","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"tenant","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"operation","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"system_id","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"filter","type":"string","nullable":false,"metadata":{}},` +
	`{"name":"deleted","type":"long","nullable":false,"metadata":{}},` +
	`{"name":"tables","type":"string","nullable":false,"metadata":{}}]}`

// statLayout is the statistics' timestamp form (millisecond precision, as
// Delta writers record them).
const statLayout = "2006-01-02T15:04:05.000Z07:00"

// Log reads and appends the erasure log of one lake. It is safe for
// concurrent use.
type Log struct {
	store storage.Store
	log   *delta.Table

	mu   sync.Mutex // serialises refreshes and appends
	snap *delta.Snapshot
}

// New returns the log of the lake in store. It does no I/O: the table is
// created by the first Append.
func New(store storage.Store) *Log {
	return &Log{store: store, log: delta.NewTable(store, Table)}
}

// refreshLocked reads the versions committed since the last read; with no
// table yet it leaves snap nil.
func (l *Log) refreshLocked(ctx context.Context) error {
	var snap *delta.Snapshot
	var err error
	if l.snap == nil {
		snap, err = l.log.Snapshot(ctx)
		if errors.Is(err, storage.ErrNotExist) {
			return nil
		}
	} else {
		snap, err = l.log.Update(ctx, l.snap)
	}
	if err != nil {
		return fmt.Errorf("erasures: read the %s table: %w", Table, err)
	}
	l.set(snap)
	return nil
}

func (l *Log) set(snap *delta.Snapshot) {
	if l.snap == nil || snap.Version > l.snap.Version {
		l.snap = snap
	}
}

// ensureLocked creates the table when it does not exist yet.
func (l *Log) ensureLocked(ctx context.Context) error {
	if err := l.refreshLocked(ctx); err != nil || l.snap != nil {
		return err
	}
	snap, err := l.log.Create(ctx, delta.Metadata{
		Name: Table, SchemaString: schemaString,
		PartitionColumns: []string{}, Configuration: map[string]string{},
		Description: "Akosha: the erasure log, one row per delete or expiry (who, when, filter, counts; never content)",
	})
	if errors.Is(err, storage.ErrExists) {
		return l.refreshLocked(ctx) // another process created it first
	}
	if err != nil {
		return fmt.Errorf("erasures: create the %s table: %w", Table, err)
	}
	l.set(snap)
	return nil
}

// Append commits rec as one row and returns it as stored (ID and Key set,
// When in microseconds). A zero When is now. The row is durable when Append
// returns nil; appends never conflict with each other.
func (l *Log) Append(ctx context.Context, rec Record) (Record, error) {
	if rec.When.IsZero() {
		rec.When = time.Now()
	}
	rec.When = rec.When.UTC().Truncate(time.Microsecond)
	if rec.ID == "" {
		rec.ID = ulid.Make().String()
	}
	if len(rec.Filter) == 0 {
		rec.Filter = json.RawMessage("{}")
	}
	if string(objectOr(string(rec.Filter))) != string(rec.Filter) {
		return Record{}, fmt.Errorf("erasures: the filter is not a JSON object")
	}
	tables, err := json.Marshal(rec.Tables)
	if err != nil {
		return Record{}, fmt.Errorf("erasures: encode the counts: %w", err)
	}
	r := row{ID: rec.ID, When: rec.When, Who: rec.Who, Tenant: rec.Tenant, Operation: rec.Operation,
		SystemID: rec.SystemID, Filter: string(rec.Filter), Deleted: rec.Deleted, Tables: string(tables)}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	if _, err := w.Write([]row{r}); err != nil {
		return Record{}, fmt.Errorf("erasures: encode: %w", err)
	}
	if err := w.Close(); err != nil {
		return Record{}, fmt.Errorf("erasures: encode: %w", err)
	}
	path := "part-" + rec.ID + ".parquet"
	rec.Key = Prefix + path
	if err := l.store.Put(ctx, rec.Key, bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
		return Record{}, fmt.Errorf("erasures: write %s: %w", rec.Key, err)
	}
	// Delta statistics hold milliseconds: truncated, a bound still holds.
	ts := rec.When.Truncate(time.Millisecond).Format(statLayout)
	stats, _ := json.Marshal(map[string]any{
		"numRecords": 1,
		"minValues":  map[string]any{"when": ts, "deleted": rec.Deleted},
		"maxValues":  map[string]any{"when": ts, "deleted": rec.Deleted},
		"nullCount":  map[string]int{"id": 0, "when": 0, "who": 0, "tenant": 0, "operation": 0, "system_id": 0, "filter": 0, "deleted": 0, "tables": 0},
	})
	add := delta.Add{
		Path: path, PartitionValues: map[string]*string{}, Size: int64(buf.Len()),
		ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: string(stats),
		Tags: map[string]string{TagTenant: rec.Tenant, TagSystem: rec.SystemID, TagWhen: rec.When.Format(time.RFC3339Nano)},
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.ensureLocked(ctx); err != nil {
		l.discard(rec.Key)
		return Record{}, err
	}
	res, err := l.log.Commit(ctx, l.snap, []delta.Action{
		{CommitInfo: map[string]any{"operation": "AKOSHA ERASURE", "engineInfo": "akosha",
			"operationParameters": map[string]any{"who": rec.Who, "operation": rec.Operation, "deleted": rec.Deleted}}},
		{Add: &add},
	})
	if err != nil {
		if !errors.Is(err, delta.ErrUnknownOutcome) {
			l.discard(rec.Key)
		}
		return Record{}, fmt.Errorf("erasures: commit the record: %w", err)
	}
	l.set(res.Snapshot)
	return rec, nil
}

// discard deletes a row file no commit names, on a deadline of its own.
func (l *Log) discard(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = l.store.Delete(ctx, key) // left behind, it is an orphan no reader sees
}

// Query selects records: Since <= When < Until (zero: unbounded), those
// Visible allows (nil: all), newest first, at most Limit (0: 100).
type Query struct {
	Since, Until time.Time
	Limit        int
	// Visible reports whether the caller may see a record of tenant and
	// system (either may be "": a fleet-wide job's record, or a legacy
	// record's unrecorded tenant).
	Visible func(tenant, system string) bool
}

func (q Query) inWindow(t time.Time) bool {
	return (q.Since.IsZero() || !t.Before(q.Since)) && (q.Until.IsZero() || t.Before(q.Until))
}

func (q Query) visible(tenant, system string) bool {
	return q.Visible == nil || q.Visible(tenant, system)
}

// List answers q from the table and the legacy JSON objects, newest first
// (When, then ID, descending), and whether more records matched than
// Limit.
func (l *Log) List(ctx context.Context, q Query) ([]Record, bool, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	l.mu.Lock()
	err := l.refreshLocked(ctx)
	snap := l.snap
	l.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	var out []Record
	more := false
	if snap != nil {
		recs, m, err := l.listTable(ctx, snap, q)
		if err != nil {
			return nil, false, err
		}
		out, more = append(out, recs...), m
	}
	recs, m, err := l.listLegacy(ctx, q)
	if err != nil {
		return nil, false, err
	}
	out, more = append(out, recs...), more || m
	sortNewestFirst(out)
	if len(out) > q.Limit {
		out, more = out[:q.Limit], true
	}
	return out, more, nil
}

func sortNewestFirst(recs []Record) {
	slices.SortFunc(recs, func(a, b Record) int {
		if c := b.When.Compare(a.When); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// listTable reads the newest q.Limit rows q selects: the add actions'
// tags and times pick the files, and only those are read.
func (l *Log) listTable(ctx context.Context, snap *delta.Snapshot, q Query) ([]Record, bool, error) {
	type cand struct {
		add  delta.Add
		when time.Time
	}
	var cands []cand
	for a := range snap.AllFiles() {
		when, err := time.Parse(time.RFC3339Nano, a.Tags[TagWhen])
		if err != nil {
			// Not one of ours (another engine appended it): read it, and
			// let its rows' times decide.
			cands = append(cands, cand{add: a, when: time.Unix(1<<40, 0)})
			continue
		}
		if !q.inWindow(when) || !q.visible(a.Tags[TagTenant], a.Tags[TagSystem]) {
			continue
		}
		cands = append(cands, cand{add: a, when: when})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := b.when.Compare(a.when); c != 0 {
			return c
		}
		return strings.Compare(b.add.Path, a.add.Path)
	})
	var out []Record
	for i, c := range cands {
		if len(out) >= q.Limit {
			return out, i < len(cands), nil
		}
		recs, err := l.readFile(ctx, c.add)
		if err != nil {
			return nil, false, err
		}
		for _, r := range recs {
			if q.inWindow(r.When) && q.visible(r.Tenant, r.SystemID) {
				out = append(out, r)
			}
		}
	}
	return out, false, nil
}

// readFile reads the rows of one file of the table.
func (l *Log) readFile(ctx context.Context, a delta.Add) ([]Record, error) {
	key, err := l.log.DataKey(a.Path)
	if err != nil {
		return nil, fmt.Errorf("erasures: %w", err)
	}
	body, err := l.store.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("erasures: read %s: %w", key, err)
	}
	b, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return nil, fmt.Errorf("erasures: read %s: %w", key, err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("erasures: open %s: %w", key, err)
	}
	rd := parquet.NewGenericReader[row](f)
	defer rd.Close()
	rows := make([]row, rd.NumRows())
	n, err := rd.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("erasures: decode %s: %w", key, err)
	}
	out := make([]Record, 0, n)
	for _, r := range rows[:n] {
		rec := Record{ID: r.ID, When: r.When.UTC(), Who: r.Who, Tenant: r.Tenant, Operation: r.Operation,
			SystemID: r.SystemID, Filter: objectOr(r.Filter), Deleted: r.Deleted, Key: key}
		if err := json.Unmarshal([]byte(r.Tables), &rec.Tables); err != nil {
			rec.Tables = nil
		}
		out = append(out, rec)
	}
	return out, nil
}

// legacyTime is the time in a legacy record's key.
const legacyTime = "20060102T150405.000000000Z"

// listLegacy reads the JSON records written before the table existed.
// Their keys start with their UTC time, so the window and the order come
// from the listing; only the objects shown (and those a Visible filter
// must look into) are read. Their keys start with the year ("_erasures/2"):
// the table's own objects (part-*, _delta_log/) are never listed.
func (l *Log) listLegacy(ctx context.Context, q Query) ([]Record, bool, error) {
	objs, err := l.store.List(ctx, Prefix+"2")
	if err != nil {
		return nil, false, fmt.Errorf("erasures: list %s: %w", Prefix, err)
	}
	slices.Reverse(objs) // newest first: the key starts with the time
	var out []Record
	for i, o := range objs {
		name := strings.TrimPrefix(o.Key, Prefix)
		if strings.Contains(name, "/") || !strings.HasSuffix(name, ".json") || len(name) < len(legacyTime) {
			continue
		}
		when, err := time.Parse(legacyTime, name[:len(legacyTime)])
		if err != nil || !q.inWindow(when) {
			continue
		}
		if len(out) >= q.Limit {
			return out, i < len(objs), nil
		}
		rec, err := l.readLegacy(ctx, o.Key, when)
		if err != nil {
			return nil, false, err
		}
		if q.inWindow(rec.When) && q.visible(rec.Tenant, rec.SystemID) {
			out = append(out, rec)
		}
	}
	return out, false, nil
}

// readLegacy reads one JSON erasure record: {who, when, filter, deleted,
// tables}, as functions/ingest and jobs/compact wrote them.
func (l *Log) readLegacy(ctx context.Context, key string, keyTime time.Time) (Record, error) {
	body, err := l.store.Get(ctx, key, 0, -1)
	if err != nil {
		return Record{}, fmt.Errorf("erasures: read %s: %w", key, err)
	}
	b, err := io.ReadAll(io.LimitReader(body, 16<<20))
	body.Close()
	if err != nil {
		return Record{}, fmt.Errorf("erasures: read %s: %w", key, err)
	}
	var j struct {
		Who     string                 `json:"who"`
		When    time.Time              `json:"when"`
		Filter  json.RawMessage        `json:"filter"`
		Deleted int64                  `json:"deleted"`
		Tables  map[string]TableCounts `json:"tables"`
	}
	rec := Record{ID: strings.TrimSuffix(strings.TrimPrefix(key, Prefix), ".json"), When: keyTime, Key: key, Legacy: true,
		Operation: OpDelete, Filter: json.RawMessage("{}")}
	if err := json.Unmarshal(b, &j); err != nil {
		// Shown rather than hidden: an audit must not lose a record
		// because it is damaged; its time and key still say something.
		rec.Who = "unknown (unreadable record)"
		return rec, nil
	}
	rec.Who, rec.Deleted, rec.Tables = j.Who, j.Deleted, j.Tables
	if !j.When.IsZero() {
		rec.When = j.When.UTC()
	}
	rec.Filter = objectOr(string(j.Filter))
	var f struct {
		SystemID string `json:"system_id"`
		Expired  any    `json:"expired_at_or_before"`
	}
	_ = json.Unmarshal(rec.Filter, &f)
	rec.SystemID = f.SystemID
	if f.Expired != nil || strings.HasPrefix(j.Who, "job:") {
		rec.Operation = OpExpire
	}
	return rec, nil
}

// objectOr is s when it is a JSON object, else {}: a row written by
// another engine, or a damaged legacy record, still answers in the
// documented shape.
func objectOr(s string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(s), &m) != nil || m == nil {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}
