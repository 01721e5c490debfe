package schemas

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

func TestMemoryExpiry(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	base := `"system_id":"s","id":"m","content":"c","created_at":"2026-12-07T09:00:00Z"`
	byKind := map[string]time.Duration{KindConversation: 720 * time.Hour}
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	for _, tt := range []struct {
		name, extra string
		want        *time.Time // expires_at after ResolveExpiry
		err         string     // substring of the validation error
	}{
		{"none", ``, nil, ""},
		{"expires_at", `,"expires_at":"2026-12-07T11:00:00Z"`, at(time.Hour), ""},
		{"ttl string", `,"ttl":"90m"`, at(90 * time.Minute), ""},
		{"ttl seconds", `,"ttl":60`, at(time.Minute), ""},
		{"ttl fraction", `,"ttl":0.5`, at(500 * time.Millisecond), ""},
		{"kind default", `,"kind":"conversation"`, at(720 * time.Hour), ""},
		{"explicit beats default", `,"kind":"conversation","ttl":"1h"`, at(time.Hour), ""},
		{"null ttl", `,"ttl":null`, nil, ""},
		{"both", `,"ttl":"1h","expires_at":"2026-12-07T11:00:00Z"`, nil, "not both"},
		{"past", `,"expires_at":"2026-12-07T09:59:59Z"`, nil, "not in the future"},
		{"now", `,"expires_at":"2026-12-07T10:00:00Z"`, nil, "not in the future"},
		{"far", `,"expires_at":"2200-01-01T00:00:00Z"`, nil, "100 years"},
		{"zero ttl", `,"ttl":0`, nil, "out of range"},
		{"negative ttl", `,"ttl":"-1h"`, nil, "more than 0"},
		{"bad ttl", `,"ttl":"soon"`, nil, "not a duration"},
		{"ttl bool", `,"ttl":true`, nil, "duration string or a number"},
		{"huge ttl", `,"ttl":1e30`, nil, "out of range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m Memory
			err := m.UnmarshalJSON([]byte("{" + base + tt.extra + "}"))
			if err == nil {
				m.Normalize()
				err = m.Validate(now)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m.ResolveExpiry(now, byKind)
			if (m.ExpiresAt == nil) != (tt.want == nil) || m.ExpiresAt != nil && !m.ExpiresAt.Equal(*tt.want) {
				t.Fatalf("expires_at = %v, want %v", m.ExpiresAt, tt.want)
			}
			if m.TTL != 0 {
				t.Fatalf("ttl %v left after ResolveExpiry", m.TTL)
			}
			row := m.Row()
			back := row.Memory()
			if (back.ExpiresAt == nil) != (tt.want == nil) || back.ExpiresAt != nil && !back.ExpiresAt.Equal(*tt.want) {
				t.Fatalf("row round trip: expires_at = %v, want %v", back.ExpiresAt, tt.want)
			}
			q := row.Quantized()
			if r2 := q.MemoryRow(); (r2.ExpiresAt == nil) != (tt.want == nil) {
				t.Fatalf("quantized round trip lost expires_at")
			}
		})
	}
}

// legacyMemoryRow is a memories row as written before expires_at existed.
type legacyMemoryRow struct {
	SystemID   string    `parquet:"system_id,dict"`
	ID         string    `parquet:"id,plain"`
	Kind       string    `parquet:"kind,dict"`
	Content    string    `parquet:"content,plain"`
	CreatedAt  time.Time `parquet:"created_at,timestamp(microsecond)"`
	IngestedAt time.Time `parquet:"ingested_at,timestamp(microsecond)"`
}

// A file written before the column reads into MemoryRow with expires_at
// null: rewrites (compaction, aging, deletes) of old files keep working.
func TestLegacyFileReadsWithoutExpiry(t *testing.T) {
	var buf bytes.Buffer
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := parquet.Write(&buf, []legacyMemoryRow{{"s", "m", "memory", "c", now, now}}); err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[MemoryRow](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ID != "m" || rows[0].ExpiresAt != nil || !rows[0].CreatedAt.Equal(now) {
		t.Fatalf("rows = %+v", rows)
	}
}
