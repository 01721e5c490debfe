package lake_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

func testCtx(t *testing.T) context.Context {
	return testenv.Context(t)
}

func openLake(t *testing.T, s storage.Store) *lake.Lake {
	t.Helper()
	l, err := lake.Open(testCtx(t), s)
	if err != nil {
		t.Fatalf("open lake: %v", err)
	}
	return l
}

// localCopy brings the snapshot's live files into a directory (keeping their
// Hive-style paths) and returns their paths, as the query side's cache does.
func localCopy(t *testing.T, s storage.Store, table string, snap *delta.Snapshot) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, f := range snap.Files() {
		key := table + "/" + f.Path
		b, err := storage.ReadAll(testCtx(t), s, key)
		if err != nil {
			t.Fatalf("fetch %s: %v", key, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(key))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func duck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func parquetList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ",") + "]"
}

// A batch becomes one Parquet file per partition, committed as one version,
// and DuckDB reads exactly those rows back with FLOAT[384] embeddings.
func TestAppendIsOneVersionReadableByDuckDB(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		l := openLake(t, s)
		recs := gen.Memories(1, 3000, 3, 2)
		res, err := l.AppendMemories(testCtx(t), recs)
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		if res.Version != 1 {
			t.Errorf("version = %d, want 1 (version 0 creates the table)", res.Version)
		}
		tbl, _ := l.Table(schemas.TableMemories)
		// A fresh process replays the log from the store.
		snap, err := tbl.Log.Snapshot(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		files := snap.Files()
		// One file per day, whatever the number of systems: the lake is
		// partitioned by tier and day only.
		if len(files) != 2 {
			t.Fatalf("%d files, want 2 (one per day for 3 systems)", len(files))
		}
		want := map[string]int64{}
		for _, m := range recs {
			want[lake.HotPartition(m.CreatedAt).String()]++
		}
		var total int64
		for _, f := range files {
			p, err := lake.PartitionOf(f.PartitionValues)
			if err != nil {
				t.Fatal(err)
			}
			st, err := f.ParsedStats()
			if err != nil {
				t.Fatal(err)
			}
			// The file's statistics bound its systems, so every engine
			// skips files by system_id.
			if lo, hi, ok := lake.SystemRange(f); !ok || lo != "sys-000" || hi != "sys-002" {
				t.Errorf("%s: system_id range %q..%q (%v), want sys-000..sys-002", p, lo, hi, ok)
			}
			if st.NumRecords != want[p.String()] {
				t.Errorf("%s: stats numRecords %d, want %d", p, st.NumRecords, want[p.String()])
			}
			if !strings.HasPrefix(f.Path, p.Dir("")[1:]+"/") {
				t.Errorf("file %s is not under its partition %s", f.Path, p)
			}
			total += st.NumRecords
		}
		if total != int64(len(recs)) {
			t.Errorf("stats total %d, want %d", total, len(recs))
		}

		paths := localCopy(t, s, schemas.TableMemories, snap)
		db := duck(t)
		q := fmt.Sprintf(`SELECT system_id, count(*), min(len(embedding)), max(len(embedding)),
			typeof(any_value(embedding::FLOAT[384])), typeof(any_value(created_at))
			FROM read_parquet(%s, hive_partitioning=true, hive_types={'tier':VARCHAR,'day':DATE})
			GROUP BY system_id ORDER BY system_id`, parquetList(paths))
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		bySys := map[string]int{}
		for _, m := range recs {
			bySys[m.SystemID]++
		}
		n := 0
		for rows.Next() {
			var sys, embType, tsType string
			var count, minLen, maxLen int
			if err := rows.Scan(&sys, &count, &minLen, &maxLen, &embType, &tsType); err != nil {
				t.Fatal(err)
			}
			n++
			if count != bySys[sys] {
				t.Errorf("duckdb: %s has %d rows, want %d", sys, count, bySys[sys])
			}
			if minLen != 384 || maxLen != 384 || embType != "FLOAT[384]" {
				t.Errorf("duckdb: embedding lengths %d..%d type %s", minLen, maxLen, embType)
			}
			if tsType != "TIMESTAMP WITH TIME ZONE" {
				t.Errorf("duckdb: created_at is %s", tsType)
			}
		}
		if n != 3 {
			t.Errorf("duckdb saw %d systems, want 3", n)
		}
		// One record, field by field.
		var id, content, kind string
		var e0 float32
		err = db.QueryRow(fmt.Sprintf(`SELECT id, content, kind, embedding[1] FROM read_parquet(%s) WHERE id = ?`, parquetList(paths)), recs[42].ID).
			Scan(&id, &content, &kind, &e0)
		if err != nil {
			t.Fatal(err)
		}
		if content != recs[42].Content || kind != recs[42].Kind || e0 != recs[42].Embedding[0] {
			t.Errorf("record 42 read back differs: %q %q %v", content[:20], kind, e0)
		}
	})
}

// Eight writers, each committing 50 times: the log's versions are dense and
// every commit is visible exactly once. (Eight writers make the races; the
// count only repeats them: 100 each took a minute and a half of a loaded
// make test under the race detector.)
// A batch from many systems is still one file per day: the number of
// systems never multiplies files.
func TestManySystemsOneFilePerDay(t *testing.T) {
	l := openLake(t, testenv.Local(t))
	recs := gen.Memories(7, 2000, 500, 1)
	if _, err := l.AppendMemories(testCtx(t), recs); err != nil {
		t.Fatal(err)
	}
	tbl, _ := l.Table(schemas.TableMemories)
	files := tbl.Cached().Files()
	if len(files) != 1 {
		t.Fatalf("%d files for one day of 500 systems, want 1", len(files))
	}
	lo, hi, ok := lake.SystemRange(files[0])
	if !ok || lo != "sys-000" || hi != "sys-499" {
		t.Fatalf("system range %q..%q %v", lo, hi, ok)
	}
	// A system outside the range is pruned by the statistics alone.
	if lake.MayHoldSystem(files[0], "sys-500") || !lake.MayHoldSystem(files[0], "sys-123") {
		t.Fatal("MayHoldSystem disagrees with the range")
	}
}

// Eight writers, each its own process's view, race for every version: none
// is lost or doubled and the log has no gap. 25 commits each (200 in all,
// past the checkpoints at 100 and 200) show it as 50 did, at half the time.
func TestConcurrentWritersDenseVersions(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		const writers, commits = 8, 25
		openLake(t, s) // create the tables once
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				l, err := lake.Open(testCtx(t), s) // a separate process's view
				if err != nil {
					errs <- err
					return
				}
				for c := 0; c < commits; c++ {
					recs := gen.Memories(uint64(w*1000+c), 1, 1, 1)
					recs[0].ID = fmt.Sprintf("w%d-c%03d", w, c)
					if _, err := l.AppendMemories(testCtx(t), recs); err != nil {
						errs <- fmt.Errorf("writer %d commit %d: %w", w, c, err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		log := delta.NewTable(s, schemas.TableMemories)
		snap, err := log.Snapshot(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if snap.Version != writers*commits {
			t.Errorf("latest version %d, want %d", snap.Version, writers*commits)
		}
		if got := len(snap.Files()); got != writers*commits {
			t.Errorf("%d live files, want %d", got, writers*commits)
		}
		// Dense: every version 0..N is a log entry.
		list, err := s.List(testCtx(t), schemas.TableMemories+"/_delta_log/")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, o := range list {
			seen[filepath.Base(o.Key)] = true
		}
		for v := 0; v <= writers*commits; v++ {
			if !seen[fmt.Sprintf("%020d.json", v)] {
				t.Errorf("version %d missing from the log", v)
			}
		}
		// Replay from JSON alone agrees with the checkpointed replay.
		for _, v := range []int64{99, 100, 101, writers*commits - 50} {
			at, err := log.SnapshotAt(testCtx(t), v)
			if err != nil {
				t.Fatal(err)
			}
			if len(at.Files()) != int(v) {
				t.Errorf("version %d has %d files, want %d", v, len(at.Files()), v)
			}
		}
	})
}

// A writer that dies between writing data and writing the log leaves nothing
// visible: only the log makes a file live.
func TestStagedButUncommittedIsInvisible(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		l := openLake(t, s)
		st, err := lake.StageMemories(testCtx(t), s, gen.Memories(2, 100, 2, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range st.Files {
			if _, err := s.Head(testCtx(t), f.Key); err != nil {
				t.Fatalf("staged file %s not written: %v", f.Key, err)
			}
		}
		// The "crash": no Commit. Another process opens the lake.
		snap, err := delta.NewTable(s, schemas.TableMemories).Snapshot(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if snap.Version != 0 || len(snap.Files()) != 0 {
			t.Errorf("uncommitted files visible: version %d, %d files", snap.Version, len(snap.Files()))
		}
		_ = l
	})
}

// One idempotency key committed by two racing writers lands once; the loser
// learns the winner's version and its data files are deleted.
func TestIdempotencyKeyRace(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		openLake(t, s)
		for round := 0; round < 5; round++ {
			key := fmt.Sprintf("idem-%d", round)
			var wg sync.WaitGroup
			type outcome struct {
				res *delta.CommitResult
				st  *lake.Staged
				err error
			}
			out := make([]outcome, 2)
			for w := 0; w < 2; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					l, err := lake.Open(testCtx(t), s)
					if err != nil {
						out[w].err = err
						return
					}
					recs := gen.Memories(uint64(round), 10, 1, 1) // same body
					st, err := lake.StageMemories(testCtx(t), s, recs)
					if err != nil {
						out[w].err = err
						return
					}
					out[w].st = st
					out[w].res, out[w].err = l.Commit(testCtx(t), st, delta.Txn{AppID: key, Version: 7, LastUpdated: time.Now().UnixMilli()})
				}(w)
			}
			wg.Wait()
			wins, dups := 0, 0
			for _, o := range out {
				switch {
				case o.err == nil:
					wins++
				case errors.Is(o.err, delta.ErrTxnCommitted):
					dups++
					for _, f := range o.st.Files {
						if _, err := s.Head(testCtx(t), f.Key); !errors.Is(err, storage.ErrNotExist) {
							t.Errorf("loser's file %s still exists: %v", f.Key, err)
						}
					}
				default:
					t.Fatalf("round %d: %v", round, o.err)
				}
			}
			if wins != 1 || dups != 1 {
				t.Fatalf("round %d: %d wins, %d duplicates; want 1 and 1", round, wins, dups)
			}
		}
		snap, err := delta.NewTable(s, schemas.TableMemories).Snapshot(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		var rows int64
		for _, f := range snap.Files() {
			st, _ := f.ParsedStats()
			rows += st.NumRecords
		}
		if rows != 5*10 {
			t.Errorf("%d rows live, want 50 (each key once)", rows)
		}
		for round := 0; round < 5; round++ {
			if _, ok := snap.Txn(fmt.Sprintf("idem-%d", round)); !ok {
				t.Errorf("txn idem-%d not in the snapshot", round)
			}
		}
	})
}

func sortedKeys(m map[string]int) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
