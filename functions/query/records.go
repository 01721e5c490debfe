package query

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// serveMemory answers GET /v1/memories/{system_id}/{id}: the latest version
// of one record, read through the same planner as SQL, so only the system's
// files are fetched.
func (f *Function) serveMemory(w http.ResponseWriter, r *http.Request) {
	sys, id := r.PathValue("system_id"), r.PathValue("id")
	probe := schemas.Memory{SystemID: sys, ID: id, Content: "x", CreatedAt: time.Now()}
	if err := probe.Validate(time.Now()); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return
	}
	sql := "SELECT * EXCLUDE (ingested_at) FROM memories WHERE system_id = " + quote(sys) + " AND id = " + quote(id)
	res, err := f.run(r.Context(), f.snapshots(), sql, 2)
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
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// systemSummary is one system in GET /v1/systems.
type systemSummary struct {
	SystemID  string           `json:"system_id"`
	Records   map[string]int64 `json:"records"` // by tier
	Total     int64            `json:"total"`
	Entities  int64            `json:"entities"`
	Relations int64            `json:"relations"`
	Bytes     int64            `json:"bytes"`           // of its files in the three tables, from the log
	First     string           `json:"first,omitempty"` // earliest created_at
	Last      string           `json:"last,omitempty"`  // latest created_at
}

// serveSystems answers GET /v1/systems from the log alone: each file's
// partition values and statistics (record count, created_at range) say
// enough, so listing a fleet reads no data file. Counts are of stored rows:
// a re-sent record counts twice until compaction merges its versions.
func (f *Function) serveSystems(w http.ResponseWriter, r *http.Request) {
	snaps := f.snapshots()
	bySys := map[string]*systemSummary{}
	get := func(id string) *systemSummary {
		s := bySys[id]
		if s == nil {
			s = &systemSummary{SystemID: id, Records: map[string]int64{}}
			bySys[id] = s
		}
		return s
	}
	for _, table := range lake.Tables {
		for a := range snaps[table].AllFiles() {
			p, err := lake.PartitionOf(a.PartitionValues)
			if err != nil {
				continue
			}
			st, err := a.ParsedStats()
			if err != nil || st.NumRecords < 0 {
				continue
			}
			s := get(p.SystemID)
			s.Bytes += a.Size
			switch table {
			case schemas.TableMemories:
				s.Records[p.Tier] += st.NumRecords
				s.Total += st.NumRecords
				if lo, ok := st.MinValues["created_at"].(string); ok && (s.First == "" || lo < s.First) {
					s.First = lo
				}
				if hi, ok := st.MaxValues["created_at"].(string); ok && hi > s.Last {
					s.Last = hi
				}
			case schemas.TableEntities:
				s.Entities += st.NumRecords
			case schemas.TableRelations:
				s.Relations += st.NumRecords
			}
		}
	}
	out := make([]*systemSummary, 0, len(bySys))
	for _, s := range bySys {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SystemID < out[j].SystemID })
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"systems": out, "version": snaps[schemas.TableMemories].Version})
}

var _ = json.Marshal
