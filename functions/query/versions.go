package query

import (
	"net/http"
	"time"

	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/httpx"
	"github.com/akosha/akosha/schemas"
)

// maxVersions bounds the versions one answer lists: a record re-sent more
// often than that between two compactions shows its newest ones.
const maxVersions = 100

// serveMemoryVersions answers GET /v1/memories/{system_id}/{id}/versions:
// every stored row of one record, newest first. The SQL views show only a
// record's latest version (latest wins); here the files that can hold the
// system's rows are read as they are, without that window, so a re-sent
// record shows each version the lake still holds (compaction merges them
// into the latest, after which there is one). The embedding is left out:
// 384 numbers per version say nothing a reader compares.
func (f *Function) serveMemoryVersions(w http.ResponseWriter, r *http.Request) {
	sys, id := r.PathValue("system_id"), r.PathValue("id")
	probe := schemas.Memory{SystemID: sys, ID: id, Content: "x", CreatedAt: time.Now()}
	if err := probe.Validate(time.Now()); err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "invalid_key", err.Error())
		return
	}
	ctx := r.Context()
	snaps := f.snapshots()
	table := schemas.TableMemories
	sc := f.scope(ctx)
	if !sc.Allows(sys) {
		// The same answer as a record that does not exist: another
		// tenant's system is not there for this caller.
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no memory "+id+" in system "+sys)
		return
	}
	// The planner's own pruning (sql.go) picks the files that can hold the
	// system's rows, whatever the lake's layout.
	kept, _ := keptFiles(table, snaps[table], []Prune{{SystemIDs: map[string]bool{sys: true}}})
	lease, err := f.cache.Fetch(ctx, objects(kept))
	if err != nil {
		httpx.WriteErr(w, err)
		return
	}
	defer lease.Release()
	view := sqlexec.View{Confine: confinement(sc)}
	expiring := false
	for i, pf := range kept {
		// Dedup false: every row of every file, older versions included.
		view.Files = append(view.Files, sqlexec.File{Path: lease.Paths[i], Encoding: pf.encoding, NoExpiry: pf.noExpiry})
		expiring = expiring || pf.expiring
	}
	if expiring {
		// A record whose latest version has expired is invisible here
		// too, older versions and all (issue 16): ask the latest-wins view.
		res, err := f.run(ctx, snaps, "SELECT 1 FROM memories WHERE system_id = "+quote(sys)+" AND id = "+quote(id), 1)
		if err != nil {
			httpx.WriteErr(w, sqlError(err))
			return
		}
		if res.RowCount == 0 {
			httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no memory "+id+" in system "+sys)
			return
		}
		view.VisibleAt = f.cfg.Now()
	}
	sql := "SELECT * EXCLUDE (embedding) FROM memories WHERE system_id = " + quote(sys) + " AND id = " + quote(id) +
		" ORDER BY ingested_at DESC"
	res, err := f.engine.Exec(ctx, sqlexec.Request{SQL: sql, Limit: maxVersions, Views: map[string]sqlexec.View{table: view}})
	if err != nil {
		httpx.WriteErr(w, sqlError(err))
		return
	}
	if res.RowCount == 0 {
		httpx.WriteError(w, http.StatusNotFound, httpx.CodeNotFound, "no memory "+id+" in system "+sys)
		return
	}
	versions := make([]map[string]any, len(res.Rows))
	for i, row := range res.Rows {
		rec := make(map[string]any, len(res.Columns))
		for j, c := range res.Columns {
			rec[c.Name] = row[j]
		}
		versions[i] = rec
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"system_id": sys, "id": id, "versions": versions, "count": len(versions),
		"truncated": res.Truncated, "version": snaps[table].Version,
	})
}
