package ingest_test

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/internal/gen"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/tenants"
	"github.com/akosha/akosha/schemas"
)

// BenchmarkFleetIngest is the ingest part of issue 22 ("Fleet scale"): 64
// clients posting batches of 100 over HTTP from 1,000 systems (one system
// per batch, as each Session-Buddy sends its own), in two shapes:
//
//	live      every system pushing today's memories: a group commit holds
//	          one day of many systems
//	backfill  every system sending its last 30 days: a batch spans the
//	          month, so a group commit touches every day's partition
//
// each as JSON floats and as embedding_b64, closed loop (capacity, records
// per CPU-second of this process, which also runs the clients) and paced at
// 50% of that capacity (latency from the due time). It runs only with
// AKOSHA_BENCH_FLEET set (scripts/bench.sh); -benchtime 1000x sends each
// system's batch once.
//
// The systems are claimed for the tenant before the timed loop: a system's
// first push ever also records its tenant (one commit to the systems table,
// lake/tenants), which with every system pushing exactly once made this a
// benchmark of first contact (about 280 records per commit and a quarter of
// the throughput) rather than of the steady state every later push is in.
// AKOSHA_BENCH_FLEET_UNCLAIMED=1 leaves them unclaimed.
// AKOSHA_BENCH_FLEET_CPUPROFILE=PREFIX writes a CPU profile of each closed
// loop alone (PREFIX-<shape>-<encoding>.prof), without the untimed body
// generation that dominates -cpuprofile.
func BenchmarkFleetIngest(b *testing.B) {
	if os.Getenv("AKOSHA_BENCH_FLEET") == "" {
		b.Skip("set AKOSHA_BENCH_FLEET to measure fleet-shaped ingest (issue 22)")
	}
	const days = 30
	systems := fleetSystems(1000)
	for _, shape := range []string{"live", "backfill"} {
		for _, enc := range []string{"json", "b64"} {
			bodies := fleetBodies(shape, enc == "b64", len(systems), days)
			var capRate float64
			b.Run(fmt.Sprintf("%s/%s/clients=64", shape, enc), func(b *testing.B) {
				s := benchServer(b)
				claimFleet(b, s, systems)
				client := benchClient(64)
				v0 := memoriesVersion(s)
				cpu := startCPU()
				stop := fleetProfile(b, shape+"-"+enc)
				b.ResetTimer()
				lat := closedLoop(b, client, s.URL, bodies, 64, b.N)
				b.StopTimer()
				stop()
				capRate = reportLatency(b, lat, benchBatch)
				cpu.report(b, len(lat)*benchBatch)
				reportCommits(b, s, v0, len(lat)*benchBatch)
			})
			b.Run(fmt.Sprintf("%s/%s/paced=50%%", shape, enc), func(b *testing.B) {
				s := benchServer(b)
				claimFleet(b, s, systems)
				client := benchClient(64)
				rate := capRate / 2
				if rate <= 0 {
					b.Skip("no capacity measured")
				}
				v0 := memoriesVersion(s)
				cpu := startCPU()
				b.ResetTimer()
				lat := pacedLoop(b, client, s.URL, bodies, 64, b.N, rate/benchBatch)
				b.StopTimer()
				b.ReportMetric(rate, "offered-rec/s")
				reportLatency(b, lat, benchBatch)
				cpu.report(b, len(lat)*benchBatch)
				reportCommits(b, s, v0, len(lat)*benchBatch)
			})
		}
	}
}

// fleetBodies makes one body per system: its 100 records, created in the
// last hour (live) or over its last 30 days (backfill), with the 1,000
// bodies in system order so that consecutive requests come from different
// systems.
func fleetBodies(shape string, b64 bool, systems, days int) [][]byte {
	recs := gen.Fleet{Systems: systems, Days: days, Records: systems * benchBatch, Seed: 22}.Memories()
	now := time.Now().UTC()
	for i := range recs {
		if shape == "live" {
			// Today's memories, seconds to an hour old.
			recs[i].CreatedAt = now.Add(-time.Duration(1+i%3600) * time.Second)
		}
	}
	slices.SortStableFunc(recs, func(a, c schemas.Memory) int {
		return cmp.Or(strings.Compare(a.SystemID, c.SystemID), a.CreatedAt.Compare(c.CreatedAt))
	})
	return encodeBodies(recs, b64)
}

// fleetSystems are the system ids of a gen.Fleet of systems systems.
func fleetSystems(systems int) []string {
	out := make([]string, systems)
	for i := range out {
		out[i] = gen.FleetSystem(i)
	}
	return out
}

// claimFleet records systems as the default tenant's, as their first push
// would, unless AKOSHA_BENCH_FLEET_UNCLAIMED is set.
func claimFleet(b *testing.B, s *server, systems []string) {
	if os.Getenv("AKOSHA_BENCH_FLEET_UNCLAIMED") != "" {
		return
	}
	if err := s.lake.Tenants().Claim(testenv.Context(b), systems, tenants.DefaultTenant, "bench"); err != nil {
		b.Fatal(err)
	}
}

// fleetProfile starts a CPU profile of the timed loop when
// AKOSHA_BENCH_FLEET_CPUPROFILE names a prefix; the returned func stops it.
func fleetProfile(b *testing.B, name string) func() {
	if b.N == 1 {
		return func() {}
	}
	return testenv.CPUProfile(b, os.Getenv("AKOSHA_BENCH_FLEET_CPUPROFILE"), "-"+name+".prof")
}
