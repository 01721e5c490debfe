package query

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// serveMemory answers GET /v1/memories/{system_id}/{id}: the latest version
// of one record, read through the same planner as SQL, so only the system's
// files are fetched. ?as_of= reads it from a past snapshot (asof.go).
func (f *Function) serveMemory(w http.ResponseWriter, r *http.Request) {
	sys, id := r.PathValue("system_id"), r.PathValue("id")
	probe := schemas.Memory{SystemID: sys, ID: id, Content: "x", CreatedAt: time.Now()}
	if err := probe.Validate(time.Now()); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return
	}
	snaps, err := f.snapshotsAt(r.Context(), asOfQuery(r))
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	sql := "SELECT * EXCLUDE (ingested_at) FROM memories WHERE system_id = " + quote(sys) + " AND id = " + quote(id)
	res, err := f.run(r.Context(), snaps, sql, 2)
	if err != nil {
		httpx.WriteErr(w, sqlError(err))
		return
	}
	if res.RowCount == 0 {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no memory "+id+" in system "+sys)
		return
	}
	rec := make(map[string]any, len(res.Columns))
	for i, c := range res.Columns {
		rec[c.Name] = res.Rows[0][i]
	}
	httpx.WriteJSON(w, http.StatusOK, rec)
}

// quote makes a SQL string literal. The values reaching it were validated
// (no quotes or control characters in ids); doubling quotes is the second
// line of defence.
func quote(s string) string { return sqlexec.Quote(s) }

// systemSummary is one system in GET /v1/systems.
type systemSummary struct {
	SystemID  string           `json:"system_id"`
	Records   map[string]int64 `json:"records"` // by tier
	Total     int64            `json:"total"`
	Entities  int64            `json:"entities"`
	Relations int64            `json:"relations"`
	Bytes     int64            `json:"bytes"`           // its share of the three tables' bytes (estimated: rows x bytes per row of the table and tier)
	First     string           `json:"first,omitempty"` // earliest created_at
	Last      string           `json:"last,omitempty"`  // latest created_at
	// LastPush is when the system last pushed: the latest ingested_at of
	// its memories (a backfill of old sessions is a push today, though
	// its records' created_at are old).
	LastPush string `json:"last_push,omitempty"`
}

// serveSystems answers GET /v1/systems: per system, its memories by tier,
// entities, relations and the created_at range of its memories. A data
// file holds many systems (the lake is partitioned by tier and day), so the
// counts come from the data, through the same planner and latest-wins views
// as SQL: a re-sent record counts once.
func (f *Function) serveSystems(w http.ResponseWriter, r *http.Request) {
	snaps := f.snapshotsOf(r.Context())
	bySys := map[string]*systemSummary{}
	get := func(id string) *systemSummary {
		s := bySys[id]
		if s == nil {
			s = &systemSummary{SystemID: id, Records: map[string]int64{}}
			bySys[id] = s
		}
		return s
	}
	// A file holds many systems, so a system's bytes are estimated: its
	// rows in each (table, tier) times that (table, tier)'s bytes per row,
	// both from the log.
	type tableTier struct{ table, tier string }
	perRow := map[tableTier]float64{}
	{
		bytes, rows := map[tableTier]int64{}, map[tableTier]int64{}
		for _, table := range lake.Tables {
			for a := range snaps[table].AllFiles() {
				p, err := lake.PartitionOf(a.PartitionValues)
				st, serr := a.ParsedStats()
				if err != nil || serr != nil || st.NumRecords <= 0 {
					continue
				}
				for _, k := range []tableTier{{table, p.Tier}, {table, ""}} {
					bytes[k] += a.Size
					rows[k] += st.NumRecords
				}
			}
		}
		for k, n := range rows {
			perRow[k] = float64(bytes[k]) / float64(n)
		}
	}
	const limit = 10_000_000 // rows of a GROUP BY: systems x tiers
	ctx := r.Context()
	mem, err := f.run(ctx, snaps, `SELECT system_id, tier, count(*),
		strftime(min(created_at), '%Y-%m-%dT%H:%M:%S.%gZ'), strftime(max(created_at), '%Y-%m-%dT%H:%M:%S.%gZ'),
		strftime(max(ingested_at), '%Y-%m-%dT%H:%M:%S.%gZ')
		FROM memories GROUP BY ALL`, limit)
	if err != nil {
		httpx.WriteErr(w, sqlError(err))
		return
	}
	for _, row := range mem.Rows {
		s := get(str(row[0]))
		n := count(row[2])
		s.Records[str(row[1])] += n
		s.Total += n
		s.Bytes += int64(float64(n) * perRow[tableTier{schemas.TableMemories, str(row[1])}])
		if lo := str(row[3]); lo != "" && (s.First == "" || lo < s.First) {
			s.First = lo
		}
		if hi := str(row[4]); hi > s.Last {
			s.Last = hi
		}
		if p := str(row[5]); p > s.LastPush {
			s.LastPush = p
		}
	}
	for _, q := range []struct {
		view string
		add  func(*systemSummary, int64)
	}{
		{"entities", func(s *systemSummary, n int64) { s.Entities += n }},
		{"relations", func(s *systemSummary, n int64) { s.Relations += n }},
	} {
		res, err := f.run(ctx, snaps, "SELECT system_id, count(*) FROM "+q.view+" GROUP BY ALL", limit)
		if err != nil {
			httpx.WriteErr(w, sqlError(err))
			return
		}
		for _, row := range res.Rows {
			s, n := get(str(row[0])), count(row[1])
			q.add(s, n)
			s.Bytes += int64(float64(n) * perRow[tableTier{q.view, ""}])
		}
	}
	out := make([]*systemSummary, 0, len(bySys))
	for _, s := range bySys {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SystemID < out[j].SystemID })
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"systems": out, "version": snaps[schemas.TableMemories].Version})
}

// str and count read result cells (sqlexec.Result's converted values).
func str(v any) string {
	s, _ := v.(string)
	return s
}

func count(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case int32:
		return int64(n)
	}
	return 0
}

var _ = json.Marshal
