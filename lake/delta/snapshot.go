package delta

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
)

// Snapshot is the state of a table at one version. It is immutable: methods
// return copies (or read-only iterators) and Table.Update builds a new value,
// so a Snapshot can be shared between goroutines without locking. The
// exported fields must not be modified.
type Snapshot struct {
	Version  int64
	Protocol Protocol
	Metadata Metadata

	files      []*Add    // live files, sorted by Path, never modified
	tombstones []*Remove // sorted by Path, never modified
	txns       map[string]Txn
}

// Files returns the live data files sorted by Path (a fresh slice; the maps
// inside each Add are shared and must not be modified).
func (s *Snapshot) Files() []Add {
	out := make([]Add, len(s.files))
	for i, a := range s.files {
		out[i] = *a
	}
	return out
}

// AllFiles iterates the live files in Path order without copying the list.
func (s *Snapshot) AllFiles() iter.Seq[Add] {
	return func(yield func(Add) bool) {
		for _, a := range s.files {
			if !yield(*a) {
				return
			}
		}
	}
}

// NumFiles is the number of live files.
func (s *Snapshot) NumFiles() int { return len(s.files) }

// File returns the live file with the given Path (as written in the log).
func (s *Snapshot) File(path string) (Add, bool) {
	if a := findPath(s.files, path, addPath); a != nil {
		return *a, true
	}
	return Add{}, false
}

// Tombstones returns the remove actions still in the state (files removed
// and not re-added), sorted by Path. Checkpoints drop tombstones older than
// delta.deletedFileRetentionDuration, so a snapshot loaded from a
// checkpoint may hold fewer than one replayed from JSON.
func (s *Snapshot) Tombstones() []Remove {
	out := make([]Remove, len(s.tombstones))
	for i, r := range s.tombstones {
		out[i] = *r
	}
	return out
}

// NumTombstones is len(Tombstones()) without the copy.
func (s *Snapshot) NumTombstones() int { return len(s.tombstones) }

// Txn returns the latest txn action recorded for appID.
func (s *Snapshot) Txn(appID string) (Txn, bool) {
	t, ok := s.txns[appID]
	return t, ok
}

// Txns returns every recorded txn, sorted by AppID.
func (s *Snapshot) Txns() []Txn {
	out := make([]Txn, 0, len(s.txns))
	for _, t := range s.txns {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Txn) int { return strings.Compare(a.AppID, b.AppID) })
	return out
}

// Schema parses the table schema from the metadata.
func (s *Snapshot) Schema() (*StructType, error) { return s.Metadata.Schema() }

func addPath(a *Add) string       { return a.Path }
func removePath(r *Remove) string { return r.Path }

func findPath[T any](sorted []*T, path string, key func(*T) string) *T {
	i := sort.Search(len(sorted), func(i int) bool { return key(sorted[i]) >= path })
	if i < len(sorted) && key(sorted[i]) == path {
		return sorted[i]
	}
	return nil
}

// builder accumulates actions on top of an optional base snapshot. Changes
// are kept as overlays (path → new entry, nil meaning "gone") and merged into
// the base's sorted slices once, in finish: applying k actions to a table of
// n files costs O(n + k log k) pointer copies instead of rebuilding maps,
// which keeps the once-a-second Update of a large table cheap.
type builder struct {
	base     *Snapshot
	version  int64
	protocol *Protocol
	metadata *Metadata
	files    map[string]*Add
	tombs    map[string]*Remove
	txns     map[string]Txn // nil until the first txn: then a copy of base's
}

func newBuilder(base *Snapshot) *builder {
	b := &builder{base: base, version: -1, files: map[string]*Add{}, tombs: map[string]*Remove{}}
	if base != nil {
		b.version = base.Version
	}
	return b
}

// apply adds one version's actions, in log order. fromCheckpoint marks
// actions read from a checkpoint, whose txns cannot name the commit that
// wrote them.
func (b *builder) apply(version int64, actions []Action, fromCheckpoint bool) {
	for i := range actions {
		b.applyOne(version, &actions[i], fromCheckpoint)
	}
	if version > b.version {
		b.version = version
	}
}

func (b *builder) applyOne(version int64, a *Action, fromCheckpoint bool) {
	switch {
	case a.Add != nil:
		b.files[a.Add.Path] = a.Add
		if b.hasTombstone(a.Add.Path) {
			b.tombs[a.Add.Path] = nil
		}
	case a.Remove != nil:
		if b.live(a.Remove.Path) {
			b.files[a.Remove.Path] = nil
		}
		b.tombs[a.Remove.Path] = a.Remove
	case a.Txn != nil:
		if b.txns == nil {
			b.txns = make(map[string]Txn, len(b.baseTxns())+1)
			for k, v := range b.baseTxns() {
				b.txns[k] = v
			}
		}
		t := *a.Txn
		t.CommitVersion = version
		if fromCheckpoint {
			t.CommitVersion = -1
		}
		b.txns[t.AppID] = t
	case a.MetaData != nil:
		m := a.MetaData.clone()
		b.metadata = &m
	case a.Protocol != nil:
		p := a.Protocol.clone()
		b.protocol = &p
	}
}

func (b *builder) baseTxns() map[string]Txn {
	if b.base == nil {
		return nil
	}
	return b.base.txns
}

// live reports whether path is a live file in the state built so far.
func (b *builder) live(path string) bool {
	if a, ok := b.files[path]; ok {
		return a != nil
	}
	return b.base != nil && findPath(b.base.files, path, addPath) != nil
}

func (b *builder) hasTombstone(path string) bool {
	if r, ok := b.tombs[path]; ok {
		return r != nil
	}
	return b.base != nil && findPath(b.base.tombstones, path, removePath) != nil
}

func (b *builder) txn(appID string) (Txn, bool) {
	if b.txns != nil {
		t, ok := b.txns[appID]
		return t, ok
	}
	t, ok := b.baseTxns()[appID]
	return t, ok
}

func (b *builder) currentProtocol() (Protocol, bool) {
	if b.protocol != nil {
		return *b.protocol, true
	}
	if b.base != nil {
		return b.base.Protocol, true
	}
	return Protocol{}, false
}

// finish builds the snapshot and checks that this reader may read it.
func (b *builder) finish() (*Snapshot, error) {
	s := &Snapshot{Version: b.version}
	switch {
	case b.protocol != nil:
		s.Protocol = *b.protocol
	case b.base != nil:
		s.Protocol = b.base.Protocol
	default:
		return nil, fmt.Errorf("version %d: the log holds no protocol action", b.version)
	}
	if err := checkReadable(s.Protocol); err != nil {
		return nil, fmt.Errorf("version %d: %w", b.version, err)
	}
	switch {
	case b.metadata != nil:
		s.Metadata = *b.metadata
	case b.base != nil:
		s.Metadata = b.base.Metadata
	default:
		return nil, fmt.Errorf("version %d: the log holds no metaData action", b.version)
	}
	var baseFiles []*Add
	var baseTombs []*Remove
	if b.base != nil {
		baseFiles, baseTombs = b.base.files, b.base.tombstones
	}
	s.files = mergeSorted(baseFiles, b.files, addPath)
	s.tombstones = mergeSorted(baseTombs, b.tombs, removePath)
	s.txns = b.txns
	if s.txns == nil {
		s.txns = b.baseTxns()
	}
	// A reader-1 table cannot hold deletion vectors; if a file still has
	// one the log is inconsistent, and ignoring it would resurrect rows.
	// Only new files need checking: the base passed this check already.
	for _, a := range b.files {
		if a != nil && a.DeletionVector != nil {
			return nil, fmt.Errorf("version %d: file %s has a deletion vector: %w", b.version, a.Path, ErrUnsupported)
		}
	}
	return s, nil
}

// mergeSorted applies path-keyed changes (nil = delete) to a sorted slice,
// sharing the base slice when nothing changed. It binary-searches each
// changed path and block-copies the untouched runs between them, so a few
// changes to a large table cost a memmove, not a lookup per file.
func mergeSorted[T any](base []*T, changes map[string]*T, key func(*T) string) []*T {
	if len(changes) == 0 {
		return base
	}
	paths := make([]string, 0, len(changes))
	added := 0
	for p, v := range changes {
		paths = append(paths, p)
		if v != nil {
			added++
		}
	}
	slices.Sort(paths)
	out := make([]*T, 0, len(base)+added)
	pos := 0
	for _, p := range paths {
		i := pos + sort.Search(len(base)-pos, func(i int) bool { return key(base[pos+i]) >= p })
		out = append(out, base[pos:i]...)
		if i < len(base) && key(base[i]) == p {
			i++ // replaced or deleted
		}
		if v := changes[p]; v != nil {
			out = append(out, v)
		}
		pos = i
	}
	return append(out, base[pos:]...)
}

// checkReadable refuses protocols this reader does not implement.
func checkReadable(p Protocol) error {
	if p.MinReaderVersion > 1 || len(p.ReaderFeatures) > 0 {
		msg := fmt.Sprintf("table requires reader version %d", p.MinReaderVersion)
		if len(p.ReaderFeatures) > 0 {
			msg += fmt.Sprintf(" with reader features %v", p.ReaderFeatures)
		}
		return fmt.Errorf("%w: %s; this reader supports reader version 1 only", ErrUnsupported, msg)
	}
	return nil
}

// checkWritable refuses tables a writer-2 client may not write.
func checkWritable(p Protocol, m Metadata) error {
	if err := checkReadable(p); err != nil {
		return err
	}
	if p.MinWriterVersion > 2 || len(p.WriterFeatures) > 0 {
		msg := fmt.Sprintf("table requires writer version %d", p.MinWriterVersion)
		if len(p.WriterFeatures) > 0 {
			msg += fmt.Sprintf(" with writer features %v", p.WriterFeatures)
		}
		return fmt.Errorf("%w: %s; this writer supports writer version 2 only", ErrUnsupported, msg)
	}
	// Writer version 2 includes column invariants, which a writer must
	// check against the data. This package never sees the data, so it
	// refuses rather than write rows that may break them.
	if s, err := m.Schema(); err == nil && s.hasInvariants() {
		return fmt.Errorf("%w: table has column invariants (delta.invariants), which this writer cannot enforce", ErrUnsupported)
	}
	return nil
}
