package search

import (
	"encoding/json"
	"errors"
)

// Search limits.
const (
	DefaultK = 10
	MaxK     = 1000
)

// Search modes.
const (
	ModeVector = "vector"
	ModeText   = "text"
	ModeHybrid = "hybrid"
)

// Query is what a search asks, as the query function decoded it from a
// request (POST /v1/search, the MCP tool, the CLI); the fields are those of
// its body (query.SearchRequest), which also holds what only the function
// acts on (as_of, cache). Validate makes it Params.
type Query struct {
	Vector       []float64
	Text         string
	Mode         string
	HybridWeight *float64
	K            *int
	Threshold    *float64
	Filter       *Filter
}

// Filter narrows a search. Every field that is set must match.
// system_id, kind and tier take a list (or a single string); from and to
// bound created_at, inclusive (RFC 3339, or ISO 8601 without a zone read as
// UTC).
type Filter struct {
	SystemID StringList `json:"system_id,omitempty"`
	Project  string     `json:"project,omitempty"`
	Kind     StringList `json:"kind,omitempty"`
	Tier     StringList `json:"tier,omitempty"`
	From     string     `json:"from,omitempty"`
	To       string     `json:"to,omitempty"`
	// Tags keeps records holding any of these tags (all of them with
	// TagsAll); SessionID keeps one session's records.
	Tags      TagList `json:"tags,omitempty"`
	TagsAll   bool    `json:"tags_all,omitempty"`
	SessionID string  `json:"session_id,omitempty"`
}

// TagList is filter.tags: a list of non-empty strings (or one string).
type TagList []string

// ErrBadTags is filter.tags that is not strings; the query function
// refuses the body with invalid_filter.
var ErrBadTags = errors.New("filter.tags: want a string or a list of strings")

// UnmarshalJSON accepts "a", ["a", "b"] or null.
func (t *TagList) UnmarshalJSON(b []byte) error {
	var l StringList
	if err := l.UnmarshalJSON(b); err != nil {
		return ErrBadTags
	}
	*t = TagList(l)
	return nil
}

// StringList is a JSON list of strings that also accepts a single string.
type StringList []string

// UnmarshalJSON accepts "a", ["a", "b"] or null.
func (s *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*s = many
	return nil
}

// Result is one match.
type Result struct {
	SystemID  string  `json:"system_id"`
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Content   string  `json:"content"`
	Score     float32 `json:"score"`
	CreatedAt string  `json:"created_at"`
	Tier      string  `json:"tier"`
	Project   string  `json:"project"`
	// Text and hybrid modes only: the hit's BM25 score (absent when the
	// text ranking did not hold it), its cosine similarity (hybrid, absent
	// when the vector ranking did not hold it) and its 1-based place. In
	// text mode Score is the BM25 score; in hybrid mode the fused one.
	BM25        *float64 `json:"bm25,omitempty"`
	VectorScore *float32 `json:"vector_score,omitempty"`
	Rank        int      `json:"rank,omitempty"`
}
