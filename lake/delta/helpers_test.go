package delta

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/akosha/akosha/lake/storage"
)

// testSchema is a small partitioned table shaped like the lake's tables.
var testSchema = StructType{Fields: []StructField{
	{Name: "id", Type: PrimitiveType("string")},
	{Name: "n", Type: PrimitiveType("long"), Nullable: true},
	{Name: "tier", Type: PrimitiveType("string"), Nullable: true},
	{Name: "day", Type: PrimitiveType("string"), Nullable: true},
}}

func testMeta(t testing.TB) Metadata {
	t.Helper()
	b, err := json.Marshal(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	return Metadata{Name: "memories", SchemaString: string(b), PartitionColumns: []string{"tier", "day"}}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newLocalTable creates an empty table "memories" in a temporary directory.
func newLocalTable(t testing.TB) (*Table, *Snapshot) {
	t.Helper()
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return createTable(t, st)
}

func createTable(t testing.TB, st storage.Store) (*Table, *Snapshot) {
	t.Helper()
	tbl := NewTable(st, "memories")
	tbl.Logger = testLogger(t)
	s, err := tbl.Create(context.Background(), testMeta(t))
	if err != nil {
		t.Fatal(err)
	}
	return tbl, s
}

// testAdd is an add in partition tier/day (day nil: a null partition value)
// holding rows rows.
func testAdd(name, tier string, day *string, rows int64) Add {
	d := "__HIVE_DEFAULT_PARTITION__"
	if day != nil {
		d = *day
	}
	return Add{
		Path:             EncodePath(fmt.Sprintf("tier=%s/day=%s/%s.parquet", tier, d, name)),
		PartitionValues:  map[string]*string{"tier": &tier, "day": day},
		Size:             1000 + rows,
		ModificationTime: 1_700_000_000_000 + rows,
		DataChange:       true,
		Stats:            fmt.Sprintf(`{"numRecords":%d,"minValues":{"n":1},"maxValues":{"n":%d},"nullCount":{"n":0}}`, rows, rows),
		Tags:             map[string]string{"writer": "test"},
	}
}

func day(s string) *string { return &s }

func addActions(as ...Add) []Action {
	out := make([]Action, len(as))
	for i := range as {
		out[i] = Action{Add: &as[i]}
	}
	return out
}

func mustCommit(t testing.TB, tbl *Table, base *Snapshot, actions []Action) *CommitResult {
	t.Helper()
	r, err := tbl.Commit(context.Background(), base, actions)
	if err != nil {
		t.Fatalf("commit on %d: %v", base.Version, err)
	}
	return r
}

// stateSum is the comparable content of a snapshot. It leaves out what
// legitimately differs between a JSON replay and a checkpoint: the stats
// text (stats_parsed is re-serialized), dataChange (checkpoints write
// false) and txn commit versions (unknown after a checkpoint).
type stateSum struct {
	Version          int64
	Reader, Writer   int
	MetaID, Schema   string
	Parts            []string
	Config           map[string]string
	Files            []fileSum
	Tombs            []string
	Txns             map[string][2]int64
	ReaderF, WriterF []string
}

type fileSum struct {
	Path     string
	Size     int64
	Mod      int64
	PV       map[string]string
	Rows     int64
	Stats    [3]map[string]any // min, max, null counts
	Tags     map[string]string
	HasStats bool
}

func summarize(t testing.TB, s *Snapshot) stateSum {
	t.Helper()
	sum := stateSum{
		Version: s.Version, Reader: s.Protocol.MinReaderVersion, Writer: s.Protocol.MinWriterVersion,
		ReaderF: s.Protocol.ReaderFeatures, WriterF: s.Protocol.WriterFeatures,
		MetaID: s.Metadata.ID, Schema: s.Metadata.SchemaString, Parts: s.Metadata.PartitionColumns,
		Config: emptyToNil(s.Metadata.Configuration), Txns: map[string][2]int64{},
	}
	if len(sum.Parts) == 0 {
		sum.Parts = nil
	}
	for a := range s.AllFiles() {
		f := fileSum{Path: a.Path, Size: a.Size, Mod: a.ModificationTime, PV: derefPV(a.PartitionValues),
			Rows: -1, Tags: emptyToNil(a.Tags)}
		if st, err := a.ParsedStats(); err == nil {
			f.HasStats, f.Rows = true, st.NumRecords
			f.Stats = [3]map[string]any{st.MinValues, st.MaxValues, st.NullCount}
		}
		sum.Files = append(sum.Files, f)
	}
	for _, r := range s.Tombstones() {
		sum.Tombs = append(sum.Tombs, r.Path)
	}
	for _, tx := range s.Txns() {
		sum.Txns[tx.AppID] = [2]int64{tx.Version, tx.LastUpdated}
	}
	return sum
}

func emptyToNil(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func assertSameState(t testing.TB, label string, got, want *Snapshot) {
	t.Helper()
	g, w := summarize(t, got), summarize(t, want)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: states differ\n got %+v\nwant %+v", label, g, w)
	}
}

// copyTable copies a shared table into a fresh directory, so that writer
// tests never touch the shared (read-only) data.
func copyTable(t testing.TB, name string) *Table {
	t.Helper()
	src := filepath.Join(testdataDir(t), name)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.NewLocal(dst)
	if err != nil {
		t.Fatal(err)
	}
	tbl := NewTable(st, "")
	tbl.Logger = testLogger(t)
	return tbl
}

func readLast(t testing.TB, tbl *Table) *lastCheckpoint {
	t.Helper()
	lc, err := tbl.readLastCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return lc
}
