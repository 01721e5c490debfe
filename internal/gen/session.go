package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// Session texts are for benchmarks that look at the words, full-text search
// above all. Text draws uniformly from 42 words, so every memory holds most
// of them and every term is in more than half the corpus: a BM25 ranking of
// such text is ties. Memories of coding sessions have Zipf-like word
// frequencies instead (a few words everywhere, a long tail of identifiers,
// paths, numbers and error strings seen once or twice), and that is what
// SessionText makes, from templates of the sentences assistants write in
// summaries.

// SessionText returns the content of memory i of a fleet generated with
// seed: 300 to 900 bytes about a coding session. It depends only on (seed,
// i), so records can be made in any order, in parallel, and a corpus of n
// is the first n of a larger one.
func SessionText(seed uint64, i int) string {
	r := rand.New(rand.NewPCG(seed^0x5e55, uint64(i)))
	v := sessionVocab()
	target := 300 + r.IntN(601)
	var b strings.Builder
	b.Grow(target + 120)
	for b.Len() < target {
		tmpl := sessionTemplates[v.templates.pick(r)]
		for j := 0; j < len(tmpl); j++ {
			c := tmpl[j]
			if c != '{' {
				b.WriteByte(c)
				continue
			}
			end := strings.IndexByte(tmpl[j:], '}')
			b.WriteString(v.fill(r, tmpl[j+1:j+end]))
			j += end
		}
		b.WriteByte(' ')
	}
	s := b.String()
	if len(s) > 900 { // cut at a word boundary within the bound
		s = s[:900]
		if k := strings.LastIndexByte(s, ' '); k > 300 {
			s = s[:k]
		}
	}
	return strings.TrimSpace(s)
}

// SessionTags returns one to three tags for memory i, as SessionText does.
func SessionTags(seed uint64, i int) []string {
	r := rand.New(rand.NewPCG(seed^0x7a65, uint64(i)))
	v := sessionVocab()
	tags := make([]string, 1+r.IntN(3))
	for j := range tags {
		tags[j] = sessionTagWords[v.tags.pick(r)]
	}
	return tags
}

var sessionTemplates = []string{
	"Fixed {bug} in {path}: {ident} {verbed} the {noun} when {cond}.",
	"User asked how to {verb} the {noun} in {project}; assistant explained {noun} and {noun}.",
	"Ran {tool} on {path}: {num} tests passed, {small} failed with {err}.",
	"Refactored {ident} to {verb} {noun} instead of {noun}, so the {noun} is {adj}.",
	"Decided to {verb} the {noun} because {cond}.",
	"The {noun} {verbs} {adj} {noun} after {num} {unit}.",
	"Traced {err} to {ident} at {path} line {num}.",
	"Added a {adj} {noun} for {ident}; {noun} {verbs} it on {cond}.",
	"Reviewed {project} PR {num}: {ident} should {verb} the {noun} before {noun}.",
	"Benchmark: {ident} takes {num} {unit}, {adj} than the {noun} ({num} {unit}).",
	"Note for next session: {verb} {noun} in {path} and check {ident}.",
	"{tool} reported {err} from {ident}; the {noun} was {adj}.",
	"Wrote a test for {ident} that {verbs} {noun} while {cond}.",
	"Asked about {noun} versus {noun} in {project}; the answer: {verb} the {noun} first.",
	"Moved {ident} from {path} to {path} to {verb} the {noun}.",
	"Reverted commit {hash}: it {verbed} the {noun} and broke {ident}.",
	"Error {err} at {path}:{num} in {ident}.",
	"Session on {project} with {person}: {verb} {noun}, {verb} {noun}, {verb} {noun}.",
}

var (
	sessionNouns = strings.Fields(`test build cache index query error file function module package
		server client request response schema table partition snapshot version commit branch merge
		deploy release config token lease lock mutex channel goroutine thread worker queue job batch
		record row column page block segment log checkpoint manifest object bucket key value map slice
		buffer stream reader writer parser lexer token compiler linker binary container image pod node
		cluster service endpoint route handler middleware session user role permission secret credential
		certificate timeout retry backoff deadline context span trace metric counter gauge histogram
		alert dashboard panel query plan optimizer join filter projection aggregate window sort heap
		tree graph edge vertex vector embedding dimension distance neighbour recall precision latency
		throughput memory allocation garbage collector pointer reference struct interface method field
		type generic constraint closure callback promise future iterator cursor transaction isolation
		snapshot replica leader follower quorum election heartbeat gossip shard range split compaction
		tombstone vacuum retention tier storage disk volume mount network socket port packet header body
		payload json yaml csv parquet arrow protobuf grpc http websocket tls dns proxy balancer ingress
		migration fixture mock stub fake benchmark profile flame allocation regression flake race
		deadlock leak panic stack frame symbol debugger breakpoint assertion coverage lint vet format
		docs readme changelog issue ticket sprint estimate review approval pipeline runner artifact
		dependency version lockfile vendor proxy registry mirror checksum signature`)
	sessionVerbs = strings.Fields(`add fix break cache index query build test deploy release merge
		split flush sync lock unlock retry parse format encode decode compress validate check verify
		load store read write scan seek skip filter sort join group count sum rank score fetch push
		pull rebase squash revert bisect profile trace log measure bound limit throttle drain close
		open reset restart rotate refresh warm evict expire prune compact vacuum migrate upgrade pin`)
	sessionAdjs = strings.Fields(`slow fast stale fresh flaky stable broken correct wrong empty full
		large small hot cold warm dirty clean async sync nested shared private public global local
		remote atomic lazy eager strict lenient verbose quiet idle busy safe unsafe deterministic
		random sorted unsorted compressed raw quantized exact approximate faster slower cheaper`)
	sessionUnits   = strings.Fields(`ms seconds minutes bytes KB MB GB records rows files requests retries`)
	sessionTools   = strings.Fields(`go_test golangci-lint pytest cargo make kubectl docker podman duckdb psql redis-cli curl pprof delve git`)
	sessionPersons = strings.Fields(`alice bob carol dave erin frank grace heidi ivan judy mallory oscar peggy trent victor walter`)
	sessionDirs    = strings.Fields(`lake delta jobs functions query ingest schemas internal cmd api storage cache hnsw auth testdata scripts deploy`)
	sessionErrs    = strings.Fields(`ErrNotFound ErrConflict ErrTimeout EOF context.DeadlineExceeded io.ErrUnexpectedEOF
		ECONNRESET ECONNREFUSED 412_PreconditionFailed 503_SlowDown 500_InternalError nil_pointer_dereference
		index_out_of_range concurrent_map_writes checksum_mismatch invalid_argument permission_denied`)
	sessionBugs = strings.Fields(`a_race an_off-by-one a_leak a_deadlock a_panic a_regression a_typo
		the_flaky_test a_stale_read a_lost_update a_double_free a_nil_map an_overflow a_timeout`)
	sessionConds = []string{"the cache was cold", "two writers raced", "the lease expired", "S3 returned 503",
		"the snapshot moved", "the file was truncated", "the query had no filter", "the batch was empty",
		"the retry hit the same error", "the context was cancelled", "the schema changed", "the disk filled up",
		"GOMAXPROCS was 1", "the index was rebuilt", "the tier moved", "nothing else ran"}
	sessionTagWords = strings.Fields(`bug fix test perf refactor design docs review deploy ops incident
		lake query index search ingest compaction hnsw fulltext security auth ci release question idea todo`)
)

// vocab holds the weighted choices: each word class is drawn with Zipf
// weights (the k-th word with weight 1/k^s), identifiers and paths are
// combinations of the word lists, a long tail that still repeats.
type vocab struct {
	templates, nouns, verbs, adjs, idents, paths, tags *zipf
	identList, pathList                                []string
}

var sessionVocab = sync.OnceValue(func() *vocab {
	v := &vocab{}
	r := rand.New(rand.NewPCG(1, 2))
	// Identifiers: verbNoun, NounNoun and verbNounNoun camelCase, 20,000 of
	// them in a fixed shuffled order, so the most common ones are not all
	// "add...".
	seen := map[string]bool{}
	for len(v.identList) < 20000 {
		a := sessionVerbs[r.IntN(len(sessionVerbs))]
		n1 := sessionNouns[r.IntN(len(sessionNouns))]
		n2 := sessionNouns[r.IntN(len(sessionNouns))]
		var id string
		switch r.IntN(3) {
		case 0:
			id = a + title(n1)
		case 1:
			id = title(n1) + title(n2)
		default:
			id = a + title(n1) + title(n2)
		}
		if !seen[id] {
			seen[id] = true
			v.identList = append(v.identList, id)
		}
	}
	for len(v.pathList) < 5000 {
		p := fmt.Sprintf("%s/%s/%s.go", sessionDirs[r.IntN(len(sessionDirs))],
			sessionNouns[r.IntN(len(sessionNouns))], v.identList[r.IntN(2000)])
		if !seen[p] {
			seen[p] = true
			v.pathList = append(v.pathList, strings.ToLower(p[:1])+p[1:])
		}
	}
	v.templates = newZipf(len(sessionTemplates), 0.6)
	v.nouns = newZipf(len(sessionNouns), 1.0)
	v.verbs = newZipf(len(sessionVerbs), 0.9)
	v.adjs = newZipf(len(sessionAdjs), 0.9)
	v.idents = newZipf(len(v.identList), 1.05)
	v.paths = newZipf(len(v.pathList), 1.0)
	v.tags = newZipf(len(sessionTagWords), 1.0)
	return v
})

// inflect adds a regular English ending: "fix" -> "fixes", "fixed";
// "query" -> "queries", "queried"; "store" -> "stores", "stored".
func inflect(verb, ending string) string {
	n := len(verb)
	switch {
	case ending == "s" && (strings.HasSuffix(verb, "s") || strings.HasSuffix(verb, "x") ||
		strings.HasSuffix(verb, "sh") || strings.HasSuffix(verb, "ch")):
		return verb + "es"
	case n > 1 && verb[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(verb[n-2])):
		if ending == "s" {
			return verb[:n-1] + "ies"
		}
		return verb[:n-1] + "ied"
	case ending == "ed" && verb[n-1] == 'e':
		return verb + "d"
	}
	return verb + ending
}

func title(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func (v *vocab) fill(r *rand.Rand, slot string) string {
	switch slot {
	case "noun":
		return sessionNouns[v.nouns.pick(r)]
	case "verb":
		return sessionVerbs[v.verbs.pick(r)]
	case "verbs":
		return inflect(sessionVerbs[v.verbs.pick(r)], "s")
	case "verbed":
		return inflect(sessionVerbs[v.verbs.pick(r)], "ed")
	case "adj":
		return sessionAdjs[v.adjs.pick(r)]
	case "ident":
		return v.identList[v.idents.pick(r)]
	case "path":
		return v.pathList[v.paths.pick(r)]
	case "project":
		return "project-" + strconv.Itoa(v.paths.pick(r)%60)
	case "num":
		return strconv.Itoa(1 + r.IntN(1+r.IntN(5000)))
	case "small":
		return strconv.Itoa(r.IntN(4))
	case "unit":
		return sessionUnits[r.IntN(len(sessionUnits))]
	case "tool":
		return sessionTools[r.IntN(len(sessionTools))]
	case "person":
		return sessionPersons[r.IntN(len(sessionPersons))]
	case "err":
		return sessionErrs[r.IntN(len(sessionErrs))]
	case "bug":
		return strings.ReplaceAll(sessionBugs[r.IntN(len(sessionBugs))], "_", " ")
	case "cond":
		return sessionConds[r.IntN(len(sessionConds))]
	case "hash":
		return fmt.Sprintf("%07x", r.Uint32()>>4)
	}
	return slot
}

// zipf draws 0..n-1 with weight 1/(k+1)^s by bisecting the cumulative
// weights (math/rand's Zipf needs s > 1, and the head of real text is
// flatter than that).
type zipf struct{ cum []float64 }

func newZipf(n int, s float64) *zipf {
	z := &zipf{cum: make([]float64, n)}
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		z.cum[k] = sum
	}
	return z
}

func (z *zipf) pick(r *rand.Rand) int {
	x := r.Float64() * z.cum[len(z.cum)-1]
	lo, hi := 0, len(z.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if z.cum[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
