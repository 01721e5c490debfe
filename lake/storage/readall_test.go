package storage_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/lake/storage"
)

// ReadAll gives an object's exact bytes whatever its size, on every backend
// (it sizes its buffer by what the body says it holds).
func TestReadAllWholeObjects(t *testing.T) {
	testenv.Backends(t, func(t *testing.T, s storage.Store) {
		for _, n := range []int{0, 1, 511, 512, 513, 64<<10 + 7, 3<<20 + 1} {
			want := make([]byte, n)
			rand.Read(want)
			key := fmt.Sprintf("readall/%d.bin", n)
			if err := s.Put(ctx(t), key, bytes.NewReader(want), int64(n)); err != nil {
				t.Fatal(err)
			}
			got, err := storage.ReadAll(ctx(t), s, key)
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: read %d, not the object's bytes", n, len(got))
			}
		}
		if _, err := storage.ReadAll(ctx(t), s, "readall/missing"); !errors.Is(err, storage.ErrNotExist) {
			t.Fatalf("missing object: %v", err)
		}
	})
}

// A wrong hint costs growth or slack, never bytes; a reader's error is
// passed on.
func TestReadSizedWithWrongHints(t *testing.T) {
	data := make([]byte, 10000)
	rand.Read(data)
	for _, hint := range []int64{-1, 0, 1, 4096, 9999, 10000, 10001, 1 << 20} {
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(data),
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"data+EOF": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			got, err := storage.ReadSized(r, hint)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("hint %d, %s: %d bytes, %v", hint, name, len(got), err)
			}
		}
	}
	boom := errors.New("boom")
	if _, err := storage.ReadSized(iotest.ErrReader(boom), 100); !errors.Is(err, boom) {
		t.Errorf("reader error: %v", err)
	}
	// A body cut mid-way whose resumed GET failed with an error that
	// wraps io.EOF (net/http's "connection closed") is a failed read, not
	// the end of the object: half a file read as a whole one is what
	// compaction then decoded (found by TestHTTPUnderS3Faults).
	cut := io.MultiReader(bytes.NewReader(data[:4000]), iotest.ErrReader(fmt.Errorf("get x at byte 4000: request send failed: %w", io.EOF)))
	for _, hint := range []int64{-1, 10000} {
		got, err := storage.ReadSized(cut, hint)
		if err == nil || err == io.EOF {
			t.Errorf("hint %d: a cut body read as %d bytes without error", hint, len(got))
		}
		cut = io.MultiReader(bytes.NewReader(data[:4000]), iotest.ErrReader(fmt.Errorf("get x at byte 4000: request send failed: %w", io.EOF)))
	}
}
