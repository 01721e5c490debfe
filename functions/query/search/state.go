package search

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/fulltext"
	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// The search state: which indexes exist (listed from the store, cached for
// IndexListTTL; manifests are immutable and read once; only the current
// format's: a few segments per tier, across days and systems), the indexes
// loaded (read through the NVMe cache into memory, an LRU bounded in
// bytes), and the decoded vectors and text columns of data files (LRUs
// bounded in bytes; data files are immutable, so nothing is ever
// invalidated).
const (
	// IndexListTTL is how old the listing of indexes a search plans with
	// may be: an index built after it is used by a later search.
	IndexListTTL      = 5 * time.Second
	defaultIndexBytes = 8 << 30 // int8 indexes: about 0.6 KB per vector with their rows
	defaultFileBytes  = 1 << 30
	defaultTextBytes  = 1 << 30
	defaultFTSBytes   = 2 << 30 // full-text segments: about the size of the text they index
)

// State is one search state per query function (see the top of this
// file); its methods are safe for concurrent use.
type State struct {
	objects Lake

	mu        sync.Mutex
	manifests map[string]*vecindex.Manifest           // by manifest key; nil: unusable (unreadable, old format)
	byGroup   map[lake.Partition][]*vecindex.Manifest // by tier (Day "")
	listedAt  time.Time
	listing   singleflight.Group

	indexes *RefLRU[*LoadedIndex]
	files   *RefLRU[*vecindex.FileData]
	texts   *RefLRU[*TextData] // text columns, for full-text search and the tags/session filters
	ftsegs  *RefLRU[*fulltext.Segment]
}

// Lake is what the search state reads the lake's immutable objects
// through: the store the index manifests are listed from, and the NVMe
// cache every object is read with (the query function's).
type Lake interface {
	Store() storage.Store
	// ReadAll returns the whole object key of size bytes through the cache.
	ReadAll(ctx context.Context, key string, size int64) ([]byte, error)
}

// LoadedIndex is an index segment in memory: its graph and the per-row
// side table (vecindex.Rows) that says each node's file, row and filter
// columns.
type LoadedIndex struct {
	Manifest *vecindex.Manifest
	Graph    *hnsw.Index
	Rows     *vecindex.Rows
	// PerFile counts the vectors of each of m.Files (from rows, so the
	// count of a search's live files needs no pass over the rows).
	PerFile []int
}

// NewState is an empty search state that reads through objects.
func NewState(objects Lake) *State {
	return &State{
		objects:   objects,
		manifests: map[string]*vecindex.Manifest{},
		byGroup:   map[lake.Partition][]*vecindex.Manifest{},
		indexes:   NewRefLRU[*LoadedIndex](defaultIndexBytes),
		files:     NewRefLRU[*vecindex.FileData](defaultFileBytes),
		texts:     NewRefLRU[*TextData](defaultTextBytes),
		ftsegs:    NewRefLRU[*fulltext.Segment](defaultFTSBytes),
	}
}

// Close drops every loaded index, segment and decoded file.
func (v *State) Close() {
	v.indexes.Clear()
	v.files.Clear()
	v.texts.Clear()
	v.ftsegs.Clear()
}

// RefreshIndexes lists the manifests when the last listing is older than
// maxAge (0: always) and reads the new ones.
func (v *State) RefreshIndexes(ctx context.Context, maxAge time.Duration) error {
	v.mu.Lock()
	fresh := maxAge > 0 && time.Since(v.listedAt) < maxAge
	v.mu.Unlock()
	if fresh {
		return nil
	}
	_, err, _ := v.listing.Do("list", func() (any, error) {
		store := v.objects.Store()
		started := time.Now()
		objs, err := vecindex.ListManifests(ctx, store, schemas.TableMemories)
		if err != nil {
			return nil, err
		}
		v.mu.Lock()
		var todo []string
		listed := make(map[string]bool, len(objs))
		for _, o := range objs {
			listed[o.Key] = true
			if _, ok := v.manifests[o.Key]; ok {
				continue
			}
			if _, old, ok := vecindex.ParseKey(schemas.TableMemories, o.Key); !ok || old {
				v.manifests[o.Key] = nil // an index of an older layout: not searched, not read
				continue
			}
			todo = append(todo, o.Key)
		}
		// Manifests vacuum deleted: forgotten, so they are never planned
		// (and the map does not grow forever).
		for key := range v.manifests {
			if !listed[key] {
				delete(v.manifests, key)
			}
		}
		v.mu.Unlock()
		for _, key := range todo {
			m, err := vecindex.ReadManifest(ctx, store, key)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				m = nil // unreadable or foreign: remembered as unusable
			}
			if m != nil && (!m.Current() || m.Partition().Day != "") {
				m = nil
			}
			v.mu.Lock()
			v.manifests[key] = m
			v.mu.Unlock()
		}
		v.mu.Lock()
		byGroup := map[lake.Partition][]*vecindex.Manifest{}
		for _, m := range v.manifests {
			if m != nil {
				byGroup[m.Partition()] = append(byGroup[m.Partition()], m)
			}
		}
		v.byGroup = byGroup
		v.listedAt = started
		v.mu.Unlock()
		return nil, nil
	})
	return err
}

// IndexedTiers are the tiers that have usable-format index manifests in
// the last listing, sorted.
func (v *State) IndexedTiers() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	tiers := make([]string, 0, len(v.byGroup))
	for g := range v.byGroup {
		tiers = append(tiers, g.Tier)
	}
	slices.Sort(tiers)
	return tiers
}

// Segments are the index segments to search for the tier g whose live
// files are live (path -> size): the usable ones, no two covering the same
// live file, newer ones superseding older ones (vecindex.Segments).
func (v *State) Segments(g lake.Partition, live map[string]int64) []*vecindex.Manifest {
	v.mu.Lock()
	ms := v.byGroup[g]
	v.mu.Unlock()
	return vecindex.Segments(ms, live)
}

// Index returns the loaded index of m. Its objects are read into memory
// through the NVMe cache (cache.ReadAll): a cold search waits for the S3
// server, not for the cache's fsync, and an int8 index is searched in the
// bytes read.
func (v *State) Index(ctx context.Context, m *vecindex.Manifest) (*LoadedIndex, func(), error) {
	return v.indexes.Get(ctx, m.Key, func(ctx context.Context) (*LoadedIndex, int64, func(), error) {
		var (
			ix   *hnsw.Index
			rows *vecindex.Rows
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			b, err := v.objects.ReadAll(gctx, m.Index.Key, m.Index.Size)
			if err != nil {
				return err
			}
			if ix, err = hnsw.Load(b); err != nil {
				return fmt.Errorf("%s: %w", m.Index.Key, err)
			}
			return nil
		})
		g.Go(func() error {
			b, err := v.objects.ReadAll(gctx, m.Rows.Key, m.Rows.Size)
			if err != nil {
				return err
			}
			if rows, err = vecindex.DecodeRows(bytes.NewReader(b)); err != nil {
				return fmt.Errorf("%s: %w", m.Rows.Key, err)
			}
			return nil
		})
		err := g.Wait()
		if err == nil && (rows.Len() != ix.Len() || ix.Dim() != vecindex.Dim) {
			err = fmt.Errorf("index %s: %d rows for %d vectors of dimension %d", m.Key, rows.Len(), ix.Len(), ix.Dim())
		}
		var perFile []int
		if err == nil {
			if perFile, err = rows.PerFile(len(m.Files)); err != nil {
				err = fmt.Errorf("index %s: %w", m.Key, err)
			}
		}
		if err != nil {
			return nil, 0, nil, err
		}
		size := m.Index.Size + m.Rows.Size*2
		return &LoadedIndex{Manifest: m, Graph: ix, Rows: rows, PerFile: perFile}, size, func() { ix.Close() }, nil
	})
}

// FileData returns the decoded vectors of one data file.
func (v *State) FileData(ctx context.Context, key string, size int64) (*vecindex.FileData, func(), error) {
	return v.files.Get(ctx, key, func(ctx context.Context) (*vecindex.FileData, int64, func(), error) {
		// In memory, as indexes are (cache.ReadAll): a cold search waits
		// for the store, not for the cache's fsync of its copy. The
		// embedding is most of a file, so reading all of it costs little.
		b, err := v.objects.ReadAll(ctx, key, size)
		if err != nil {
			return nil, 0, nil, err
		}
		d, err := vecindex.ReadFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s: %w", key, err)
		}
		return d, d.Bytes(), nil, nil
	})
}

// IndexGone reports whether err says an index object no longer exists:
// vacuum deleted a superseded or dead index after its grace, and this
// process had not listed the indexes since.
func IndexGone(err error) bool { return err != nil && errors.Is(err, storage.ErrNotExist) }

// TextSegment returns the full-text segment of m (its manifest's Text),
// read into memory through the NVMe cache like the graph (index) and kept
// in its own LRU, bounded in bytes.
func (v *State) TextSegment(ctx context.Context, m *vecindex.Manifest) (*fulltext.Segment, func(), error) {
	return v.ftsegs.Get(ctx, m.Text.Key, func(ctx context.Context) (*fulltext.Segment, int64, func(), error) {
		b, err := v.objects.ReadAll(ctx, m.Text.Key, m.Text.Size)
		if err != nil {
			return nil, 0, nil, err
		}
		s, err := fulltext.Open(b)
		if err == nil {
			// Searches that admit the whole segment score with its stored
			// statistics (segmentSource): its token count must be its
			// documents'. Checked once here, not per search.
			err = s.CheckTokens()
		}
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s: %w", m.Text.Key, err)
		}
		return s, int64(len(b)), nil, nil
	})
}

// TextFile returns the decoded text columns of one data file.
func (v *State) TextFile(ctx context.Context, key string, size int64) (*TextData, func(), error) {
	return v.texts.Get(ctx, key, func(ctx context.Context) (*TextData, int64, func(), error) {
		b, err := v.objects.ReadAll(ctx, key, size)
		if err != nil {
			return nil, 0, nil, err
		}
		d, err := ReadTextData(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s: %w", key, err)
		}
		return d, d.Bytes(), nil, nil
	})
}
