package query

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/lake/vecindex"
)

// keyIndex answers one question cheaply: does this live file share a record
// key (system_id, id) with another live file? Only files that do are read
// through the "latest version wins" window in SQL; all others are scanned
// as they are. Re-sent records are rare, so most files never pay for it.
//
// It holds a 64-bit hash per record (8 bytes each, about 8 MB per million
// records) and learns each new file's keys once, by reading only its id
// column with ranged GETs. A hash collision only makes a file pay for the
// window it did not need; it never hides a record.
type keyIndex struct {
	store storage.Store
	seed  maphash.Seed

	mu     sync.Mutex
	files  map[string][]uint64 // data file key -> its records' key hashes
	counts map[uint64]int32    // key hash -> live files holding it
	// systems holds each file's distinct systems, sorted, where they were
	// read with its keys (not for files learnt from an index's rows, which
	// name only the rows with a vector): a confined statement reads a file
	// holding only its tenant's systems without the row test (OnlySystems).
	systems map[string][]string
	// only memoizes OnlySystems per scope and file until the files change.
	only map[string]map[string]bool
	// shared memoizes Shared per file until the files change: a statement
	// asks about every file it reads (3,000 at the sizing target), and
	// walking each file's hashes every time cost 50-90 ms a statement.
	shared map[string]bool
	// reads shares one file's read between the warmer and the statements
	// that want it at the same time (a cold function starts both at once).
	reads singleflight.Group
	// parent is the latest snapshot's index, for the index of a past one
	// (asof.go): files are immutable, so the hashes it read serve both.
	parent *keyIndex
}

// child is a new, empty index for another snapshot that takes the hashes
// of the files k already knows instead of reading them again.
func (k *keyIndex) child() *keyIndex {
	c := newKeyIndex(k.store)
	c.seed, c.parent = k.seed, k
	return c
}

// inherit splits keys into the files the parent knows (their hashes) and
// the rest.
func (k *keyIndex) inherit(keys []string) (known []localFile, hashes []fileKeys, rest []string) {
	if k.parent == nil {
		return nil, nil, keys
	}
	k.parent.mu.Lock()
	defer k.parent.mu.Unlock()
	for _, key := range keys {
		if h, ok := k.parent.files[key]; ok {
			known = append(known, localFile{key: key})
			hashes = append(hashes, fileKeys{hashes: h, systems: k.parent.systems[key]})
		} else {
			rest = append(rest, key)
		}
	}
	return known, hashes, rest
}

// fileKeys is what the index learns of one file: its records' key hashes,
// and its distinct systems when known (nil otherwise).
type fileKeys struct {
	hashes  []uint64
	systems []string
}

func newKeyIndex(store storage.Store) *keyIndex {
	return &keyIndex{store: store, seed: maphash.MakeSeed(), files: map[string][]uint64{}, counts: map[uint64]int32{},
		shared: map[string]bool{}, systems: map[string][]string{}, only: map[string]map[string]bool{}}
}

// Sync makes the index cover the live files of snap that belong to systems
// (nil: every system), except those in skip, and forget files that are no
// longer live. Keys are per system, so a statement over some systems needs
// only their files indexed; the function's warmer keeps every system
// indexed in the background, so statements rarely wait here. A search
// skips the files its vector indexes name every key of (LearnIndexed).
func (k *keyIndex) Sync(ctx context.Context, table string, snap *delta.Snapshot, systems, skip map[string]bool) error {
	live := map[string]delta.Add{}
	for f := range snap.AllFiles() {
		live[table+"/"+f.Path] = f
	}
	k.mu.Lock()
	var missing []string
	for key, f := range live {
		if _, ok := k.files[key]; ok || skip[key] {
			continue
		}
		if !lake.MayHoldAny(f, systems) {
			continue
		}
		missing = append(missing, key)
	}
	// Files of this table that left the snapshot (compacted, aged, vacuumed).
	prefix := table + "/"
	for key, hashes := range k.files {
		if _, ok := live[key]; !ok && len(key) > len(prefix) && key[:len(prefix)] == prefix {
			for _, h := range hashes {
				if k.counts[h]--; k.counts[h] <= 0 {
					delete(k.counts, h)
				}
			}
			delete(k.files, key)
			delete(k.systems, key)
			clear(k.shared)
			clear(k.only)
		}
	}
	k.mu.Unlock()
	known, hashes, missing := k.inherit(missing)
	k.add(known, hashes)

	results := make([]fileKeys, len(missing))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, key := range missing {
		g.Go(func() error {
			f := live[key]
			fk, err := k.readKeys(gctx, key, f.Size)
			if err != nil {
				return err
			}
			results[i] = fk
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("key index: %w", err)
	}
	files := make([]localFile, len(missing))
	for i, key := range missing {
		files[i] = localFile{key: key}
	}
	k.add(files, results)
	return nil
}

// AddLocal indexes files already in the NVMe cache, reading their local
// copies instead of the store: a cold statement fetches its files anyway.
func (k *keyIndex) AddLocal(files []localFile) error {
	k.mu.Lock()
	var todo []localFile
	for _, f := range files {
		if _, ok := k.files[f.key]; !ok {
			todo = append(todo, f)
		}
	}
	k.mu.Unlock()
	if k.parent != nil {
		keys := make([]string, len(todo))
		byKey := map[string]localFile{}
		for i, f := range todo {
			keys[i], byKey[f.key] = f.key, f
		}
		known, hashes, rest := k.inherit(keys)
		k.add(known, hashes)
		todo = todo[:0]
		for _, key := range rest {
			todo = append(todo, byKey[key])
		}
	}
	results := make([]fileKeys, len(todo))
	var g errgroup.Group
	g.SetLimit(4)
	for i, f := range todo {
		g.Go(func() error {
			fh, err := os.Open(f.path)
			if err != nil {
				return fmt.Errorf("key index: %w", err)
			}
			defer fh.Close()
			fk, err := k.readKeysFrom(fh, f.key, f.size)
			results[i] = fk
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	k.add(todo, results)
	return nil
}

// LearnIndexed learns the keys of the files a vector index covers from its
// rows, which name every covered row's id (vecindex.Manifest.RowKeys):
// fileKeys[i] is the store key of the index's file i, or "" for a file that
// is not live (its keys must not count). Files already known are left as
// they are.
func (k *keyIndex) LearnIndexed(keys []string, rows *vecindex.Rows) {
	k.mu.Lock()
	todo := make([]bool, len(keys))
	n := 0
	for i, key := range keys {
		if _, ok := k.files[key]; key != "" && !ok {
			todo[i] = true
			n++
		}
	}
	k.mu.Unlock()
	if n == 0 {
		return
	}
	hashes := make([][]uint64, len(keys))
	rows.Keys(func(file uint32, system, id string) {
		if int(file) < len(todo) && todo[file] {
			hashes[file] = append(hashes[file], k.hash(system, id))
		}
	})
	var files []localFile
	var results []fileKeys
	for i, key := range keys {
		if todo[i] {
			files = append(files, localFile{key: key})
			results = append(results, fileKeys{hashes: hashes[i]})
		}
	}
	k.add(files, results)
}

// Knows reports whether the index holds the keys of every file in keys.
func (k *keyIndex) Knows(keys map[string]bool) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key := range keys {
		if _, ok := k.files[key]; !ok {
			return false
		}
	}
	return true
}

// localFile is a live data file with its cached copy.
type localFile struct {
	key, path string
	size      int64
}

func (k *keyIndex) add(files []localFile, results []fileKeys) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, f := range files {
		if _, ok := k.files[f.key]; ok {
			continue
		}
		k.files[f.key] = results[i].hashes
		if results[i].systems != nil {
			k.systems[f.key] = results[i].systems
		}
		for _, h := range results[i].hashes {
			k.counts[h]++
		}
		clear(k.shared)
		clear(k.only)
	}
}

// OnlySystems reports whether every row of a file belongs to a system
// shows allows, where the index read the file's systems; scope names shows
// for the memo (the same scope, the same answer).
func (k *keyIndex) OnlySystems(fileKey, scope string, shows func(string) bool) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	memo := k.only[scope]
	if v, ok := memo[fileKey]; ok {
		return v
	}
	systems, known := k.systems[fileKey]
	v := known
	for _, s := range systems {
		if !shows(s) {
			v = false
			break
		}
	}
	if memo == nil {
		memo = map[string]bool{}
		k.only[scope] = memo
	}
	memo[fileKey] = v
	return v
}

// Shared reports whether a file holds a key that another live file (or a
// second row of the same file) also holds.
func (k *keyIndex) Shared(fileKey string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.shared[fileKey]; ok {
		return v
	}
	v := false
	for _, h := range k.files[fileKey] {
		if k.counts[h] > 1 {
			v = true
			break
		}
	}
	k.shared[fileKey] = v
	return v
}

func (k *keyIndex) hash(systemID, id string) uint64 {
	var h maphash.Hash
	h.SetSeed(k.seed)
	h.WriteString(systemID)
	h.WriteByte(0)
	h.WriteString(id)
	return h.Sum64()
}

// readKeys reads the system_id and id columns of one data file. A key
// repeated inside the file counts twice, so the file is marked shared and
// deduplicated too.
func (k *keyIndex) readKeys(ctx context.Context, key string, size int64) (fileKeys, error) {
	v, err, _ := k.reads.Do(key, func() (any, error) {
		rr, err := storage.NewRangeReader(ctx, k.store, key, size)
		if err != nil {
			return nil, err
		}
		return k.readKeysFrom(rr, key, size)
	})
	if err != nil {
		return fileKeys{}, err
	}
	return v.(fileKeys), nil
}

func (k *keyIndex) readKeysFrom(ra io.ReaderAt, key string, size int64) (fileKeys, error) {
	f, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true), parquet.ReadBufferSize(256<<10))
	if err != nil {
		return fileKeys{}, fmt.Errorf("open %s: %w", key, err)
	}
	sysCol, ok1 := f.Schema().Lookup("system_id")
	idCol, ok2 := f.Schema().Lookup("id")
	if !ok1 || !ok2 {
		return fileKeys{}, fmt.Errorf("%s: no system_id or id column", key)
	}
	var out []uint64
	var systems []string
	distinct := map[string]bool{}
	last, seen := "", false // rows usually come grouped by system: one set insert per run
	for _, rg := range f.RowGroups() {
		systems = systems[:0]
		err := lake.EachValue(rg.ColumnChunks()[sysCol.ColumnIndex], func(v parquet.Value) {
			s := v.String()
			systems = append(systems, s)
			if v.IsNull() {
				s = "\x00null" // no system: never one a confinement shows
			}
			if !seen || s != last {
				distinct[s], last, seen = true, s, true
			}
		})
		if err != nil {
			return fileKeys{}, fmt.Errorf("read systems of %s: %w", key, err)
		}
		i := 0
		err = lake.EachValue(rg.ColumnChunks()[idCol.ColumnIndex], func(v parquet.Value) {
			if i < len(systems) {
				out = append(out, k.hash(systems[i], v.String()))
			}
			i++
		})
		if err == nil && (i != len(systems) || i != int(rg.NumRows())) {
			err = fmt.Errorf("%d ids and %d systems in a row group of %d rows", i, len(systems), rg.NumRows())
		}
		if err != nil {
			return fileKeys{}, fmt.Errorf("read ids of %s: %w", key, err)
		}
	}
	return fileKeys{hashes: out, systems: slices.Sorted(maps.Keys(distinct))}, nil
}

func (k *keyIndex) covers(table string, snap *delta.Snapshot) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for f := range snap.AllFiles() {
		if _, ok := k.files[table+"/"+f.Path]; !ok {
			return false
		}
	}
	return true
}
