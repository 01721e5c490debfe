// Command bench compares lake/hnsw with hnswlib on the same textvec vectors,
// in one run: it writes the vectors, the held-out queries and their exact
// top 10 to a file, runs hnswlib_peer.py on it, runs our index on the same
// data, and prints one markdown table.
//
//	go run ./lake/hnsw/bench -n 100000
//	go run ./lake/hnsw/bench -n 1000000 -queries 1000
//
// The peer needs Debian's python3-hnswlib and python3-numpy under
// /usr/bin/python3; without them the table has our columns only. Build times
// use -workers threads on both sides; queries are single-threaded on both
// sides, each ef timed as the fastest of -reps passes over all queries, so
// that noise from other work on the machine inflates neither side.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/akosha/akosha/internal/cputime"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/testdata/textvec"
)

const k = 10

// cpuProfile, when set, is where runOurs writes a CPU profile of the build.
var cpuProfile string

type searchRow struct {
	Ef     int     `json:"ef"`
	Recall float64 `json:"recall"`
	QPS    float64 `json:"qps"`
}

type report struct {
	Library       string      `json:"library"`
	Version       string      `json:"version"`
	BuildSeconds  float64     `json:"build_seconds"`
	BuildCPU      float64     `json:"build_cpu_seconds"`
	VectorsPerSec float64     `json:"vectors_per_second"`
	BytesPerVec   float64     `json:"bytes_per_vector"`
	Search        []searchRow `json:"search"`
}

func main() {
	_, self, _, _ := runtime.Caller(0)
	var (
		n       = flag.Int("n", 100_000, "base vectors")
		nq      = flag.Int("queries", 1000, "held-out queries")
		seed    = flag.Int64("seed", 1, "textvec seed")
		m       = flag.Int("m", hnsw.DefaultM, "M")
		efc     = flag.Int("efc", hnsw.DefaultEfConstruction, "efConstruction")
		workers = flag.Int("workers", runtime.GOMAXPROCS(0), "build threads, both sides")
		efs     = flag.String("ef", "16,32,64,100,200", "ef values to measure")
		reps    = flag.Int("reps", 3, "query passes per ef; the fastest counts")
		python  = flag.String("python", "/usr/bin/python3", "interpreter with hnswlib and numpy")
		peer    = flag.String("peer", filepath.Join(filepath.Dir(self), "hnswlib_peer.py"), "peer script; empty to skip")
		data    = flag.String("data", "", "data file for the peer (default: in the temp dir)")
		cpuprof = flag.String("cpuprofile", "", "write a CPU profile of our build to this file")
	)
	flag.Parse()
	cpuProfile = *cpuprof
	if err := run(*n, *nq, *seed, *m, *efc, *workers, *efs, *reps, *python, *peer, *data); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, nq int, seed int64, m, efc, workers int, efList string, reps int, python, peer, data string) error {
	var efs []int
	for _, f := range strings.Split(efList, ",") {
		ef, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || ef <= 0 {
			return fmt.Errorf("bad ef %q", f)
		}
		efs = append(efs, ef)
	}
	const dim = textvec.Dim
	logf("textvec: %d vectors + %d queries", n, nq)
	all, err := textvec.Vectors(n+nq, seed)
	if err != nil {
		return err
	}
	base, queries := all[:n*dim], all[n*dim:]

	logf("exact top %d of %d queries", k, nq)
	truth := make([][]hnsw.Result, nq)
	for i := range nq {
		if truth[i], err = hnsw.ExactParallel(base, dim, queries[i*dim:(i+1)*dim], k, nil, 0); err != nil {
			return err
		}
	}
	scanRate := exactRate(base, queries, nq)

	if data == "" {
		data = filepath.Join(os.TempDir(), fmt.Sprintf("akosha-bench-%d-%d-%d.bin", n, nq, seed))
	}
	if err := writeData(data, n, nq, base, queries, truth); err != nil {
		return err
	}
	defer os.Remove(data)

	// Back to back: the peer, then ours, so both see the same machine.
	var theirs *report
	if peer != "" {
		logf("hnswlib peer: %s %s", python, peer)
		theirs, err = runPeer(python, peer, data, m, efc, workers, efList, reps)
		if err != nil {
			logf("peer unavailable: %v", err)
		}
	}
	logf("lake/hnsw: build with %d workers", workers)
	ours, err := runOurs(base, queries, truth, m, efc, workers, efs, reps)
	if err != nil {
		return err
	}
	printTable(os.Stdout, n, nq, m, efc, workers, scanRate, ours, theirs)
	return nil
}

func runOurs(base, queries []float32, truth [][]hnsw.Result, m, efc, workers int, efs []int, reps int) (*report, error) {
	const dim = textvec.Dim
	n, nq := len(base)/dim, len(queries)/dim
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	start, cpu := time.Now(), cputime.Self()
	ix, err := hnsw.Build(context.Background(), base, dim, hnsw.Config{M: m, EfConstruction: efc, Workers: workers})
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	build := time.Since(start).Seconds()
	r := &report{
		Library:       "lake/hnsw",
		Version:       runtime.Version(),
		BuildSeconds:  build,
		BuildCPU:      (cputime.Self() - cpu).Seconds(),
		VectorsPerSec: float64(n) / build,
		BytesPerVec:   float64(ix.Size()) / float64(n),
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res := make([][]hnsw.Result, nq)
	for _, ef := range efs {
		best := math.Inf(1)
		for range reps {
			start := time.Now()
			for i := range nq {
				res[i], _ = ix.Search(queries[i*dim:(i+1)*dim], k, ef, nil)
			}
			best = min(best, time.Since(start).Seconds())
		}
		hits := 0
		for i := range nq {
			for _, a := range res[i] {
				for _, b := range truth[i] {
					if a.ID == b.ID {
						hits++
						break
					}
				}
			}
		}
		r.Search = append(r.Search, searchRow{Ef: ef, Recall: float64(hits) / float64(nq*k), QPS: float64(nq) / best})
	}
	return r, nil
}

// exactRate is the single-core exact scan speed in vectors/s: the fastest of
// a few full scans.
func exactRate(base, queries []float32, nq int) float64 {
	const dim = textvec.Dim
	n := len(base) / dim
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := math.Inf(1)
	for i := range min(nq, 10) {
		start := time.Now()
		_, _ = hnsw.Exact(base, dim, queries[i*dim:(i+1)*dim], k, nil)
		best = min(best, time.Since(start).Seconds())
	}
	return float64(n) / best
}

func runPeer(python, script, data string, m, efc, workers int, efs string, reps int) (*report, error) {
	cmd := exec.Command(python, script, "--data", data, "--m", strconv.Itoa(m), "--efc", strconv.Itoa(efc),
		"--threads", strconv.Itoa(workers), "--ef", efs, "--reps", strconv.Itoa(reps))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", script, err)
	}
	var r report
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("peer output %q: %w", out, err)
	}
	return &r, nil
}

// writeData writes the file hnswlib_peer.py reads (its docstring has the
// layout).
func writeData(path string, n, nq int, base, queries []float32, truth [][]hnsw.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	le := binary.LittleEndian
	var h [24]byte
	copy(h[:], "AKBENCH1")
	le.PutUint32(h[8:], uint32(n))
	le.PutUint32(h[12:], uint32(nq))
	le.PutUint32(h[16:], textvec.Dim)
	le.PutUint32(h[20:], k)
	w.Write(h[:])
	var b [4]byte
	for _, s := range [][]float32{base, queries} {
		for _, x := range s {
			le.PutUint32(b[:], math.Float32bits(x))
			w.Write(b[:])
		}
	}
	for _, row := range truth {
		for j := range k {
			id := int32(-1)
			if j < len(row) {
				id = row[j].ID
			}
			le.PutUint32(b[:], uint32(id))
			w.Write(b[:])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func printTable(w io.Writer, n, nq, m, efc, workers int, scanRate float64, ours, theirs *report) {
	fmt.Fprintf(w, "\n%d textvec vectors (384-d), %d held-out queries, recall@%d against exact search; M %d, efConstruction %d, build on %d threads, queries on 1 thread; GOMAXPROCS %d.\n\n",
		n, nq, k, m, efc, workers, runtime.GOMAXPROCS(0))
	both := theirs != nil
	if both {
		fmt.Fprintf(w, "| | lake/hnsw | hnswlib %s |\n|---|---|---|\n", theirs.Version)
		fmt.Fprintf(w, "| build (s) | %.1f | %.1f |\n", ours.BuildSeconds, theirs.BuildSeconds)
		fmt.Fprintf(w, "| build vectors/s | %.0f | %.0f |\n", ours.VectorsPerSec, theirs.VectorsPerSec)
		fmt.Fprintf(w, "| build CPU-seconds | %.0f | %.0f |\n", ours.BuildCPU, theirs.BuildCPU)
		fmt.Fprintf(w, "| bytes/vector | %.0f | %.0f |\n", ours.BytesPerVec, theirs.BytesPerVec)
		fmt.Fprintf(w, "| exact scan vectors/s/core | %.1fM | |\n\n", scanRate/1e6)
		fmt.Fprintf(w, "| ef | recall@10 ours | QPS ours | recall@10 hnswlib | QPS hnswlib |\n|---|---|---|---|---|\n")
		for i, r := range ours.Search {
			t := searchRow{}
			if i < len(theirs.Search) {
				t = theirs.Search[i]
			}
			fmt.Fprintf(w, "| %d | %.4f | %.0f | %.4f | %.0f |\n", r.Ef, r.Recall, r.QPS, t.Recall, t.QPS)
		}
		fmt.Fprintf(w, "\nSingle-thread QPS at the smallest measured ef with recall@10 >= 0.95: lake/hnsw %s, hnswlib %s.\n",
			atRecall(ours.Search, 0.95), atRecall(theirs.Search, 0.95))
		return
	}
	fmt.Fprintf(w, "| | lake/hnsw |\n|---|---|\n")
	fmt.Fprintf(w, "| build (s) | %.1f |\n| build vectors/s | %.0f |\n| build CPU-seconds | %.0f |\n| bytes/vector | %.0f |\n| exact scan vectors/s/core | %.1fM |\n\n",
		ours.BuildSeconds, ours.VectorsPerSec, ours.BuildCPU, ours.BytesPerVec, scanRate/1e6)
	fmt.Fprintf(w, "| ef | recall@10 | QPS |\n|---|---|---|\n")
	for _, r := range ours.Search {
		fmt.Fprintf(w, "| %d | %.4f | %.0f |\n", r.Ef, r.Recall, r.QPS)
	}
	fmt.Fprintf(w, "\nSingle-thread QPS at the smallest measured ef with recall@10 >= 0.95: %s.\n", atRecall(ours.Search, 0.95))
}

// atRecall describes the first row (the smallest ef) reaching recall.
func atRecall(rows []searchRow, recall float64) string {
	for _, r := range rows {
		if r.Recall >= recall {
			return fmt.Sprintf("%.0f (ef %d, recall %.3f)", r.QPS, r.Ef, r.Recall)
		}
	}
	return "not reached"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
