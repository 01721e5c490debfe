package ingest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
	"github.com/akosha/akosha/internal/testenv"
	"github.com/akosha/akosha/schemas"
)

func TestParseExpiryByKind(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[string]time.Duration
		err  string
	}{
		{"", map[string]time.Duration{}, ""},
		{"conversation:720h, reflection:90m", map[string]time.Duration{"conversation": 720 * time.Hour, "reflection": 90 * time.Minute}, ""},
		{"chat:1h", nil, "kind conversation, reflection or memory"},
		{"memory", nil, "want kind:duration"},
		{"memory:1h,memory:2h", nil, "given twice"},
		{"memory:0s", nil, "over 0"},
		{"memory:soon", nil, "Go duration"},
		{"memory:1000000h", nil, "100 years"},
	} {
		got, err := ingest.ParseExpiryByKind(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

// The per-kind default applies to a record that gives no expiry of its
// own; ttl and expires_at win over it; both at once is a 422 for that
// record alone.
func TestIngestExpiryDefaults(t *testing.T) {
	s := startOn(t, testenv.S3(t), auth.Config{Disabled: true}, ingest.Config{ExpiryByKind: map[string]time.Duration{"conversation": time.Hour}})
	recs := memories(4, 77)
	for i := range recs {
		recs[i].Kind = schemas.KindConversation
	}
	own := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Microsecond)
	recs[1].ExpiresAt = &own
	recs[3].Kind = schemas.KindMemory
	body := batch("sys-exp", recs)
	// recs[2] gets a ttl; a fifth record gives both.
	body = []byte(strings.Replace(string(body), `"id":"`+recs[2].ID+`"`, `"id":"`+recs[2].ID+`","ttl":60`, 1))
	body = []byte(strings.Replace(string(body), `}],"system_id"`, `},{"id":"both","content":"x","created_at":"2026-12-01T00:00:00Z","ttl":"1h","expires_at":"2099-01-01T00:00:00Z"}],"system_id"`, 1))
	start := time.Now()
	a := post(t, s.URL+"/v1/memories", body, nil)
	if a.Status != 200 || a.Stored != 4 || !strings.Contains(a.Raw, "not both") {
		t.Fatalf("ingest: %d %s", a.Status, a.Raw)
	}
	tbl, _ := s.lake.Table(schemas.TableMemories)
	snap := tbl.Cached()
	got := map[string]*time.Time{}
	for _, f := range snap.Files() {
		if err := tbl.ReadMemories(ctxT(t), f, func(rows []schemas.MemoryRow) {
			for _, r := range rows {
				got[r.ID] = r.ExpiresAt
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	near := func(id string, d time.Duration) {
		t.Helper()
		e := got[id]
		if e == nil || e.Before(start.Add(d-time.Second)) || e.After(time.Now().Add(d+time.Second)) {
			t.Errorf("%s: expires_at %v, want about now + %s", id, e, d)
		}
	}
	near(recs[0].ID, time.Hour)
	if e := got[recs[1].ID]; e == nil || !e.Equal(own) {
		t.Errorf("own expires_at: %v, want %v", e, own)
	}
	near(recs[2].ID, time.Minute)
	if e := got[recs[3].ID]; e != nil {
		t.Errorf("a kind without a default: expires_at %v", e)
	}
}
