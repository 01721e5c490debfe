package cache_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/akosha/akosha/lake/cache"
	"github.com/akosha/akosha/lake/storage"
)

// A query leases the files its plan needs, hands the paths to DuckDB, and
// releases them when the query is done.
func Example() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "lake")
	defer os.RemoveAll(root)
	store, _ := storage.NewLocal(filepath.Join(root, "lake"))
	k := "memories/tier=hot/system_id=a/day=2026-11-01/part-0.parquet"
	store.Put(ctx, k, strings.NewReader("PAR1...PAR1"), 11)

	c, err := cache.Open(filepath.Join(root, "cache"), 10<<30, store, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	lease, err := c.Fetch(ctx, []cache.Object{{Key: k, Size: 11}}) // sizes from the Delta log
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lease.Release() // until then, eviction leaves these files alone
	rel, _ := filepath.Rel(c.Dir(), lease.Paths[0])
	fmt.Println(filepath.ToSlash(rel))
	st := c.Stats()
	fmt.Println("misses", st.Misses, "fetched", st.FetchedBytes, "bytes")
	// Output:
	// memories/tier=hot/system_id=a/day=2026-11-01/part-0.parquet
	// misses 1 fetched 11 bytes
}
