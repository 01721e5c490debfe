package delta

import (
	"fmt"
	"io"
	"math"

	"github.com/parquet-go/parquet-go"
)

// This file reassembles rows from projected Parquet leaf columns: each leaf
// column is read as a flat run of values with repetition and definition
// levels, and the values of one row are the run up to the next value with
// repetition level 0. Optional groups, MAP<string,string> and LIST<string>
// are decoded from the levels, which is all the checkpoint schema needs.

// cell is one decoded Parquet value with its levels, detached from the
// library's pooled page buffers.
type cell struct {
	rep, def int
	kind     parquet.Kind
	num      uint64 // boolean, int32, int64, float, double
	str      string // byte array, fixed-length byte array, int96
}

// leaf is a projected leaf column: all its cells in the current row group
// and the cells of the current row.
type leaf struct {
	col    *parquet.Column
	maxDef int
	cells  []cell
	pos    int
	row    []cell
}

// null reports whether the (non-repeated) leaf has no value in this row.
func (l *leaf) null() bool { return l == nil || len(l.row) == 0 || l.row[0].def < l.maxDef }

func (l *leaf) str() (string, bool) {
	if l.null() {
		return "", false
	}
	return l.row[0].str, true
}

func (l *leaf) int() (int64, bool) {
	if l.null() {
		return 0, false
	}
	return cellInt(l.row[0])
}

func (l *leaf) bool() (bool, bool) {
	if l.null() || l.row[0].kind != parquet.Boolean {
		return false, false
	}
	return l.row[0].num != 0, true
}

func cellInt(c cell) (int64, bool) {
	switch c.kind {
	case parquet.Int32:
		return int64(int32(c.num)), true
	case parquet.Int64:
		return int64(c.num), true
	}
	return 0, false
}

// group tests whether an optional group is present in the current row: it
// is when a leaf below it is defined at least to the group's level.
type group struct {
	probe *leaf
	def   int
}

func (g group) present() bool {
	return g.probe != nil && len(g.probe.row) > 0 && g.probe.row[0].def >= g.def
}

// mapCols is a MAP<string,string> column (key_value repeated group).
type mapCols struct {
	key, value *leaf
	entryDef   int // definition level at which a key_value entry exists
}

func (m *mapCols) strings() map[string]*string {
	if m == nil || len(m.key.row) == 0 || m.key.row[0].def < m.entryDef {
		return nil
	}
	out := make(map[string]*string, len(m.key.row))
	for i, k := range m.key.row {
		if i >= len(m.value.row) {
			break
		}
		v := m.value.row[i]
		if v.def < m.value.maxDef {
			out[k.str] = nil
			continue
		}
		s := v.str
		out[k.str] = &s
	}
	return out
}

// listCols is a LIST<string> column.
type listCols struct {
	elem     *leaf
	entryDef int
}

func (l *listCols) strings() []string {
	if l == nil || len(l.elem.row) == 0 || l.elem.row[0].def < l.entryDef {
		return nil
	}
	out := make([]string, 0, len(l.elem.row))
	for _, c := range l.elem.row {
		if c.def >= l.elem.maxDef {
			out = append(out, c.str)
		}
	}
	return out
}

// structCols is a struct of scalars (stats_parsed, partitionValues_parsed),
// flattened: names[i] is the path of leaves[i] below the struct.
type structCols struct {
	group
	names  [][]string
	leaves []*leaf
}

// resolver finds columns by name path in a file schema.
type resolver struct {
	p    *projection
	root *parquet.Column
}

// node walks names from the root and returns the column and its definition
// level (the level at which the node itself is non-null). It refuses paths
// through repeated nodes: action fields are never inside a list.
func (r resolver) node(names ...string) (*parquet.Column, int, bool) {
	c, def := r.root, 0
	for _, n := range names {
		c = c.Column(n)
		if c == nil || c.Repeated() {
			return nil, 0, false
		}
		if c.Optional() {
			def++
		}
	}
	return c, def, true
}

func (r resolver) group(names ...string) (groupNode, bool) {
	c, def, ok := r.node(names...)
	if !ok || c.Leaf() {
		return groupNode{}, false
	}
	return groupNode{col: c, def: def}, true
}

type groupNode struct {
	col *parquet.Column
	def int
}

// presence builds the presence test of g from a preferred probe leaf, or
// from any leaf below g when that one is missing.
func (r resolver) presence(g groupNode, probe *leaf) group {
	if probe == nil {
		probe = r.anyLeaf(g.col)
	}
	return group{probe: probe, def: g.def}
}

func (r resolver) anyLeaf(c *parquet.Column) *leaf {
	if c.Leaf() {
		return r.project(c)
	}
	for _, ch := range c.Columns() {
		if l := r.anyLeaf(ch); l != nil {
			return l
		}
	}
	return nil
}

// project registers a leaf column for reading (once).
func (r resolver) project(c *parquet.Column) *leaf {
	for _, l := range r.p.leaves {
		if l.col == c {
			return l
		}
	}
	l := &leaf{col: c, maxDef: c.MaxDefinitionLevel()}
	r.p.leaves = append(r.p.leaves, l)
	return l
}

func (r resolver) leaf(names ...string) *leaf {
	c, _, ok := r.node(names...)
	if !ok || !c.Leaf() || c.MaxRepetitionLevel() > 0 {
		return nil
	}
	return r.project(c)
}

// repeatedChild returns the single repeated child of a MAP or LIST group.
func repeatedChild(c *parquet.Column) *parquet.Column {
	kids := c.Columns()
	if len(kids) != 1 || !kids[0].Repeated() {
		return nil
	}
	return kids[0]
}

func (r resolver) stringMap(names ...string) *mapCols {
	c, def, ok := r.node(names...)
	if !ok || c.Leaf() {
		return nil
	}
	kv := repeatedChild(c)
	if kv == nil || kv.Leaf() {
		return nil
	}
	kids := kv.Columns()
	key, value := kv.Column("key"), kv.Column("value")
	if key == nil && value == nil && len(kids) == 2 {
		key, value = kids[0], kids[1]
	}
	if key == nil || value == nil || !key.Leaf() || !value.Leaf() {
		return nil
	}
	return &mapCols{key: r.project(key), value: r.project(value), entryDef: def + 1}
}

func (r resolver) stringList(names ...string) *listCols {
	c, def, ok := r.node(names...)
	if !ok || c.Leaf() {
		return nil
	}
	rep := repeatedChild(c)
	if rep == nil {
		return nil
	}
	if rep.Leaf() { // two-level list: the repeated field is the element
		return &listCols{elem: r.project(rep), entryDef: def + 1}
	}
	kids := rep.Columns()
	if len(kids) != 1 || !kids[0].Leaf() {
		return nil
	}
	return &listCols{elem: r.project(kids[0]), entryDef: def + 1}
}

// scalarStruct projects every non-repeated leaf below a struct column.
func (r resolver) scalarStruct(names ...string) *structCols {
	g, ok := r.group(names...)
	if !ok {
		return nil
	}
	s := &structCols{}
	var walk func(c *parquet.Column, path []string)
	walk = func(c *parquet.Column, path []string) {
		if c.Repeated() {
			return // stats are never collected for lists and maps
		}
		if c.Leaf() {
			s.names = append(s.names, path)
			s.leaves = append(s.leaves, r.project(c))
			return
		}
		for _, ch := range c.Columns() {
			walk(ch, append(path[:len(path):len(path)], ch.Name()))
		}
	}
	walk(g.col, nil)
	if len(s.leaves) == 0 {
		return nil
	}
	s.group = group{probe: s.leaves[0], def: g.def}
	return s
}

// load reads the projected column chunks of one row group.
func (p *projection) load(rg parquet.RowGroup) error {
	chunks := rg.ColumnChunks()
	buf := make([]parquet.Value, 512)
	for _, l := range p.leaves {
		idx := l.col.Index()
		if idx < 0 || idx >= len(chunks) {
			return fmt.Errorf("column %v: missing chunk", l.col.Path())
		}
		cells, err := readCells(chunks[idx], l.cells[:0], buf)
		if err != nil {
			return fmt.Errorf("column %v: %w", l.col.Path(), err)
		}
		l.cells, l.pos, l.row = cells, 0, nil
	}
	return nil
}

func readCells(cc parquet.ColumnChunk, dst []cell, buf []parquet.Value) ([]cell, error) {
	pages := cc.Pages()
	defer pages.Close()
	for {
		page, err := pages.ReadPage()
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return nil, err
		}
		vr := page.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				dst = append(dst, toCell(v))
			}
			if err == io.EOF || (err == nil && n == 0) {
				break
			}
			if err != nil {
				parquet.Release(page)
				return nil, err
			}
		}
		parquet.Release(page)
	}
}

func toCell(v parquet.Value) cell {
	c := cell{rep: v.RepetitionLevel(), def: v.DefinitionLevel(), kind: v.Kind()}
	if v.IsNull() {
		return c
	}
	switch c.kind {
	case parquet.Boolean:
		if v.Boolean() {
			c.num = 1
		}
	case parquet.Int32:
		c.num = uint64(uint32(v.Int32()))
	case parquet.Int64:
		c.num = uint64(v.Int64())
	case parquet.Float:
		c.num = uint64(math.Float32bits(v.Float()))
	case parquet.Double:
		c.num = math.Float64bits(v.Double())
	default: // ByteArray, FixedLenByteArray, Int96: copy out of the page
		c.str = string(v.Bytes())
	}
	return c
}

// advance moves every projected leaf to its next row: the cells from the
// current position up to the next cell that starts a row (repetition 0).
func (p *projection) advance() error {
	for _, l := range p.leaves {
		if l.pos >= len(l.cells) {
			return fmt.Errorf("column %v: fewer values than rows", l.col.Path())
		}
		end := l.pos + 1
		for end < len(l.cells) && l.cells[end].rep != 0 {
			end++
		}
		l.row, l.pos = l.cells[l.pos:end], end
	}
	return nil
}
