package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"
)

// rangeEnds is how much of each end of an object a RangeReader fetches up
// front. Opening a Parquet file reads its first four bytes, then its
// footer's length, the footer and the page indexes: four or five small
// reads, each waiting for the one before. A data file's footer and page
// indexes take a few KB at the end; the head holds the first columns'
// dictionaries.
const rangeEnds = 64 << 10

// RangeReader is an io.ReaderAt over ranged GETs of one object, with both
// of its ends read at once when it is made (two concurrent GETs) so that a
// Parquet reader's opening reads cost no round trip each: reading a few
// columns of a data file fetches those columns, not the whole object.
type RangeReader struct {
	ctx   context.Context
	store Store
	key   string

	head    []byte // bytes [0, len(head))
	tail    []byte // bytes [tailOff, size)
	tailOff int64
}

// NewRangeReader reads both ends of the object key, of size bytes, and
// returns a reader for the rest; ctx bounds every later read too.
func NewRangeReader(ctx context.Context, store Store, key string, size int64) (*RangeReader, error) {
	r := &RangeReader{ctx: ctx, store: store, key: key}
	if size <= 0 {
		return r, nil
	}
	n := min(size, rangeEnds)
	r.head = make([]byte, n)
	r.tailOff = size - n
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.fill(gctx, r.head, 0) })
	if r.tailOff >= n {
		r.tail = make([]byte, size-r.tailOff)
		g.Go(func() error { return r.fill(gctx, r.tail, r.tailOff) })
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return r, nil
}

func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	switch {
	case off >= 0 && end <= int64(len(r.head)):
		return copy(p, r.head[off:end]), nil
	case r.tail != nil && off >= r.tailOff && end <= r.tailOff+int64(len(r.tail)):
		return copy(p, r.tail[off-r.tailOff:]), nil
	}
	return r.readAt(r.ctx, p, off)
}

// readAt is one ranged GET of len(p) bytes at off, as io.ReaderAt answers.
func (r *RangeReader) readAt(ctx context.Context, p []byte, off int64) (int, error) {
	rc, err := r.store.Get(ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// fill reads exactly len(p) bytes at off: an end of the object, which must
// be there.
func (r *RangeReader) fill(ctx context.Context, p []byte, off int64) error {
	if n, err := r.readAt(ctx, p, off); err != nil {
		return fmt.Errorf("read %d bytes at %d: got %d: %w", len(p), off, n, err)
	}
	return nil
}
