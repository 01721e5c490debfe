package search

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/hnsw"
	"github.com/akosha/akosha/lake/tenants"
	"github.com/akosha/akosha/lake/vecindex"
	"github.com/akosha/akosha/schemas"
)

// Params are a validated search.
type Params struct {
	Q            []float32 // unit length
	K            int
	Threshold    float32
	HasThreshold bool
	Systems      map[string]bool
	Scope        *tenants.Scope // the caller's tenant; nil: every system
	Tiers        map[string]bool
	Kinds        map[string]bool
	Project      string
	From, To     int64 // created_at bounds, Unix micros; 0 = open
	FromT        time.Time
	ToT          time.Time
	Tags         []string
	TagsAll      bool
	Session      string
	Now          time.Time // what has expired is decided at this time

	Mode   string // ModeVector, ModeText or ModeHybrid
	Text   string // the query text (text and hybrid modes)
	Weight float64
}

// Error is a search Validate refuses. Code is the API's stable error code
// (invalid_k, invalid_filter, ...); Unprocessable marks a request that is
// well formed but whose values cannot be searched (a vector of the wrong
// size), where the others are malformed. The query function turns it into
// its HTTP error.
type Error struct {
	Code          string
	Message       string
	Unprocessable bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func invalid(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func unprocessable(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Unprocessable: true}
}

// Validate checks req and returns its parameters, or an *Error saying what
// is wrong. now decides what has expired; canEmbed says whether an
// embeddings endpoint can turn a text into a vector: a search that needs one
// (NeedsEmbedding) gets it from the caller (Embedded), as does the caller's
// tenant scope (Confine).
func Validate(req Query, now time.Time, canEmbed bool) (*Params, error) {
	p := &Params{K: DefaultK, Weight: 0.5, Now: now}
	hasVec, hasText := req.Vector != nil, strings.TrimSpace(req.Text) != ""
	p.Mode = req.Mode
	switch req.Mode {
	case "":
		switch {
		case hasVec && hasText, hasText && canEmbed:
			p.Mode = ModeHybrid
		case hasVec:
			p.Mode = ModeVector
		default:
			p.Mode = ModeText
		}
	case ModeVector, ModeText, ModeHybrid:
	default:
		return nil, invalid("invalid_mode", "mode must be vector, text or hybrid, got %q", truncate(req.Mode, 40))
	}
	if req.HybridWeight != nil {
		w := *req.HybridWeight
		if !(w >= 0 && w <= 1) {
			return nil, invalid("invalid_hybrid_weight", "hybrid_weight must be between 0 and 1, got %v", w)
		}
		if p.Mode != ModeHybrid {
			return nil, invalid("invalid_hybrid_weight", "hybrid_weight applies to mode hybrid only (mode is %s)", p.Mode)
		}
		p.Weight = w
	}
	switch {
	case !hasVec && !hasText:
		return nil, invalid("missing_query", `the body needs "vector" (384 floats) or "text"`)
	case p.Mode == ModeVector && hasVec && hasText:
		return nil, invalid("invalid_query", `mode vector takes "vector" or "text", not both`)
	case p.Mode == ModeText && !hasText:
		return nil, invalid("missing_query", `mode text needs "text"`)
	case p.Mode == ModeText && hasVec:
		return nil, invalid("invalid_query", `mode text takes "text" only, not "vector"`)
	case p.Mode == ModeHybrid && !hasText:
		return nil, invalid("missing_query", `mode hybrid needs "text" (and "vector", or an embeddings endpoint)`)
	}
	if p.Mode != ModeVector {
		p.Text = req.Text
	}
	if hasVec {
		q, err := ToVector(req.Vector)
		if err != nil {
			return nil, unprocessable("invalid_vector", "%v", err)
		}
		p.Q = q
	}
	if req.K != nil {
		if *req.K < 1 || *req.K > MaxK {
			return nil, invalid("invalid_k", "k must be between 1 and %d, got %d", MaxK, *req.K)
		}
		p.K = *req.K
	}
	if req.Threshold != nil {
		if p.Mode == ModeText {
			return nil, invalid("invalid_threshold", "threshold bounds cosine similarity: mode text has none")
		}
		t := *req.Threshold
		if math.IsNaN(t) || t < -1 || t > 1 {
			return nil, invalid("invalid_threshold", "threshold must be between -1 and 1, got %v", t)
		}
		p.Threshold, p.HasThreshold = float32(t), true
	}
	if fl := req.Filter; fl != nil {
		set := func(name string, vals []string, ok func(string) bool) (map[string]bool, error) {
			if vals == nil {
				return nil, nil
			}
			m := map[string]bool{}
			for _, v := range vals {
				if !ok(v) {
					return nil, invalid("invalid_filter", "filter.%s: invalid value %q", name, truncate(v, 120))
				}
				m[v] = true
			}
			return m, nil
		}
		var err error
		if p.Systems, err = set("system_id", fl.SystemID, schemas.ValidSystemID); err != nil {
			return nil, err
		}
		if p.Kinds, err = set("kind", fl.Kind, func(s string) bool {
			return s == schemas.KindConversation || s == schemas.KindReflection || s == schemas.KindMemory
		}); err != nil {
			return nil, err
		}
		if p.Tiers, err = set("tier", fl.Tier, func(s string) bool {
			return s == schemas.TierHot || s == schemas.TierWarm || s == schemas.TierCold
		}); err != nil {
			return nil, err
		}
		p.Project = fl.Project
		for _, tg := range fl.Tags {
			if tg == "" {
				return nil, invalid("invalid_filter", "filter.tags: empty tag")
			}
		}
		p.Tags, p.TagsAll, p.Session = fl.Tags, fl.TagsAll, fl.SessionID
		if fl.TagsAll && len(fl.Tags) == 0 {
			return nil, invalid("invalid_filter", "filter.tags_all needs filter.tags")
		}
		for _, b := range []struct {
			name string
			s    string
			t    *time.Time
		}{{"from", fl.From, &p.FromT}, {"to", fl.To, &p.ToT}} {
			if b.s == "" {
				continue
			}
			t, err := schemas.ParseTime(b.s)
			if err != nil {
				return nil, invalid("invalid_time", "filter.%s: %v", b.name, err)
			}
			*b.t = t
		}
		if !p.FromT.IsZero() {
			p.From = p.FromT.UnixMicro()
		}
		if !p.ToT.IsZero() {
			p.To = p.ToT.UnixMicro()
		}
		if p.From != 0 && p.To != 0 && p.From > p.To {
			return nil, invalid("invalid_time", "filter.from is after filter.to")
		}
	}
	if hasText && !hasVec && p.Mode != ModeText && !canEmbed {
		return nil, invalid("text_search_unavailable",
			"mode %s with a text needs an embeddings endpoint (AKOSHA_EMBEDDINGS_URL); send a 384-float \"vector\" too, or use mode text", p.Mode)
	}
	hnsw.Normalize(p.Q)
	return p, nil
}

// NeedsEmbedding reports whether the search ranks by a vector it was not
// given: the caller embeds the text and passes it to Embedded.
func (p *Params) NeedsEmbedding() bool { return p.Q == nil && p.Mode != ModeText }

// Embedded sets the query vector embedded from the text.
func (p *Params) Embedded(q []float32) {
	p.Q = q
	hnsw.Normalize(p.Q)
}

// Confine keeps the search to the tenant's systems (sc, not every system):
// files that cannot hold them are not planned, and rows of other systems
// are filtered in every index walk and scan (AllowsSystem).
func (p *Params) Confine(sc *tenants.Scope) {
	// An allow list is all the test needs (Filter already kept only the
	// tenant's); a deny list (the default tenant's) is kept.
	if p.Systems = sc.Filter(p.Systems); p.Systems == nil {
		p.Scope = sc
	}
}

// AllowsSystem reports whether rows of system s may be candidates.
func (p *Params) AllowsSystem(s string) bool {
	return (p.Systems == nil || p.Systems[s]) && (p.Scope == nil || p.Scope.Allows(s))
}

// RowFilter applies the row filter; nil when nothing narrows rows. The
// system is a row filter too: a file holds many systems.
func (p *Params) RowFilter() func(system, kind, project string, created int64) bool {
	if p.Systems == nil && p.Scope == nil {
		return p.rowFilterExceptSystem()
	}
	return func(system, kind, project string, created int64) bool {
		return p.AllowsSystem(system) && (p.Kinds == nil || p.Kinds[kind]) && (p.Project == "" || p.Project == project) &&
			(p.From == 0 || created >= p.From) && (p.To == 0 || created <= p.To)
	}
}

// rowFilterExceptSystem is RowFilter without the system test, for a file
// whose every system passes it (AllowsAll); nil when nothing else narrows.
func (p *Params) rowFilterExceptSystem() func(system, kind, project string, created int64) bool {
	if p.Kinds == nil && p.Project == "" && p.From == 0 && p.To == 0 && !p.TextFiltered() {
		return nil
	}
	return func(_, kind, project string, created int64) bool {
		return (p.Kinds == nil || p.Kinds[kind]) && (p.Project == "" || p.Project == project) &&
			(p.From == 0 || created >= p.From) && (p.To == 0 || created <= p.To)
	}
}

// AllowsAll reports whether every one of systems passes the system test.
func (p *Params) AllowsAll(systems []string) bool {
	for _, s := range systems {
		if !p.AllowsSystem(s) {
			return false
		}
	}
	return true
}

// TextRow says whether row r of d passes every row filter of p. The
// system test is AllowsSystem, which holds the caller's tenant too: a row
// of another tenant's system never enters the BM25 corpus, so it can
// neither be a hit nor weigh on the corpus statistics (IDF) of this one.
func (p *Params) TextRow(d *TextData, r int) bool {
	c := d.Created[r]
	if !p.AllowsSystem(d.System[r]) || (p.Kinds != nil && !p.Kinds[d.Kind[r]]) ||
		(p.Project != "" && p.Project != d.Project[r]) || (p.From != 0 && c < p.From) || (p.To != 0 && c > p.To) ||
		(p.Session != "" && p.Session != d.Session[r]) {
		return false
	}
	return p.TagsMatch(d.Tags[r])
}

// TagsMatch applies filter.tags: any of them, or all with tags_all.
func (p *Params) TagsMatch(tags []string) bool {
	if len(p.Tags) == 0 {
		return true
	}
	for _, t := range p.Tags {
		has := slices.Contains(tags, t)
		if has && !p.TagsAll {
			return true
		}
		if !has && p.TagsAll {
			return false
		}
	}
	return p.TagsAll
}

// TextFiltered reports whether a filter needs the text columns (tags,
// session_id), which neither FileData nor an index's rows hold.
func (p *Params) TextFiltered() bool { return len(p.Tags) > 0 || p.Session != "" }

// AllowedAt says whether row of a per-row mask ok is allowed; rows past
// its end are not.
func AllowedAt(ok []bool, row uint32) bool { return int(row) < len(ok) && ok[row] }

// ToVector checks a query vector: Dim finite float32 values.
func ToVector(in []float64) ([]float32, error) {
	if len(in) != vecindex.Dim {
		return nil, fmt.Errorf("vector has %d dimensions, want %d", len(in), vecindex.Dim)
	}
	out := make([]float32, len(in))
	for i, x := range in {
		f := float32(x)
		if f-f != 0 { // NaN or ±Inf, including float64 values beyond float32
			return nil, fmt.Errorf("vector[%d] = %v is not a finite float32", i, x)
		}
		out[i] = f
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
