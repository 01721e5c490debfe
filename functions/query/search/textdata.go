package search

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/akosha/akosha/lake"
)

// TextData is what full-text search and the tags and session_id filters
// need of one memories data file: every row's key, version, filter columns,
// content and tags. Data files are immutable, so a decoded file is cached
// (the query function keeps them in a RefLRU) and never invalidated.
type TextData struct {
	System   []string // per row (interned)
	ID       []string
	Ingested []int64  // Unix microseconds
	Kind     []string // interned
	Project  []string // interned; "" when null
	Created  []int64  // Unix microseconds
	Session  []string // interned; "" when null
	Content  []string
	Tags     [][]string // nil when null or empty
}

func (d *TextData) Rows() int { return len(d.ID) }

func (d *TextData) Bytes() int64 {
	n := int64(len(d.ID)) * (7*16 + 2*8 + 24)
	for i := range d.ID {
		n += int64(len(d.ID[i]) + len(d.Content[i]))
		for _, t := range d.Tags[i] {
			n += int64(16 + len(t))
		}
	}
	return n
}

// ReadTextData decodes the text columns of one memories data file, column
// by column as vecindex.ReadFile does; the embedding is not read.
func ReadTextData(r io.ReaderAt, size int64) (*TextData, error) {
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(1<<20))
	if err != nil {
		return nil, err
	}
	schema := f.Schema()
	cols := map[string]parquet.LeafColumn{}
	for _, name := range []string{"system_id", "id", "kind", "project", "created_at", "ingested_at", "content", "session_id"} {
		c, ok := schema.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("no %s column", name)
		}
		cols[name] = c
	}
	tags, hasTags := schema.Lookup("tags", "list", "element")
	n := int(f.NumRows())
	d := &TextData{
		System: make([]string, 0, n), ID: make([]string, 0, n), Ingested: make([]int64, 0, n), Kind: make([]string, 0, n),
		Project: make([]string, 0, n), Created: make([]int64, 0, n), Session: make([]string, 0, n),
		Content: make([]string, 0, n), Tags: make([][]string, 0, n),
	}
	intern := map[string]string{}
	in := func(v parquet.Value) string {
		if v.IsNull() {
			return ""
		}
		s := v.String()
		if x, ok := intern[s]; ok {
			return x
		}
		intern[s] = s
		return s
	}
	for _, rg := range f.RowGroups() {
		chunks := rg.ColumnChunks()
		rows := int(rg.NumRows())
		base := len(d.ID)
		strs := []struct {
			col string
			dst *[]string
			in  bool
		}{
			{"system_id", &d.System, true}, {"id", &d.ID, false}, {"kind", &d.Kind, true}, {"project", &d.Project, true},
			{"session_id", &d.Session, true}, {"content", &d.Content, false},
		}
		for _, s := range strs {
			err := lake.EachValue(chunks[cols[s.col].ColumnIndex], func(v parquet.Value) {
				if s.in {
					*s.dst = append(*s.dst, in(v))
				} else {
					*s.dst = append(*s.dst, v.String())
				}
			})
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", s.col, err)
			}
			if len(*s.dst) != base+rows {
				return nil, fmt.Errorf("read %s: %d values in a row group of %d rows", s.col, len(*s.dst)-base, rows)
			}
		}
		for _, c := range []struct {
			col string
			dst *[]int64
		}{{"created_at", &d.Created}, {"ingested_at", &d.Ingested}} {
			if err := lake.EachValue(chunks[cols[c.col].ColumnIndex], func(v parquet.Value) { *c.dst = append(*c.dst, v.Int64()) }); err != nil {
				return nil, fmt.Errorf("read %s: %w", c.col, err)
			}
			if len(*c.dst) != base+rows {
				return nil, fmt.Errorf("read %s: %d values in a row group of %d rows", c.col, len(*c.dst)-base, rows)
			}
		}
		if !hasTags {
			for range rows {
				d.Tags = append(d.Tags, nil)
			}
			continue
		}
		// A list column: repetition level 0 starts a row; only values at
		// the maximum definition level are elements (a null or empty list
		// is one value below it).
		err := lake.EachValue(chunks[tags.ColumnIndex], func(v parquet.Value) {
			if v.RepetitionLevel() == 0 {
				d.Tags = append(d.Tags, nil)
			}
			if v.DefinitionLevel() == tags.MaxDefinitionLevel && len(d.Tags) > 0 {
				d.Tags[len(d.Tags)-1] = append(d.Tags[len(d.Tags)-1], in(v))
			}
		})
		if err != nil {
			return nil, fmt.Errorf("read tags: %w", err)
		}
		if len(d.Tags) != base+rows {
			return nil, fmt.Errorf("read tags: %d rows in a row group of %d rows", len(d.Tags)-base, rows)
		}
	}
	return d, nil
}
