package ingest

// Forgetting (issue 16): DELETE /v1/{memories,entities,relations}/{system_id}/{id}
// and POST /v1/delete with a filter. The ingest function is the lake's
// writer, so deletes live here and `akosha serve` serves them too.
//
// A delete is a Delta copy-on-write rewrite: the files that may hold the
// system (file statistics, lake.MayHoldSystem) are read by their key
// columns only (system_id, id and the filtered ones), each file holding a
// matching row is rewritten without those rows (lake.Table.WithoutRows),
// and one commit per table removes the old files and adds the copies, both
// with dataChange=true, after a commitInfo whose operation is
// "AKOSHA DELETE" with the predicate (never content). The commit lands
// before the answer, so the query side's next snapshot (same process: at
// once; others: their next poll) no longer holds the rows, and its result
// caches, keyed by snapshot version, cannot answer with them. A commit that
// loses a race with compaction or a tier move (one of its inputs removed)
// is planned again against the new snapshot and retried; concurrent
// appends never conflict, so no other record is lost.
//
// Every delete that removed something leaves an erasure record: one row of
// the lake's erasure log (lake/erasures, the Delta table _erasures) with
// who (the principal's name), when, the system's tenant, the filter, and
// the counts; never content. It is committed after the data and before the
// answer, so an acknowledged delete is logged. When the log's commit fails
// (after a few tries) the delete stands, since the data commit landed and
// cannot be taken back, and the answer says so in `warning` (with an
// error log line and akosha_erasure_log_failures_total): answering an
// error instead would invite a retry, which finds nothing to delete and
// so would log nothing either. Dry runs and deletes that removed nothing
// write no row.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/internal/mcp"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/schemas"
)

// DeleteOperation is the commitInfo operation of a delete's commits.
const DeleteOperation = "AKOSHA DELETE"

// ErasuresPrefix is where erasure records are written, at the lake root.
const ErasuresPrefix = lake.ErasuresPrefix

// maxDeleteIDs bounds the ids of one filter; more go in several requests.
const maxDeleteIDs = 10000

// maxDeleteBody bounds a POST /v1/delete body: 10,000 ids of 200 characters.
const maxDeleteBody = 4 << 20

// DeleteFilter names the records a delete removes: every criterion given
// must hold (AND). system_id is required; a filter that names no narrower
// criterion erases every record of the system (in table, when given) and
// needs all_records_of_system and the admin role.
type DeleteFilter struct {
	Table              string     `json:"table,omitempty"`
	SystemID           string     `json:"system_id"`
	Project            string     `json:"project,omitempty"`
	SessionID          string     `json:"session_id,omitempty"`
	Kind               string     `json:"kind,omitempty"`
	Before             *time.Time `json:"before,omitempty"` // created_at strictly before
	IDs                []string   `json:"ids,omitempty"`
	AllRecordsOfSystem bool       `json:"all_records_of_system,omitempty"`
}

// deleteRequest is the body of POST /v1/delete.
type deleteRequest struct {
	DeleteFilter
	DryRun bool `json:"dry_run,omitempty"`
}

// DeleteResponse answers a delete (api/openapi.yaml, DeleteResponse).
type DeleteResponse struct {
	Deleted int64                  `json:"deleted"` // records removed (or, on a dry run, that would be)
	DryRun  bool                   `json:"dry_run"`
	Tables  map[string]TableDelete `json:"tables"`
	// Erasure is the key of the object holding the erasure log's row, when
	// one was written.
	Erasure string `json:"erasure,omitempty"`
	// Warning says the delete happened but its erasure record was not
	// written (the log's commit failed).
	Warning string `json:"warning,omitempty"`
}

// TableDelete is what a delete did to one table.
type TableDelete struct {
	Deleted  int64 `json:"deleted"`            // records (system_id, id) removed
	Rows     int64 `json:"rows"`               // rows removed, older versions included
	Files    int   `json:"files_rewritten"`    // files removed or rewritten
	Version  int64 `json:"version,omitempty"`  // the commit, when one was made
	Attempts int   `json:"attempts,omitempty"` // tries, when more than one
}

// memoryOnly are the criteria only memories have.
func (f DeleteFilter) memoryOnly() []string {
	var s []string
	if f.Project != "" {
		s = append(s, "project")
	}
	if f.SessionID != "" {
		s = append(s, "session_id")
	}
	if f.Kind != "" {
		s = append(s, "kind")
	}
	return s
}

// narrow reports whether f names something narrower than a whole system.
func (f DeleteFilter) narrow() bool {
	return len(f.memoryOnly()) > 0 || f.Before != nil || len(f.IDs) > 0
}

// check validates f and returns the tables it applies to: its table, or
// every table that has the columns it filters on.
func (f *DeleteFilter) check() ([]string, error) {
	invalid := func(format string, args ...any) error {
		return httpx.Errorf(http.StatusUnprocessableEntity, "invalid_filter", format, args...)
	}
	if f.SystemID == "" {
		return nil, invalid("system_id is required: a delete names the system it removes records of")
	}
	if msg := schemas.CheckSystemID(f.SystemID); msg != "" {
		return nil, invalid("system_id %s", msg)
	}
	if len(f.IDs) > maxDeleteIDs {
		return nil, invalid("at most %d ids in one request (got %d)", maxDeleteIDs, len(f.IDs))
	}
	for i, id := range f.IDs {
		if msg := schemas.CheckID(id); msg != "" {
			return nil, invalid("ids[%d] %s", i, msg)
		}
	}
	if f.Kind != "" && !slices.Contains([]string{"conversation", "reflection", "memory"}, f.Kind) {
		return nil, invalid("kind must be conversation, reflection or memory (got %q)", f.Kind)
	}
	for name, v := range map[string]string{"project": f.Project, "session_id": f.SessionID} {
		if len(v) > 1000 {
			return nil, invalid("%s is longer than 1000 bytes", name)
		}
	}
	if f.Before != nil && f.Before.IsZero() {
		return nil, invalid("before must be a time (RFC 3339)")
	}
	if f.AllRecordsOfSystem && f.narrow() {
		return nil, invalid("all_records_of_system erases the whole system: give it alone with system_id (and table), or drop it and keep the criteria")
	}
	if !f.AllRecordsOfSystem && !f.narrow() {
		return nil, invalid("the filter names no records: give ids, project, session_id, kind or before; " +
			"to erase every record of the system, an admin sets all_records_of_system: true")
	}
	mem := f.memoryOnly()
	switch {
	case f.Table == "" && len(mem) > 0:
		return []string{schemas.TableMemories}, nil
	case f.Table == "":
		return slices.Clone(lake.Tables), nil
	case !slices.Contains(lake.Tables, f.Table):
		return nil, invalid("table must be memories, entities or relations (got %q)", f.Table)
	case f.Table != schemas.TableMemories && len(mem) > 0:
		return nil, invalid("%s have no %s: only memories do", f.Table, strings.Join(mem, ", "))
	}
	return []string{f.Table}, nil
}

// authorize refuses a principal the filter's system or a whole-system
// erasure it may not make. Without auth (akosha serve --dev) everything is
// allowed.
func (f *DeleteFilter) authorize(ctx context.Context) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil
	}
	if !p.CanWrite() {
		return httpx.Errorf(http.StatusForbidden, httpx.CodeForbidden, "role %s may not delete", p.Role)
	}
	if !p.AllowsSystem(f.SystemID) {
		return httpx.Errorf(http.StatusForbidden, httpx.CodeForbidden, "this token may not delete records of system %q", f.SystemID)
	}
	if f.AllRecordsOfSystem && !p.IsAdmin() {
		return httpx.Errorf(http.StatusForbidden, httpx.CodeForbidden, "erasing every record of a system needs the admin role")
	}
	return nil
}

// predicate is the delete's condition as SQL text for the commitInfo: the
// filter's values, which are ids and labels, never content.
func (f DeleteFilter) predicate() string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	parts := []string{"system_id = " + q(f.SystemID)}
	if len(f.IDs) > 0 {
		ids := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			ids[i] = q(id)
		}
		parts = append(parts, "id IN ("+strings.Join(ids, ", ")+")")
	}
	if f.Project != "" {
		parts = append(parts, "project = "+q(f.Project))
	}
	if f.SessionID != "" {
		parts = append(parts, "session_id = "+q(f.SessionID))
	}
	if f.Kind != "" {
		parts = append(parts, "kind = "+q(f.Kind))
	}
	if f.Before != nil {
		parts = append(parts, "created_at < "+q(f.Before.UTC().Format(time.RFC3339Nano)))
	}
	return strings.Join(parts, " AND ")
}

// columns are the columns a filter reads of each row: system_id and id
// first, then the filtered ones.
func (f DeleteFilter) columns() []string {
	cols := []string{"system_id", "id"}
	if f.Project != "" {
		cols = append(cols, "project")
	}
	if f.SessionID != "" {
		cols = append(cols, "session_id")
	}
	if f.Kind != "" {
		cols = append(cols, "kind")
	}
	if f.Before != nil {
		cols = append(cols, "created_at")
	}
	return cols
}

// matcher returns a test of one row's values (in columns() order, a null
// string being nil) against f.
func (f DeleteFilter) matcher() func(strs []*string, created int64) bool {
	ids := map[string]bool{}
	for _, id := range f.IDs {
		ids[id] = true
	}
	want := []string{f.SystemID, ""}
	for _, v := range []string{f.Project, f.SessionID, f.Kind} {
		if v != "" {
			want = append(want, v)
		}
	}
	var before int64
	if f.Before != nil {
		before = f.Before.UnixMicro()
	}
	return func(strs []*string, created int64) bool {
		if strs[0] == nil || *strs[0] != f.SystemID {
			return false
		}
		if len(ids) > 0 && (strs[1] == nil || !ids[*strs[1]]) {
			return false
		}
		for c := 2; c < len(want); c++ {
			if strs[c] == nil || *strs[c] != want[c] {
				return false
			}
		}
		return f.Before == nil || created < before
	}
}

// tablePlan is the rows a delete removes from one table's snapshot.
type tablePlan struct {
	version int64
	files   []delta.Add
	drop    map[string]map[int64]bool // path -> row numbers
	records map[string]bool           // ids removed
	rows    int64
}

// planTableDelete finds the rows of t's newest snapshot that f matches.
func planTableDelete(ctx context.Context, t *lake.Table, f DeleteFilter) (*tablePlan, error) {
	snap, err := t.Refresh(ctx)
	if err != nil {
		return nil, err
	}
	p := &tablePlan{version: snap.Version, drop: map[string]map[int64]bool{}, records: map[string]bool{}}
	cols := f.columns()
	match := f.matcher()
	nStr := len(cols)
	if f.Before != nil {
		nStr--
	}
	files := snap.Files()
	slices.SortFunc(files, func(a, b delta.Add) int { return strings.Compare(a.Path, b.Path) })
	for _, a := range files {
		if !lake.MayHoldSystem(a, f.SystemID) {
			continue
		}
		strs := make([][]*string, nStr)
		var created []int64
		_, missing, err := t.ReadColumns(ctx, a, cols, func(c int, v parquet.Value) {
			if c >= nStr {
				created = append(created, v.Int64())
				return
			}
			if v.IsNull() {
				strs[c] = append(strs[c], nil)
				return
			}
			s := v.String()
			strs[c] = append(strs[c], &s)
		})
		if err != nil {
			return nil, fmt.Errorf("read keys of %s: %w", a.Path, err)
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s has no column %s", a.Path, strings.Join(missing, ", "))
		}
		row := make([]*string, nStr)
		for r := range strs[0] {
			for c := range row {
				row[c] = strs[c][r]
			}
			var ts int64
			if created != nil {
				ts = created[r]
			}
			if !match(row, ts) {
				continue
			}
			if p.drop[a.Path] == nil {
				p.drop[a.Path] = map[int64]bool{}
				p.files = append(p.files, a)
			}
			p.drop[a.Path][int64(r)] = true
			p.records[*row[1]] = true
			p.rows++
		}
	}
	return p, nil
}

// beforeDeleteCommit, when set (tests only), runs between a delete's
// staging and its commit: where a race with another rewrite is lost.
var beforeDeleteCommit func(attempt int)

// deleteFromTable plans and (unless dryRun) commits f's delete from one
// table, planning again when the commit lost a race with another rewrite.
func deleteFromTable(ctx context.Context, t *lake.Table, f DeleteFilter, dryRun bool, retry lake.Retry, log *slog.Logger) (TableDelete, error) {
	var res TableDelete
	var lost error
	err := retry.Do(ctx, func(attempt int) (bool, error) {
		res = TableDelete{Attempts: attempt}
		p, err := planTableDelete(ctx, t, f)
		if err != nil {
			return false, err
		}
		res.Deleted, res.Rows, res.Files = int64(len(p.records)), p.rows, len(p.files)
		if dryRun || len(p.files) == 0 {
			return false, nil
		}
		var outs []lake.DataFile
		for _, a := range p.files {
			out, err := t.WithoutRows(ctx, a, p.drop[a.Path], lake.DefaultLayouts())
			if err != nil {
				lake.Discard(t.Log.Store(), outs, log)
				return false, fmt.Errorf("rewrite %s without %d rows: %w", a.Path, len(p.drop[a.Path]), err)
			}
			if out != nil {
				outs = append(outs, *out)
			}
		}
		if beforeDeleteCommit != nil {
			beforeDeleteCommit(attempt)
		}
		cr, err := t.Replace(ctx, p.files, outs, true, map[string]any{
			"operation":  DeleteOperation,
			"engineInfo": "akosha-ingest",
			"operationParameters": map[string]any{
				"predicate": f.predicate(), "rowsRemoved": p.rows, "recordsRemoved": len(p.records),
			},
		}, log)
		if errors.Is(err, delta.ErrConflict) {
			lost = err
			return true, nil
		}
		if err != nil {
			return false, err
		}
		lost = nil
		res.Version = cr.Version
		return false, nil
	})
	if err == nil && lost != nil {
		err = fmt.Errorf("every try lost a race with another rewrite of %s: %w", t.Name, lost)
	}
	if res.Attempts == 1 {
		res.Attempts = 0
	}
	return res, err
}

// Delete removes the records f names from every table it applies to, one
// commit per table, and writes the erasure record. who names the caller.
// Each table's commit is atomic; a failure after one table committed
// leaves that table's delete done, and repeating the request is safe
// (it finds nothing more there).
func (f *Function) Delete(ctx context.Context, filter DeleteFilter, dryRun bool, who string) (DeleteResponse, error) {
	tables, err := filter.check()
	if err != nil {
		return DeleteResponse{}, err
	}
	resp := DeleteResponse{DryRun: dryRun, Tables: map[string]TableDelete{}}
	for _, name := range tables {
		t, err := f.lake.Table(name)
		if err != nil {
			return resp, err
		}
		td, err := deleteFromTable(ctx, t, filter, dryRun, f.retry, slog.Default())
		if err != nil {
			return resp, httpx.Errorf(http.StatusServiceUnavailable, "delete_failed",
				"delete from %s failed (tables before it are done; repeating the request is safe): %v", name, err)
		}
		resp.Tables[name] = td
		resp.Deleted += td.Deleted
		if !dryRun {
			f.metrics.deleted.WithLabelValues(name).Add(float64(td.Deleted))
		}
	}
	if dryRun || resp.Deleted == 0 {
		return resp, nil
	}
	rec, err := f.logErasure(ctx, filter, who, resp)
	if err != nil {
		// The rows are gone; the record of it is not. Say so loudly,
		// in the log and in the answer, rather than answer an error for
		// a delete that happened (see the package comment).
		f.metrics.erasureLogFailures.Inc()
		slog.Error("delete: erasure record not written", "err", err, "who", who, "system_id", filter.SystemID, "deleted", resp.Deleted)
		resp.Warning = "the records were deleted, but the erasure log's record of it was not written: " + err.Error()
		return resp, nil
	}
	resp.Erasure = rec.Key
	return resp, nil
}

// erasureLogTries and erasureLogTimeout bound how long a delete's answer
// waits for its erasure record after the data commit landed.
const (
	erasureLogTries   = 3
	erasureLogTimeout = 30 * time.Second
)

// logErasure appends the delete's row to the erasure log. It runs after the
// data commit, so the caller hanging up must not stop it: it gets a
// deadline of its own.
func (f *Function) logErasure(ctx context.Context, filter DeleteFilter, who string, resp DeleteResponse) (erasures.Record, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), erasureLogTimeout)
	defer cancel()
	fj, err := json.Marshal(filter)
	if err != nil {
		return erasures.Record{}, fmt.Errorf("encode the filter: %w", err)
	}
	// The system's tenant as of the delete, read afresh (ownsSystem did
	// for a tenant's caller; a fleet-wide admin's may be stale), so that
	// the tenant's operators see the row.
	m := f.lake.Tenants().Current()
	if fresh, err := f.lake.Tenants().Refresh(ctx); err == nil {
		m = fresh
	}
	rec := erasures.Record{
		When: time.Now(), Who: who, Tenant: m.TenantOf(filter.SystemID), Operation: erasures.OpDelete,
		SystemID: filter.SystemID, Filter: fj, Deleted: resp.Deleted, Tables: map[string]erasures.TableCounts{},
	}
	for name, td := range resp.Tables {
		rec.Tables[name] = erasures.TableCounts{Deleted: td.Deleted, Rows: td.Rows, Files: td.Files, Version: td.Version}
	}
	// Each try is a new row (Append gives it a new id): a try whose
	// outcome stayed unknown may have landed, and its file must not be
	// reused or discarded by the next. At worst that logs a delete twice,
	// never not at all.
	var out erasures.Record
	var last error
	retry := lake.Retry{Attempts: erasureLogTries, Base: 100 * time.Millisecond, Max: time.Second}
	err = retry.Do(ctx, func(int) (bool, error) {
		out, last = appendErasure(ctx, f.lake.Erasures(), rec)
		return last != nil, nil
	})
	if err == nil {
		err = last
	}
	return out, err
}

// appendErasure is the erasure log's append; tests replace it to make the
// log fail after the data commit.
var appendErasure = func(ctx context.Context, l *erasures.Log, rec erasures.Record) (erasures.Record, error) {
	return l.Append(ctx, rec)
}

func principalName(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok && p.Name != "" {
		return p.Name
	}
	return "anonymous"
}

// serveDeleteFilter serves POST /v1/delete.
func (f *Function) serveDeleteFilter(w http.ResponseWriter, r *http.Request) {
	body, err := httpx.ReadBody(w, r, min(f.cfg.MaxBodyBytes, maxDeleteBody))
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	var req deleteRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		switch {
		case strings.Contains(err.Error(), "unknown field"):
			httpx.WriteError(w, http.StatusBadRequest, "unknown_field", err.Error()+
				" (a delete takes table, system_id, project, session_id, kind, before, ids, all_records_of_system and dry_run)")
		case errors.Is(err, io.EOF):
			httpx.WriteError(w, http.StatusBadRequest, httpx.CodeMalformedJSON, `the body needs a filter: {"system_id": "...", "ids": [...]}`)
		default:
			httpx.WriteError(w, http.StatusBadRequest, httpx.CodeMalformedJSON, "decode delete request: "+err.Error())
		}
		return
	}
	if dec.More() {
		httpx.WriteError(w, http.StatusBadRequest, httpx.CodeMalformedJSON, "body holds more than one JSON value")
		return
	}
	f.serveDelete(w, r, req.DeleteFilter, req.DryRun, false)
}

// serveDeleteOne serves DELETE /v1/{table}/{system_id}/{id}; ?dry_run=true
// only counts.
func (f *Function) serveDeleteOne(table string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		filter := DeleteFilter{Table: table, SystemID: r.PathValue("system_id"), IDs: []string{r.PathValue("id")}}
		dry := false
		switch v := r.URL.Query().Get("dry_run"); v {
		case "", "false":
		case "true":
			dry = true
		default:
			httpx.WriteError(w, http.StatusBadRequest, "invalid_query", "dry_run must be true or false")
			return
		}
		f.serveDelete(w, r, filter, dry, true)
	}
}

func (f *Function) serveDelete(w http.ResponseWriter, r *http.Request, filter DeleteFilter, dry, one bool) {
	if _, err := filter.check(); err != nil {
		httpx.WriteErr(w, err)
		return
	}
	if err := filter.authorize(r.Context()); err != nil {
		httpx.WriteErr(w, err)
		return
	}
	if err := f.ownsSystem(r.Context(), filter.SystemID); err != nil {
		httpx.WriteErr(w, err)
		return
	}
	resp, err := f.Delete(r.Context(), filter, dry, principalName(r.Context()))
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	if one && resp.Deleted == 0 {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound,
			fmt.Sprintf("no record %s/%s in %s", filter.SystemID, filter.IDs[0], filter.Table))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, resp)
}

// MCP tools: delete_memory (one memory by id) and forget (a filter). They
// live on the ingest function's /mcp, which can write; in akosha serve the
// one /mcp lists them beside the query tools.
var deleteTools = []mcp.Tool{
	tool("delete_memory", "Delete one memory (every version of it) of a system. Committed before the answer; an erasure record is kept (no content).",
		obj(map[string]any{
			"system_id": str("the memory's system"),
			"memory_id": str("the memory's id"),
			"dry_run":   map[string]any{"type": "boolean", "description": "count only"},
		}, "system_id", "memory_id")),
	tool("forget", "Delete the records a filter names: system_id (required) and any of ids, project, session_id, kind, before, table. "+
		"Erasing a whole system needs all_records_of_system and the admin role. Answers how many records were removed.",
		obj(map[string]any{
			"table":                 str("memories, entities or relations (default: every table with the filtered columns)"),
			"system_id":             str("the system"),
			"project":               str("memories of this project"),
			"session_id":            str("memories of this session"),
			"kind":                  str("conversation, reflection or memory"),
			"before":                str("records created before this RFC 3339 time"),
			"ids":                   map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"all_records_of_system": map[string]any{"type": "boolean", "description": "erase every record of the system (admin)"},
			"dry_run":               map[string]any{"type": "boolean", "description": "count only"},
		}, "system_id")),
}

func (f *Function) toolDeleteMemory(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var a struct {
		SystemID string `json:"system_id"`
		MemoryID string `json:"memory_id"`
		DryRun   bool   `json:"dry_run"`
	}
	if err := strictJSON(args, &a); err != nil {
		return nil, err
	}
	return f.toolDelete(r, DeleteFilter{Table: schemas.TableMemories, SystemID: a.SystemID, IDs: []string{a.MemoryID}}, a.DryRun)
}

func (f *Function) toolForget(r *http.Request, args json.RawMessage) (map[string]any, error) {
	var req deleteRequest
	if err := strictJSON(args, &req); err != nil {
		return nil, err
	}
	return f.toolDelete(r, req.DeleteFilter, req.DryRun)
}

func (f *Function) toolDelete(r *http.Request, filter DeleteFilter, dry bool) (map[string]any, error) {
	if _, err := filter.check(); err != nil {
		return nil, err
	}
	if err := filter.authorize(r.Context()); err != nil {
		return nil, err
	}
	if err := f.ownsSystem(r.Context(), filter.SystemID); err != nil {
		return nil, err
	}
	resp, err := f.Delete(r.Context(), filter, dry, principalName(r.Context()))
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// strictJSON decodes a tool's arguments, refusing unknown keys: a misspelt
// criterion must never widen a delete.
func strictJSON(args json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httpx.Errorf(http.StatusBadRequest, httpx.CodeMalformedJSON, "arguments: %v", err)
	}
	return nil
}
