package delta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// conformance is what EXPECTED.md says a protocol-1 reader must produce for
// one shared Delta table. Zero values mean "not asserted" where noted.
type conformance struct {
	table    string
	version  int64    // latest version
	reader   int      // minReaderVersion
	writer   int      // minWriterVersion
	wFeat    []string // writerFeatures
	parts    []string // partition columns
	schema   []string // top-level "name type", in order
	txns     map[string]int64
	tombs    int   // tombstones at latest; -1: not asserted
	files    int   // active files at latest
	rows     int64 // sum of stats.numRecords at latest; -1: not from stats
	writable bool  // a writer-2 client may commit to it

	reject  bool // reader must refuse (ErrUnsupported)
	fail    bool // latest cannot be rebuilt (ErrIncompleteLog)
	older   []older
	filesAt func(v int64) int // active file count at every version, when EXPECTED gives a rule
	firstV  int64             // oldest readable version for filesAt (default 0)
	sameAs  string            // the latest files equal this table's latest files
}

// older is one older version listed in EXPECTED.md.
type older struct {
	v     int64
	files int   // active files; -1: not asserted
	rows  int64 // stats rows; -1: not from stats
	tombs int   // -1: not asserted
	fail  bool
	txns  bool // assert "txn: none"
	// schema, when non-nil, is the schema at this version.
	schema   []string
	noSchema bool // the metadata has no schemaString
}

func ov(v int64, files int) older { return older{v: v, files: files, rows: -1, tombs: -1} }
func ovRows(v int64, files int, rows int64) older {
	return older{v: v, files: files, rows: rows, tombs: -1}
}
func ovFail(v int64) older { return older{v: v, fail: true} }

var (
	wideSchema = []string{"integer integer", "null boolean", "boolean boolean", "double double",
		"decimal decimal(8,5)", "string string", "binary binary", "date date", "timestamp timestamp",
		"struct struct", "map map", "array array", "nested_struct struct", "struct_of_array_of_map struct"}
	wideSchemaV10     = append(slices.Clone(wideSchema), "new_column integer")
	checkpointsSchema = []string{"some_struct struct", "value string", "ts timestamp", "date string"}
	lncSchema         = []string{"letter string", "int long", "date date"}
)

var conformanceTables = []conformance{
	{table: "simple_table", version: 4, reader: 1, writer: 2, schema: []string{"id long"},
		tombs: 31, files: 5, rows: -1, writable: true,
		older: []older{ov(0, 6), ov(1, 22), ov(2, 6), {v: 3, files: 6, rows: -1, tombs: 29}}},
	{table: "simple_table_with_checkpoint", version: 10, reader: 1, writer: 2, schema: []string{"version integer"},
		files: 11, rows: -1, writable: true, filesAt: func(v int64) int { return int(v) + 1 }},
	{table: "checkpoints", version: 12, reader: 1, writer: 2, parts: []string{"date"}, schema: checkpointsSchema,
		files: 12, rows: 12, writable: true, filesAt: func(v int64) int { return int(v) }},
	{table: "checkpoints_vacuumed", version: 12, reader: 1, writer: 2, parts: []string{"date"}, schema: checkpointsSchema,
		files: 12, rows: 12, writable: true, sameAs: "checkpoints",
		older:   []older{ovFail(4), ovFail(0), ovRows(5, 5, 5), ovRows(10, 10, 10)},
		filesAt: func(v int64) int { return int(v) }, firstV: 5},
	{table: "checkpoint_with_partitions", version: 2, reader: 1, writer: 2, parts: []string{"color"},
		schema: []string{"id integer", "color string"}, files: 2, rows: -1, writable: true,
		older: []older{ovFail(0), ovFail(1)}},
	{table: "latest_not_checkpointed", version: 3, reader: 1, writer: 2, schema: lncSchema,
		tombs: 2, files: 1, rows: 5, writable: true,
		older: []older{ovRows(0, 0, 0), ovRows(1, 1, 5), ovRows(2, 1, 5)}},
	{table: "with_checkpoint_no_last_checkpoint", version: 3, reader: 1, writer: 2, schema: lncSchema,
		tombs: 2, files: 1, rows: 5, writable: true, sameAs: "latest_not_checkpointed",
		older: []older{ovRows(0, 0, 0), ovRows(1, 1, 5), ovRows(2, 1, 5)}},
	{table: "table_failed_last_checkpoint_update", version: 3, reader: 1, writer: 2,
		schema: []string{"id string", "price long", "sold integer", "deleted boolean"},
		files:  4, rows: 20, writable: true,
		older: []older{ovRows(0, 1, 5), ovRows(1, 2, 10), ovRows(2, 3, 15)}},
	{table: "python-0.25.5-checkpoint", version: 1, reader: 1, writer: 2, schema: []string{"x long"},
		files: 2, rows: 6, writable: true, older: []older{ovRows(0, 1, 3)}},
	{table: "issue_1374", version: 1, reader: 1, writer: 1, parts: []string{"date"},
		schema: []string{"timestamp timestamp", "temperature integer", "date string"},
		files:  2, rows: 20, writable: true},
	{table: "delta-0.2.0", version: 3, reader: 1, writer: 2, schema: []string{"value integer"},
		txns: map[string]int64{"e4a20b59-dd0e-4c50-b074-e8ae4786df30": 0}, tombs: 4, files: 3, rows: -1, writable: true,
		older: []older{{v: 0, files: 2, rows: -1, tombs: -1, txns: true}, {v: 1, files: 4, rows: -1, tombs: -1, txns: true},
			{v: 2, files: 2, rows: -1, tombs: -1, txns: true}}},
	{table: "delta-0.8-empty", version: 1, reader: 1, writer: 2, schema: []string{"column long"},
		tombs: 2, files: 0, rows: 0, writable: true, older: []older{ov(0, 2)}},
	{table: "delta-0.8.0", version: 1, reader: 1, writer: 2, schema: []string{"value integer"},
		tombs: 1, files: 2, rows: 4, writable: true, older: []older{ovRows(0, 2, 5)}},
	{table: "delta-0.8.0-date", version: 0, reader: 1, writer: 2, schema: []string{"date date", "dayOfYear integer"},
		files: 1, rows: -1, writable: true},
	{table: "delta-0.8.0-null-partition", version: 0, reader: 1, writer: 2, parts: []string{"k"},
		schema: []string{"k string", "v long"}, files: 2, rows: -1, writable: true},
	{table: "delta-0.8.0-numeric-partition", version: 0, reader: 1, writer: 2, parts: []string{"x", "y"},
		schema: []string{"x long", "y double", "z string"}, files: 2, rows: -1, writable: true},
	{table: "delta-0.8.0-partitioned", version: 0, reader: 1, writer: 2, parts: []string{"year", "month", "day"},
		schema: []string{"value string", "year string", "month string", "day string"}, files: 6, rows: -1, writable: true},
	{table: "delta-0.8.0-special-partition", version: 0, reader: 1, writer: 2, parts: []string{"x"},
		schema: []string{"x string", "y long"}, files: 2, rows: -1, writable: true},
	{table: "delta-1.2.1-only-struct-stats", version: 12, reader: 1, writer: 2, schema: wideSchemaV10,
		files: 12, rows: 12, writable: true, filesAt: func(v int64) int { return int(v) }, firstV: 1,
		older: []older{ovRows(1, 1, 1), {v: 9, files: 9, rows: 9, tombs: -1, schema: wideSchema},
			{v: 10, files: 10, rows: 10, tombs: -1, schema: wideSchemaV10}}},
	{table: "delta-2.2.0-partitioned-types", version: 0, reader: 1, writer: 2, parts: []string{"c1", "c2"},
		schema: []string{"c1 integer", "c2 string", "c3 integer"}, files: 3, rows: -1, writable: true},
	{table: "delta-stats-optional", version: 2, reader: 1, writer: 2, schema: wideSchema,
		files: 2, rows: -1, writable: true, older: []older{ovRows(1, 1, 1)}},
	{table: "delta-checkpoint-stats-optional", version: 2, reader: 1, writer: 2, schema: wideSchema,
		files: 2, rows: -1, writable: true},
	{table: "golden-data-reader-array-primitives", version: 0, reader: 1, writer: 2,
		schema: []string{"as_array_int array", "as_array_long array", "as_array_byte array", "as_array_short array",
			"as_array_boolean array", "as_array_float array", "as_array_double array", "as_array_string array",
			"as_array_binary array", "as_array_big_decimal array"},
		files: 2, rows: -1, writable: true},
	{table: "http_requests", version: 1, reader: 1, writer: 1, parts: []string{"date"},
		schema: []string{"date string", "ClientIP string", "ClientRequestHost string", "ClientRequestMethod string",
			"ClientRequestURI string", "EdgeEndTimestamp timestamp", "EdgeResponseBytes long",
			"EdgeResponseStatus short", "EdgeStartTimestamp timestamp"},
		files: 2, rows: 1581, writable: true},
	{table: "partition-type-primitives", version: 0, reader: 1, writer: 2,
		parts:  []string{"year", "is_active", "event_date", "category"},
		schema: []string{"id long", "value string", "year string", "is_active string", "event_date string", "category string"},
		files:  16, rows: -1, writable: true},
	{table: "simple_commit", version: 0, reader: 1, writer: 2, schema: []string{"value integer"},
		files: 0, rows: 0, writable: true},
	{table: "concurrent_workers", version: 0, reader: 1, writer: 1, schema: []string{"value integer"},
		files: 0, rows: 0, writable: true},
	{table: "table-without-dv-small", version: 0, reader: 1, writer: 2, schema: []string{"value long"},
		files: 1, rows: 10, writable: true},
	{table: "table_with_edge_timestamps", version: 0, reader: 1, writer: 2,
		schema: []string{"BIG_DATE timestamp", "NORMAL_DATE timestamp", "SOME_VALUE integer"}, files: 2, rows: -1, writable: true},
	{table: "table_with_null_stats_in_notnull_struct", version: 1, reader: 1, writer: 2, schema: []string{"s struct"},
		files: 2, rows: -1, writable: true},
	{table: "issue-2152", version: 0, reader: 1, writer: 6, schema: []string{"ID_D_DATE long", "TXT_DateKey string"},
		files: 0, rows: 0},
	{table: "simple_table_with_cdc", version: 2, reader: 1, writer: 4, schema: []string{"id integer", "name string"},
		tombs: 1, files: 1, rows: -1, older: []older{ovRows(1, 1, 1)}},
	{table: "cdf-table", version: 3, reader: 1, writer: 4, parts: []string{"birthday"},
		schema: []string{"id integer", "name string", "birthday date"}, tombs: 7, files: 9, rows: -1,
		older: []older{ovRows(0, 10, 10), ov(1, 10), ov(2, 10)}},
	{table: "checkpoint-cdf-table", version: 5, reader: 1, writer: 4, parts: []string{"birthday"},
		schema: []string{"id integer", "name string", "birthday date"}, tombs: 4, files: 13, rows: -1,
		older: []older{ovFail(2), ov(3, 9), ov(4, 13)}},
	{table: "cdc_ict_table", version: 3, reader: 1, writer: 7,
		wFeat: []string{"inCommitTimestamp", "changeDataFeed", "invariants", "appendOnly"}, parts: []string{"birthyear"},
		schema: []string{"name string", "birthyear integer", "age integer"}, tombs: 4, files: 2, rows: -1,
		older: []older{ovRows(1, 4, 4)}},
	{table: "err_logs_table_a", version: 13, reader: 1, writer: 1, schema: []string{"id integer"},
		files: 130, rows: 130, writable: true, filesAt: func(v int64) int { return 10 * int(v) }},
	{table: "err_logs_table_b", version: 13, reader: 1, writer: 1, schema: []string{"id integer"},
		files: 130, rows: 130, writable: true, sameAs: "err_logs_table_a",
		older: []older{ov(6, 60), ovFail(7), ovFail(8), ovFail(9), ov(10, 100), ov(12, 120)}},
	{table: "err_logs_table_c", fail: true,
		older: []older{ov(0, 0), ov(9, 90), ov(10, 100), ov(11, 110), ovFail(12), ovFail(13)}},

	// Tables a reader-1 client must refuse, whatever the entry point.
	// Every version is refused, except delta-live-table's version 0, which
	// is reader 1 but has no schemaString: readable, with Schema() failing.
	{table: "table-with-dv-small", version: 1, reject: true},
	{table: "table_with_column_mapping", version: 0, reject: true},
	{table: "delta-live-table", version: 1, reject: true,
		older: []older{{v: 0, files: 0, rows: -1, tombs: -1, noSchema: true}}},
	{table: "checkpoint-v2-table", version: 9, reject: true},
	{table: "simple_table_features", version: 4, reject: true},
}

// TestConformance checks every shared Delta table against EXPECTED.md.
func TestConformance(t *testing.T) {
	dir := testdataDir(t)
	expected := parseExpectedMD(t, filepath.Join(dir, "EXPECTED.md"))
	store := &dirStore{root: dir}
	ctx := context.Background()

	// Every table folder must have an entry: a new fixture is not skipped.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range conformanceTables {
		known[c.table] = true
	}
	for _, e := range entries {
		if e.IsDir() && !known[e.Name()] {
			t.Errorf("table %s has no conformance entry", e.Name())
		}
	}

	for _, c := range conformanceTables {
		t.Run(c.table, func(t *testing.T) {
			tbl := NewTable(store, c.table)
			exp := expected[c.table]
			if exp == nil {
				t.Fatalf("EXPECTED.md has no section for %s", c.table)
			}
			s, err := tbl.Snapshot(ctx)
			switch {
			case c.reject:
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("Snapshot: got %v, want ErrUnsupported", err)
				}
				if !strings.Contains(err.Error(), "reader version") {
					t.Errorf("error does not name the reader version: %v", err)
				}
				t.Logf("refused as expected: %v", err)
				readable := map[int64]bool{}
				for _, o := range c.older {
					readable[o.v] = true
					checkOlder(t, tbl, c, o, nil)
				}
				for v := int64(0); v <= c.version; v++ {
					if _, err := tbl.SnapshotAt(ctx, v); !readable[v] && !errors.Is(err, ErrUnsupported) {
						t.Errorf("version %d: got %v, want ErrUnsupported", v, err)
					}
				}
				return
			case c.fail:
				if !errors.Is(err, ErrIncompleteLog) {
					t.Fatalf("Snapshot: got %v, want ErrIncompleteLog", err)
				}
				t.Logf("latest fails as expected: %v", err)
			case err != nil:
				t.Fatalf("Snapshot: %v", err)
			default:
				checkLatest(t, c, s, exp)
				if c.sameAs != "" {
					other, err := NewTable(store, c.sameAs).Snapshot(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := paths(s), paths(other); !slices.Equal(got, want) {
						t.Errorf("files differ from %s:\n got %v\nwant %v", c.sameAs, got, want)
					}
				}
				checkWriterAccess(t, c, s)
			}
			for _, o := range c.older {
				checkOlder(t, tbl, c, o, exp.older[o.v])
			}
			if c.filesAt != nil {
				for v := c.firstV; v <= c.version; v++ {
					s, err := tbl.SnapshotAt(ctx, v)
					if err != nil {
						t.Errorf("version %d: %v", v, err)
						continue
					}
					if got, want := s.NumFiles(), c.filesAt(v); got != want {
						t.Errorf("version %d: %d files, want %d", v, got, want)
					}
				}
			}
		})
	}
}

func checkLatest(t *testing.T, c conformance, s *Snapshot, exp *expTable) {
	t.Helper()
	if s.Version != c.version {
		t.Errorf("version %d, want %d", s.Version, c.version)
	}
	if s.Protocol.MinReaderVersion != c.reader || s.Protocol.MinWriterVersion != c.writer {
		t.Errorf("protocol %d/%d, want %d/%d", s.Protocol.MinReaderVersion, s.Protocol.MinWriterVersion, c.reader, c.writer)
	}
	if !slices.Equal(s.Protocol.WriterFeatures, c.wFeat) {
		t.Errorf("writer features %v, want %v", s.Protocol.WriterFeatures, c.wFeat)
	}
	if !slices.Equal(s.Metadata.PartitionColumns, c.parts) && !(len(c.parts) == 0 && len(s.Metadata.PartitionColumns) == 0) {
		t.Errorf("partition columns %v, want %v", s.Metadata.PartitionColumns, c.parts)
	}
	checkSchema(t, s, c.schema)
	got := map[string]int64{}
	for _, tx := range s.Txns() {
		got[tx.AppID] = tx.Version
	}
	if len(got) != len(c.txns) || (len(got) > 0 && !reflect.DeepEqual(got, c.txns)) {
		t.Errorf("txns %v, want %v", got, c.txns)
	}
	if c.tombs >= 0 && s.NumTombstones() != c.tombs {
		t.Errorf("%d tombstones, want %d", s.NumTombstones(), c.tombs)
	}
	if s.NumFiles() != c.files {
		t.Errorf("%d active files, want %d", s.NumFiles(), c.files)
	}
	if c.rows >= 0 {
		if rows := statsRows(t, s); rows != c.rows {
			t.Errorf("stats rows %d, want %d", rows, c.rows)
		}
	}
	if exp.latest == nil {
		return // e.g. err_logs_table_b: EXPECTED refers to another table
	}
	if exp.latest.count != c.files {
		t.Errorf("EXPECTED.md says %d active files, the conformance entry %d", exp.latest.count, c.files)
	}
	checkFileList(t, "latest", s, exp.latest, c.parts)
}

// checkFileList compares the snapshot's files with an EXPECTED.md list and
// its annotations (partition values, decoded path, numRecords).
func checkFileList(t *testing.T, label string, s *Snapshot, exp *expFiles, partCols []string) {
	t.Helper()
	if len(exp.files) == 0 && exp.count > 0 {
		t.Errorf("%s: EXPECTED.md lists %d files but none were parsed", label, exp.count)
		return
	}
	want := make([]string, len(exp.files))
	for i, f := range exp.files {
		want[i] = f.path
	}
	if got := paths(s); !slices.Equal(got, want) {
		t.Errorf("%s: files\n got %v\nwant %v", label, got, want)
		return
	}
	for _, f := range exp.files {
		a, ok := s.File(f.path)
		if !ok {
			t.Errorf("%s: File(%q) not found", label, f.path)
			continue
		}
		if f.onDisk != "" && a.DecodedPath() != f.onDisk {
			t.Errorf("%s: DecodedPath(%q) = %q, want %q", label, f.path, a.DecodedPath(), f.onDisk)
		}
		if f.partitions != "" {
			if want := parsePartitions(f.partitions, partCols); !reflect.DeepEqual(derefPV(a.PartitionValues), derefPV(want)) {
				t.Errorf("%s: %s partition values %v, want %v", label, f.path, derefPV(a.PartitionValues), derefPV(want))
			}
		}
		st, err := a.ParsedStats()
		switch {
		case f.noStats:
			if !errors.Is(err, ErrNoStats) {
				t.Errorf("%s: %s: stats %+v (%v), want none", label, f.path, st, err)
			}
		case f.numRecords >= 0:
			if err != nil || st.NumRecords != f.numRecords {
				t.Errorf("%s: %s: numRecords %d (%v), want %d", label, f.path, st.NumRecords, err, f.numRecords)
			}
		}
	}
}

func checkOlder(t *testing.T, tbl *Table, c conformance, o older, exp *expFiles) {
	t.Helper()
	s, err := tbl.SnapshotAt(context.Background(), o.v)
	if o.fail {
		if !errors.Is(err, ErrIncompleteLog) {
			t.Errorf("version %d: got %v, want ErrIncompleteLog", o.v, err)
		}
		return
	}
	if err != nil {
		t.Errorf("version %d: %v", o.v, err)
		return
	}
	label := fmt.Sprintf("version %d", o.v)
	if s.Version != o.v {
		t.Errorf("%s: snapshot version %d", label, s.Version)
	}
	if o.files >= 0 && s.NumFiles() != o.files {
		t.Errorf("%s: %d files, want %d", label, s.NumFiles(), o.files)
	}
	if o.rows >= 0 {
		if rows := statsRows(t, s); rows != o.rows {
			t.Errorf("%s: stats rows %d, want %d", label, rows, o.rows)
		}
	}
	if o.tombs >= 0 && s.NumTombstones() != o.tombs {
		t.Errorf("%s: %d tombstones, want %d", label, s.NumTombstones(), o.tombs)
	}
	if o.txns && len(s.Txns()) != 0 {
		t.Errorf("%s: txns %v, want none", label, s.Txns())
	}
	if o.schema != nil {
		checkSchema(t, s, o.schema)
	}
	if o.noSchema {
		if _, err := s.Schema(); err == nil {
			t.Errorf("%s: Schema() succeeded without a schemaString", label)
		}
	}
	if exp != nil {
		if o.files >= 0 && exp.count != o.files {
			t.Errorf("%s: EXPECTED.md says %d files, the conformance entry %d", label, exp.count, o.files)
		}
		checkFileList(t, label, s, exp, c.parts)
	}
}

func checkSchema(t *testing.T, s *Snapshot, want []string) {
	t.Helper()
	sc, err := s.Schema()
	if err != nil {
		t.Errorf("schema: %v", err)
		return
	}
	var got []string
	for _, f := range sc.Fields {
		got = append(got, f.Name+" "+f.Type.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("schema\n got %v\nwant %v", got, want)
	}
}

// checkWriterAccess checks the writer-version gate on the snapshot; actual
// commits to copies are in TestCommitToCopiedTables.
func checkWriterAccess(t *testing.T, c conformance, s *Snapshot) {
	t.Helper()
	err := checkWritable(s.Protocol, s.Metadata)
	if c.writable && err != nil {
		t.Errorf("writer-2 client refuses a writable table: %v", err)
	}
	if !c.writable && !errors.Is(err, ErrUnsupported) {
		t.Errorf("writer-2 client accepts a table with writer version %d: %v", s.Protocol.MinWriterVersion, err)
	}
}

func paths(s *Snapshot) []string {
	out := make([]string, 0, s.NumFiles())
	for a := range s.AllFiles() {
		out = append(out, a.Path)
	}
	return out
}

func statsRows(t *testing.T, s *Snapshot) int64 {
	t.Helper()
	var n int64
	for a := range s.AllFiles() {
		st, err := a.ParsedStats()
		if err != nil {
			t.Errorf("%s: %v", a.Path, err)
			continue
		}
		n += st.NumRecords
	}
	return n
}

func derefPV(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v == nil {
			out[k] = "<null>"
		} else {
			out[k] = *v
		}
	}
	return out
}
