// Package vecindex is the on-lake form of Akosha's vector indexes, shared by
// the index job (jobs/indexer), which writes them, the query function, which
// reads them, and vacuum, which deletes them. It also decodes the vector
// columns of memories data files.
//
// # Layout (format version 3)
//
// One index covers a set of data files, of any days and any systems, of one
// tier of the memories table, and is three or four immutable objects sharing
// a ULID:
//
//	memories/_indexes/tier=<t>/<ulid>.hnsw  the HNSW graph (lake/hnsw serialized form)
//	memories/_indexes/tier=<t>/<ulid>.rows  per vector: file, row, system, id, kind, project, created_at, ingested_at; the keys of the other rows
//	memories/_indexes/tier=<t>/<ulid>.fts   the full-text (BM25) segment of the same rows (lake/fulltext), doc n = node n
//	memories/_indexes/tier=<t>/<ulid>.json  the manifest: the data files covered (paths, sizes, vectors per file) and the objects
//
// The .fts object is named by the manifest's "text" field, added within
// format version 3 (an optional field, so readers of either age read every
// manifest): a manifest without it is an index built before full-text
// segments, still searched for vectors, its files scored exactly by text
// search. Its documents are the graph's nodes, numbered the same (content
// and tags of node n's row); the covered files' other rows (older versions,
// rows without an embedding, Rows.OtherFile) are in neither.
//
// Indexes are per tier, never per system: a fleet has thousands of systems,
// and a graph per system made a search's cost follow the number of systems
// instead of the vectors searched. Filters by system run inside the graph
// search (the .rows side table names each vector's system).
//
// The manifest is written last, so an index exists once its manifest does;
// orphaned .hnsw/.rows objects of a crashed build are harmless (vacuum's job).
// Node id i of the graph is row i of the .rows object.
//
// # Dead files and usability
//
// Files leave the snapshot (compaction rewrites them, the age job moves them
// to another tier), so an index of many days is rarely exact about the live
// file set. Delta files are immutable, so the index stays exact about every
// covered file that is still live: a reader searches it with the rows of dead
// files filtered out (the .rows side table names each vector's file), and
// scans the live files it does not cover exactly. An index is usable while
// less than MaxDeadFraction of its vectors lie in files that are no longer
// live (DeadFraction); beyond that a search would mostly walk dead nodes.
//
// # Segments
//
// A tier holds a few indexes, "segments", each over its own set of files:
// the index job builds one over the live files no segment covers yet and
// merges small segments into larger ones (jobs/indexer), so a new file never
// makes it re-insert the whole tier. Readers search the usable segments
// that Segments chooses, no two covering the same live file, newer ones
// superseding older ones, and scan exactly the live files none covers.
//
// Only rows with an embedding of Dim finite values are indexed, and of the
// rows of one (system_id, id) among the covered files only the latest version
// (greatest ingested_at; ties: the later file in path order, then the later
// row). When the latest version has no embedding the record is not indexed at
// all. Versions in other files, in another segment or in no segment, are the
// reader's business (latest wins across files is resolved at query time).
//
// # Older versions
//
// Version 1 (one partition, .../system_id=<s>/day=<d>/) and version 2 (one
// tier and system, .../tier=<t>/system_id=<s>/) indexes belong to the lake
// layout partitioned by system. They are still parsed (vacuum must be able
// to read what it deletes), but readers and the index job ignore them:
// Current is false, and their files are gone after `akosha lake migrate`.
package vecindex

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/storage"
)

// Dim is the dimension of every indexed vector.
const Dim = 384

// FormatVersion is the manifest version the index job writes and readers
// search. ParseManifest also accepts MinVersion..FormatVersion.
const (
	FormatVersion = 3
	MinVersion    = 1
)

// MaxDeadFraction: an index is usable while less than this fraction of its
// vectors are in files that are no longer live. At one half a graph search
// already walks as many dead nodes as live ones, and the index job will have
// rebuilt long before (it rebuilds at a fifth).
const MaxDeadFraction = 0.5

// Dir is the folder, inside a table, that holds its indexes.
const Dir = "_indexes"

// Prefix is the store key prefix of table's indexes, with a trailing slash.
func Prefix(table string) string { return table + "/" + Dir + "/" }

// Keys are the object keys of one index.
type Keys struct {
	Manifest, Index, Rows, Text string
}

// Group is the tier an index of partition p's files belongs to: p without
// its day.
func Group(p lake.Partition) lake.Partition {
	return lake.Partition{Tier: p.Tier}
}

// KeysFor names a new index of table for the tier of p (its Day is ignored:
// an index spans days) with the given unique id.
func KeysFor(table string, p lake.Partition, id string) Keys {
	base := Prefix(table) + fmt.Sprintf("tier=%s/%s", p.Tier, id)
	return Keys{Manifest: base + ".json", Index: base + ".hnsw", Rows: base + ".rows", Text: base + ".fts"}
}

// FileRef is one covered data file: its path as the Delta log writes it
// (relative to the table root), its size, and how many of the index's
// vectors come from it (version 2; a file whose rows were all superseded or
// had no embedding is covered with 0).
type FileRef struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Vectors int    `json:"vectors,omitempty"`
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
	SystemID       string    `json:"system_id,omitempty"` // versions 1 and 2 only
	Day            string    `json:"day,omitempty"`       // version 1 only
	Files          []FileRef `json:"files"`               // sorted by Path
	Vectors        int       `json:"vectors"`
	Dim            int       `json:"dim"`
	M              int       `json:"m"`
	EfConstruction int       `json:"ef_construction"`
	Index          ObjRef    `json:"index"`
	Rows           ObjRef    `json:"rows"`
	BuiltAt        time.Time `json:"built_at"`
	// RowKeys: the .rows object names every row of every covered file
	// (Rows.Keys). Indexes built before it are false and readers learn
	// their files' keys from the files.
	RowKeys bool `json:"row_keys,omitempty"`
	// Text is the full-text segment of the same documents (doc n = node
	// n); its Key is "" for an index built before full-text segments, whose
	// files text search scores exactly.
	Text ObjRef `json:"text,omitzero"`

	// Key is the manifest's own key (not serialized).
	Key string `json:"-"`
}

// Partition is what the index covers: its tier, and for a version 1 index
// its day (later versions: Day is "", every day).
func (m *Manifest) Partition() lake.Partition {
	return lake.Partition{Tier: m.Tier, Day: m.Day}
}

// Current reports whether the index has the format readers search.
func (m *Manifest) Current() bool { return m.Version == FormatVersion }

// DeadFraction is the fraction of the index's vectors in covered files that
// are not in live (path -> size; a file of another size is another file).
// Vectors are weighed by the per-file counts when the manifest has them
// (version 2), else every covered file weighs the same. An index without
// files is all dead.
func (m *Manifest) DeadFraction(live map[string]int64) float64 {
	if len(m.Files) == 0 {
		return 1
	}
	byVectors := m.Vectors > 0
	if byVectors {
		sum := 0
		for _, f := range m.Files {
			sum += f.Vectors
		}
		byVectors = sum == m.Vectors
	}
	var dead, total int
	for _, f := range m.Files {
		w := 1
		if byVectors {
			w = f.Vectors
		}
		total += w
		if sz, ok := live[f.Path]; !ok || sz != f.Size {
			dead += w
		}
	}
	return float64(dead) / float64(total)
}

// Usable reports whether readers may search the index on a snapshot whose
// live files are live: it has the current format, vectors, and less than
// MaxDeadFraction of them dead.
func (m *Manifest) Usable(live map[string]int64) bool {
	return m.Current() && m.Vectors > 0 && m.DeadFraction(live) < MaxDeadFraction
}

// Segments is what readers search of one tier's indexes ms on a snapshot
// whose live files are live (path -> size): a set of usable indexes
// ("segments") no two of which cover the same live file, so that a search
// visits each live file through one graph at most and never meets the same
// row twice.
//
// The rule is greedy, newest first (ULIDs sort by build time, ties by
// key): an index is chosen when it is usable and covers no live file that
// an index already chosen covers. A newer index that covers a file thus
// supersedes every older one covering it: the index job builds a merge or a
// rebuild over the whole live part of the segments it replaces, so the
// newer one covers all they held. An older index skipped this way is not
// searched even for its files the newer does not cover (they are scanned
// exactly until the index job covers them). Live files no chosen index
// covers are the reader's to scan exactly.
//
// Only chosen indexes block others, so removing an index that is not
// chosen leaves the choice of the others unchanged: vacuum may delete
// those (jobs/vacuum).
//
// The result is newest first; it shares ms's manifests.
func Segments(ms []*Manifest, live map[string]int64) []*Manifest {
	order := make([]*Manifest, 0, len(ms))
	for _, m := range ms {
		if m != nil && m.Usable(live) {
			order = append(order, m)
		}
	}
	slices.SortFunc(order, func(a, b *Manifest) int {
		if c := strings.Compare(path.Base(b.Key), path.Base(a.Key)); c != 0 {
			return c
		}
		return strings.Compare(b.Key, a.Key)
	})
	taken := map[string]bool{}
	out := order[:0]
	for _, m := range order {
		if m.sharesLive(taken, live) {
			continue
		}
		for _, f := range m.Files {
			if sz, ok := live[f.Path]; ok && sz == f.Size {
				taken[f.Path] = true
			}
		}
		out = append(out, m)
	}
	return out
}

// sharesLive reports whether m covers a live file in taken.
func (m *Manifest) sharesLive(taken map[string]bool, live map[string]int64) bool {
	for _, f := range m.Files {
		if sz, ok := live[f.Path]; ok && sz == f.Size && taken[f.Path] {
			return true
		}
	}
	return false
}

// LiveVectors estimates how many of the index's vectors are in live files:
// its vectors less the dead fraction (exact when the manifest has per-file
// counts). The index job sizes segments by it.
func (m *Manifest) LiveVectors(live map[string]int64) int64 {
	return int64(math.Round(float64(m.Vectors) * (1 - m.DeadFraction(live))))
}

// ParseManifest decodes a manifest and checks what readers rely on.
func ParseManifest(key string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", key, err)
	}
	if m.Version < MinVersion || m.Version > FormatVersion {
		return nil, fmt.Errorf("manifest %s: version %d, want %d..%d", key, m.Version, MinVersion, FormatVersion)
	}
	if m.Dim != Dim || m.Index.Key == "" || m.Rows.Key == "" || m.Vectors < 0 {
		return nil, fmt.Errorf("manifest %s: incomplete", key)
	}
	m.Key = key
	return &m, nil
}

// ListManifests returns the manifest keys under table's index folder
// (both layouts), with their sizes.
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

// Rows is the per-vector side table of an index: row i describes node i.
// Strings that repeat (systems, kinds, projects) are dictionary-encoded;
// index 0 of Projects is "" (no project).
type Rows struct {
	File     []uint32 // index into Manifest.Files
	Pos      []uint32 // row number inside that data file
	System   []uint32 // index into Systems
	ID       []string
	Kind     []uint8  // index into Kinds
	Project  []uint32 // index into Projects
	Created  []int64  // created_at, Unix microseconds
	Ingested []int64  // ingested_at, Unix microseconds
	Systems  []string
	Kinds    []string
	Projects []string
	// The covered files' rows that are not nodes (older versions of a
	// record, rows without an embedding): their file, system and id.
	// Written with Manifest.RowKeys.
	OtherFile   []uint32
	OtherSystem []uint32
	OtherID     []string
}

// Keys calls fn with the key (system, id) of every row r names of covered
// file i (both nodes and other rows; a key repeated in a file is named each
// time), for an index whose manifest has RowKeys.
func (r *Rows) Keys(fn func(file uint32, system, id string)) {
	for i, f := range r.File {
		fn(f, r.Systems[r.System[i]], r.ID[i])
	}
	for i, f := range r.OtherFile {
		fn(f, r.Systems[r.OtherSystem[i]], r.OtherID[i])
	}
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

// PerFile counts the nodes in each of the index's covered files (the
// manifest's Files), checking that every row, node or other, names one of
// them.
func (r *Rows) PerFile(files int) ([]int, error) {
	counts := make([]int, files)
	for i, f := range r.File {
		if int(f) >= files {
			return nil, fmt.Errorf("index rows: row %d names file %d of %d", i, f, files)
		}
		counts[f]++
	}
	for i, f := range r.OtherFile {
		if int(f) >= files {
			return nil, fmt.Errorf("index rows: other row %d names file %d of %d", i, f, files)
		}
	}
	return counts, nil
}

// DecodeRows reads what Encode wrote and checks its arrays agree.
func DecodeRows(rd io.Reader) (*Rows, error) {
	var r Rows
	if err := gob.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("index rows: %w", err)
	}
	n := len(r.ID)
	if len(r.File) != n || len(r.Pos) != n || len(r.System) != n || len(r.Kind) != n || len(r.Project) != n || len(r.Created) != n || len(r.Ingested) != n ||
		len(r.OtherFile) != len(r.OtherID) || len(r.OtherSystem) != len(r.OtherID) {
		return nil, errors.New("index rows: arrays of different lengths")
	}
	for i := range n {
		if int(r.System[i]) >= len(r.Systems) || int(r.Kind[i]) >= len(r.Kinds) || int(r.Project[i]) >= len(r.Projects) {
			return nil, errors.New("index rows: dictionary index out of range")
		}
	}
	for _, s := range r.OtherSystem {
		if int(s) >= len(r.Systems) {
			return nil, errors.New("index rows: dictionary index out of range")
		}
	}
	return &r, nil
}

// ParseKey reads the tier back from an index object key of table:
// .../tier=<t>/<ulid>.<ext>. Keys of the older layouts (.../tier=<t>/
// system_id=<s>/[day=<d>/]<ulid>.<ext>) are recognised with old true, so
// vacuum can delete them; their system and day are not returned.
func ParseKey(table, key string) (p lake.Partition, old, ok bool) {
	rest, ok := strings.CutPrefix(key, Prefix(table))
	if !ok {
		return lake.Partition{}, false, false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 4 || parts[len(parts)-1] == "" {
		return lake.Partition{}, false, false
	}
	tier, ok := strings.CutPrefix(parts[0], "tier=")
	if !ok || tier == "" {
		return lake.Partition{}, false, false
	}
	p.Tier = tier
	switch len(parts) {
	case 2:
		return p, false, true
	case 3:
		_, ok = strings.CutPrefix(parts[1], "system_id=")
		return p, true, ok
	default:
		_, ok1 := strings.CutPrefix(parts[1], "system_id=")
		_, ok2 := strings.CutPrefix(parts[2], "day=")
		return p, true, ok1 && ok2
	}
}
