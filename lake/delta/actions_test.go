package delta

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseCommit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    int // actions
		wantErr string
	}{
		{"empty", "", 0, ""},
		{"blank lines and CRLF", "\n{\"txn\":{\"appId\":\"a\",\"version\":1}}\r\n\n", 1, ""},
		{"unknown and cdc actions skipped", `{"cdc":{"path":"_change_data/x","size":1,"dataChange":false}}` + "\n" + `{"domainMetadata":{"domain":"d"}}`, 0, ""},
		{"null action", `{"add":null}`, 0, ""},
		{"null partition value", `{"add":{"path":"k=__HIVE_DEFAULT_PARTITION__/f","partitionValues":{"k":null},"size":1,"modificationTime":2,"dataChange":true}}`, 1, ""},
		{"not an object", `[1,2]`, 0, "line 1: not a JSON object"},
		{"broken JSON", `{"add":{"path":`, 0, "line 1"},
		{"add without path", `{"add":{"size":1}}`, 0, "without path"},
		{"remove without path", "{}\n" + `{"remove":{"deletionTimestamp":1}}`, 0, "line 2: remove action without path"},
		{"wrong type", `{"add":{"path":"p","size":"big"}}`, 0, "line 1"},
		{"trailing data", `{"txn":{"appId":"a"}} {"x":1}`, 0, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acts, err := ParseCommit([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(acts) != tc.want {
				t.Fatalf("got %d actions, %v; want %d", len(acts), err, tc.want)
			}
		})
	}
	acts, _ := ParseCommit([]byte(`{"add":{"path":"k=__HIVE_DEFAULT_PARTITION__/f","partitionValues":{"k":null,"j":"x"},"size":1}}`))
	if v, ok := acts[0].Add.PartitionValues["k"]; !ok || v != nil || *acts[0].Add.PartitionValues["j"] != "x" {
		t.Fatalf("partition values %v", acts[0].Add.PartitionValues)
	}
}

// FuzzParseCommit: the commit decoder never panics, and what it accepts
// re-encodes to something it accepts again.
func FuzzParseCommit(f *testing.F) {
	for _, s := range []string{
		`{"commitInfo":{"timestamp":1,"operation":"WRITE"}}` + "\n" + `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}`,
		`{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":[],"configuration":{},"createdTime":1}}`,
		`{"add":{"path":"a%20b/c","partitionValues":{"k":null},"size":1,"modificationTime":2,"dataChange":true,"stats":"{\"numRecords\":1}","tags":{"t":"v"}}}`,
		`{"remove":{"path":"a","deletionTimestamp":1,"dataChange":true,"extendedFileMetadata":true,"partitionValues":{},"size":3}}`,
		`{"txn":{"appId":"a","version":1,"lastUpdated":2}}`,
		`{"add":{"path":"p","deletionVector":{"storageType":"u","pathOrInlineDv":"x","offset":1,"sizeInBytes":2,"cardinality":3}}}`,
		`{"cdc":{"path":"x"}}`, "\n\n", `{"add":{}}`, `[`, `{"txn":{"appId":""}}`,
	} {
		f.Add([]byte(s))
	}
	// Real commits from the shared tables, when present (read, not copied).
	dir := os.Getenv("AKOSHA_DELTA_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testdata", "delta")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "_delta_log", "0000000000000000000[0-2].json"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		acts, err := ParseCommit(data)
		if err != nil {
			return
		}
		for _, a := range acts {
			if a.kinds() != 1 {
				t.Fatalf("action with %d kinds", a.kinds())
			}
			if a.Add != nil {
				a.Add.DecodedPath()
				_, _ = a.Add.ParsedStats()
			}
			if a.MetaData != nil {
				_, _ = a.MetaData.Schema()
			}
		}
		enc, err := encodeCommit(acts)
		if err != nil {
			return // e.g. a commitInfo number JSON cannot re-encode
		}
		again, err := ParseCommit(enc)
		if err != nil {
			t.Fatalf("re-encoded commit does not parse: %v\n%s", err, enc)
		}
		// An empty commitInfo ({}) is dropped by omitempty; count the rest.
		if n, m := fileActions(again), fileActions(acts); n != m {
			t.Fatalf("re-encoded commit has %d non-commitInfo actions, want %d", n, m)
		}
	})
}

func fileActions(acts []Action) int {
	n := 0
	for _, a := range acts {
		if a.CommitInfo == nil {
			n++
		}
	}
	return n
}

func TestPaths(t *testing.T) {
	for _, tc := range []struct{ path, decoded string }{
		{"x=A%252FA/part-00007.c000.snappy.parquet", "x=A%2FA/part-00007.c000.snappy.parquet"},
		{"x=B%2520B/f.parquet", "x=B%20B/f.parquet"},
		{"tier=hot/system_id=a_b-1/day=2026-11-25/01J.parquet", "tier=hot/system_id=a_b-1/day=2026-11-25/01J.parquet"},
		{"bad%zz", "bad%zz"}, // not valid escaping: returned as is
	} {
		if got := (Add{Path: tc.path}).DecodedPath(); got != tc.decoded {
			t.Errorf("DecodedPath(%q) = %q, want %q", tc.path, got, tc.decoded)
		}
	}
	if got := EncodePath("x=A%2FA/B B/f.parquet"); got != "x=A%252FA/B%20B/f.parquet" {
		t.Errorf("EncodePath = %q", got)
	}
	tbl := NewTable(nil, "memories/")
	if k, err := tbl.DataKey("x=B%2520B/f.parquet"); err != nil || k != "memories/x=B%20B/f.parquet" {
		t.Errorf("DataKey = %q, %v", k, err)
	}
	for _, bad := range []string{"s3://bucket/f.parquet", "/abs/f", "../escape/f", "%2E%2E/f"} {
		if k, err := tbl.DataKey(bad); err == nil {
			t.Errorf("DataKey(%q) = %q, want an error", bad, k)
		}
	}
}

func TestParsedStats(t *testing.T) {
	a := Add{Path: "p", Stats: `{"numRecords":7,"minValues":{"n":-1,"s":{"x":"a"}},"maxValues":{"n":12345678901234567},"nullCount":{"n":0},"tightBounds":true}`}
	st, err := a.ParsedStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.NumRecords != 7 || st.MaxValues["n"] != json.Number("12345678901234567") || st.TightBounds == nil || !*st.TightBounds {
		t.Fatalf("stats %+v", st)
	}
	if _, err := (Add{Path: "p"}).ParsedStats(); !errors.Is(err, ErrNoStats) {
		t.Fatalf("no stats: %v", err)
	}
	st, err = (Add{Path: "p", Stats: `{"minValues":{}}`}).ParsedStats()
	if err != nil || st.NumRecords != -1 {
		t.Fatalf("stats without numRecords: %+v %v", st, err)
	}
	if _, err := (Add{Path: "p", Stats: `{`}).ParsedStats(); err == nil {
		t.Fatal("broken stats parsed")
	}
}

func TestSchemaJSON(t *testing.T) {
	const in = `{"type":"struct","fields":[{"name":"a","type":"decimal(8,5)","nullable":true,"metadata":{}},` +
		`{"name":"s","type":{"type":"struct","fields":[{"name":"x","type":"long","nullable":false,"metadata":{"delta.invariants":"x is not null"}}]},"nullable":true,"metadata":{}},` +
		`{"name":"l","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}},` +
		`{"name":"m","type":{"type":"map","keyType":"string","valueType":{"type":"array","elementType":"integer","containsNull":false},"valueContainsNull":true},"nullable":true,"metadata":{}}]}`
	s, err := Metadata{SchemaString: in}.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "a,s,l,m" {
		t.Fatalf("names %s", got)
	}
	if s.Fields[0].Type.String() != "decimal(8,5)" || s.Fields[3].Type.Map.ValueType.Array.ElementType.Primitive != "integer" {
		t.Fatalf("types %+v", s.Fields)
	}
	if !s.hasInvariants() {
		t.Fatal("nested invariant not found")
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("round trip:\n got %s\nwant %s", out, in)
	}
	if _, err := (Metadata{}).Schema(); err == nil {
		t.Fatal("empty schemaString parsed")
	}
}
