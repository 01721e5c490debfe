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
// (lake/vecindex: one per tier and system, across days) and readers keep
// using it while less than vecindex.MaxDeadFraction of it is in files no
// longer live, so it is deleted when
//
//   - any covered file was removed before removedBefore (or has no
//     tombstone left at all: removed longer ago than the table's tombstone
//     retention): the index may hold the vectors and keys of rows a delete
//     or an expiry forgot, which must not outlive the grace (issue 16); or
//   - a newer index of the same tier and system, of the current format, is
//     usable now and was written before removedBefore: readers take the
//     newest usable index, so none has used the older one since every
//     reader listed the newer one (this also retires version 1, per-day,
//     indexes).
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
	// lake/vecindex: <stem>.json names <stem>.hnsw and <stem>.rows.
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
		indexes = append(indexes, indexObj{m, o})
	}
	// The newest usable current index of each tier and system written
	// before the grace: it supersedes the older ones.
	type group struct{ tier, system string }
	settled := map[group]string{} // manifest base name (ULIDs sort by time)
	for _, ix := range indexes {
		m := ix.m
		if !m.Current() || !ix.obj.ModTime.Before(removedBefore) {
			continue
		}
		live := map[string]int64{}
		for _, f := range m.Files {
			if a, ok := snap.File(f.Path); ok {
				live[f.Path] = a.Size
			}
		}
		g := group{m.Tier, m.SystemID}
		if base := path.Base(m.Key); m.Usable(live) && base > settled[g] {
			settled[g] = base
		}
	}
	for _, ix := range indexes {
		m, o := ix.m, ix.obj
		// A file counts as dead only once removed longer ago than the grace.
		// An index covering such a file goes, however few its dead
		// vectors: its vectors and key lists may hold rows that a delete or
		// an expiry removed (issue 16: erasure reaches the bytes), and no
		// reader has needed that file for a grace period. The index job
		// builds the tier again (it has no usable index then); until it
		// does, search scans the tier's files exactly.
		longGone := false
		for _, f := range m.Files {
			if removedLongAgo(f.Path) {
				longGone = true
				break
			}
		}
		superseded := path.Base(m.Key) < settled[group{m.Tier, m.SystemID}]
		if !superseded && !longGone {
			continue
		}
		// The manifest first (it is what makes the index exist), then its objects.
		out = append(out, Candidate{Key: o.Key, Kind: KindIndex, Size: o.Size})
		for _, k := range []string{m.Index.Key, m.Rows.Key} {
			if obj, ok := byKey[k]; ok {
				out = append(out, Candidate{Key: k, Kind: KindIndex, Size: obj.Size})
			}
		}
	}
	// .hnsw/.rows of a build that crashed before its manifest.
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
