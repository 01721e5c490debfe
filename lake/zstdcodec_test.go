package lake

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// The lake's codec writes pages any zstd reader (parquet-go's own among
// them) decodes, at every level, and keeps its encoders for the next page.
func TestZstdCodecRoundTripsAndKeepsItsEncoders(t *testing.T) {
	page := bytes.Repeat([]byte("fixed the flaky test in the compactor; "), 900)
	reader := parquet.LookupCompressionCodec(format.Zstd)
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression} {
		// A codec of its own: the shared ones serve other tests meanwhile.
		c := &zstdCodec{level: level, encoders: make(chan *zstd.Encoder, freeEncoders)}
		for range 3 {
			enc, err := c.Encode(nil, page)
			if err != nil {
				t.Fatalf("%s: %v", level, err)
			}
			if len(enc) >= len(page) {
				t.Errorf("%s: %d bytes compressed to %d", level, len(page), len(enc))
			}
			dec, err := reader.Decode(nil, enc)
			if err != nil || !bytes.Equal(dec, page) {
				t.Fatalf("%s: parquet-go's decoder read back %d bytes (%v), want the page", level, len(dec), err)
			}
		}
		if n := len(c.encoders); n != 1 {
			t.Errorf("%s: %d idle encoders after three pages one at a time, want the one reused", level, n)
		}
	}
}

// Pages under rawBelow are stored in a zstd frame of one raw block: every
// zstd reader decodes them, at each size the frame header encodes
// differently (content size in one byte under 256, two above).
func TestZstdCodecStoresSmallPagesRaw(t *testing.T) {
	reader := parquet.LookupCompressionCodec(format.Zstd)
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	src := bytes.Repeat([]byte("abcdefgh"), rawBelow/8)
	for _, n := range []int{0, 1, 7, 100, 255, 256, 257, 1000, 4000, rawBelow - 1} {
		page := src[:n]
		enc, err := zstdCodecAt(zstd.SpeedFastest).Encode(make([]byte, 0, 16), page)
		if err != nil {
			t.Fatal(err)
		}
		if len(enc) > n+10 {
			t.Errorf("%d bytes: frame of %d bytes, want at most %d", n, len(enc), n+10)
		}
		got, err := reader.Decode(nil, enc)
		if err != nil || !bytes.Equal(got, page) {
			t.Fatalf("%d bytes: parquet-go's decoder read back %d bytes (%v)", n, len(got), err)
		}
		got, err = dec.DecodeAll(enc, nil)
		if err != nil || !bytes.Equal(got, page) {
			t.Fatalf("%d bytes: zstd decoder read back %d bytes (%v)", n, len(got), err)
		}
	}
}
