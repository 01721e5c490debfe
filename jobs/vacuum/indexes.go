package vacuum

import (
	"context"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
)

// planIndexes picks index objects to delete. An index is stale enough when
// one of its covered files is not live and was removed before removedBefore
// (or has no tombstone left at all: removed longer ago than the table's
// tombstone retention).
func planIndexes(ctx context.Context, store storage.Store, objs []storage.ObjectInfo, snap *delta.Snapshot,
	tombs map[string]int64, log *delta.Table, removedBefore, orphanBefore time.Time, opts Options) []Candidate {
	staleSince := func(paths []string) bool {
		for _, p := range paths {
			if _, live := snap.File(p); live {
				continue
			}
			k, err := log.DataKey(p)
			if err != nil {
				continue
			}
			ts, ok := tombs[k]
			if !ok || (ts > 0 && time.UnixMilli(ts).Before(removedBefore)) {
				return true
			}
		}
		return false
	}
	var out []Candidate
	if opts.IndexCovers != nil {
		for _, o := range objs {
			paths, ok, err := opts.IndexCovers(ctx, store, o.Key)
			if err != nil {
				opts.Logger.Warn("vacuum: read index", "key", o.Key, "err", err)
				continue
			}
			if ok && staleSince(paths) {
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
		paths := make([]string, len(m.Files))
		for i, f := range m.Files {
			paths[i] = f.Path
		}
		if !staleSince(paths) {
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
