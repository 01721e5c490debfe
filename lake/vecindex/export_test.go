package vecindex

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// HitsAtByCells is the previous HitsAt, the tests' reference and the
// benchmark's "before": it opens the file (footer and every page index)
// and, for each row and column, seeks a fresh page reader to the row and
// decodes its whole page through a 64 KB buffer.
var HitsAtByCells = hitsAtByCells

func hitsAtByCells(r io.ReaderAt, size int64, rows []uint32) ([]Hit, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true), parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, err
	}
	content, ok := f.Schema().Lookup("content")
	if !ok {
		return nil, errors.New("no content column")
	}
	emb, float := f.Schema().Lookup("embedding", "list", "element")
	i8, quantized := f.Schema().Lookup("embedding_i8", "list", "element")
	scale, _ := f.Schema().Lookup("embedding_scale")
	out := make([]Hit, len(rows))
	vals := make([]parquet.Value, 2*Dim)
	for i, pos := range rows {
		rg, at, err := rowGroupOf(f, int64(pos))
		if err != nil {
			return nil, err
		}
		chunks := rg.ColumnChunks()
		vs, err := cell(chunks[content.ColumnIndex], at, vals)
		if err != nil || len(vs) != 1 {
			return nil, fmt.Errorf("row %d: content: %w", pos, orMissing(err))
		}
		out[i].Content = vs[0].String()
		var e []float32
		switch {
		case float:
			vs, err := cell(chunks[emb.ColumnIndex], at, vals)
			if err != nil {
				return nil, fmt.Errorf("row %d: embedding: %w", pos, err)
			}
			for _, v := range vs {
				if v.DefinitionLevel() == emb.MaxDefinitionLevel {
					e = append(e, v.Float())
				}
			}
		case quantized:
			vs, err := cell(chunks[scale.ColumnIndex], at, vals)
			if err != nil || len(vs) != 1 {
				return nil, fmt.Errorf("row %d: embedding_scale: %w", pos, orMissing(err))
			}
			s := vs[0].Float()
			vs, err = cell(chunks[i8.ColumnIndex], at, vals)
			if err != nil {
				return nil, fmt.Errorf("row %d: embedding_i8: %w", pos, err)
			}
			for _, v := range vs {
				if v.DefinitionLevel() == i8.MaxDefinitionLevel {
					e = append(e, float32(int8(v.Int32()))*s)
				}
			}
		}
		if _, vec := appendVec(nil, nil, 0, e); len(vec) == Dim {
			out[i].Vec = vec
		}
	}
	return out, nil
}

// rowGroupOf is the row group holding row pos, and the row's index in it.
func rowGroupOf(f *parquet.File, pos int64) (parquet.RowGroup, int64, error) {
	for _, rg := range f.RowGroups() {
		if pos < rg.NumRows() {
			return rg, pos, nil
		}
		pos -= rg.NumRows()
	}
	return nil, 0, fmt.Errorf("row %d: %w", pos, io.ErrUnexpectedEOF)
}

// cell reads the values of row at of one column chunk into buf: one value
// for a flat column, the list's values for a repeated one (a null list is
// one value below the column's maximum definition level).
func cell(cc parquet.ColumnChunk, at int64, buf []parquet.Value) ([]parquet.Value, error) {
	pages := cc.Pages()
	defer pages.Close()
	if err := pages.SeekToRow(at); err != nil {
		return nil, err
	}
	page, err := pages.ReadPage()
	if err != nil {
		return nil, err
	}
	defer parquet.Release(page)
	if page.NumRows() < 1 {
		return nil, io.ErrUnexpectedEOF
	}
	n, err := page.Slice(0, 1).Values().ReadValues(buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if n == len(buf) {
		return nil, fmt.Errorf("more than %d values in one row", len(buf))
	}
	out := buf[:n]
	for i := range out {
		out[i] = out[i].Clone()
	}
	return out, nil
}

func orMissing(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}
