package schemas

import "testing"

func TestSplitBatch(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		sys     string
		records []string
		ok      bool
	}{
		{"two records", `{"system_id":"s","records":[{"id":"a"}, {"id":"b"}]}`, "s", []string{`{"id":"a"}`, `{"id":"b"}`}, true},
		{"records first, unknown keys skipped", ` {"records":[1,"x",null],"extra":{"a":[1]},"system_id":"s"} `, "s", []string{`1`, `"x"`, `null`}, true},
		{"no system_id", `{"records":[{}]}`, "", []string{`{}`}, true},
		{"null system_id", `{"system_id":null,"records":[]}`, "", nil, true},
		{"missing records", `{"system_id":"s"}`, "", nil, false},
		{"records not an array", `{"records":{}}`, "", nil, false},
		{"system_id not a string", `{"system_id":1,"records":[]}`, "", nil, false},
		{"trailing data", `{"records":[]} x`, "", nil, false},
		{"truncated", `{"records":[{"id":`, "", nil, false},
		{"top-level array", `[{"id":"a"}]`, "", nil, false},
	}
	for _, c := range cases {
		b, err := SplitBatch([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
			continue
		}
		if !c.ok {
			continue
		}
		if b.SystemID != c.sys || len(b.Records) != len(c.records) {
			t.Errorf("%s: got %q with %d records", c.name, b.SystemID, len(b.Records))
			continue
		}
		for i := range c.records {
			if string(b.Records[i]) != c.records[i] {
				t.Errorf("%s: record %d = %s, want %s", c.name, i, b.Records[i], c.records[i])
			}
		}
	}
}

func FuzzSplitBatch(f *testing.F) {
	f.Add([]byte(`{"system_id":"s","records":[{"id":"a"},{"id":"b"}]}`))
	f.Add([]byte(`{"records":[[[[[]]]]]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := SplitBatch(in)
		if err != nil {
			return
		}
		for _, r := range b.Records {
			if len(r) == 0 {
				t.Fatal("empty record slice")
			}
		}
	})
}
