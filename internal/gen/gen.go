// Package gen makes synthetic records for tests and benchmarks: deterministic
// for a seed, shaped like Session-Buddy's (about 600 bytes of text, a unit
// 384-d embedding, a handful of tags).
package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/akosha/akosha/schemas"
)

var words = strings.Fields(`the a fix bug test deploy function error commit refactor parser lake
query index vector cache memory reflection conversation session project build release module
retry timeout request response schema table partition snapshot version server client token`)

// Base is the first created_at the generator uses.
var Base = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Embedding returns a random unit vector.
func Embedding(r *rand.Rand) []float32 {
	v := make([]float32, schemas.EmbeddingDim)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	s := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= s
	}
	return v
}

// Text returns about n bytes of words.
func Text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()
}

// Memories returns n memories spread over systems and days, starting at Base.
func Memories(seed uint64, n, systems, days int) []schemas.Memory {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]schemas.Memory, n)
	kinds := []string{schemas.KindConversation, schemas.KindReflection, schemas.KindMemory}
	for i := range out {
		imp := float64(r.IntN(100)) / 100
		out[i] = schemas.Memory{
			SystemID:   fmt.Sprintf("sys-%03d", r.IntN(systems)),
			ID:         fmt.Sprintf("mem-%d-%08d", seed, i),
			Kind:       kinds[r.IntN(len(kinds))],
			Content:    Text(r, 600),
			Embedding:  Embedding(r),
			CreatedAt:  Base.Add(time.Duration(r.IntN(days*24*3600)) * time.Second),
			Project:    fmt.Sprintf("project-%d", r.IntN(20)),
			Tags:       []string{words[r.IntN(len(words))], words[r.IntN(len(words))]},
			Importance: &imp,
			SourceType: "session-buddy",
			Metadata:   []byte(`{"source":"gen"}`),
		}
	}
	return out
}
