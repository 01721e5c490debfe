package delta

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The conformance tables live outside the repository, in the shared test
// data (never copied in). Their EXPECTED.md lists, per table and version,
// the active files with annotations; rather than duplicating those long
// lists here, the conformance test reads them from EXPECTED.md and checks
// them against the headline numbers written out in conformance_test.go, so
// a parsing slip cannot pass silently.

// testdataDir locates the shared Delta tables, or skips the test.
func testdataDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("AKOSHA_DELTA_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testdata", "delta")
	}
	if _, err := os.Stat(filepath.Join(dir, "EXPECTED.md")); err != nil {
		t.Skipf("Delta conformance tables not found at %s (set AKOSHA_DELTA_TESTDATA): %v", dir, err)
	}
	return dir
}

// expFile is one line of a file list in EXPECTED.md:
//
//	path    # on disk: decoded; partitionValues: k=v k2=v2; numRecords: 2
type expFile struct {
	path       string
	onDisk     string // "" when not annotated
	partitions string // raw "k=v k2=v2", "" when not annotated
	numRecords int64  // -1 when not annotated
	noStats    bool   // "numRecords: no stats"
}

// expFiles is a file list for one version of one table.
type expFiles struct {
	files []expFile
	count int // the "N active file(s)" / "active files: **N**" figure
}

type expTable struct {
	latest *expFiles
	older  map[int64]*expFiles
}

var (
	reTableHead   = regexp.MustCompile("^### `([^`]+)`")
	reVersionHead = regexp.MustCompile(`^- \*\*version (\d+)\*\*.*?: (\d+) active file\(s\)`)
	reLatestCount = regexp.MustCompile(`^- active files: \*\*(\d+)\*\*`)
)

// parseExpectedMD extracts the file lists of EXPECTED.md.
func parseExpectedMD(t *testing.T, path string) map[string]*expTable {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tables := map[string]*expTable{}
	var cur *expTable
	var target *expFiles // list the next fenced block belongs to
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if inBlock {
			if trim == "```" {
				inBlock, target = false, nil
				continue
			}
			if target != nil && trim != "" {
				target.files = append(target.files, parseExpFile(trim))
			}
			continue
		}
		if m := reTableHead.FindStringSubmatch(line); m != nil {
			cur = &expTable{older: map[int64]*expFiles{}}
			tables[m[1]] = cur
			target = nil
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case reLatestCount.MatchString(line):
			n, _ := strconv.Atoi(reLatestCount.FindStringSubmatch(line)[1])
			cur.latest = &expFiles{count: n}
			target = cur.latest
		case reVersionHead.MatchString(line):
			m := reVersionHead.FindStringSubmatch(line)
			v, _ := strconv.ParseInt(m[1], 10, 64)
			n, _ := strconv.Atoi(m[2])
			ef := &expFiles{count: n}
			cur.older[v] = ef
			target = ef
		case strings.HasPrefix(trim, "```"):
			inBlock = true
		case strings.HasPrefix(trim, "- ") && !strings.HasPrefix(trim, "- active files"):
			// Any other bullet ends the file list context.
			target = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return tables
}

func parseExpFile(s string) expFile {
	f := expFile{numRecords: -1}
	path, note, _ := strings.Cut(s, "    # ")
	f.path = strings.TrimSpace(path)
	for _, item := range strings.Split(note, "; ") {
		k, v, ok := strings.Cut(item, ": ")
		if !ok {
			continue
		}
		switch k {
		case "on disk":
			f.onDisk = v
		case "partitionValues":
			f.partitions = v
		case "numRecords":
			if v == "no stats" {
				f.noStats = true
				continue
			}
			num, _, _ := strings.Cut(v, " ")
			f.numRecords, _ = strconv.ParseInt(num, 10, 64)
		}
	}
	return f
}

// parsePartitions splits "x=B B y=1" using the known partition columns (a
// value may contain spaces; "null" is a null value).
func parsePartitions(s string, cols []string) map[string]*string {
	out := map[string]*string{}
	isCol := map[string]bool{}
	for _, c := range cols {
		isCol[c] = true
	}
	var key string
	var val []string
	flush := func() {
		if key == "" {
			return
		}
		v := strings.Join(val, " ")
		if v == "null" {
			out[key] = nil
		} else {
			out[key] = &v
		}
	}
	for _, tok := range strings.Split(s, " ") {
		if k, v, ok := strings.Cut(tok, "="); ok && isCol[k] {
			flush()
			key, val = k, []string{v}
			continue
		}
		val = append(val, tok)
	}
	flush()
	return out
}
