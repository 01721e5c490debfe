package query_test

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/cputime"
	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/jobs/indexer"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
	"github.com/akosha/akosha/testdata/textvec"
)

// BenchmarkFleet measures issue 22 ("Fleet scale"): the same
// AKOSHA_BENCH_FLEET records (e.g. 100000 or 1000000) over 30 days, sent as
// 100 and as 1,000 systems (AKOSHA_BENCH_FLEET_SYSTEMS, default "100,1000"),
// side by side in one process:
//
//   - ingest through the lake writer in group-commit-sized appends (6,400
//     records: one round of 64 clients' batches of 100), live shape (the
//     fleet pushes day by day, so an append holds one day of many systems)
//     and backfill shape (each system sends its month: an append holds a
//     few systems' 30 days), as records per CPU-second of this process;
//   - compaction (jobs/compact.Run) and the live files per (tier, day);
//   - the index job (jobs/indexer.Run) and its time;
//   - through the query function (result cache off): warm search p50/p99
//     over all systems and for one system, recall@10 against exact cosine
//     at filter selectivities 0.1%, 1%, 10% and 100%, cold search p50, and
//     six SQL queries beside raw DuckDB over the same live files and over
//     the same rows in one file sorted by (system_id, created_at);
//   - the process's resident memory after the warm runs.
//
// Every timed comparison alternates its peers query by query, so the other
// load on the machine falls on both alike. It runs only when
// AKOSHA_BENCH_FLEET is set (scripts/bench.sh passes it through).
func BenchmarkFleet(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("AKOSHA_BENCH_FLEET"))
	if n <= 0 {
		b.Skip("set AKOSHA_BENCH_FLEET=<records> (e.g. 100000) to measure the fleet shapes of issue 22")
	}
	shapes := fleetShapes(b, 100, 1000)
	const days, nq = 30, 200
	ctx := context.Background()
	t0 := time.Now()
	vecs, err := textvec.Vectors(n+nq, 22)
	if err != nil {
		b.Fatalf("textvec vectors: %v", err)
	}
	b.Logf("%d textvec vectors in %v", n+nq, time.Since(t0).Round(time.Millisecond))
	vec := func(i int) []float32 { return vecs[i*textvec.Dim : (i+1)*textvec.Dim] }
	end := time.Now().UTC()

	fleets := make([]*fleetLake, len(shapes))
	for i, systems := range shapes {
		fleets[i] = &fleetLake{systems: systems, gen: gen.Fleet{Systems: systems, Days: days, Records: n, Seed: 22, End: end, Vector: vec}}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\nfleet: %d records over %d days, systems %v; load average at start %s\n", n, days, shapes, loadAvg())

	// Ingest, both shapes, the fleets alternating append by append.
	fleetIngest(b, fleets)
	for _, fl := range fleets {
		fl.compactAndIndex(b)
	}
	fmt.Fprintf(&report, "\n| systems | ingest live (rec/s; rec/CPU-s) | ingest backfill (rec/s; rec/CPU-s) | files before compaction | live files after | max files per (tier, day) | compaction | index build |\n|---|---|---|---|---|---|---|---|\n")
	for _, fl := range fleets {
		fmt.Fprintf(&report, "| %d | %.0f; %.0f | %.0f; %.0f | %d | %d | %d | %v | %v |\n", fl.systems,
			fl.live.rate(), fl.live.perCPU(), fl.backfill.rate(), fl.backfill.perCPU(),
			fl.filesBefore, fl.filesAfter, fl.maxPerDay, fl.compactTime.Round(100*time.Millisecond), fl.indexTime.Round(100*time.Millisecond))
	}

	// Cold search: a fresh function with an empty cache per query.
	cold := make([][]time.Duration, len(fleets))
	for r := range 5 {
		for j := range fleets {
			fl := fleets[(r+j)%len(fleets)]
			runtime.GC() // the previous function's indexes are gone, as in a new process
			f := openFleetFunction(b, fl.store, b.TempDir())
			t := time.Now()
			if _, err := f.Search(ctx, query.SearchRequest{Vector: f64(vec(n + r)), K: ptr(10)}); err != nil {
				b.Fatalf("cold search: %v", err)
			}
			cold[(r+j)%len(fleets)] = append(cold[(r+j)%len(fleets)], time.Since(t))
			f.Stop(ctx)
		}
	}

	rssBefore := vmRSS()
	for _, fl := range fleets {
		fl.cacheDir = b.TempDir()
		fl.f = openFleetFunction(b, fl.store, fl.cacheDir)
	}
	// Warm: every query once through each function (fetches the indexes
	// and data files into the caches), then time them alternating.
	search := func(fl *fleetLake, q int, filter *query.SearchFilter) (*query.SearchResponse, time.Duration) {
		t := time.Now()
		res, err := fl.f.Search(ctx, query.SearchRequest{Vector: f64(vec(n + q%nq)), K: ptr(10), Filter: filter})
		if err != nil {
			b.Fatalf("search (%d systems): %v", fl.systems, err)
		}
		return res, time.Since(t)
	}
	oneSystem := func(fl *fleetLake, q int) *query.SearchFilter {
		return &query.SearchFilter{SystemID: query.StringList{gen.FleetSystem(q * 7 % fl.systems)}}
	}
	for q := range nq {
		for _, fl := range fleets {
			search(fl, q, nil)
			search(fl, q, oneSystem(fl, q))
		}
	}
	all := make([][]time.Duration, len(fleets))
	one := make([][]time.Duration, len(fleets))
	stopProfile := fleetProfile(b, "search")
	for q := range 2 * nq {
		for j := range fleets {
			k := (q + j) % len(fleets)
			_, d := search(fleets[k], q, nil)
			all[k] = append(all[k], d)
			_, d = search(fleets[k], q, oneSystem(fleets[k], q))
			one[k] = append(one[k], d)
		}
	}

	stopProfile()

	// SQL, the function (result cache off) beside raw DuckDB.
	for _, fl := range fleets {
		fl.openRaw(b)
	}
	stopProfile = fleetProfile(b, "sql")
	sqlRows := fleetSQL(b, fleets, n)
	stopProfile()
	runtime.GC()
	rssWarm, hwm := vmRSS(), vmHWM()

	fmt.Fprintf(&report, "\n| systems | search all p50 | all p99 | one system p50 | one system p99 | cold p50 (of 5) |\n|---|---|---|---|---|---|\n")
	for k, fl := range fleets {
		fmt.Fprintf(&report, "| %d | %s | %s | %s | %s | %s |\n", fl.systems, ms(pct(all[k], 50)), ms(pct(all[k], 99)),
			ms(pct(one[k], 50)), ms(pct(one[k], 99)), ms(pct(cold[k], 50)))
	}
	// Recall apart from the timings (an exact scan between timed searches
	// would time its wake too).
	fmt.Fprintf(&report, "\n| systems | recall@10 at 0.1%% | 1%% | 10%% | 100%% |\n|---|---|---|---|---|\n")
	for _, fl := range fleets {
		fmt.Fprintf(&report, "| %d |", fl.systems)
		for _, sel := range []float64{0.001, 0.01, 0.1, 1} {
			r, actual := fleetRecall(b, fl, vecs, n, nq, sel)
			fmt.Fprintf(&report, " %.3f (filter keeps %.2f%%) |", r, 100*actual)
		}
		report.WriteString("\n")
	}
	fmt.Fprintf(&report, "\n| query | systems | akosha (cache off) | raw DuckDB, live files | ratio | raw DuckDB, one sorted file | ratio |\n|---|---|---|---|---|---|---|\n")
	for _, r := range sqlRows {
		fmt.Fprintf(&report, "| %s | %d | %s | %s | %.2fx | %s | %.2fx |\n", r.name, r.systems, ms(r.ours), ms(r.live), float64(r.ours)/float64(r.live),
			ms(r.sorted), float64(r.ours)/float64(r.sorted))
	}
	fmt.Fprintf(&report, "\nresident memory: %.0f MiB before opening the warm functions (the benchmark's %d vectors, %.0f MiB, included), %.0f MiB after warm search and SQL on all %d lakes (peak %.0f MiB); load average at end %s\n",
		mib(rssBefore), n+nq, mib(int64(len(vecs)*4)), mib(rssWarm), len(fleets), mib(hwm), loadAvg())
	b.Log(report.String())
	for _, fl := range fleets {
		fl.raw.Close()
		fl.sorted.Close()
		fl.f.Stop(ctx)
		purgeStore(b, fl.store)
	}
}

// fleetLake is one fleet shape's lake and what was measured on it.
type fleetLake struct {
	systems        int
	gen            gen.Fleet
	store          *storage.S3
	l              *lake.Lake
	live, backfill ingestCount
	filesBefore    int
	filesAfter     int
	maxPerDay      int
	compactTime    time.Duration
	indexTime      time.Duration
	cacheDir       string
	f              *query.Function
	raw, sorted    *sql.DB
	day            []uint8 // record i's day, as an offset from the first: the exact scan's filter
}

type ingestCount struct {
	records   int
	wall, cpu time.Duration
}

func (c ingestCount) rate() float64   { return float64(c.records) / c.wall.Seconds() }
func (c ingestCount) perCPU() float64 { return float64(c.records) / c.cpu.Seconds() }

// groupCommit is what one group commit carries when 64 clients each send a
// batch of 100.
const groupCommit = 64 * 100

// fleetIngest writes every fleet's records twice, each shape into its own
// store: live (by day) into the store the rest of the benchmark reads, and
// backfill (by system) into one deleted afterwards. Appends alternate
// between the fleets and the shapes, so each is timed under the same load.
func fleetIngest(b *testing.B, fleets []*fleetLake) {
	ctx := context.Background()
	type job struct {
		fl    *fleetLake
		l     *lake.Lake
		recs  []schemas.Memory
		count *ingestCount
	}
	var jobs []job
	var backfillStores []*storage.S3
	for _, fl := range fleets {
		recs := fl.gen.Memories()
		first := fl.gen.End.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-fl.gen.Days)
		fl.day = make([]uint8, len(recs))
		for i, m := range recs {
			fl.day[i] = uint8(m.CreatedAt.Sub(first) / (24 * time.Hour))
		}
		live := slices.Clone(recs)
		slices.SortStableFunc(live, func(a, c schemas.Memory) int { return a.CreatedAt.Compare(c.CreatedAt) })
		back := recs // by system, each system's month in order
		slices.SortStableFunc(back, func(a, c schemas.Memory) int {
			return cmp.Or(strings.Compare(a.SystemID, c.SystemID), a.CreatedAt.Compare(c.CreatedAt))
		})
		fl.store = testenv.S3(b)
		var err error
		if fl.l, err = lake.Open(ctx, fl.store); err != nil {
			b.Fatalf("open lake: %v", err)
		}
		bs := testenv.S3(b)
		backfillStores = append(backfillStores, bs)
		bl, err := lake.Open(ctx, bs)
		if err != nil {
			b.Fatalf("open backfill lake: %v", err)
		}
		jobs = append(jobs, job{fl, fl.l, live, &fl.live}, job{fl, bl, back, &fl.backfill})
	}
	for off := 0; ; off += groupCommit {
		done := true
		for j := range jobs {
			jb := jobs[(off/groupCommit+j)%len(jobs)]
			if off >= len(jb.recs) {
				continue
			}
			done = false
			batch := jb.recs[off:min(off+groupCommit, len(jb.recs))]
			c0, t0 := cputime.Self(), time.Now()
			if _, err := jb.l.AppendMemories(ctx, batch); err != nil {
				b.Fatalf("append (%d systems): %v", jb.fl.systems, err)
			}
			jb.count.wall += time.Since(t0)
			jb.count.cpu += cputime.Self() - c0
			jb.count.records += len(batch)
		}
		if done {
			break
		}
	}
	for _, fl := range fleets {
		fl.filesBefore = liveFiles(b, fl.l).total
	}
	for _, s := range backfillStores {
		purgeStore(b, s)
	}
}

type fileCount struct{ total, maxPerPartition int }

func liveFiles(b *testing.B, l *lake.Lake) fileCount {
	t, err := l.Table(schemas.TableMemories)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := t.Refresh(context.Background())
	if err != nil {
		b.Fatalf("refresh: %v", err)
	}
	per := map[string]int{}
	var c fileCount
	for a := range snap.AllFiles() {
		c.total++
		p := filepath.Dir(a.Path)
		per[p]++
		c.maxPerPartition = max(c.maxPerPartition, per[p])
	}
	return c
}

func (fl *fleetLake) compactAndIndex(b *testing.B) {
	ctx := context.Background()
	t0 := time.Now()
	if _, err := compact.Run(ctx, fl.l, compact.Options{Tables: []string{schemas.TableMemories}}); err != nil {
		b.Fatalf("compact (%d systems): %v", fl.systems, err)
	}
	fl.compactTime = time.Since(t0)
	c := liveFiles(b, fl.l)
	fl.filesAfter, fl.maxPerDay = c.total, c.maxPerPartition
	t0 = time.Now()
	sum, err := indexer.Run(ctx, fl.l, indexer.Options{})
	if err != nil {
		b.Fatalf("index (%d systems): %v", fl.systems, err)
	}
	fl.indexTime = time.Since(t0)
	b.Logf("%d systems: compaction %v (%d -> %d files), index job %v (%d built, %d vectors)", fl.systems,
		fl.compactTime.Round(time.Millisecond), fl.filesBefore, fl.filesAfter, fl.indexTime.Round(time.Millisecond), sum.Built, sum.Vectors)
}

func openFleetFunction(b *testing.B, store storage.Store, cacheDir string) *query.Function {
	l, err := lake.Open(context.Background(), store)
	if err != nil {
		b.Fatalf("open lake: %v", err)
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	f, err := query.Open(l, a, query.Config{CacheDir: cacheDir, SQLTimeout: 5 * time.Minute, NoResultCache: true}, prometheus.NewRegistry())
	if err != nil {
		b.Fatalf("open query function: %v", err)
	}
	b.Cleanup(func() { f.Stop(context.Background()) })
	return f
}

// openRaw opens two raw DuckDB databases, as someone would query the lake
// by hand: a view over the live files of the function's cache, and a view
// over the same rows copied into one file sorted by (system_id,
// created_at). Call it after the function has read every file.
func (fl *fleetLake) openRaw(b *testing.B) {
	t, _ := fl.l.Table(schemas.TableMemories)
	snap, err := t.Refresh(context.Background())
	if err != nil {
		b.Fatalf("refresh: %v", err)
	}
	var files []string
	for a := range snap.AllFiles() {
		p := filepath.Join(fl.cacheDir, schemas.TableMemories, filepath.FromSlash(a.Path))
		if _, err := os.Stat(p); err != nil {
			b.Fatalf("live file not in the function's cache after the warm runs: %v", err)
		}
		files = append(files, "'"+p+"'")
	}
	src := fmt.Sprintf(`read_parquet([%s], hive_partitioning = true, hive_types = {'tier': VARCHAR, 'day': DATE})`, strings.Join(files, ", "))
	open := func() *sql.DB {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatalf("duckdb: %v", err)
		}
		db.SetMaxOpenConns(1) // one connection: the view lives in it (in-memory database per connection otherwise)
		return db
	}
	fl.raw = open()
	if _, err := fl.raw.Exec(`CREATE VIEW memories AS SELECT * FROM ` + src); err != nil {
		b.Fatalf("raw view: %v", err)
	}
	sorted := filepath.Join(b.TempDir(), "sorted.parquet")
	if _, err := fl.raw.Exec(fmt.Sprintf(`COPY (SELECT * FROM %s ORDER BY system_id, created_at) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 100000)`, src, sorted)); err != nil {
		b.Fatalf("sorted copy: %v", err)
	}
	fl.sorted = open()
	if _, err := fl.sorted.Exec(fmt.Sprintf(`CREATE VIEW memories AS SELECT * FROM read_parquet('%s')`, sorted)); err != nil {
		b.Fatalf("sorted view: %v", err)
	}
}

// fleetQueries are issue 22's six SQL queries. %s is a system, %s a day.
func fleetQueries(system, day string) []struct{ name, sql string } {
	return []struct{ name, sql string }{
		{"count by system", `SELECT system_id, count(*) AS n FROM memories GROUP BY system_id ORDER BY system_id`},
		{"one system, one day", fmt.Sprintf(`SELECT count(*), avg(importance), max(created_at) FROM memories WHERE system_id = '%s' AND day = DATE '%s'`, system, day)},
		{"top projects per ISO week", `SELECT date_trunc('week', created_at) AS week, project, count(*) AS n FROM memories GROUP BY ALL ORDER BY n DESC, week, project LIMIT 20`},
		{"LIKE scan", `SELECT count(*) FROM memories WHERE content LIKE '%deploy timeout cache%'`},
		{"first three per system (window)", `SELECT system_id, id, created_at FROM (SELECT system_id, id, created_at, row_number() OVER (PARTITION BY system_id ORDER BY created_at, id) AS rn FROM memories) WHERE rn <= 3 ORDER BY system_id, created_at, id`},
		{"latest per system (self-join)", `SELECT m.system_id, m.id, m.created_at FROM memories m JOIN (SELECT system_id, max(created_at) AS t FROM memories GROUP BY system_id) l ON m.system_id = l.system_id AND m.created_at = l.t ORDER BY m.system_id, m.id`},
	}
}

type fleetSQLRow struct {
	name               string
	systems            int
	ours, live, sorted time.Duration
}

// fleetSQL times each query through every fleet's function and its two raw
// peers, rotating the order of all of them each repetition; medians.
func fleetSQL(b *testing.B, fleets []*fleetLake, n int) []fleetSQLRow {
	ctx := context.Background()
	reps := 7
	if n > 200_000 {
		reps = 5
	}
	day := time.Now().UTC().AddDate(0, 0, -15).Format(time.DateOnly)
	var out []fleetSQLRow
	for qi := range fleetQueries("", "") {
		type peer struct {
			fl  *fleetLake
			run func() error
			d   *[]time.Duration
		}
		var peers []peer
		times := make([][3][]time.Duration, len(fleets))
		for k, fl := range fleets {
			q := fleetQueries(gen.FleetSystem(42%fl.systems), day)[qi].sql
			rawRun := func(db *sql.DB) func() error {
				return func() error {
					rs, err := db.Query(q)
					if err != nil {
						return err
					}
					for rs.Next() {
					}
					rs.Close()
					return rs.Err()
				}
			}
			peers = append(peers,
				peer{fl, func() error { _, _, err := fl.f.ServeSQL(ctx, q, 0); return err }, &times[k][0]},
				peer{fl, rawRun(fl.raw), &times[k][1]},
				peer{fl, rawRun(fl.sorted), &times[k][2]})
		}
		for _, p := range peers { // warm each once: DuckDB's metadata, the page cache
			if err := p.run(); err != nil {
				b.Fatalf("query %d (%d systems): %v", qi, p.fl.systems, err)
			}
		}
		for r := range reps {
			for j := range peers {
				p := peers[(r+j)%len(peers)]
				t := time.Now()
				if err := p.run(); err != nil {
					b.Fatalf("query %d: %v", qi, err)
				}
				*p.d = append(*p.d, time.Since(t))
			}
		}
		for k, fl := range fleets {
			out = append(out, fleetSQLRow{fleetQueries("", "")[qi].name, fl.systems, median(times[k][0]), median(times[k][1]), median(times[k][2])})
		}
	}
	return out
}

// fleetRecall is recall@10 of the function's search against exact cosine
// over the same vectors, under a filter keeping about sel of the records:
// a set of systems, narrowed to some days when one system is already more
// than sel. It returns the recall and the fraction the filter keeps.
func fleetRecall(b *testing.B, fl *fleetLake, vecs []float32, n, nq int, sel float64) (float64, float64) {
	ctx := context.Background()
	k := max(1, int(sel*float64(fl.systems)+0.5))
	var filter *query.SearchFilter
	var days []int // the days kept, as offsets from the first; nil: all
	if sel < 1 {
		filter = &query.SearchFilter{}
		for s := range k {
			filter.SystemID = append(filter.SystemID, gen.FleetSystem(s*fl.systems/k))
		}
		if share := float64(k) / float64(fl.systems); share > sel*1.5 {
			nd := max(1, int(float64(fl.gen.Days)*sel/share+0.5))
			first := fl.gen.End.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-fl.gen.Days)
			from := first.AddDate(0, 0, 10)
			filter.From = from.Format(time.RFC3339)
			filter.To = from.AddDate(0, 0, nd).Add(-time.Millisecond).Format(time.RFC3339Nano)
			for d := 10; d < 10+nd; d++ {
				days = append(days, d)
			}
		}
	}
	// Record i is system i mod systems (gen.Fleet).
	inSet := make([]bool, fl.systems)
	if filter != nil {
		for s := range k {
			inSet[s*fl.systems/k] = true
		}
	}
	keep := make([]bool, n)
	kept := 0
	for i := range keep {
		ok := filter == nil || inSet[i%fl.systems]
		if ok && days != nil {
			d := int(fl.day[i])
			ok = d >= days[0] && d <= days[len(days)-1]
		}
		keep[i] = ok
		if ok {
			kept++
		}
	}
	var hits, total int
	for q := range 20 {
		qv := vecs[(n+q)*textvec.Dim : (n+q+1)*textvec.Dim]
		res, err := fl.f.Search(ctx, query.SearchRequest{Vector: f64(qv), K: ptr(10), Filter: filter})
		if err != nil {
			b.Fatalf("recall search: %v", err)
		}
		exact, err := hnsw.ExactParallel(vecs[:n*textvec.Dim], textvec.Dim, qv, 10, func(id int32) bool { return keep[id] }, 0)
		if err != nil {
			b.Fatalf("exact: %v", err)
		}
		if len(exact) == 0 {
			continue
		}
		// Tie-robust: textvec has exact duplicates, so a result counts
		// when it scores at least the true 10th best.
		kth := exact[len(exact)-1].Score
		for _, r := range res.Results {
			if r.Score >= kth-1e-5 {
				hits++
			}
		}
		total += len(exact)
	}
	return float64(hits) / float64(max(total, 1)), float64(kept) / float64(n)
}

// fleetShapes are the fleet sizes (systems) to build:
// AKOSHA_BENCH_FLEET_SYSTEMS, comma-separated, or def.
func fleetShapes(b *testing.B, def ...int) []int {
	s := os.Getenv("AKOSHA_BENCH_FLEET_SYSTEMS")
	if s == "" {
		return def
	}
	var shapes []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			b.Fatalf("AKOSHA_BENCH_FLEET_SYSTEMS: %q is not a positive count", f)
		}
		shapes = append(shapes, v)
	}
	return shapes
}

// fleetProfile starts a CPU profile of one phase into
// $AKOSHA_BENCH_FLEET_PROFILE.<phase> when that is set (go test
// -cpuprofile would profile the build and the index job too, which dwarf
// the warm phases), and returns its stop.
func fleetProfile(b *testing.B, phase string) func() {
	return testenv.CPUProfile(b, os.Getenv("AKOSHA_BENCH_FLEET_PROFILE"), "."+phase)
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func vmRSS() int64 { return procStatus("VmRSS") }
func vmHWM() int64 { return procStatus("VmHWM") }

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

// purgeStore deletes a benchmark's objects, so that runs of a million
// records do not fill the S3 server's disk.
func purgeStore(b *testing.B, store storage.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	objs, err := store.List(ctx, "")
	if err != nil {
		b.Logf("purge: %v", err)
		return
	}
	keys := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				if err := store.Delete(ctx, k); err != nil {
					b.Logf("purge: %v", err)
				}
			}
		}()
	}
	for _, o := range objs {
		keys <- o.Key
	}
	close(keys)
	wg.Wait()
}
