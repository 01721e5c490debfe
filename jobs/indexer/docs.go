package indexer

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/lake/vecindex"
)

// readDocs decodes what a full-text segment indexes of every row of one
// memories data file: its content and tags (fulltext.Doc), column by column
// as vecindex.ReadFile reads the others.
func readDocs(r io.ReaderAt, size int64) ([]fulltext.Doc, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return nil, err
	}
	schema := f.Schema()
	content, ok := schema.Lookup("content")
	if !ok {
		return nil, fmt.Errorf("no content column")
	}
	tags, hasTags := schema.Lookup("tags", "list", "element")
	docs := make([]fulltext.Doc, 0, f.NumRows())
	intern := map[string]string{} // tags repeat
	for _, rg := range f.RowGroups() {
		chunks := rg.ColumnChunks()
		rows := int(rg.NumRows())
		base := len(docs)
		err := lake.EachValue(chunks[content.ColumnIndex], func(v parquet.Value) {
			d := fulltext.Doc{}
			if !v.IsNull() {
				d.Content = v.String()
			}
			docs = append(docs, d)
		})
		if err != nil {
			return nil, fmt.Errorf("read content: %w", err)
		}
		if len(docs) != base+rows {
			return nil, fmt.Errorf("read content: %d values in a row group of %d rows", len(docs)-base, rows)
		}
		if !hasTags {
			continue
		}
		// A list column: repetition level 0 starts a row; only values at
		// the maximum definition level are elements (a null or empty list
		// is one value below it).
		row := base - 1
		err = lake.EachValue(chunks[tags.ColumnIndex], func(v parquet.Value) {
			if v.RepetitionLevel() == 0 {
				row++
			}
			if v.DefinitionLevel() == tags.MaxDefinitionLevel && row >= base && row < len(docs) {
				s := v.String()
				if x, ok := intern[s]; ok {
					s = x
				} else {
					intern[s] = s
				}
				docs[row].Tags = append(docs[row].Tags, s)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("read tags: %w", err)
		}
		if row != base+rows-1 {
			return nil, fmt.Errorf("read tags: %d rows in a row group of %d rows", row-base+1, rows)
		}
	}
	return docs, nil
}

// buildText builds the full-text segment of a build's nodes: doc n is the
// content and tags of node n's row (rows.File, rows.Pos), so that a search
// filters and resolves a hit with the same side table as a graph hit.
func buildText(rows *vecindex.Rows, docs [][]fulltext.Doc) (*fulltext.Builder, error) {
	b := fulltext.NewBuilder()
	for n := range rows.Len() {
		fi, r := rows.File[n], rows.Pos[n]
		if int(fi) >= len(docs) || int(r) >= len(docs[fi]) {
			return nil, fmt.Errorf("node %d names row %d of file %d, beyond the data read", n, r, fi)
		}
		if err := b.Add(uint32(n), docs[fi][r]); err != nil {
			return nil, err
		}
	}
	return b, nil
}
