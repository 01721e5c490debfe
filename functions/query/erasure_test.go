package query_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/erasures"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Erasure reaches the bytes (issue 16): after a delete and the jobs
// (compaction, index, vacuum with a zero grace), no object anywhere under
// the lake root holds a deleted record's content, id or vector: not the
// data files of either tier (float32 and int8 copies), not the HNSW
// indexes and their .rows key lists, not the import staging of an upload
// already imported, and not the query process's NVMe cache (a tier store's
// cache is the same code). Parquet objects are read value by value
// (their pages are compressed); the others byte by byte.
func TestErasureReachesEveryObject(t *testing.T) {
	ctx := ctxT(t)
	s := testenv.S3(t)
	cacheDir := t.TempDir()
	p := startProcess(t, s, query.Config{CacheDir: cacheDir})
	marker := "forget-me-" + testenv.RandomID()
	recs := records(2, 1, 30, 44)
	old := records(2, 1, 30, 45) // moved to warm below: int8 copies
	now := time.Now().UTC()
	for i := range recs {
		recs[i].CreatedAt = now.Add(-time.Duration(i) * time.Minute)
	}
	for i := range old {
		old[i].ID = "old-" + old[i].ID
		old[i].CreatedAt = now.AddDate(0, 0, -20).Add(time.Duration(i) * time.Minute)
	}
	// The victims: one in hot, one that ages into warm; unique content, ids
	// and vectors.
	hot, warm := recs[3], old[4]
	// Ids are not content: the log's statistics and the delete's predicate
	// and erasure record name them. They are looked for in the indexes'
	// key lists and the data files only.
	idMark := "victim-" + testenv.RandomID()
	hot.ID, hot.Content, hot.Embedding = idMark+"-hot", marker+" hot secret", uniqueVector(1)
	warm.ID, warm.Content, warm.Embedding = idMark+"-warm", marker+" warm secret", uniqueVector(2)
	recs[3], old[4] = hot, warm
	push(t, p, recs)
	push(t, p, old)
	// An imported Session-Buddy upload holding the content (import staging).
	up := "systems/" + hot.SystemID + "/uploads/20261201_000000_" + hot.SystemID
	for name, body := range map[string]string{
		"reflection.duckdb": "duckdb pages ... " + marker + " hot secret ...", "manifest.json": `{"upload_id":"x"}`, ".akosha-imported": `{}`,
	} {
		if err := s.Put(ctx, up+"/"+name, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
	}
	if sum, err := age.Run(ctx, p.lake, age.Options{Tables: []string{schemas.TableMemories}}); err != nil || sum == nil {
		t.Fatalf("age: %v", err)
	}
	if sum, err := indexer.Run(ctx, p.lake, indexer.Options{MinVectors: -1, EfConstruction: 32}); err != nil || sum.Built != 2 {
		t.Fatalf("index: %+v %v", sum, err)
	}
	if err := p.query.RefreshIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	// Warm the cache with every file and index.
	sqlQuery(t, p, "SELECT count(*), sum(length(content)) FROM memories", 0)
	searchHTTP(t, p, map[string]any{"vector": f64(hot.Embedding), "k": 3})
	searchHTTP(t, p, map[string]any{"vector": f64(warm.Embedding), "k": 3})
	if n := scanForSecrets(t, ctx, s, cacheDir, marker, idMark, hot.Embedding, warm.Embedding); n == 0 {
		t.Fatal("the scan finds nothing before the delete: it proves nothing")
	}
	// The searches kept the footers of the files their hits came from
	// (a footer holds the file's column statistics: its values).
	keptBefore := query.KeptFooters(p.query)
	if len(keptBefore) == 0 {
		t.Fatal("the searches kept no footer: the check below proves nothing")
	}

	for _, v := range []schemas.Memory{hot, warm} {
		if st, _, body := do(t, "DELETE", p.url+"/v1/memories/"+v.SystemID+"/"+v.ID, nil, nil); st != 200 {
			t.Fatalf("delete: %d %s", st, body)
		}
	}
	if _, err := compact.Run(ctx, p.lake, compact.Options{}); err != nil {
		t.Fatal(err)
	}
	// Aging every table again moves nothing here; it runs so that the check
	// of the erasure log below covers it too.
	if _, err := age.Run(ctx, p.lake, age.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := indexer.Run(ctx, p.lake, indexer.Options{MinVectors: -1, EfConstruction: 32}); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(time.Minute) }
	vs, err := vacuum.Run(ctx, p.lake, vacuum.Options{Grace: time.Nanosecond, OrphanGrace: time.Nanosecond, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if vs.Uploads.Uploads != 1 || vs.Uploads.Deleted != 1 {
		t.Errorf("import staging: %+v, want one upload's one database file deleted", vs.Uploads)
	}
	// A cached copy a read has pinned at that moment is left to the next
	// pass (the background loop runs one a minute): the passes are repeated
	// until none is left, within a deadline.
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := p.query.ForgetGone(ctx); err != nil {
			t.Fatal(err)
		}
		n := scanForSecrets(t, ctx, s, cacheDir, marker, idMark, hot.Embedding, warm.Embedding)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d objects still hold a deleted record", n)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The jobs left the erasure log alone: one row per delete, in one
	// Delta table, at the version the deletes left it.
	snap, err := delta.NewTable(s, erasures.Table).Snapshot(ctx)
	if err != nil || snap.Version != 2 || snap.NumFiles() != 2 || snap.NumTombstones() != 0 {
		t.Errorf("the erasure log after the jobs: %v %v", snap, err)
	}
	if rows, _, err := p.lake.Erasures().List(ctx, erasures.Query{}); err != nil || len(rows) != 2 || rows[0].Deleted != 1 || rows[1].Deleted != 1 {
		t.Errorf("the erasure log after the jobs: %+v %v", rows, err)
	}
	// No footer outlives its cached file, and some the searches kept went
	// with the files vacuum deleted.
	cached := map[string]bool{}
	for _, k := range query.CachedKeys(p.query) {
		cached[k] = true
	}
	for _, k := range query.KeptFooters(p.query) {
		if !cached[k] {
			t.Errorf("the footer of %s is kept after the cache forgot the file", k)
		}
	}
	gone := 0
	for _, k := range keptBefore {
		if !cached[k] {
			gone++
		}
	}
	if gone == 0 {
		t.Errorf("none of the %d files whose footers were kept left the cache: the check proves nothing", len(keptBefore))
	}
	// The lake still answers, and the index job builds what vacuum dropped.
	if a, _ := sqlQuery(t, p, "SELECT count(*) FROM memories", 0); a.Rows[0][0].(float64) != 58 {
		t.Errorf("count %v, want 58", a.Rows)
	}
	if sum, err := indexer.Run(ctx, p.lake, indexer.Options{MinVectors: -1, EfConstruction: 32}); err != nil || sum.Built+sum.Current != 2 {
		t.Errorf("index after vacuum: %+v %v", sum, err)
	}
	if err := p.query.RefreshIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if st, a, body := searchHTTP(t, p, map[string]any{"vector": f64(recs[5].Embedding), "k": 1}); st != 200 || len(a.Results) != 1 || a.Results[0].ID != recs[5].ID {
		t.Errorf("search after the erasure: %d %s", st, body)
	}
}

// uniqueVector is a unit vector no generated record is near.
func uniqueVector(seed int) []float32 {
	v := make([]float32, schemas.EmbeddingDim)
	var n float64
	for i := range v {
		v[i] = float32(math.Sin(float64(i*i+7*seed)) * math.Cos(float64(seed*i)))
		n += float64(v[i] * v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

// scanForSecrets reports every object of store (and file under cacheDir)
// that holds marker (or idMark, in data files and indexes), or one of vecs (in a Parquet file: a row's vector, as
// float32 or int8, within 1e-3 of cosine 1; elsewhere: the float32 bytes of
// its first 8 components), and returns how many do.
func scanForSecrets(t *testing.T, ctx context.Context, store storage.Store, cacheDir, marker, idMark string, vecs ...[]float32) int {
	t.Helper()
	var raws [][]byte
	for _, v := range vecs {
		b := make([]byte, 32)
		for i := range 8 {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v[i]))
		}
		raws = append(raws, b)
	}
	check := func(name string, data []byte) bool {
		if strings.HasPrefix(name, erasures.Prefix) && strings.HasSuffix(name, ".parquet") {
			// The erasure log names the ids it deleted (its filter), by
			// design; never content or vectors.
			return parquetHolds(t, name, data, marker, vecs)
		}
		if strings.HasSuffix(name, ".parquet") {
			return parquetHolds(t, name, data, marker, vecs) || parquetHolds(t, name, data, idMark, nil)
		}
		if bytes.Contains(data, []byte(marker)) {
			return true
		}
		if strings.Contains(name, "_indexes/") && bytes.Contains(data, []byte(idMark)) {
			return true
		}
		for _, r := range raws {
			if bytes.Contains(data, r) {
				return true
			}
		}
		return false
	}
	found := 0
	objs, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		data, err := storage.ReadAll(ctx, store, o.Key)
		if err != nil {
			t.Fatalf("read %s: %v", o.Key, err)
		}
		if check(o.Key, data) {
			t.Logf("holds a deleted record: %s", o.Key)
			found++
		}
	}
	err = filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if check(p, data) {
			t.Logf("cache file holds a deleted record: %s", p)
			found++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// parquetHolds decodes every value of a Parquet object: any string holding
// marker, or any row's embedding (float32 list, or int8 list times scale)
// pointing where one of vecs points.
func parquetHolds(t *testing.T, name string, data []byte, marker string, vecs [][]float32) bool {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	near := func(v []float32) bool {
		if len(v) != schemas.EmbeddingDim {
			return false
		}
		for _, w := range vecs {
			var dot, nv float64
			for i := range v {
				dot += float64(v[i] * w[i])
				nv += float64(v[i] * v[i])
			}
			if nv > 0 && dot/math.Sqrt(nv) > 0.999 {
				return true
			}
		}
		return false
	}
	rows := parquet.NewReader(f)
	defer rows.Close()
	cols := f.Schema().Columns()
	buf := make([]parquet.Row, 64)
	for {
		n, err := rows.ReadRows(buf)
		for _, row := range buf[:n] {
			var emb []float32
			var i8 []float32
			var scale float32 = 1
			for _, v := range row {
				path := strings.Join(cols[v.Column()], ".")
				switch {
				case v.Kind() == parquet.ByteArray && strings.Contains(string(v.ByteArray()), marker):
					return true
				case strings.HasPrefix(path, "embedding_i8.") && !v.IsNull():
					i8 = append(i8, float32(v.Int32()))
				case path == "embedding_scale" && !v.IsNull():
					scale = v.Float()
				case strings.HasPrefix(path, "embedding.") && !v.IsNull():
					emb = append(emb, v.Float())
				}
			}
			for i := range i8 {
				i8[i] *= scale
			}
			if near(emb) || near(i8) {
				return true
			}
		}
		if err != nil {
			break
		}
	}
	return false
}

var _ = fmt.Sprint
