// Package vecindex is the on-lake form of Akosha's vector indexes, shared by
// the index job (jobs/indexer), which writes them, and the query function,
// which reads them. It also decodes the vector columns of memories data files.
//
// # Layout
//
// One index covers one partition (tier/system_id/day) of the memories table
// and is three immutable objects sharing a ULID:
//
//	memories/_indexes/tier=<t>/system_id=<s>/day=<d>/<ulid>.hnsw  the HNSW graph (lake/hnsw serialized form)
//	memories/_indexes/tier=<t>/system_id=<s>/day=<d>/<ulid>.rows  per vector: file, row, id, kind, project, created_at, ingested_at
//	memories/_indexes/tier=<t>/system_id=<s>/day=<d>/<ulid>.json  the manifest: the data files covered (paths and sizes) and the two objects
//
// The manifest is written last, so an index exists once its manifest does;
// orphaned .hnsw/.rows objects of a crashed build are harmless (vacuum's job).
// Node id i of the graph is row i of the .rows object.
//
// An index is "current" for a partition when the set of files it covers
// equals the partition's live file set; the index job builds a new one
// otherwise. Readers may use any index all of whose covered files are still
// live (and scan the partition's other live files exactly): Delta files are
// immutable, so the index is exact about the files it names. Old indexes are
// never deleted by the job, because a query may be reading them.
//
// Only rows with an embedding of Dim finite values are indexed, and of the
// rows of one (system_id, id) inside the partition only the latest version
// (greatest ingested_at; ties: the later file in path order, then the later
// row). When the latest version has no embedding the record is not indexed at
// all. Versions in other partitions are the reader's business (latest wins
// across files is resolved at query time).
package vecindex

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
)

// Dim is the dimension of every indexed vector.
const Dim = 384

// FormatVersion is the manifest's "version"; readers skip other versions.
const FormatVersion = 1

// Dir is the folder, inside a table, that holds its indexes.
const Dir = "_indexes"

// Prefix is the store key prefix of table's indexes, with a trailing slash.
func Prefix(table string) string { return table + "/" + Dir + "/" }

// Keys are the three object keys of one index.
type Keys struct {
	Manifest, Index, Rows string
}

// KeysFor names a new index of partition p of table with the given unique id.
func KeysFor(table string, p lake.Partition, id string) Keys {
	base := Prefix(table) + fmt.Sprintf("tier=%s/system_id=%s/day=%s/%s", p.Tier, p.SystemID, p.Day, id)
	return Keys{Manifest: base + ".json", Index: base + ".hnsw", Rows: base + ".rows"}
}

// FileRef is one covered data file: its path as the Delta log writes it
// (relative to the table root) and its size.
type FileRef struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// ObjRef is one object of the index.
type ObjRef struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

// Manifest describes one index.
type Manifest struct {
	Version        int       `json:"version"`
	Table          string    `json:"table"`
	Tier           string    `json:"tier"`
	SystemID       string    `json:"system_id"`
	Day            string    `json:"day"`
	Files          []FileRef `json:"files"` // sorted by Path
	Vectors        int       `json:"vectors"`
	Dim            int       `json:"dim"`
	M              int       `json:"m"`
	EfConstruction int       `json:"ef_construction"`
	Index          ObjRef    `json:"index"`
	Rows           ObjRef    `json:"rows"`
	BuiltAt        time.Time `json:"built_at"`

	// Key is the manifest's own key (not serialized).
	Key string `json:"-"`
}

// Partition is the partition the index covers.
func (m *Manifest) Partition() lake.Partition {
	return lake.Partition{Tier: m.Tier, SystemID: m.SystemID, Day: m.Day}
}

// Covers reports whether the index covers exactly the files of live (path ->
// size): the index is current.
func (m *Manifest) Covers(live map[string]int64) bool {
	if len(live) != len(m.Files) {
		return false
	}
	return m.AllLive(live)
}

// AllLive reports whether every file the index covers is in live with the
// same size: the index is usable.
func (m *Manifest) AllLive(live map[string]int64) bool {
	for _, f := range m.Files {
		if sz, ok := live[f.Path]; !ok || sz != f.Size {
			return false
		}
	}
	return true
}

// ParseManifest decodes a manifest and checks what readers rely on.
func ParseManifest(key string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	if m.Version != FormatVersion {
		return nil, fmt.Errorf("manifest %s: version %d, want %d", key, m.Version, FormatVersion)
	}
	if m.Dim != Dim || m.Index.Key == "" || m.Rows.Key == "" || m.Vectors < 0 {
		return nil, fmt.Errorf("manifest %s: incomplete", key)
	}
	m.Key = key
	return &m, nil
}

// ListManifests returns the manifest keys under table's index folder
// (optionally only under one partition), with their sizes.
func ListManifests(ctx context.Context, store storage.Store, table string) ([]storage.ObjectInfo, error) {
	objs, err := store.List(ctx, Prefix(table))
	if err != nil {
		if errors.Is(err, storage.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	out := objs[:0]
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".json") {
			out = append(out, o)
		}
	}
	return out, nil
}

// ReadManifest reads and parses one manifest.
func ReadManifest(ctx context.Context, store storage.Store, key string) (*Manifest, error) {
	b, err := storage.ReadAll(ctx, store, key)
	if err != nil {
		return nil, err
	}
	return ParseManifest(key, b)
}

// Newer reports whether a is preferable to b among usable indexes of one
// partition: it covers more files, or as many and was built later (ULID keys
// sort by time).
func Newer(a, b *Manifest) bool {
	if len(a.Files) != len(b.Files) {
		return len(a.Files) > len(b.Files)
	}
	return path.Base(a.Key) > path.Base(b.Key)
}

// Rows is the per-vector side table of an index: row i describes node i.
// Strings that repeat (kinds, projects) are dictionary-encoded; index 0 of
// Projects is "" (no project).
type Rows struct {
	File     []uint32 // index into Manifest.Files
	Pos      []uint32 // row number inside that data file
	ID       []string
	Kind     []uint8  // index into Kinds
	Project  []uint32 // index into Projects
	Created  []int64  // created_at, Unix microseconds
	Ingested []int64  // ingested_at, Unix microseconds
	Kinds    []string
	Projects []string
}

// Len is the number of rows.
func (r *Rows) Len() int { return len(r.ID) }

// Encode writes r with encoding/gob (flat arrays: fast both ways).
func (r *Rows) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeRows reads what Encode wrote and checks its arrays agree.
func DecodeRows(rd io.Reader) (*Rows, error) {
	var r Rows
	if err := gob.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("index rows: %w", err)
	}
	n := len(r.ID)
	if len(r.File) != n || len(r.Pos) != n || len(r.Kind) != n || len(r.Project) != n || len(r.Created) != n || len(r.Ingested) != n {
		return nil, errors.New("index rows: arrays of different lengths")
	}
	for i := range n {
		if int(r.Kind[i]) >= len(r.Kinds) || int(r.Project[i]) >= len(r.Projects) {
			return nil, errors.New("index rows: dictionary index out of range")
		}
	}
	return &r, nil
}

// ParseKey reads the partition back from an index object key of table.
func ParseKey(table, key string) (lake.Partition, bool) {
	rest, ok := strings.CutPrefix(key, Prefix(table))
	if !ok {
		return lake.Partition{}, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return lake.Partition{}, false
	}
	var p lake.Partition
	var ok1, ok2, ok3 bool
	p.Tier, ok1 = strings.CutPrefix(parts[0], "tier=")
	p.SystemID, ok2 = strings.CutPrefix(parts[1], "system_id=")
	p.Day, ok3 = strings.CutPrefix(parts[2], "day=")
	return p, ok1 && ok2 && ok3 && p.Tier != "" && p.SystemID != "" && p.Day != ""
}
