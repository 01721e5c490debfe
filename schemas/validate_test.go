package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rule is one validation case: mutate a valid record, then expect either no
// error (field == "") or an error for field whose message contains msg.
type rule[T any] struct {
	name  string
	edit  func(*T)
	field string
	msg   string
}

type validatable interface {
	Validate(now time.Time) error
}

func runRules[T any, P interface {
	*T
	validatable
}](t *testing.T, valid func() T, rules []rule[T]) {
	t.Helper()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			rec := valid()
			r.edit(&rec)
			err := P(&rec).Validate(testNow)
			if r.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error for %s", r.field)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: %T %v, want a *ValidationError", err, err)
			}
			for _, e := range allValidationErrors(err) {
				if e.Field == r.field && strings.Contains(e.Message, r.msg) {
					return
				}
			}
			t.Fatalf("Validate: %q, want field %s with %q", err, r.field, r.msg)
		})
	}
}

func allValidationErrors(err error) []*ValidationError {
	var ves ValidationErrors
	if errors.As(err, &ves) {
		return ves
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return []*ValidationError{ve}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func TestMemoryValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	runRules(t, sampleMemory, []rule[Memory]{
		{"valid", func(m *Memory) {}, "", ""},
		{"minimal", func(m *Memory) {
			*m = Memory{SystemID: "s", ID: "i", Content: "c", CreatedAt: testNow}
		}, "", ""},

		{"system_id charset", func(m *Memory) { m.SystemID = "Buddy_01-x" }, "", ""},
		{"system_id 100", func(m *Memory) { m.SystemID = long(100) }, "", ""},
		{"system_id missing", func(m *Memory) { m.SystemID = "" }, "system_id", "is required"},
		{"system_id 101", func(m *Memory) { m.SystemID = long(101) }, "system_id", "longer than 100"},
		{"system_id space", func(m *Memory) { m.SystemID = "buddy 01" }, "system_id", "' '"},
		{"system_id slash", func(m *Memory) { m.SystemID = "a/b" }, "system_id", "'/'"},
		{"system_id dot", func(m *Memory) { m.SystemID = "a.b" }, "system_id", "'.'"},
		{"system_id non-ASCII", func(m *Memory) { m.SystemID = "bü" }, "system_id", "only letters"},

		{"id uuid", func(m *Memory) { m.ID = "5f0c6f0e-8a4b-4a7e-9c39-1d2b3c4d5e6f" }, "", ""},
		{"id mem_123", func(m *Memory) { m.ID = "mem_123" }, "", ""},
		{"id conv:abc.def", func(m *Memory) { m.ID = "conv:abc.def" }, "", ""},
		{"id non-ASCII", func(m *Memory) { m.ID = "メモ-1 (copy)" }, "", ""},
		{"id 200 characters", func(m *Memory) { m.ID = strings.Repeat("é", 200) }, "", ""},
		{"id missing", func(m *Memory) { m.ID = "" }, "id", "is required"},
		{"id 201 characters", func(m *Memory) { m.ID = strings.Repeat("é", 201) }, "id", "longer than 200"},
		{"id slash", func(m *Memory) { m.ID = "a/b" }, "id", `'/'`},
		{"id backslash", func(m *Memory) { m.ID = `a\b` }, "id", `'\\'`},
		{"id dotdot", func(m *Memory) { m.ID = ".." }, "id", `".."`},
		{"id inner dotdot", func(m *Memory) { m.ID = "a..b" }, "id", `".."`},
		{"id dot", func(m *Memory) { m.ID = "." }, "id", `"."`},
		{"id NUL", func(m *Memory) { m.ID = "a\x00b" }, "id", "U+0000"},
		{"id newline", func(m *Memory) { m.ID = "a\nb" }, "id", "U+000A"},
		{"id bidi override", func(m *Memory) { m.ID = "abc\u202edef" }, "id", "U+202E"},
		{"id zero width", func(m *Memory) { m.ID = "ab\u200bc" }, "id", "U+200B"},
		{"id leading space", func(m *Memory) { m.ID = " abc" }, "id", "space"},
		{"id trailing space", func(m *Memory) { m.ID = "abc " }, "id", "space"},
		{"id quote", func(m *Memory) { m.ID = "a'b" }, "id", `'\''`},
		{"id invalid UTF-8", func(m *Memory) { m.ID = "a\xffb" }, "id", "UTF-8"},

		{"kind empty", func(m *Memory) { m.Kind = "" }, "", ""},
		{"kind conversation", func(m *Memory) { m.Kind = KindConversation }, "", ""},
		{"kind reflection", func(m *Memory) { m.Kind = KindReflection }, "", ""},
		{"kind memory", func(m *Memory) { m.Kind = KindMemory }, "", ""},
		{"kind other", func(m *Memory) { m.Kind = "note" }, "kind", `"note" is not one of conversation, reflection, memory`},

		{"content 1 byte", func(m *Memory) { m.Content = "x" }, "", ""},
		{"content 1 MiB", func(m *Memory) { m.Content = long(MaxContentBytes) }, "", ""},
		{"content missing", func(m *Memory) { m.Content = "" }, "content", "is required"},
		{"content too large", func(m *Memory) { m.Content = long(MaxContentBytes + 1) }, "content", "larger than 1 MiB"},
		{"content invalid UTF-8", func(m *Memory) { m.Content = "a\xc3" }, "content", "UTF-8"},
		{"content control characters", func(m *Memory) { m.Content = "line 1\nline 2\ttab" }, "", ""},

		{"embedding absent", func(m *Memory) { m.Embedding = nil }, "", ""},
		{"embedding 383", func(m *Memory) { m.Embedding = m.Embedding[:383] }, "embedding", "has 383 dimensions, want 384"},
		{"embedding 385", func(m *Memory) { m.Embedding = append(m.Embedding, 0) }, "embedding", "has 385 dimensions, want 384"},
		{"embedding NaN", func(m *Memory) { m.Embedding[5] = float32(math.NaN()) }, "embedding", "element 5 is NaN"},
		{"embedding +Inf", func(m *Memory) { m.Embedding[0] = float32(math.Inf(1)) }, "embedding", "element 0 is +Inf"},
		{"embedding -Inf", func(m *Memory) { m.Embedding[383] = float32(math.Inf(-1)) }, "embedding", "element 383 is -Inf"},

		{"created_at 2000", func(m *Memory) { m.CreatedAt = minTime }, "", ""},
		{"created_at 23h ahead", func(m *Memory) { m.CreatedAt = testNow.Add(23 * time.Hour) }, "", ""},
		{"created_at missing", func(m *Memory) { m.CreatedAt = time.Time{} }, "created_at", "is required"},
		{"created_at 1999", func(m *Memory) { m.CreatedAt = minTime.Add(-time.Microsecond) }, "created_at", "before 2000-01-01"},
		{"created_at 25h ahead", func(m *Memory) { m.CreatedAt = testNow.Add(25 * time.Hour) }, "created_at", "more than a day in the future"},

		{"project 200", func(m *Memory) { m.Project = strings.Repeat("ü", 200) }, "", ""},
		{"project 201", func(m *Memory) { m.Project = long(201) }, "project", "longer than 200 characters"},
		{"project control", func(m *Memory) { m.Project = "a\rb" }, "project", "control character U+000D"},
		{"namespace 201", func(m *Memory) { m.Namespace = long(201) }, "namespace", "longer than 200"},
		{"namespace control", func(m *Memory) { m.Namespace = "\x1b[31m" }, "namespace", "control"},
		{"session_id 201", func(m *Memory) { m.SessionID = long(201) }, "session_id", "longer than 200"},
		{"session_id control", func(m *Memory) { m.SessionID = "a\x00" }, "session_id", "control"},
		{"user_id 201", func(m *Memory) { m.UserID = long(201) }, "user_id", "longer than 200"},
		{"user_id invalid UTF-8", func(m *Memory) { m.UserID = "\xff" }, "user_id", "UTF-8"},
		{"category 201", func(m *Memory) { m.Category = long(201) }, "category", "longer than 200"},
		{"subcategory 201", func(m *Memory) { m.Subcategory = long(201) }, "subcategory", "longer than 200"},
		{"source_type 201", func(m *Memory) { m.SourceType = long(201) }, "source_type", "longer than 200"},
		{"source_type control", func(m *Memory) { m.SourceType = "a\u0085" }, "source_type", "U+0085"},

		{"tags absent", func(m *Memory) { m.Tags = nil }, "", ""},
		{"tags 100", func(m *Memory) { m.Tags = make([]string, MaxTags); fill(m.Tags, "t") }, "", ""},
		{"tags 101", func(m *Memory) { m.Tags = make([]string, MaxTags+1); fill(m.Tags, "t") }, "tags", "more than 100 elements"},
		{"tag 200", func(m *Memory) { m.Tags = []string{long(MaxTagLen)} }, "", ""},
		{"tag 201", func(m *Memory) { m.Tags = []string{"a", long(MaxTagLen + 1)} }, "tags[1]", "longer than 200"},
		{"tag empty", func(m *Memory) { m.Tags = []string{"a", "b", ""} }, "tags[2]", "is required"},
		{"tag control", func(m *Memory) { m.Tags = []string{"a\tb"} }, "tags[0]", "control"},

		{"importance absent", func(m *Memory) { m.Importance = nil }, "", ""},
		{"importance 0", func(m *Memory) { m.Importance = ptr(0.0) }, "", ""},
		{"importance 1", func(m *Memory) { m.Importance = ptr(1.0) }, "", ""},
		{"importance negative", func(m *Memory) { m.Importance = ptr(-0.1) }, "importance", "-0.1 is less than 0"},
		{"importance above 1", func(m *Memory) { m.Importance = ptr(1.5) }, "importance", "1.5 is more than 1"},
		{"importance NaN", func(m *Memory) { m.Importance = ptr(math.NaN()) }, "importance", "is not a number"},

		{"metadata absent", func(m *Memory) { m.Metadata = nil }, "", ""},
		{"metadata null", func(m *Memory) { m.Metadata = json.RawMessage("null") }, "", ""},
		{"metadata empty object", func(m *Memory) { m.Metadata = json.RawMessage(" {} ") }, "", ""},
		{"metadata at limit", func(m *Memory) { m.Metadata = bigObject(MaxObjectBytes) }, "", ""},
		{"metadata over limit", func(m *Memory) { m.Metadata = bigObject(MaxObjectBytes + 1) }, "metadata", "more than the limit"},
		{"metadata array", func(m *Memory) { m.Metadata = json.RawMessage(`[1]`) }, "metadata", "must be a JSON object"},
		{"metadata string", func(m *Memory) { m.Metadata = json.RawMessage(`"x"`) }, "metadata", "must be a JSON object"},
		{"metadata malformed", func(m *Memory) { m.Metadata = json.RawMessage(`{"a":}`) }, "metadata", "not valid JSON"},
		{"metadata invalid UTF-8", func(m *Memory) { m.Metadata = json.RawMessage("{\"a\":\"\xff\"}") }, "metadata", "UTF-8"},
	})
}

func fill(s []string, v string) {
	for i := range s {
		s[i] = v
	}
}

// bigObject returns a JSON object of exactly n bytes.
func bigObject(n int) json.RawMessage {
	const frame = `{"k":""}`
	return json.RawMessage(`{"k":"` + strings.Repeat("x", n-len(frame)) + `"}`)
}

func TestValidateReportsEveryField(t *testing.T) {
	m := sampleMemory()
	m.SystemID = "a b"
	m.ID = ""
	m.Embedding = m.Embedding[:10]
	err := m.Validate(testNow)
	var ves ValidationErrors
	if !errors.As(err, &ves) {
		t.Fatalf("Validate: %T %v, want ValidationErrors", err, err)
	}
	got := map[string]bool{}
	for _, ve := range ves {
		if got[ve.Field] {
			t.Errorf("field %s reported twice in %q", ve.Field, err)
		}
		got[ve.Field] = true
	}
	for _, f := range []string{"system_id", "id", "embedding"} {
		if !got[f] {
			t.Errorf("no problem reported for %s in %q", f, err)
		}
	}
	if want := "id: is required"; !strings.Contains(err.Error(), want) {
		t.Errorf("Error() = %q, want it to contain %q", err, want)
	}
}

func sampleEntity() Entity {
	return Entity{
		SystemID:     "buddy-01",
		ID:           "ent_42",
		Name:         "DuckDB",
		EntityType:   "technology",
		Observations: []string{"Embedded analytical database", "Reads Parquet"},
		Properties:   json.RawMessage(`{"source_system":"buddy-01","original_id":"ent_42"}`),
		CreatedAt:    time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
		UpdatedAt:    time.Date(2026, 11, 24, 9, 30, 0, 500000000, time.UTC),
		Embedding:    unitVector(2),
	}
}

func TestEntityValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	runRules(t, sampleEntity, []rule[Entity]{
		{"valid", func(e *Entity) {}, "", ""},
		{"system_id missing", func(e *Entity) { e.SystemID = "" }, "system_id", "is required"},
		{"system_id bad", func(e *Entity) { e.SystemID = "a:b" }, "system_id", "':'"},
		{"id missing", func(e *Entity) { e.ID = "" }, "id", "is required"},
		{"id bad", func(e *Entity) { e.ID = "../x" }, "id", ".."},
		{"name 1000", func(e *Entity) { e.Name = long(MaxNameLen) }, "", ""},
		{"name missing", func(e *Entity) { e.Name = "" }, "name", "is required"},
		{"name 1001", func(e *Entity) { e.Name = long(MaxNameLen + 1) }, "name", "longer than 1000"},
		{"name control", func(e *Entity) { e.Name = "a\nb" }, "name", "control"},
		{"entity_type missing", func(e *Entity) { e.EntityType = "" }, "entity_type", "is required"},
		{"entity_type 201", func(e *Entity) { e.EntityType = long(201) }, "entity_type", "longer than 200"},
		{"observations absent", func(e *Entity) { e.Observations = nil }, "", ""},
		{"observations 1000", func(e *Entity) { e.Observations = make([]string, MaxObservations); fill(e.Observations, "o") }, "", ""},
		{"observations 1001", func(e *Entity) { e.Observations = make([]string, MaxObservations+1); fill(e.Observations, "o") }, "observations", "more than 1000 elements"},
		{"observation multi-line", func(e *Entity) { e.Observations = []string{"a\nb"} }, "", ""},
		{"observation at limit", func(e *Entity) { e.Observations = []string{long(MaxObservationLen)} }, "", ""},
		{"observation over limit", func(e *Entity) { e.Observations = []string{long(MaxObservationLen + 1)} }, "observations[0]", "longer than 65536"},
		{"observation empty", func(e *Entity) { e.Observations = []string{"a", ""} }, "observations[1]", "is required"},
		{"observation invalid UTF-8", func(e *Entity) { e.Observations = []string{"\xff"} }, "observations[0]", "UTF-8"},
		{"properties absent", func(e *Entity) { e.Properties = nil }, "", ""},
		{"properties array", func(e *Entity) { e.Properties = json.RawMessage(`[]`) }, "properties", "JSON object"},
		{"properties over limit", func(e *Entity) { e.Properties = bigObject(MaxObjectBytes + 1) }, "properties", "limit"},
		{"created_at missing", func(e *Entity) { e.CreatedAt = time.Time{} }, "created_at", "is required"},
		{"created_at 1999", func(e *Entity) { e.CreatedAt = minTime.Add(-time.Second) }, "created_at", "before 2000"},
		{"updated_at absent", func(e *Entity) { e.UpdatedAt = time.Time{} }, "", ""},
		{"updated_at future", func(e *Entity) { e.UpdatedAt = testNow.Add(48 * time.Hour) }, "updated_at", "future"},
		{"embedding absent", func(e *Entity) { e.Embedding = nil }, "", ""},
		{"embedding short", func(e *Entity) { e.Embedding = e.Embedding[:3] }, "embedding", "has 3 dimensions, want 384"},
		{"embedding NaN", func(e *Entity) { e.Embedding[1] = float32(math.NaN()) }, "embedding", "element 1 is NaN"},
	})
}

func sampleRelation() Relation {
	return Relation{
		SystemID:     "buddy-01",
		ID:           "rel_7",
		FromEntity:   "Akosha",
		ToEntity:     "DuckDB",
		RelationType: "uses",
		Properties:   json.RawMessage(`{"weight":0.9}`),
		CreatedAt:    time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC),
	}
}

func TestRelationValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	runRules(t, sampleRelation, []rule[Relation]{
		{"valid", func(r *Relation) {}, "", ""},
		{"system_id missing", func(r *Relation) { r.SystemID = "" }, "system_id", "is required"},
		{"system_id bad", func(r *Relation) { r.SystemID = "a%b" }, "system_id", "'%'"},
		{"id missing", func(r *Relation) { r.ID = "" }, "id", "is required"},
		{"id bad", func(r *Relation) { r.ID = `a"b` }, "id", `'"'`},
		{"from_entity 1000", func(r *Relation) { r.FromEntity = long(MaxNameLen) }, "", ""},
		{"from_entity missing", func(r *Relation) { r.FromEntity = "" }, "from_entity", "is required"},
		{"from_entity 1001", func(r *Relation) { r.FromEntity = long(MaxNameLen + 1) }, "from_entity", "longer than 1000"},
		{"from_entity control", func(r *Relation) { r.FromEntity = "a\x7fb" }, "from_entity", "U+007F"},
		{"to_entity missing", func(r *Relation) { r.ToEntity = "" }, "to_entity", "is required"},
		{"to_entity 1001", func(r *Relation) { r.ToEntity = long(MaxNameLen + 1) }, "to_entity", "longer than 1000"},
		{"relation_type missing", func(r *Relation) { r.RelationType = "" }, "relation_type", "is required"},
		{"relation_type 201", func(r *Relation) { r.RelationType = long(201) }, "relation_type", "longer than 200"},
		{"properties absent", func(r *Relation) { r.Properties = nil }, "", ""},
		{"properties scalar", func(r *Relation) { r.Properties = json.RawMessage(`42`) }, "properties", "JSON object"},
		{"created_at missing", func(r *Relation) { r.CreatedAt = time.Time{} }, "created_at", "is required"},
		{"created_at future", func(r *Relation) { r.CreatedAt = testNow.Add(30 * time.Hour) }, "created_at", "future"},
	})
}

func TestNormalize(t *testing.T) {
	m := Memory{
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600)),
		Embedding: []float32{},
		Tags:      []string{},
		Metadata:  json.RawMessage(" null "),
	}
	m.Normalize()
	if m.Kind != KindMemory {
		t.Errorf("Kind = %q, want %q", m.Kind, KindMemory)
	}
	if want := time.Date(2026, 1, 2, 2, 4, 5, 123456000, time.UTC); m.CreatedAt != want {
		t.Errorf("CreatedAt = %v, want %v", m.CreatedAt, want)
	}
	if m.Embedding != nil || m.Tags != nil || m.Metadata != nil {
		t.Errorf("Embedding, Tags, Metadata = %v, %v, %q, want nil", m.Embedding, m.Tags, m.Metadata)
	}

	e := Entity{CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Properties: json.RawMessage("null")}
	e.Normalize()
	if e.UpdatedAt != e.CreatedAt || e.Properties != nil {
		t.Errorf("entity after Normalize: UpdatedAt %v, Properties %q", e.UpdatedAt, e.Properties)
	}
}

// TestValidateConcurrent exercises the shared validator from many goroutines
// (run with -race).
func TestValidateConcurrent(t *testing.T) {
	done := make(chan error)
	for i := range 8 {
		go func() {
			m := sampleMemory()
			if i%2 == 1 {
				m.ID = ""
			}
			var err error
			for range 50 {
				if got := m.Validate(testNow); (got != nil) != (i%2 == 1) {
					err = fmt.Errorf("goroutine %d: Validate = %v", i, got)
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestMemoryTagRulesHold checks the hand-written tag rules against the
// validator: on every field's boundary values, and on random mixes of them,
// tagRulesHold must say yes exactly when validate.Struct finds nothing.
func TestMemoryTagRulesHold(t *testing.T) {
	runes := func(n int, r string) string { return strings.Repeat(r, n) }
	nan, inf := math.NaN(), math.Inf(1)
	tags := func(n int, tag string) []string {
		list := make([]string, n)
		fill(list, tag)
		return list
	}
	type field struct {
		name   string
		values []func(*Memory)
	}
	str := func(set func(*Memory, string), vals ...string) []func(*Memory) {
		var fs []func(*Memory)
		for _, v := range vals {
			fs = append(fs, func(m *Memory) { set(m, v) })
		}
		return fs
	}
	labels := []string{"", "a", runes(200, "a"), runes(201, "a"), runes(200, "é"), runes(201, "é"), runes(199, "a") + "\xff", runes(200, "a") + "\xff"}
	fields := []field{
		{"system_id", str(func(m *Memory, s string) { m.SystemID = s }, "", "s", runes(101, "a"), "a/b")},
		{"id", str(func(m *Memory, s string) { m.ID = s }, "", "i", runes(200, "x"), runes(201, "x"), runes(200, "世"), runes(201, "世"), "\xff\xfe")},
		{"kind", str(func(m *Memory, s string) { m.Kind = s }, "", KindConversation, KindReflection, KindMemory, "Memory", "memory ", "other")},
		{"content", str(func(m *Memory, s string) { m.Content = s }, "", "c", "\xff")},
		{"created_at", []func(*Memory){
			func(m *Memory) { m.CreatedAt = time.Time{} },
			func(m *Memory) { m.CreatedAt = time.Time{}.In(time.FixedZone("x", 3600)) },
			func(m *Memory) { m.CreatedAt = time.Unix(0, 0) },
			func(m *Memory) { m.CreatedAt = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) },
		}},
		{"project", str(func(m *Memory, s string) { m.Project = s }, labels...)},
		{"namespace", str(func(m *Memory, s string) { m.Namespace = s }, labels...)},
		{"session_id", str(func(m *Memory, s string) { m.SessionID = s }, labels...)},
		{"user_id", str(func(m *Memory, s string) { m.UserID = s }, labels...)},
		{"category", str(func(m *Memory, s string) { m.Category = s }, labels...)},
		{"subcategory", str(func(m *Memory, s string) { m.Subcategory = s }, labels...)},
		{"source_type", str(func(m *Memory, s string) { m.SourceType = s }, labels...)},
		{"tags", []func(*Memory){
			func(m *Memory) { m.Tags = nil },
			func(m *Memory) { m.Tags = []string{} },
			func(m *Memory) { m.Tags = tags(100, "t") },
			func(m *Memory) { m.Tags = tags(101, "t") },
			func(m *Memory) { m.Tags = []string{"a", ""} },
			func(m *Memory) { m.Tags = []string{runes(200, "é")} },
			func(m *Memory) { m.Tags = []string{"a", runes(201, "a")} },
			func(m *Memory) { m.Tags = append(tags(101, "t"), "") },
		}},
		{"importance", []func(*Memory){
			func(m *Memory) { m.Importance = nil },
			func(m *Memory) { m.Importance = ptr(0.0) },
			func(m *Memory) { m.Importance = ptr(math.Copysign(0, -1)) },
			func(m *Memory) { m.Importance = ptr(1.0) },
			func(m *Memory) { m.Importance = ptr(math.Nextafter(1, 2)) },
			func(m *Memory) { m.Importance = ptr(-1e-300) },
			func(m *Memory) { m.Importance = &nan },
			func(m *Memory) { m.Importance = &inf },
		}},
	}
	check := func(t *testing.T, m *Memory, what string) {
		t.Helper()
		want := validate.Struct(m) == nil
		if got := m.tagRulesHold(); got != want {
			t.Fatalf("%s: tagRulesHold = %v, the validator says %v (%v)", what, got, want, validate.Struct(m))
		}
	}
	// Each value of each field on an otherwise valid record.
	for _, f := range fields {
		for i, set := range f.values {
			m := sampleMemory()
			set(&m)
			check(t, &m, fmt.Sprintf("%s value %d", f.name, i))
		}
	}
	// Random mixes, mostly of valid values so that both answers occur.
	seed := uint64(1)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	var yes, no int
	for iter := range 20000 {
		m := sampleMemory()
		for _, f := range fields {
			if next(len(fields)) == 0 {
				f.values[next(len(f.values))](&m)
			}
		}
		check(t, &m, fmt.Sprintf("mix %d", iter))
		if m.tagRulesHold() {
			yes++
		} else {
			no++
		}
	}
	if yes == 0 || no == 0 {
		t.Fatalf("the mixes did not cover both answers: %d valid, %d invalid", yes, no)
	}
}

// ValidSystemID is SystemIDPattern, without a regexp: the same verdict on
// every kind of input.
func TestValidSystemIDIsThePattern(t *testing.T) {
	re := regexp.MustCompile(SystemIDPattern)
	for _, s := range []string{
		"", "a", "sys-001", "A_b-9", strings.Repeat("x", 100), strings.Repeat("x", 101),
		"host.local", "a/b", "..", "ünï", "a b", "a\x00", "-", "_",
	} {
		if got, want := ValidSystemID(s), re.MatchString(s); got != want {
			t.Errorf("ValidSystemID(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
