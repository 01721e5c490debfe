package gen

import (
	"slices"
	"strings"
	"testing"
)

func TestSessionText(t *testing.T) {
	words := map[string]int{}
	for i := range 300 {
		s := SessionText(7, i)
		if len(s) < 300 || len(s) > 900 {
			t.Fatalf("record %d: %d bytes", i, len(s))
		}
		if s != SessionText(7, i) {
			t.Fatalf("record %d differs between calls", i)
		}
		if tags := SessionTags(7, i); len(tags) < 1 || len(tags) > 3 || !slices.Equal(tags, SessionTags(7, i)) {
			t.Fatalf("record %d: tags %v", i, tags)
		}
		for _, w := range strings.Fields(s) {
			words[w]++
		}
	}
	if SessionText(7, 0) == SessionText(8, 0) {
		t.Error("seeds 7 and 8 give the same text")
	}
	// Zipf-like: a head of words nearly everywhere and a tail seen once.
	once := 0
	for _, n := range words {
		if n == 1 {
			once++
		}
	}
	if words["the"] < 300 || once < len(words)/4 {
		t.Errorf("%d distinct words, %d seen once, \"the\" %d times", len(words), once, words["the"])
	}
}
