package graph

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/functions/query/sqlresult"
)

// lake answers the statements in turn and counts them.
type lake struct {
	answers [][][]any
	asked   int
}

func (l *lake) Version(string) int64 { return 7 }

func (l *lake) Query(context.Context, string, int) (*sqlresult.Result, error) {
	if l.asked >= len(l.answers) {
		return nil, errors.New("no more statements expected")
	}
	l.asked++
	return &sqlresult.Result{Rows: l.answers[l.asked-1]}, nil
}

func TestNeighbourParameters(t *testing.T) {
	for v, want := range map[string]string{
		"system_id=s1&id=e1&name=Go":                     param.CodeInvalid,
		"direction=out":                                  param.CodeMissing,
		"system_id=s1&id=" + url.QueryEscape(`a"b`):      "invalid_id",
		"system_id=" + url.QueryEscape("s'1") + "&id=e1": param.CodeInvalidSystemID,
		"name=Go&limit=0":                                "invalid_limit",
		"name=Go&direction=up":                           "invalid_direction",
		"name=Go&relation_type=%07":                      "invalid_relation_type",
	} {
		vals, _ := url.ParseQuery(v)
		var pe *param.Error
		if _, err := Neighbours(context.Background(), &lake{}, vals); !errors.As(err, &pe) || pe.Code != want {
			t.Errorf("%s: %v, want %s", v, err, want)
		}
	}
}

// An entity asked for by key that the views do not hold is ErrNotFound,
// before its relations are read.
func TestNeighboursOfAnEntityNotHeld(t *testing.T) {
	l := &lake{answers: [][][]any{{}}}
	_, err := Neighbours(context.Background(), l, url.Values{"system_id": {"s1"}, "id": {"e9"}})
	if !errors.Is(err, ErrNotFound) || l.asked != 1 || !strings.Contains(err.Error(), "e9") {
		t.Errorf("%v after %d statements", err, l.asked)
	}
}

// A name that resolves to neither an entity nor a relation end is
// ErrNotFound; one that does is read as a chain of levels.
func TestPathEndsAndChain(t *testing.T) {
	l := &lake{answers: [][][]any{{{nil, "ghost", false, nil, "go", true}}}}
	if _, err := Path(context.Background(), l, url.Values{"from": {"Ghost"}, "to": {"Go"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown end: %v", err)
	}
	l = &lake{answers: [][][]any{
		{{"akosha", "akosha", true, nil, "go", true}},
		{
			{int64(0), "akosha", "Akosha", "s1", "e1", "Akosha", "project", nil, nil, nil, nil, nil},
			{int64(1), "duckdb", "DuckDB", nil, nil, nil, nil, "out", "s1", "r1", "uses", "{}"},
			{int64(2), "go", "Go", "s2", "e7", "Go", "language", "in", "s2", "r5", "written_in", nil},
		},
	}}
	out, err := Path(context.Background(), l, url.Values{"from": {"s1/e1"}, "to": {"Go"}, "max_hops": {"3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Found || *out.Hops != 2 || out.From != "akosha" || out.To != "go" || len(out.Edges) != 2 || out.Versions["relations"] != 7 {
		t.Fatalf("answer %+v", out)
	}
	if e := out.Edges[1]; e.From != "duckdb" || e.To != "go" || e.Direction != "in" || e.Relation.ID != "r5" || out.Path[1].Entity != nil {
		t.Errorf("edge %+v, node %+v", e, out.Path[1])
	}
}

// Rows that are not one chain between the ends asked are an error, not a
// path.
func TestChainRefusesABrokenChain(t *testing.T) {
	for name, rows := range map[string][][]any{
		"level out of order": {{int64(1), "a", "A"}},
		"no relation":        {{int64(0), "a", "A"}, {int64(1), "b", "B"}},
		"other end":          {{int64(0), "a", "A"}, {int64(1), "c", "C", nil, nil, nil, nil, "out", "s", "r", "t", nil}},
	} {
		if err := chain(&PathResponse{From: "a", To: "b"}, rows); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
