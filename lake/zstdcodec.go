package lake

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is the zstd Parquet codec the lake writes with: parquet-go's
// own, except that its encoders live as long as the process. parquet-go
// keeps them in a sync.Pool, which every garbage collection empties (and
// the race detector drops a quarter of what is put back), so a file
// written after a collection built a new encoder: megabytes of match
// tables at the warm and cold tiers' levels, allocated and cleared again.
// Profiled on a tier move under -race, encoder set-up and the clearing of
// its tables were a fifth of the job's CPU.
//
// The free list is bounded: at most freeEncoders idle encoders per level
// stay; a burst above that allocates and lets the extra ones go.
type zstdCodec struct {
	level    zstd.EncoderLevel
	encoders chan *zstd.Encoder
}

const freeEncoders = 8

// zstdCodecs holds one codec per level, made once: the codec is shared by
// every writer of that level.
var zstdCodecs = func() map[zstd.EncoderLevel]*zstdCodec {
	m := map[zstd.EncoderLevel]*zstdCodec{}
	for _, l := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		m[l] = &zstdCodec{level: l, encoders: make(chan *zstd.Encoder, freeEncoders)}
	}
	return m
}()

// zstdCodecAt is the lake's codec for a level (the default level's for an
// unknown one).
func zstdCodecAt(l zstd.EncoderLevel) *zstdCodec {
	if c, ok := zstdCodecs[l]; ok {
		return c
	}
	return zstdCodecs[zstd.SpeedDefault]
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	var e *zstd.Encoder
	select {
	case e = <-c.encoders:
	default:
		var err error
		// The options of parquet-go's codec: one goroutine per encoder
		// (the writers run in parallel already), no empty frames skipped,
		// no checksum (Parquet pages carry their own).
		e, err = zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderLevel(c.level),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false),
		)
		if err != nil {
			return nil, fmt.Errorf("zstd encoder at %s: %w", c.level, err)
		}
	}
	out := e.EncodeAll(src, dst[:0])
	select {
	case c.encoders <- e:
	default:
	}
	return out, nil
}

// Decode is never used to read: parquet-go picks the decoder of a file's
// pages by the codec named in its metadata, its own pooled one, which this
// hands the call to as well.
func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	return parquet.LookupCompressionCodec(format.Zstd).Decode(dst, src)
}
