package ingest

import "testing"

func TestMatchObject(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int // -1: no match
	}{
		{`{}`, 2},
		{`{"a":"}"} x`, 9},
		{`{"a":"\"}"}`, 11},
		{`{"a":"\\"}`, 10},
		{`{"a":"\\\"}"}`, 13},
		{`{"a":[{"b":"]"}]} ,{}`, 17},
		{`{"a":"`, -1},
		{`{"a":{}`, -1},
		{`[]`, -1},
	} {
		end, ok := matchObject([]byte(c.in), 0)
		if !ok {
			end = -1
		}
		if end != c.end {
			t.Errorf("matchObject(%s) = %d, want %d", c.in, end, c.end)
		}
	}
}

func TestFastSplit(t *testing.T) {
	b, ok := fastSplit([]byte(` {"system_id" : "s-1", "records":[ {"id":"a"} ,{"id":"b\"}"}]} `))
	if !ok || b.SystemID != "s-1" || len(b.Records) != 2 || string(b.Records[1]) != `{"id":"b\"}"}` {
		t.Fatalf("got %+v, %v", b, ok)
	}
	for _, in := range []string{
		`{"records":[{}],"other":1}`,          // other keys: the reference way
		`{"system_id":"\u0073","records":[]}`, // escapes
		`{"records":[null]}`,                  // not an object
		`{"records":[{}]`,                     // unterminated
		`{"records":[{}]}{}`,                  // trailing data
		`{"records":[{}],"records":[{}]}`,     // repeated key
	} {
		if _, ok := fastSplit([]byte(in)); ok {
			t.Errorf("fastSplit(%s) took it", in)
		}
	}
}
