package vacuum

import (
	"context"
	"path"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
)

// planIndexes picks index objects to delete. An index spans many files
// (lake/vecindex: a tier holds a few segments, each over its own files,
// across days and systems) and readers keep using a segment while less
// than vecindex.MaxDeadFraction of it is in files no longer live and no
// newer segment they use covers one of its live files
// (vecindex.Segments), so an index is deleted when
//
//   - any covered file was removed before removedBefore (or has no
//     tombstone left at all: removed longer ago than the table's tombstone
//     retention): the index may hold the vectors and keys of rows a delete
//     or an expiry forgot, which must not outlive the grace (issue 16); or
//   - it was written before removedBefore and no reader within the grace
//     would search it: it is unusable even counting the files removed
//     within the grace as live (no snapshot of the grace period finds it
//     usable), or it is not in the segments chosen now
//     (vecindex.Segments over the tier's current indexes and the live
//     files) and shares a live file with a chosen segment that is newer and
//     was written before removedBefore: every reader that listed since that
//     segment was written chose it, and so passed over this one.
//
// A segment in the choice is never deleted for being superseded, however
// old; nor one superseded only by a segment written within the grace (a
// reader that listed before it was written still searches the older one).
// Deleting an index that is not chosen changes nothing in the choice of
// the others. A reader that meets a deleted index anyway (its listing was
// older than the delete) scans the index's live files exactly.
//
// Indexes of the older formats (per system) go only with their files: this
// version never searches them, an older reader still may.
//
// With IndexCovers (paths only) every file weighs the same.
func planIndexes(ctx context.Context, store storage.Store, objs []storage.ObjectInfo, snap *delta.Snapshot,
	tombs map[string]int64, log *delta.Table, removedBefore, orphanBefore time.Time, opts Options) []Candidate {
	// removedLongAgo: not live, and removed before the grace.
	removedLongAgo := func(p string) bool {
		if _, live := snap.File(p); live {
			return false
		}
		k, err := log.DataKey(p)
		if err != nil {
			return false
		}
		ts, ok := tombs[k]
		return !ok || (ts > 0 && time.UnixMilli(ts).Before(removedBefore))
	}
	var out []Candidate
	if opts.IndexCovers != nil {
		for _, o := range objs {
			paths, ok, err := opts.IndexCovers(ctx, store, o.Key)
			if err != nil {
				opts.Logger.Warn("vacuum: read index", "key", o.Key, "err", err)
				continue
			}
			gone := 0
			for _, p := range paths {
				if removedLongAgo(p) {
					gone++
				}
			}
			// Any file gone past the grace: the index may hold rows a
			// delete or an expiry forgot (erasure reaches the bytes).
			if ok && len(paths) > 0 && gone > 0 {
				out = append(out, Candidate{Key: o.Key, Kind: KindIndex, Size: o.Size})
			}
		}
		return out
	}
	// lake/vecindex: <stem>.json names <stem>.hnsw, <stem>.rows and, since
	// full-text segments, <stem>.fts.
	byKey := map[string]storage.ObjectInfo{}
	for _, o := range objs {
		byKey[o.Key] = o
	}
	claimed := map[string]bool{}
	type indexObj struct {
		m   *vecindex.Manifest
		obj storage.ObjectInfo
	}
	var indexes []indexObj
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".json") {
			continue
		}
		m, err := vecindex.ReadManifest(ctx, store, o.Key)
		if err != nil {
			opts.Logger.Warn("vacuum: read index manifest; leaving it", "key", o.Key, "err", err)
			claimed[strings.TrimSuffix(o.Key, ".json")] = true
			continue
		}
		claimed[strings.TrimSuffix(o.Key, ".json")] = true
		claimed[m.Index.Key], claimed[m.Rows.Key] = true, true
		if m.Text.Key != "" {
			claimed[m.Text.Key] = true
		}
		indexes = append(indexes, indexObj{m, o})
	}
	// The segments readers choose now, per tier (current format only).
	liveNow := map[string]int64{}
	for a := range snap.AllFiles() {
		liveNow[a.Path] = a.Size
	}
	byTier := map[string][]*vecindex.Manifest{}
	settledAt := map[*vecindex.Manifest]bool{}
	for _, ix := range indexes {
		if ix.m.Current() {
			byTier[ix.m.Tier] = append(byTier[ix.m.Tier], ix.m)
		}
		settledAt[ix.m] = ix.obj.ModTime.Before(removedBefore)
	}
	chosen := map[*vecindex.Manifest]bool{}
	for _, ms := range byTier {
		for _, m := range vecindex.Segments(ms, liveNow) {
			chosen[m] = true
		}
	}
	// superseded: settled, and no reader within the grace searches it.
	superseded := func(m *vecindex.Manifest) bool {
		if !m.Current() || chosen[m] || !settledAt[m] {
			// Older formats go with their files (migrated away), as
			// they always did: a reader not yet upgraded may search them.
			return false
		}
		// Live in some snapshot of the grace period: live now, or removed
		// within it (with the size the index knew).
		graceLive := map[string]int64{}
		for _, f := range m.Files {
			if sz, ok := liveNow[f.Path]; ok {
				graceLive[f.Path] = sz
			} else if !removedLongAgo(f.Path) {
				graceLive[f.Path] = f.Size
			}
		}
		if !m.Usable(graceLive) {
			return true
		}
		base := path.Base(m.Key)
		mine := make(map[string]int64, len(m.Files))
		for _, f := range m.Files {
			mine[f.Path] = f.Size
		}
		for _, other := range byTier[m.Tier] {
			if other == m || !chosen[other] || !settledAt[other] || path.Base(other.Key) <= base {
				continue
			}
			for _, f := range other.Files {
				if sz, ok := liveNow[f.Path]; ok && sz == f.Size && mine[f.Path] == sz {
					return true
				}
			}
		}
		return false
	}
	for _, ix := range indexes {
		m, o := ix.m, ix.obj
		// A file counts as dead only once removed longer ago than the grace.
		// An index covering such a file goes, however few its dead
		// vectors: its vectors and key lists may hold rows that a delete or
		// an expiry removed (issue 16: erasure reaches the bytes), and no
		// reader has needed that file for a grace period. The index job
		// builds a segment over its live files again (no segment covers
		// them then); until it does, search scans them exactly.
		longGone := false
		for _, f := range m.Files {
			if removedLongAgo(f.Path) {
				longGone = true
				break
			}
		}
		if !longGone && !superseded(m) {
			continue
		}
		// The manifest first (it is what makes the index exist), then its objects.
		out = append(out, Candidate{Key: o.Key, Kind: KindIndex, Size: o.Size})
		for _, k := range []string{m.Index.Key, m.Rows.Key, m.Text.Key} {
			if obj, ok := byKey[k]; ok {
				out = append(out, Candidate{Key: k, Kind: KindIndex, Size: obj.Size})
			}
		}
	}
	// .hnsw/.rows/.fts of a build that crashed before its manifest.
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".json") || claimed[o.Key] {
			continue
		}
		stem := o.Key[:len(o.Key)-len(extOf(o.Key))]
		if claimed[stem] || !o.ModTime.Before(orphanBefore) {
			continue
		}
		out = append(out, Candidate{Key: o.Key, Kind: KindIndex, Size: o.Size})
	}
	return out
}

func extOf(key string) string {
	i := strings.LastIndexByte(key, '.')
	if i < strings.LastIndexByte(key, '/') || i < 0 {
		return ""
	}
	return key[i:]
}
