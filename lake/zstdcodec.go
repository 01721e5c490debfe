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

// rawBelow is the page size under which a page is stored in a zstd frame
// of one raw (uncompressed) block instead of being compressed. Every
// EncodeAll call pays a fixed set-up (block and entropy tables) of 10-30 µs
// whatever the input, while pages this small save a few hundred bytes at
// most. A file of a hundred rows (a day of one backfill commit, issue 22)
// is ~30 such pages, dictionary and index pages of the small columns: their
// compression was the larger part of the file's encoding. Large files are
// unaffected: their small pages are a handful of dictionaries.
const rawBelow = 4 << 10

// rawFrame appends src to dst as a zstd frame (RFC 8878) holding one raw
// block: magic, a single-segment frame header with the content size, the
// last block's header, then src as is. Any zstd decoder reads it; zstd's
// own encoders write raw blocks for incompressible input.
func rawFrame(dst, src []byte) []byte {
	n := len(src)
	dst = append(dst, 0x28, 0xb5, 0x2f, 0xfd) // magic 0xFD2FB528, little-endian
	switch {
	case n < 256:
		// Frame_Header_Descriptor: FCS field 1 byte, Single_Segment.
		dst = append(dst, 0x20, byte(n))
	default: // n < 256+65536 (rawBelow is far below)
		// FCS field 2 bytes, holding n-256; Single_Segment.
		dst = append(dst, 0x60, byte(n-256), byte((n-256)>>8))
	}
	// Block header: Last_Block=1, Block_Type=0 (raw), Block_Size=n.
	h := uint32(n)<<3 | 1
	dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
	return append(dst, src...)
}

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	if len(src) < rawBelow {
		return rawFrame(dst[:0], src), nil
	}
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
