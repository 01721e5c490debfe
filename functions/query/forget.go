package query

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/akosha/akosha/lake/storage"
)

// forgetGone deletes from the NVMe cache the copies of data files and index
// objects that the lake no longer holds (issue 16: erasure reaches the
// tier stores' caches too). A data file still live in the current snapshot
// is kept without asking the store; any other cached object is looked up
// (HEAD) and forgotten when vacuum has deleted it. It returns how many
// files it deleted.
func (f *Function) forgetGone(ctx context.Context) (int, error) {
	// The newest snapshots, not the cached ones: a file a commit removed
	// since the last poll would still look live and keep its copy until
	// the next pass (seen under load, where polls lag).
	if err := f.lake.Refresh(ctx); err != nil {
		return 0, fmt.Errorf("forget: %w", err)
	}
	snaps := f.snapshots()
	var gone []string
	for _, key := range f.cache.Keys() {
		table, rel, _ := strings.Cut(key, "/")
		if snap := snaps[table]; snap != nil && strings.HasPrefix(rel, "tier=") {
			if _, live := snap.File(rel); live {
				continue
			}
		}
		_, err := f.lake.Store().Head(ctx, key)
		switch {
		case errors.Is(err, storage.ErrNotExist):
			gone = append(gone, key)
		case err != nil:
			return 0, err
		}
	}
	return f.cache.Forget(gone), nil
}

// ForgetGone runs forgetGone now (tests; the background loop runs it every
// forgetEvery).
func (f *Function) ForgetGone(ctx context.Context) (int, error) { return f.forgetGone(ctx) }
