package schemas

import (
	"math"
	"time"
)

// Warm and cold memories are stored with int8 embeddings: each vector as
// 384 signed bytes q and one float32 scale s, the value of component i being
// q[i]*s. s is max|x|/127, so the largest component maps to ±127 and the
// others keep 8 bits of precision relative to it. On unit 384-d vectors the
// cosine of a dequantized vector differs from the true one by about 1e-3
// (tested: well inside the 0.01 the README promises), and the files shrink about
// 2.8x (zstd on the int8 list; float32 noise does not compress at all).
//
// Quantizing is idempotent: dequantize then quantize again gives the same
// bytes and scale, so rewriting a warm file (compaction, the move to cold)
// loses nothing more.

// QuantizedMemoryRow is a row of a warm or cold memories data file: a
// MemoryRow whose embedding is stored as embedding_i8 and embedding_scale.
// Its files name the encoding in their add action (lake.EncodingInt8); SQL
// views and search dequantize them.
type QuantizedMemoryRow struct {
	SystemID       string     `parquet:"system_id,dict"`
	ID             string     `parquet:"id,plain"`
	Kind           string     `parquet:"kind,dict"`
	Content        string     `parquet:"content,plain"`
	EmbeddingI8    []int8     `parquet:"embedding_i8,optional,list"` // null when absent
	EmbeddingScale *float32   `parquet:"embedding_scale,optional"`   // null when absent (a pointer: see optString)
	CreatedAt      time.Time  `parquet:"created_at,timestamp(microsecond)"`
	Project        *string    `parquet:"project,optional,dict"`
	Namespace      *string    `parquet:"namespace,optional,dict"`
	SessionID      *string    `parquet:"session_id,optional,dict"`
	UserID         *string    `parquet:"user_id,optional,dict"`
	Category       *string    `parquet:"category,optional,dict"`
	Subcategory    *string    `parquet:"subcategory,optional,dict"`
	Tags           []string   `parquet:"tags,optional,list" parquet-element:",dict"`
	Importance     *float64   `parquet:"importance,optional"`
	SourceType     *string    `parquet:"source_type,optional,dict"`
	Metadata       *string    `parquet:"metadata,optional,plain"`
	IngestedAt     time.Time  `parquet:"ingested_at,timestamp(microsecond)"`
	ExpiresAt      *time.Time `parquet:"expires_at,optional,timestamp(microsecond)"` // as MemoryRow's
}

// Quantized returns r with its embedding quantized. It shares r's other
// slices.
func (r *MemoryRow) Quantized() QuantizedMemoryRow {
	q, s := QuantizeEmbedding(r.Embedding)
	var scale *float32
	if q != nil {
		scale = &s
	}
	return QuantizedMemoryRow{
		SystemID: r.SystemID, ID: r.ID, Kind: r.Kind, Content: r.Content,
		EmbeddingI8: q, EmbeddingScale: scale,
		CreatedAt: r.CreatedAt, Project: r.Project, Namespace: r.Namespace,
		SessionID: r.SessionID, UserID: r.UserID, Category: r.Category,
		Subcategory: r.Subcategory, Tags: r.Tags, Importance: r.Importance,
		SourceType: r.SourceType, Metadata: r.Metadata, IngestedAt: r.IngestedAt,
		ExpiresAt: r.ExpiresAt,
	}
}

// MemoryRow returns q with its embedding dequantized. It shares q's other
// slices.
func (q *QuantizedMemoryRow) MemoryRow() MemoryRow {
	var scale float32
	if q.EmbeddingScale != nil {
		scale = *q.EmbeddingScale
	}
	return MemoryRow{
		SystemID: q.SystemID, ID: q.ID, Kind: q.Kind, Content: q.Content,
		Embedding: DequantizeEmbedding(q.EmbeddingI8, scale),
		CreatedAt: q.CreatedAt, Project: q.Project, Namespace: q.Namespace,
		SessionID: q.SessionID, UserID: q.UserID, Category: q.Category,
		Subcategory: q.Subcategory, Tags: q.Tags, Importance: q.Importance,
		SourceType: q.SourceType, Metadata: q.Metadata, IngestedAt: q.IngestedAt,
		ExpiresAt: q.ExpiresAt,
	}
}

// QuantizeEmbedding encodes v as int8 values and a scale (see above). An
// absent embedding stays absent (nil, 0); an all-zero one gets scale 1, so
// that a stored vector always has a non-null scale.
func QuantizeEmbedding(v []float32) ([]int8, float32) {
	if len(v) == 0 {
		return nil, 0
	}
	var mx float32
	for _, x := range v {
		mx = max(mx, float32(math.Abs(float64(x))))
	}
	q := make([]int8, len(v))
	if mx == 0 || math.IsInf(float64(mx), 0) || math.IsNaN(float64(mx)) {
		return q, 1
	}
	s := mx / 127
	for i, x := range v {
		q[i] = int8(max(-127, min(127, math.Round(float64(x/s)))))
	}
	return q, s
}

// DequantizeEmbedding is the inverse of QuantizeEmbedding, up to the
// rounding: nil for an absent embedding.
func DequantizeEmbedding(q []int8, scale float32) []float32 {
	if len(q) == 0 {
		return nil
	}
	v := make([]float32, len(q))
	for i, x := range q {
		v[i] = float32(x) * scale
	}
	return v
}
