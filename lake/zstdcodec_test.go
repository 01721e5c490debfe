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
