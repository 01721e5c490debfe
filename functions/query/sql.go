package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/delta"
)

// sqlRequest is the body of POST /v1/sql.
type sqlRequest struct {
	SQL   string `json:"sql"`
	Limit int    `json:"limit"`
}

// Answer formats, chosen by Accept.
const (
	fmtJSON    = "application/json"
	fmtCSV     = "text/csv"
	fmtNDJSON  = "application/x-ndjson"
	fmtParquet = "application/vnd.apache.parquet"
)

func pickFormat(accept string) (string, error) {
	if accept == "" {
		return fmtJSON, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case fmtJSON, "*/*", "application/*":
			return fmtJSON, nil
		case fmtCSV, fmtNDJSON, fmtParquet:
			return mt, nil
		case "application/ndjson", "application/jsonl":
			return fmtNDJSON, nil
		}
	}
	return "", httpx.Errorf(http.StatusNotAcceptable, "not_acceptable",
		"Accept %q: answers are application/json, text/csv, application/x-ndjson or application/vnd.apache.parquet", accept)
}

func (f *Function) serveSQL(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req sqlRequest
	if err := httpx.DecodeJSON(w, r, 1<<20, &req); err != nil {
		httpx.WriteErr(w, err)
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		httpx.WriteError(w, http.StatusBadRequest, "missing_sql", `the body needs {"sql": "SELECT ..."}`)
		return
	}
	if req.Limit < 0 {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_limit", "limit must not be negative")
		return
	}
	limit := req.Limit
	if limit == 0 || limit > f.cfg.MaxRows {
		limit = f.cfg.MaxRows
	}
	format, err := pickFormat(r.Header.Get("Accept"))
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	snaps := f.snapshots()
	key := resultKey(snaps.versions(), req.SQL, format, limit)
	if res, ok := f.l1.Get(key); ok {
		f.metrics.resultCache.WithLabelValues("l1").Inc()
		writeCached(w, res, "l1")
		return
	}
	if f.l2 != nil {
		if res, ok := f.l2.Get(r.Context(), key); ok {
			f.metrics.resultCache.WithLabelValues("l2").Inc()
			f.l1.Put(key, res)
			writeCached(w, res, "l2")
			return
		}
	}
	f.metrics.resultCache.WithLabelValues("miss").Inc()

	res, err := f.run(r.Context(), snaps, req.SQL, limit)
	if err != nil {
		httpx.WriteErr(w, sqlError(err))
		return
	}
	var body bytes.Buffer
	switch format {
	case fmtJSON:
		err = writeJSONAnswer(&body, res, snaps, time.Since(start))
	case fmtCSV:
		err = sqlexec.WriteCSV(&body, res)
	case fmtNDJSON:
		err = sqlexec.WriteNDJSON(&body, res)
	case fmtParquet:
		err = sqlexec.WriteParquet(&body, res)
	}
	if err != nil {
		httpx.WriteErr(w, fmt.Errorf("encode the answer: %w", err))
		return
	}
	out := cachedResult{ContentType: format, Body: body.Bytes()}
	f.l1.Put(key, out)
	if f.l2 != nil {
		f.l2.Put(r.Context(), key, out)
	}
	f.metrics.sqlDuration.Observe(time.Since(start).Seconds())
	writeCached(w, out, "miss")
}

func writeCached(w http.ResponseWriter, res cachedResult, tier string) {
	w.Header().Set("Content-Type", res.ContentType)
	w.Header().Set("X-Akosha-Cache", tier)
	w.WriteHeader(http.StatusOK)
	w.Write(res.Body)
}

func writeJSONAnswer(buf *bytes.Buffer, res *sqlexec.Result, snaps snapshots, elapsed time.Duration) error {
	versions := map[string]int64{}
	for name, s := range snaps {
		versions[name] = s.Version
	}
	return json.NewEncoder(buf).Encode(struct {
		*sqlexec.Result
		Version   int64            `json:"version"`
		Versions  map[string]int64 `json:"versions"`
		ElapsedMS float64          `json:"elapsed_ms"`
	}{res, snaps[lake.Tables[0]].Version, versions, float64(elapsed.Microseconds()) / 1000})
}

// sqlError maps the engine's errors onto API statuses.
func sqlError(err error) error {
	switch {
	case errors.Is(err, sqlexec.ErrTooLarge):
		return httpx.Errorf(http.StatusRequestEntityTooLarge, "sql_too_large", "%v", err)
	case errors.Is(err, sqlexec.ErrRefused):
		return httpx.Errorf(http.StatusBadRequest, "sql_refused", "%v", err)
	case errors.Is(err, sqlexec.ErrTimeout):
		return httpx.Errorf(http.StatusGatewayTimeout, "sql_timeout", "%v", err)
	case errors.Is(err, sqlexec.ErrQuery):
		return httpx.Errorf(http.StatusBadRequest, "sql_error", "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return err
}

// run plans and executes one statement on snaps.
func (f *Function) run(ctx context.Context, snaps snapshots, sql string, limit int) (*sqlexec.Result, error) {
	scans, err := f.engine.Analyze(ctx, sql)
	if err != nil {
		return nil, err
	}
	views := map[string]sqlexec.View{}
	var objs []cache.Object
	type placed struct {
		view  string
		index int
	}
	var where []placed
	for table, prunes := range scansByView(scans) {
		files, err := f.viewFiles(ctx, table, snaps[table], prunes)
		if err != nil {
			return nil, err
		}
		v := sqlexec.View{Files: make([]sqlexec.File, len(files))}
		for i, pf := range files {
			v.Files[i] = sqlexec.File{Dedup: pf.shared}
			objs = append(objs, cache.Object{Key: pf.key, Size: pf.size})
			where = append(where, placed{table, i})
		}
		views[table] = v
	}
	lease, err := f.cache.Fetch(ctx, objs)
	if err != nil {
		return nil, fmt.Errorf("fetch data files: %w", err)
	}
	defer lease.Release()
	for i, p := range where {
		views[p.view].Files[p.index].Path = lease.Paths[i]
	}
	f.metrics.filesRead.Add(float64(len(objs)))
	return f.engine.Exec(ctx, sqlexec.Request{SQL: sql, Limit: limit, Views: views})
}

// plannedFile is a live data file a statement needs.
type plannedFile struct {
	key    string
	size   int64
	shared bool // holds a key another live file also holds: read through the dedup window
}

// viewFiles lists the files of table that prunes keep. A kept file that
// shares record keys pulls in every other sharing file of its system, so
// that the latest version of a re-sent record decides what the view shows.
func (f *Function) viewFiles(ctx context.Context, table string, snap *delta.Snapshot, prunes []Prune) ([]plannedFile, error) {
	// Only the systems a statement can read need their keys indexed.
	var systems map[string]bool
	for _, p := range prunes {
		if p.SystemIDs == nil {
			systems = nil
			break
		}
		if systems == nil {
			systems = map[string]bool{}
		}
		for s := range p.SystemIDs {
			systems[s] = true
		}
	}
	if err := f.keys.Sync(ctx, table, snap, systems); err != nil {
		return nil, err
	}
	var out []plannedFile
	taken := map[string]bool{}
	sharedSystems := map[string]bool{}
	var sharedByKey []plannedFile
	for a := range snap.AllFiles() {
		key := table + "/" + a.Path
		pf := plannedFile{key: key, size: a.Size, shared: f.keys.Shared(key)}
		keep := false
		for _, p := range prunes {
			if p.Keep(a) {
				keep = true
				break
			}
		}
		if pf.shared {
			sharedByKey = append(sharedByKey, pf)
			if keep {
				if part, err := lake.PartitionOf(a.PartitionValues); err == nil {
					sharedSystems[part.SystemID] = true
				}
			}
		}
		if keep {
			out = append(out, pf)
			taken[key] = true
		}
	}
	for _, pf := range sharedByKey {
		if taken[pf.key] {
			continue
		}
		if a, ok := snap.File(strings.TrimPrefix(pf.key, table+"/")); ok {
			if part, err := lake.PartitionOf(a.PartitionValues); err == nil && sharedSystems[part.SystemID] {
				out = append(out, pf)
			}
		}
	}
	return out, nil
}
