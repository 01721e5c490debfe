package schemas

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
	"unicode/utf8"
)

// Kinds of memory records.
const (
	KindConversation = "conversation"
	KindReflection   = "reflection"
	KindMemory       = "memory" // the default
)

// Memory is one conversation, reflection or memory of a Session-Buddy system,
// as clients send it (api/openapi.yaml, schema Memory). The zero value of an optional field
// means absent.
//
// Decode it with json.Unmarshal (or UnmarshalJSON directly), then call
// Normalize, then Validate; only validated records may be stored.
type Memory struct {
	SystemID string `json:"system_id" validate:"required"` // charset checked by hand
	ID       string `json:"id" validate:"required,max=200"`
	// Kind is one of the Kind constants; empty means KindMemory.
	Kind    string `json:"kind,omitempty" validate:"omitempty,oneof=conversation reflection memory"`
	Content string `json:"content" validate:"required"` // size checked by hand, in bytes
	// Embedding is absent or EmbeddingDim finite values. In JSON it is either
	// an array of numbers ("embedding") or base64 ("embedding_b64", see
	// DecodeEmbeddingB64); MarshalJSON always writes the array.
	Embedding   []float32       `json:"embedding,omitempty"`
	CreatedAt   time.Time       `json:"created_at" validate:"required"`
	Project     string          `json:"project,omitempty" validate:"max=200"`
	Namespace   string          `json:"namespace,omitempty" validate:"max=200"`
	SessionID   string          `json:"session_id,omitempty" validate:"max=200"`
	UserID      string          `json:"user_id,omitempty" validate:"max=200"`
	Category    string          `json:"category,omitempty" validate:"max=200"`
	Subcategory string          `json:"subcategory,omitempty" validate:"max=200"`
	Tags        []string        `json:"tags,omitempty" validate:"max=100,dive,required,max=200"`
	Importance  *float64        `json:"importance,omitempty" validate:"omitempty,min=0,max=1"`
	SourceType  string          `json:"source_type,omitempty" validate:"max=200"`
	Metadata    json.RawMessage `json:"metadata,omitempty"` // a JSON object
	// ExpiresAt is when the record stops being visible (issue 16): from
	// then on no SQL, search, lookup or analytics answer shows it, and the
	// next compaction removes it. nil: it never expires. It must be after
	// the ingest's now (a record that would never be visible is refused).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// TTL is the other way to say it: expires_at = the ingest's now + TTL.
	// In JSON a Go duration string ("720h", "90m") or a number of seconds.
	// It is resolved on ingest (ResolveExpiry) and never stored; a record
	// may give expires_at or ttl, not both.
	TTL time.Duration `json:"-"`
}

// MaxTTL bounds a record's ttl (and a per-kind default): 100 years.
const MaxTTL = 100 * 365 * 24 * time.Hour

// ResolveExpiry turns the record's ttl, or else the default for its kind
// (byKind, from AKOSHA_EXPIRY_BY_KIND), into expires_at counted from now.
// An explicit expires_at is kept as it is. Call it after Validate.
func (m *Memory) ResolveExpiry(now time.Time, byKind map[string]time.Duration) {
	switch {
	case m.ExpiresAt != nil:
	case m.TTL > 0:
		t := normalizeTime(now.Add(m.TTL))
		m.ExpiresAt = &t
	case byKind[m.Kind] > 0:
		t := normalizeTime(now.Add(byKind[m.Kind]))
		m.ExpiresAt = &t
	}
	m.TTL = 0
}

// checkExpiry reports what is wrong with a record's expires_at and ttl.
func checkExpiry(expires *time.Time, ttl time.Duration, now time.Time) string {
	switch {
	case expires != nil && ttl != 0:
		return "give expires_at or ttl, not both"
	case ttl < 0 || ttl > MaxTTL:
		return fmt.Sprintf("ttl %s is out of range (more than 0, at most 100 years)", ttl)
	case expires == nil:
		return ""
	case !expires.After(now):
		return fmt.Sprintf("expires_at %s is not in the future: such a record would never be visible (delete it instead)", FormatTime(*expires))
	case expires.Sub(now) > MaxTTL:
		return fmt.Sprintf("expires_at %s is more than 100 years away", FormatTime(*expires))
	}
	return ""
}

// Normalize fills defaults and puts fields in their stored form: Kind
// defaults to KindMemory, CreatedAt becomes UTC with microsecond precision
// (that of the lake), and an empty embedding or tag list or null metadata
// becomes absent (NULL in SQL), so that "[]" and a missing field are stored
// alike.
func (m *Memory) Normalize() {
	if m.Kind == "" {
		m.Kind = KindMemory
	}
	m.CreatedAt = normalizeTime(m.CreatedAt)
	if len(m.Embedding) == 0 {
		m.Embedding = nil
	}
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	if isNull(m.Metadata) {
		m.Metadata = nil
	}
	if m.ExpiresAt != nil {
		t := normalizeTime(*m.ExpiresAt)
		m.ExpiresAt = &t
	}
}

// Validate reports every invalid field of m as a *ValidationError (one) or
// ValidationErrors (several). now bounds created_at, which may be at most a
// day in the future.
func (m *Memory) Validate(now time.Time) error {
	var p problems
	if m.tagRulesHold() {
		// The validator would find nothing; it need not walk the struct.
		p.order = fieldOrder(memoryType)
	} else {
		p.tags(m) // it words what is wrong
	}
	p.check("system_id", checkSystemID(m.SystemID))
	p.check("id", checkID(m.ID))
	p.check("content", checkContent(m.Content))
	p.check("embedding", checkEmbedding(m.Embedding))
	p.check("created_at", checkTime(m.CreatedAt, now))
	p.check("project", checkLabel(m.Project))
	p.check("namespace", checkLabel(m.Namespace))
	p.check("session_id", checkLabel(m.SessionID))
	p.check("user_id", checkLabel(m.UserID))
	p.check("category", checkLabel(m.Category))
	p.check("subcategory", checkLabel(m.Subcategory))
	p.check("source_type", checkLabel(m.SourceType))
	p.checkList("tags", m.Tags, checkLabel)
	p.check("metadata", checkObject(m.Metadata))
	if msg := checkExpiry(m.ExpiresAt, m.TTL, now); msg != "" {
		field := "expires_at"
		if m.TTL != 0 {
			field = "ttl"
		}
		p.check(field, msg)
	}
	return p.err()
}

var memoryType = reflect.TypeFor[Memory]()

// tagRulesHold reports whether m passes every rule in Memory's validate
// struct tags, checked by hand: the tags' reflective walk was the largest
// cost of validating on the ingest path. When it reports false, Validate runs
// the validator, so the messages still come from the tags; only a true here
// must never be wrong. TestMemoryTagRulesHold and FuzzDecodeMemory check it
// against the validator, so a tag changed without this is caught.
func (m *Memory) tagRulesHold() bool {
	if m.SystemID == "" || m.ID == "" || !maxChars(m.ID, MaxIDLen) || m.Content == "" {
		return false
	}
	switch m.Kind {
	case "", KindConversation, KindReflection, KindMemory:
	default:
		return false
	}
	// required on a struct: not the zero value in every field (as
	// reflect.Value.IsZero), which is what == compares.
	if m.CreatedAt == (time.Time{}) {
		return false
	}
	for _, s := range [...]string{m.Project, m.Namespace, m.SessionID, m.UserID, m.Category, m.Subcategory, m.SourceType} {
		if !maxChars(s, MaxLabelLen) {
			return false
		}
	}
	if len(m.Tags) > MaxTags {
		return false
	}
	for _, tag := range m.Tags {
		if tag == "" || !maxChars(tag, MaxTagLen) {
			return false
		}
	}
	// min=0,max=1; NaN fails both comparisons, as it fails the validator's.
	if imp := m.Importance; imp != nil && !(*imp >= 0 && *imp <= 1) {
		return false
	}
	return true
}

// maxChars is the validator's max=n on a string: at most n characters
// (runes; an invalid byte counts as one).
func maxChars(s string, n int) bool {
	return len(s) <= n || utf8.RuneCountInString(s) <= n
}

func checkContent(s string) string {
	if len(s) > MaxContentBytes {
		return "is larger than 1 MiB"
	}
	return checkText(s)
}

// UnmarshalJSON decodes a memory, accepting the embedding as "embedding" or
// "embedding_b64" (not both). A field of the wrong type or an undecodable
// embedding or timestamp is a *ValidationError; malformed JSON is a
// *SyntaxError. It is several times faster than encoding/json's reflection on
// the embedding, which dominates the ingest path.
func (m *Memory) UnmarshalJSON(data []byte) error {
	var out Memory
	var emb embeddings
	null, err := decodeRecord(data, "memory", func(d *decoder, key []byte) error {
		if ok, err := emb.member(d, key); ok {
			return err
		}
		var err error
		switch string(key) {
		case "system_id":
			out.SystemID, err = d.str("system_id")
		case "id":
			out.ID, err = d.str("id")
		case "kind":
			out.Kind, err = d.str("kind")
		case "content":
			out.Content, err = d.str("content")
		case "created_at":
			out.CreatedAt, err = d.timestamp("created_at")
		case "project":
			out.Project, err = d.str("project")
		case "namespace":
			out.Namespace, err = d.str("namespace")
		case "session_id":
			out.SessionID, err = d.str("session_id")
		case "user_id":
			out.UserID, err = d.str("user_id")
		case "category":
			out.Category, err = d.str("category")
		case "subcategory":
			out.Subcategory, err = d.str("subcategory")
		case "tags":
			out.Tags, err = d.stringList("tags")
		case "importance":
			out.Importance, err = d.float64Ptr("importance")
		case "source_type":
			out.SourceType, err = d.str("source_type")
		case "metadata":
			out.Metadata, err = d.raw()
		case "expires_at":
			var t time.Time
			if t, err = d.timestamp("expires_at"); err == nil && !t.IsZero() {
				out.ExpiresAt = &t
			}
		case "ttl":
			out.TTL, err = d.duration("ttl")
		default:
			err = d.skip(1)
		}
		return err
	})
	if err != nil || null {
		return err
	}
	if out.Embedding, err = emb.result(); err != nil {
		return err
	}
	*m = out
	return nil
}

// MarshalJSON writes m with created_at in RFC 3339 UTC and the embedding as
// an array of numbers.
func (m Memory) MarshalJSON() ([]byte, error) {
	type plain Memory // without methods, so that json.Marshal does not recurse
	var expires string
	if m.ExpiresAt != nil {
		expires = FormatTime(*m.ExpiresAt)
	}
	return marshalJSON(struct {
		plain
		CreatedAt string `json:"created_at"`
		ExpiresAt string `json:"expires_at,omitempty"`
	}{plain(m), FormatTime(m.CreatedAt), expires})
}
