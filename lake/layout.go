package lake

import (
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// A data file's encoding is named in its add action's tags, so every reader
// (the SQL views, search, compaction) knows how to read it from the log
// alone, and Delta readers that ignore tags still read every column.
const (
	// EncodingTag is the add action tag that names a file's encoding.
	EncodingTag = "akosha.encoding"
	// EncodingFloat32 (the tag absent): the row types of schemas, float32
	// embeddings. Hot files, and every entities and relations file.
	EncodingFloat32 = ""
	// EncodingInt8: memories as schemas.QuantizedMemoryRow (int8 embedding
	// with a per-vector scale). Warm and cold memories files.
	EncodingInt8 = "int8"
)

// EncodingOf is the encoding of a data file, from its add action.
func EncodingOf(a delta.Add) string { return a.Tags[EncodingTag] }

// Layout is how the files of one tier are written: the embedding encoding,
// the compression level and the object storage class.
type Layout struct {
	Encoding     string     // EncodingFloat32 or EncodingInt8 (memories only)
	Compression  zstd.Level // zstd level of the compressed columns
	StorageClass string     // S3 storage class; "" the bucket's default
}

// Storage classes the age job uses by default: Standard-IA for warm
// (millisecond reads, cheaper storage, a per-GB retrieval fee) and Glacier
// Instant Retrieval for cold (millisecond reads, cheapest storage that
// still answers a query without a restore).
const (
	DefaultWarmStorageClass = "STANDARD_IA"
	DefaultColdStorageClass = "GLACIER_IR"
)

// DefaultLayouts are the tiers' layouts. Hot files are written fast, since
// ingest waits for them; warm and cold files are written once by the age
// job and read rarely, so they trade CPU for size: int8 embeddings and
// stronger zstd. Measured on 10,000 memories (BenchmarkTierLayouts): hot
// 1,699 bytes a record, warm 677 (zstd default), cold 659 (zstd "better");
// zstd's best level would save 4% more at five times the encode time.
func DefaultLayouts() map[string]Layout {
	return map[string]Layout{
		schemas.TierHot:  {Encoding: EncodingFloat32, Compression: zstd.SpeedFastest},
		schemas.TierWarm: {Encoding: EncodingInt8, Compression: zstd.SpeedDefault, StorageClass: DefaultWarmStorageClass},
		schemas.TierCold: {Encoding: EncodingInt8, Compression: zstd.SpeedBetterCompression, StorageClass: DefaultColdStorageClass},
	}
}

// For is the layout as it applies to table: only memories carry the int8
// encoding (entities are few, and their embeddings are rarely searched).
func (l Layout) For(table string) Layout {
	if table != schemas.TableMemories {
		l.Encoding = EncodingFloat32
	}
	return l
}
