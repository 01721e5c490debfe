package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/akosha/akosha/schemas"
)

// Fleet shapes the memories of a fleet of Session-Buddy systems.
type Fleet struct {
	Systems int    // distinct system_ids, "sys-0000" ...
	Days    int    // created_at spans the Days days ending on End's day
	Records int    // in all
	Seed    uint64 // the same Fleet gives the same records
	// End is the last day (UTC); zero means today, so that every record is
	// in the hot tier, as a month of a live fleet is.
	End time.Time
	// Vector, when set, gives record i's embedding (say, from
	// testdata/textvec, whose neighbour structure is real text's); nil
	// means Clustered's vectors. It is taken as it is, not copied.
	Vector func(i int) []float32
}

// FleetSystem names system s of a fleet.
func FleetSystem(s int) string { return fmt.Sprintf("sys-%04d", s) }

// Memories returns the fleet's records. Record i belongs to system
// i mod Systems, so every system holds the same share (within one) and a
// set of k systems selects k/Systems of the records; days and times are
// drawn at random. Texts are 300-900 bytes, each system has its own 20
// projects, and the order is by record index (neither by day nor by
// system: callers reorder for the ingest shape they model).
func (f Fleet) Memories() []schemas.Memory {
	r := rand.New(rand.NewPCG(f.Seed, f.Seed^0x5851f42d4c957f2d))
	end := f.End
	if end.IsZero() {
		end = time.Now().UTC()
	}
	first := end.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1-f.Days)
	vec := f.Vector
	if vec == nil {
		c := newClusters(f.Seed, 64)
		vec = func(int) []float32 { return c.vector(r) }
	}
	kinds := []string{schemas.KindConversation, schemas.KindReflection, schemas.KindMemory}
	out := make([]schemas.Memory, f.Records)
	for i := range out {
		s := i % f.Systems
		imp := float64(r.IntN(100)) / 100
		out[i] = schemas.Memory{
			SystemID:   FleetSystem(s),
			ID:         fmt.Sprintf("fleet-%d-%08d", f.Seed, i),
			Kind:       kinds[r.IntN(len(kinds))],
			Content:    Text(r, 300+r.IntN(590)), // Text overshoots by a word: at most ~900
			Embedding:  vec(i),
			CreatedAt:  first.Add(time.Duration(r.Int64N(int64(f.Days) * int64(24*time.Hour)))),
			Project:    fmt.Sprintf("project-%d", (s*7+r.IntN(20))%200),
			Tags:       []string{words[r.IntN(len(words))], words[r.IntN(len(words))]},
			Importance: &imp,
			SourceType: "session-buddy",
			Metadata:   []byte(`{"source":"gen.Fleet"}`),
		}
	}
	return out
}

// clusters are random unit centres; a vector is a centre plus Gaussian
// noise, normalized. Not text's structure (use textvec for that) but, unlike
// uniform random vectors, one where nearest neighbours mean something.
type clusters struct{ centres [][]float32 }

func newClusters(seed uint64, k int) *clusters {
	r := rand.New(rand.NewPCG(seed^0xc0ffee, seed))
	c := &clusters{centres: make([][]float32, k)}
	for i := range c.centres {
		c.centres[i] = Embedding(r)
	}
	return c
}

func (c *clusters) vector(r *rand.Rand) []float32 {
	centre := c.centres[r.IntN(len(c.centres))]
	v := make([]float32, len(centre))
	// Noise of norm ~0.8 against a unit centre: neighbours within a
	// cluster at cosine ~0.6, across clusters ~0.
	sigma := 0.8 / math.Sqrt(float64(len(v)))
	var n float64
	for i := range v {
		x := float64(centre[i]) + sigma*r.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	s := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= s
	}
	return v
}
