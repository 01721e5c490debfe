package vecindex

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/parquet-go/parquet-go"
)

// ErrCorrupt is returned (wrapped) when a data file's footer, offset index
// or pages do not hold what they claim.
var ErrCorrupt = errors.New("corrupt data file")

// File is the parsed footer of one data file: what reading hits needs of
// it besides the pages themselves. A warm search reads a few rows of up to
// 30 day files, and parsing their footers afresh each time was a third of
// its CPU (Files keeps Files between searches).
//
// A File holds no reference to the reader it was opened with: every read
// goes through the io.ReaderAt passed to the call, so keeping a File keeps
// no file handle (and no unlinked file's bytes) alive. The offset indexes
// of the column chunks hits read are decoded on first use and kept.
//
// A File is safe for concurrent use.
type File struct {
	pf     *parquet.File
	size   int64
	starts []int64 // first row of each row group, then the row count

	content, emb, i8, scale column
	float, quantized        bool
}

type column struct {
	index  int
	maxDef int
	ok     bool
}

func lookup(s *parquet.Schema, path ...string) column {
	c, ok := s.Lookup(path...)
	return column{index: c.ColumnIndex, maxDef: c.MaxDefinitionLevel, ok: ok}
}

// detached is the reader a File is opened with: it reads through r during
// OpenFile only, so that parquet.File, which keeps its reader, keeps none.
type detached struct{ r io.ReaderAt }

var errDetached = errors.New("vecindex: read through a File's own reader (pass one to the call)")

func (d *detached) ReadAt(p []byte, off int64) (int, error) {
	if d.r == nil {
		return 0, errDetached
	}
	return d.r.ReadAt(p, off)
}

// hitsReadBuffer is the page readers' buffer: a page's bytes come from one
// ReadAt of exactly its range (pageAt), so the buffer only carries the page
// header; larger reads bypass it.
const hitsReadBuffer = 8 << 10

// OpenFile parses the footer of the data file of size bytes read through r.
// It reads no page index (offset indexes are read as hits need them) and
// keeps no reference to r.
func OpenFile(r io.ReaderAt, size int64) (f *File, err error) {
	defer recoverCorrupt(&err)
	d := &detached{r: r}
	pf, err := parquet.OpenFile(d, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(hitsReadBuffer))
	d.r = nil
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	f = &File{pf: pf, size: size}
	schema := pf.Schema()
	if f.content = lookup(schema, "content"); !f.content.ok {
		return nil, errors.New("no content column")
	}
	f.emb = lookup(schema, "embedding", "list", "element")
	f.i8 = lookup(schema, "embedding_i8", "list", "element")
	f.scale = lookup(schema, "embedding_scale")
	f.float, f.quantized = f.emb.ok, !f.emb.ok && f.i8.ok
	f.starts = make([]int64, 0, len(pf.RowGroups())+1)
	var n int64
	for _, rg := range pf.RowGroups() {
		if rg.NumRows() < 0 {
			return nil, fmt.Errorf("a row group of %d rows: %w", rg.NumRows(), ErrCorrupt)
		}
		f.starts = append(f.starts, n)
		n += rg.NumRows()
	}
	f.starts = append(f.starts, n)
	return f, nil
}

// HitsAt reads the content and embedding of the given rows (ascending or
// not) through r, which must read the file f was opened from. See the
// package-level HitsAt for what a Hit holds.
//
// Rows are grouped by row group and page: each page holding a hit is read
// with one ReadAt of exactly its range (its offset index says where) and
// decoded once for all the hits it holds. ctx is checked between pages.
func (f *File) HitsAt(ctx context.Context, r io.ReaderAt, rows []uint32) (out []Hit, err error) {
	defer recoverCorrupt(&err)
	out = make([]Hit, len(rows))
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(rows[a], rows[b]) })
	// Per hit, before it becomes a unit vector: the embedding's values
	// (dequantized once the scale is known).
	raw := make([][]float32, len(rows))
	scales := make([]float32, len(rows))
	rd := &hitReader{r: r, size: f.size, buf: make([]parquet.Value, 2*Dim)}
	bp := pageBufs.Get().(*[]byte)
	rd.page = *bp
	defer func() {
		if cap(rd.page) <= maxPooledPage {
			*bp = rd.page[:0]
			pageBufs.Put(bp)
		}
	}()
	for lo := 0; lo < len(order); {
		pos := int64(rows[order[lo]])
		// The last row group starting at or before pos (empty row groups
		// share their start with the next).
		g := sort.Search(len(f.starts), func(i int) bool { return f.starts[i] > pos }) - 1
		if g < 0 || g >= len(f.starts)-1 {
			return nil, fmt.Errorf("row %d: %w", pos, io.ErrUnexpectedEOF)
		}
		hi := lo
		for hi < len(order) && int64(rows[order[hi]]) < f.starts[g+1] {
			hi++
		}
		idx := order[lo:hi] // this row group's hits, ascending
		ats := make([]int64, len(idx))
		for k, i := range idx {
			ats[k] = int64(rows[i]) - f.starts[g]
		}
		chunks := f.pf.RowGroups()[g].ColumnChunks()
		err := rd.each(ctx, chunks, f.content, ats, rd.values(func(k int, vs []parquet.Value) error {
			if len(vs) != 1 {
				return fmt.Errorf("%d values: %w", len(vs), io.ErrUnexpectedEOF)
			}
			out[idx[k]].Content = vs[0].String()
			return nil
		}))
		if err != nil {
			return nil, fmt.Errorf("content: %w", err)
		}
		switch {
		case f.float:
			err = rd.each(ctx, chunks, f.emb, ats, listRows(rd, f.emb.maxDef, encodingFloat, parquet.Value.Float,
				func(k int, vs []float32) error {
					raw[idx[k]] = append(raw[idx[k]], vs...)
					return nil
				}))
			if err != nil {
				return nil, fmt.Errorf("embedding: %w", err)
			}
		case f.quantized:
			if f.scale.ok { // without the column every scale is 0, as ReadFile has it
				err = rd.each(ctx, chunks, f.scale, ats, rd.values(func(k int, vs []parquet.Value) error {
					if len(vs) != 1 {
						return fmt.Errorf("%d values: %w", len(vs), io.ErrUnexpectedEOF)
					}
					scales[idx[k]] = vs[0].Float() // 0 when null
					return nil
				}))
				if err != nil {
					return nil, fmt.Errorf("embedding_scale: %w", err)
				}
			}
			err = rd.each(ctx, chunks, f.i8, ats, listRows(rd, f.i8.maxDef, encodingInt32, parquet.Value.Int32,
				func(k int, vs []int32) error {
					i := idx[k]
					for _, x := range vs {
						raw[i] = append(raw[i], float32(int8(x))*scales[i])
					}
					return nil
				}))
			if err != nil {
				return nil, fmt.Errorf("embedding_i8: %w", err)
			}
		}
		lo = hi
	}
	for i, e := range raw {
		if _, vec := appendVec(nil, nil, 0, e); len(vec) == Dim {
			out[i].Vec = vec
		}
	}
	return out, nil
}

// hitReader reads the rows of one search's hits, one column chunk at a
// time, reusing its buffers from page to page.
type hitReader struct {
	r      io.ReaderAt
	size   int64
	page   []byte          // one page's bytes
	buf    []parquet.Value // one row's values
	starts []int           // a list page's rows' first values
	at     pageAt          // serves page from memory
}

// rowsOf turns a decoded page into a reader of its rows: row(k, i) reads
// row i of the page, the kth row asked of the column chunk.
type rowsOf func(page parquet.Page) (row func(k int, i int64) error, err error)

// values reads a row as parquet.Values: one for a flat column, the list's
// for a repeated one (a null list is one value below the column's maximum
// definition level).
func (h *hitReader) values(fn func(k int, vs []parquet.Value) error) rowsOf {
	return func(page parquet.Page) (func(int, int64) error, error) {
		return func(k int, i int64) error {
			n, err := page.Slice(i, i+1).Values().ReadValues(h.buf)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if n == len(h.buf) {
				return fmt.Errorf("more than %d values in one row", len(h.buf))
			}
			return fn(k, h.buf[:n])
		}, nil
	}
}

// listRows reads a row of a list column as its elements at the column's
// maximum definition level, cut from the page's values as one typed slice
// by its levels (as readList does), rather than as 384 parquet.Values: the
// page's levels are walked once for all its rows. A page whose values are
// dictionary indexes (the lake never writes one) is read as values.
func listRows[T any](h *hitReader, maxDef int, typed func(parquet.Page) ([]T, bool), conv func(parquet.Value) T,
	fn func(k int, vs []T) error) rowsOf {
	return func(page parquet.Page) (func(int, int64) error, error) {
		data, ok := typed(page)
		reps, defs := page.RepetitionLevels(), page.DefinitionLevels()
		if !ok || len(reps) != len(defs) {
			var row []T
			return h.values(func(k int, vs []parquet.Value) error {
				row = row[:0]
				for _, v := range vs {
					if v.DefinitionLevel() == maxDef {
						row = append(row, conv(v))
					}
				}
				return fn(k, row)
			})(page)
		}
		h.starts = h.starts[:0]
		n := 0
		for l, def := range defs {
			if reps[l] == 0 {
				h.starts = append(h.starts, n)
			}
			if int(def) == maxDef {
				n++
			}
		}
		if n != len(data) {
			return nil, fmt.Errorf("a list page of %d values whose levels say %d: %w", len(data), n, ErrCorrupt)
		}
		h.starts = append(h.starts, n)
		rows := int64(len(h.starts) - 1)
		return func(k int, i int64) error {
			if i >= rows {
				return fmt.Errorf("row %d of a list page of %d: %w", i, rows, io.ErrUnexpectedEOF)
			}
			return fn(k, data[h.starts[i]:h.starts[i+1]])
		}, nil
	}
}

// pageBufs reuse the buffers hitReaders read pages into (an embedding
// page is ~80 KB, allocated and cleared afresh it was a tenth of reading a
// warm search's hits). Once a page is decoded its bytes are no longer
// referenced: the page reader copies them.
var pageBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPage bounds the buffers kept in pageBufs.
const maxPooledPage = 1 << 20

// each reads each row of ats (ascending row indexes in the row group) of
// column col with rows. Each page is read and decoded once.
func (h *hitReader) each(ctx context.Context, chunks []parquet.ColumnChunk, col column, ats []int64, rows rowsOf) error {
	if col.index < 0 || col.index >= len(chunks) {
		return fmt.Errorf("column %d of %d: %w", col.index, len(chunks), ErrCorrupt)
	}
	cc, ok := chunks[col.index].(*parquet.FileColumnChunk)
	if !ok {
		return fmt.Errorf("column chunk of type %T, not a file's", chunks[col.index])
	}
	// Read through h.r the first time only: the File keeps it.
	index, err := cc.OffsetIndexFrom(h.r)
	if err != nil {
		return fmt.Errorf("offset index: %w", err)
	}
	pages := index.NumPages()
	for k := 0; k < len(ats); {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := pageOf(index, ats[k])
		if err != nil {
			return fmt.Errorf("row %d: %w", ats[k], err)
		}
		first := index.FirstRowIndex(p)
		end := int64(-1) // the page's end row, when another page follows
		if p+1 < pages {
			end = index.FirstRowIndex(p + 1)
		}
		n := k + 1
		for n < len(ats) && (end < 0 || ats[n] < end) {
			n++
		}
		if err := h.page1(cc, index, p, first, ats, k, n, rows); err != nil {
			return fmt.Errorf("page %d: %w", p, err)
		}
		k = n
	}
	return nil
}

// pageOf is the page of the offset index holding row at.
func pageOf(index parquet.OffsetIndex, at int64) (int, error) {
	n := index.NumPages()
	// The first page whose first row is past at, less one.
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if index.FirstRowIndex(m) <= at {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, fmt.Errorf("not in the offset index's %d pages: %w", n, ErrCorrupt)
	}
	return lo - 1, nil
}

// page1 reads page p (whose first row is first), and rows ats[lo:hi] in it.
func (h *hitReader) page1(cc *parquet.FileColumnChunk, index parquet.OffsetIndex, p int, first int64, ats []int64, lo, hi int,
	rows rowsOf) error {
	off, size := index.Offset(p), index.CompressedPageSize(p)
	if off < 0 || size <= 0 || off > h.size-size {
		return fmt.Errorf("%d bytes at %d in a file of %d: %w", size, off, h.size, ErrCorrupt)
	}
	if int64(cap(h.page)) < size {
		h.page = make([]byte, size)
	}
	h.page = h.page[:size]
	if _, err := h.r.ReadAt(h.page, off); err != nil {
		return fmt.Errorf("read %d bytes at %d: %w", size, off, err)
	}
	h.at = pageAt{r: h.r, base: off, data: h.page}
	pages := cc.PagesFrom(&h.at)
	defer pages.Close()
	if err := pages.SeekToRow(first); err != nil {
		return err
	}
	page, err := pages.ReadPage()
	if err != nil {
		return err
	}
	defer parquet.Release(page)
	row, err := rows(page)
	if err != nil {
		return err
	}
	n := page.NumRows()
	for k := lo; k < hi; k++ {
		i := ats[k] - first
		if i < 0 || i >= n {
			return fmt.Errorf("row %d of a page of %d: %w", i, n, io.ErrUnexpectedEOF)
		}
		if err := row(k, i); err != nil {
			return fmt.Errorf("row %d: %w", ats[k], err)
		}
	}
	return nil
}

// pageAt is a reader of one page's bytes, read beforehand: reads within the
// page are served from data, and end at its end (io.EOF), so a page reader's
// read-ahead stops there; reads starting elsewhere (a dictionary page)
// go to r.
type pageAt struct {
	r    io.ReaderAt
	base int64
	data []byte
}

func (p *pageAt) ReadAt(b []byte, off int64) (int, error) {
	if off < p.base || off >= p.base+int64(len(p.data)) {
		return p.r.ReadAt(b, off)
	}
	n := copy(b, p.data[off-p.base:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// recoverCorrupt turns a panic of the Parquet decoder on a corrupt file
// into an error: a damaged cached file must fail its search, not the
// process.
func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%v: %w", r, ErrCorrupt)
	}
}
