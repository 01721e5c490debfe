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
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// sqlRequest is the body of POST /v1/sql.
type sqlRequest struct {
	SQL   string `json:"sql"`
	Limit int    `json:"limit"`
	// Cache false computes the answer afresh: no result cache is read or
	// written (for measurement, or an answer that must be fresh).
	Cache *bool `json:"cache"`
	// AsOf answers from a past snapshot (asof.go): a memories table
	// version or an RFC 3339 time.
	AsOf AsOf `json:"as_of"`
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
	snaps, err := f.snapshotsAt(r.Context(), req.AsOf)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	out, tier, err := f.answer(r.Context(), snaps, req.SQL, format, limit, req.Cache == nil || *req.Cache, start)
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	writeCached(w, out, tier)
}

// answer is a statement's encoded answer on snaps, from the in-process
// cache, Redis or computed (and then cached in both), with the tier that
// gave it. The cache key holds every table's version, so answers on past
// snapshots (as_of) and on the latest ones never meet. With useCache
// false, or the caches configured off, it is computed afresh and stored
// nowhere; the tier is then "off".
func (f *Function) answer(ctx context.Context, snaps snapshots, sql, format string, limit int, useCache bool, start time.Time) (cachedResult, string, error) {
	// The tenant's scope is part of the key: another tenant's identical
	// statement is another answer, and never a faster (cached) one. Past
	// snapshots (as_of) are confined by the same, current, scope.
	ctx, sc := f.pinScope(ctx)
	// Expiry is decided at the present, on past snapshots too: a record
	// that has expired stays hidden whatever version is asked for.
	now := f.cfg.Now()
	if !useCache || f.cfg.NoResultCache {
		f.metrics.resultCache.WithLabelValues("off").Inc()
		out, err := f.compute(ctx, snaps, now, "", sql, format, limit, start)
		return out, "off", err
	}
	// The key names the snapshots, the tenant's scope and, when rows
	// expire, how many expiry instants have passed: an answer cached before
	// a record's expiry is never served after it.
	epoch, err := f.expiry.epoch(ctx, snaps[schemas.TableMemories], now)
	if err != nil {
		return cachedResult{}, "", err
	}
	versions := storage.Location(f.lake.Store()) + "|" + snaps.versions() + epoch
	if sc.Key() != "" {
		versions += "|" + sc.Key()
	}
	key := resultKey(versions, sql, format, limit)
	if res, ok := f.l1.Get(key); ok {
		f.metrics.resultCache.WithLabelValues("l1").Inc()
		return res, "l1", nil
	}
	if f.l2 != nil {
		if res, ok := f.l2.Get(ctx, key); ok {
			f.metrics.resultCache.WithLabelValues("l2").Inc()
			f.l1.Put(key, res)
			return res, "l2", nil
		}
	}
	f.metrics.resultCache.WithLabelValues("miss").Inc()
	// Identical statements arriving together are computed once.
	v, err, _ := f.flight.Do(key, func() (any, error) { return f.compute(ctx, snaps, now, key, sql, format, limit, start) })
	if err != nil {
		return cachedResult{}, "", err
	}
	return v.(cachedResult), "miss", nil
}

func (f *Function) compute(ctx context.Context, snaps snapshots, now time.Time, key, sql, format string, limit int, start time.Time) (cachedResult, error) {
	res, err := f.runAt(ctx, snaps, now, sql, limit)
	if err != nil {
		return cachedResult{}, sqlError(err)
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
		return cachedResult{}, fmt.Errorf("encode the answer: %w", err)
	}
	out := cachedResult{ContentType: format, Body: body.Bytes()}
	if key != "" { // "": the caches are bypassed
		f.l1.Put(key, out)
		if f.l2 != nil {
			f.l2.Put(ctx, key, out)
		}
	}
	f.metrics.sqlDuration.Observe(time.Since(start).Seconds())
	return out, nil
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

// run plans and executes one statement on snaps:
//
//  1. the files each scan's prune keeps are fetched into the cache;
//  2. their record keys are indexed from the local copies, and the other
//     files of the same systems from the store (ranged reads of the id
//     column), unless the background warmer did it already;
//  3. files sharing a key with another live file are read through the
//     latest-wins window, and such files of the same systems that pruning
//     dropped are fetched too, so the newest version of a re-sent record
//     decides what the view shows even when it moved partitions.
func (f *Function) run(ctx context.Context, snaps snapshots, sql string, limit int) (*sqlexec.Result, error) {
	return f.runAt(ctx, snaps, f.cfg.Now(), sql, limit)
}

// runAt is run with the memories view hiding the records expired at now.
func (f *Function) runAt(ctx context.Context, snaps snapshots, now time.Time, sql string, limit int) (*sqlexec.Result, error) {
	scans, err := f.engine.Analyze(ctx, sql)
	if err != nil {
		return nil, err
	}
	views := map[string]sqlexec.View{}
	sc := f.scope(ctx)
	past := f.isPast(snaps)
	fetchErr := func(err error) error {
		if past && errors.Is(err, storage.ErrNotExist) {
			return pastDataGone()
		}
		return fmt.Errorf("fetch data files: %w", err)
	}
	for table, prunes := range scansByView(scans) {
		if !sc.All() {
			// Only the tenant's systems' files are fetched (an empty set
			// keeps none); the views then drop the other systems' rows.
			for i := range prunes {
				prunes[i].SystemIDs = sc.Filter(prunes[i].SystemIDs)
			}
		}
		keys := f.keysFor(table, snaps[table])
		kept, systems := keptFiles(table, snaps[table], prunes)
		lease, err := f.cache.Fetch(ctx, objects(kept))
		if err != nil {
			return nil, fetchErr(err)
		}
		defer lease.Release()
		local := make([]localFile, len(kept))
		for i, pf := range kept {
			local[i] = localFile{key: pf.key, path: lease.Paths[i], size: pf.size}
		}
		if err := keys.AddLocal(local); err != nil {
			return nil, err
		}
		if err := keys.Sync(ctx, table, snaps[table], systems, nil); err != nil {
			if past && errors.Is(err, storage.ErrNotExist) {
				return nil, pastDataGone()
			}
			return nil, err
		}
		partners := sharingPartners(keys, table, snaps[table], kept, systems)
		more, err := f.cache.Fetch(ctx, objects(partners))
		if err != nil {
			return nil, fetchErr(err)
		}
		defer more.Release()
		v := sqlexec.View{Confine: confineTo(sc, systems)}
		only := onlyShown(keys, sc)
		for i, pf := range kept {
			v.Files = append(v.Files, sqlexec.File{Path: lease.Paths[i], Dedup: keys.Shared(pf.key), Encoding: pf.encoding, NoExpiry: pf.noExpiry,
				Allowed: only(pf.key)})
			if pf.expiring {
				v.VisibleAt = now
			}
		}
		for i, pf := range partners {
			v.Files = append(v.Files, sqlexec.File{Path: more.Paths[i], Dedup: true, Encoding: pf.encoding, NoExpiry: pf.noExpiry})
			if pf.expiring {
				v.VisibleAt = now
			}
		}
		views[table] = v
		f.metrics.filesRead.Add(float64(len(v.Files)))
		if v.Confine != nil {
			whole := 0
			for _, file := range v.Files {
				if v.ReadsWhole(file) {
					whole++
				}
			}
			f.metrics.confinedFiles.WithLabelValues("whole").Add(float64(whole))
			f.metrics.confinedFiles.WithLabelValues("row_test").Add(float64(len(v.Files) - whole))
		}
	}
	return f.engine.Exec(ctx, sqlexec.Request{SQL: sql, Limit: limit, Views: views})
}

// plannedFile is a live data file a statement needs.
type plannedFile struct {
	key      string
	size     int64
	encoding string // lake.EncodingOf the add
	// noExpiry: a memories file written before the expires_at column;
	// expiring: one holding rows with an expiry (lake.ExpiryOf).
	noExpiry, expiring bool
}

// planned is the plannedFile of a live add of table.
func planned(table string, a delta.Add) plannedFile {
	pf := plannedFile{key: table + "/" + a.Path, size: a.Size, encoding: lake.EncodingOf(a)}
	if table == schemas.TableMemories {
		e := lake.ExpiryOf(a)
		pf.noExpiry, pf.expiring = !e.Column, e.Rows > 0
	}
	return pf
}

func objects(files []plannedFile) []cache.Object {
	out := make([]cache.Object, len(files))
	for i, f := range files {
		out[i] = cache.Object{Key: f.key, Size: f.size}
	}
	return out
}

// keptFiles lists the files of table that some prune keeps, and the systems
// a statement can read (nil: any).
func keptFiles(table string, snap *delta.Snapshot, prunes []Prune) ([]plannedFile, map[string]bool) {
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
	var out []plannedFile
	for a := range snap.AllFiles() {
		for _, p := range prunes {
			if p.Keep(a) {
				out = append(out, planned(table, a))
				break
			}
		}
	}
	return out, systems
}

// sharingPartners are the live files, not among kept, that share record keys
// with another file and may hold a system the statement reads (systems; nil:
// any). A version of a record lives in a file of the same system, so these
// are every file that can hold a newer version of a kept row.
func sharingPartners(keys *keyIndex, table string, snap *delta.Snapshot, kept []plannedFile, systems map[string]bool) []plannedFile {
	taken := map[string]bool{}
	anyShared := false
	for _, pf := range kept {
		taken[pf.key] = true
		if keys.Shared(pf.key) {
			anyShared = true
		}
	}
	if !anyShared {
		return nil
	}
	var out []plannedFile
	for a := range snap.AllFiles() {
		key := table + "/" + a.Path
		if taken[key] || !keys.Shared(key) || !lake.MayHoldAny(a, systems) {
			continue
		}
		out = append(out, planned(table, a))
	}
	return out
}
