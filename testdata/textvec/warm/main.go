// Command warm writes textvec's corpus cache to the temporary directory
// ($TMPDIR), where the tests' textvec.Vectors calls look for it. make test
// (scripts/test.sh) runs it before the suite: without it the first
// race-enabled test binaries to need vectors each scan the Go source tree
// under the race detector, 17 CPU-s apiece against 2.5 without.
package main

import (
	"fmt"
	"os"

	"github.com/akosha/akosha/testdata/textvec"
)

func main() {
	if err := textvec.WarmCache(nil, ""); err != nil {
		fmt.Fprintf(os.Stderr, "textvec warm: %v\n", err)
		os.Exit(1)
	}
}
