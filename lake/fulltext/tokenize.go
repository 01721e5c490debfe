package fulltext

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The tokenizer follows SQLite FTS5's default, unicode61 with
// remove_diacritics 1, so that a query means the same here as in FTS5 and
// BM25 scores agree (BENCHMARKS.md measures both side by side):
//
//   - A term starts at a letter (L*), a number (N*) or a private-use
//     character (Co), and goes on over those and over the combining
//     diacritics FTS5 knows (a subset of U+0300..U+0331, see isDiacritic),
//     which are dropped. Every other character, ASCII punctuation and '_'
//     included, separates terms.
//   - Terms are case-folded: Unicode simple case folding, so "Straße" and
//     "STRASSE" stay different terms (no full folding, as in FTS5) while "Σ",
//     "σ" and "ς" are one.
//   - A Latin letter with one diacritic loses it ("é" is "e", "İ" is "i"); a
//     letter with two ("ǖ", "ệ") keeps them, which is what remove_diacritics 1
//     does (2 would fold those too).
//   - No stemming and no stop words: FTS5's default has neither, and no
//     maintained Go stemmer covers the languages memories come in.
//
// Known differences from FTS5, all measured over every code point by
// TestTokenizerMatchesFTS5:
//
//   - Character classes come from Go's unicode tables (Unicode 15), FTS5's
//     from Unicode 6.1: letters and digits assigned since (about 5,000 in the
//     supplementary planes) are terms here and separators there.
//   - Invalid UTF-8 separates terms here; FTS5 decodes a stray continuation
//     byte as the code point of its value (0xAA is "ª").
//   - Case folding follows Unicode 15 too: the handful of case pairs added
//     since 6.1 fold here and not there.

// maxTermLen bounds a term's length in bytes (longer runs are cut, at a
// rune boundary). Such runs are base64 blobs or minified code, never
// something a person searches for, and the bound keeps a hostile text from
// making a term of megabytes. FTS5 has no bound, which only matters for
// such runs.
const maxTermLen = 255

// Tokenizer splits text into terms. The zero value is ready to use; it keeps
// a buffer between calls, so one Tokenizer is not for concurrent use.
type Tokenizer struct {
	buf []byte
}

// asciiFold is, for each ASCII byte, the byte it folds to within a term, or
// 0 for a separator.
var asciiFold = func() (t [utf8.RuneSelf]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c)
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = byte(c)
		t[c-'a'+'A'] = byte(c)
	}
	return t
}()

// Each calls fn with each term of text, in order. term is valid only during
// the call (it is the Tokenizer's buffer).
func (t *Tokenizer) Each(text string, fn func(term []byte)) {
	buf := t.buf[:0]
	in := false // inside a term
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			i++
			if f := asciiFold[c]; f != 0 {
				if len(buf) < maxTermLen {
					buf = append(buf, f)
				}
				in = true
			} else if in {
				fn(buf)
				buf, in = buf[:0], false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		f, class := foldRune(r)
		switch {
		case class == classTerm:
			if len(buf)+utf8.RuneLen(f) <= maxTermLen {
				buf = utf8.AppendRune(buf, f)
			}
			in = true
		case class == classDiacritic && in:
			// Inside a term a combining diacritic is dropped: "e\u0301"
			// is "e", like the precomposed "é".
		case in:
			fn(buf)
			buf, in = buf[:0], false
		}
	}
	if in {
		fn(buf)
	}
	t.buf = buf
}

// Tokens returns the terms of text as strings; Each allocates less.
func Tokens(text string) []string {
	var t Tokenizer
	var out []string
	t.Each(text, func(term []byte) { out = append(out, string(term)) })
	return out
}

// Character classes of non-ASCII runes.
const (
	classSep       = iota // separates terms
	classTerm             // part of a term, folded
	classDiacritic        // continues a term, and is dropped
)

// foldTableSize covers Latin, Greek, Cyrillic and the other alphabets below
// U+3000 by a table lookup; beyond it (mostly CJK) runes are classified by
// the unicode package on each call.
const foldTableSize = 0x3000

var (
	foldOnce  sync.Once
	foldTable []int32 // per rune below foldTableSize: the folded rune, or -1-class for the others
)

// foldRune classifies r and, for a term character, returns its folded form.
func foldRune(r rune) (rune, int) {
	if r < foldTableSize {
		foldOnce.Do(buildFoldTable)
		f := foldTable[r]
		if f < 0 {
			return 0, int(-1 - f)
		}
		return f, classTerm
	}
	return slowFold(r)
}

// buildFoldTable runs once, on the first non-ASCII rune: about a millisecond,
// which processes that never see one do not pay.
func buildFoldTable() {
	t := make([]int32, foldTableSize)
	for r := rune(0); r < foldTableSize; r++ {
		f, class := slowFold(r)
		if class != classTerm {
			t[r] = int32(-1 - class)
		} else {
			t[r] = f
		}
	}
	foldTable = t
}

func slowFold(r rune) (rune, int) {
	if !isTermRune(r) {
		if isDiacritic(r) {
			return 0, classDiacritic
		}
		return 0, classSep
	}
	f := caseFold(r)
	if f >= 0xC0 && f < 0x2000 {
		f = removeDiacritic(f)
	}
	return f, classTerm
}

// isTermRune: FTS5's default categories, "L* N* Co", and the code points
// no category claims (unassigned ones, which FTS5's tables also count as
// term characters).
func isTermRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r) || !assigned(r)
}

func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z,
		unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isDiacritic is FTS5's sqlite3Fts5UnicodeIsdiacritic: the combining marks
// U+0300..U+0331 that it treats as part of a term (and removes), a fixed
// set, not the Mn category.
func isDiacritic(r rune) bool {
	const mask0, mask1 = 0x08029FDF, 0x000361F8
	switch {
	case r < 0x300 || r > 0x331:
		return false
	case r < 0x320:
		return mask0&(1<<(r-0x300)) != 0
	default:
		return mask1&(1<<(r-0x320)) != 0
	}
}

// caseFold is Unicode simple case folding (CaseFolding.txt, status C and S),
// which is what FTS5 applies: "ſ" is "s", "µ" is "μ", "ς" is "σ". Go has no
// table for it. Lower-casing gives it for every rune that is not already
// lower case; for those that are, the fold is the lower case of the upper
// case when that is in the rune's folding orbit ("ς" -> "Σ" -> "σ"), and the
// rune itself otherwise ("ı" upper-cases to "I", whose orbit it is not in).
func caseFold(r rune) rune {
	if lo := unicode.ToLower(r); lo != r {
		return lo
	}
	if f := unicode.ToLower(unicode.ToUpper(r)); f != r && foldsTogether(r, f) {
		return f
	}
	return r
}

// foldsTogether reports whether r and f are in one simple case-folding orbit
// (unicode.SimpleFold cycles through it).
func foldsTogether(r, f rune) bool {
	for x := unicode.SimpleFold(r); x != r; x = unicode.SimpleFold(x) {
		if x == f {
			return true
		}
	}
	return false
}

// removeDiacritic maps a Latin letter with exactly one combining diacritic
// (in its canonical decomposition) to its base letter, as FTS5's
// remove_diacritics 1 does for the letters of U+00C0..U+1EFF.
func removeDiacritic(r rune) rune {
	d := norm.NFD.String(string(r))
	base, n := utf8.DecodeRuneInString(d)
	if base >= utf8.RuneSelf || asciiFold[base] == 0 || n == len(d) {
		return r
	}
	mark, m := utf8.DecodeRuneInString(d[n:])
	if n+m != len(d) || mark < 0x300 || mark > 0x36F {
		return r
	}
	return rune(asciiFold[base])
}
