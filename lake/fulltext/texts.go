package fulltext

import (
	"hash/maphash"
	"math"
)

// Texts scores documents exactly, without a segment: the rows of data files
// no segment covers yet, tokenized when a query needs them and searched
// with the same code and the same statistics as the segments, so their
// scores compare with the segments'. It is an in-memory index (a Builder
// that is never serialized), cheap for the few thousand rows that fresh
// files hold; past that, the index job's segments are the better place.
//
// Doc numbers are positions in the slice given to NewTexts. A Texts is
// immutable and safe for concurrent searches.
type Texts struct {
	b *Builder
}

// NewTexts tokenizes docs.
func NewTexts(docs []Doc) *Texts {
	b := NewBuilder()
	for i, d := range docs {
		// Numbers increase from 0, so Add cannot fail below maxDocSpan,
		// far beyond what belongs in memory here.
		_ = b.Add(uint32(i), d)
	}
	return &Texts{b: b}
}

// Docs is the number of documents.
func (t *Texts) Docs() int { return t.b.Docs() }

// Stats returns the documents' statistics with the document frequencies of
// terms, for MergeStats.
func (t *Texts) Stats(terms []string) (Stats, error) { return indexStats(t.b, terms) }

// Search returns the k best documents for q, as Segment.Search does.
func (t *Texts) Search(q Query, o Options) ([]Hit, error) { return search(t.b, q, o) }

// The index methods of a Builder: its postings are a segment's without skip
// tables.

// Stats returns the statistics of the documents added so far, with the
// document frequencies of terms.
func (b *Builder) Stats(terms []string) (Stats, error) { return indexStats(b, terms) }

func (b *Builder) lookup(term string) (termInfo, bool, error) {
	id, ok := b.ids.find(maphash.String(termSeed, term), []byte(term), b.terms)
	if !ok {
		return termInfo{}, false, nil
	}
	t := &b.terms[id]
	return termInfo{df: t.df, maxTF: t.maxTF, minDL: t.minDL, blocks: t.post}, true, nil
}

func (b *Builder) cursor(ti termInfo) cursor {
	return cursor{data: ti.blocks, left: ti.df, df: ti.df, bs: math.MaxUint32,
		docSpan: uint32(len(b.docLens)), doc: noDoc}
}

func (b *Builder) docLen(doc uint32) uint32 { return b.docLens[doc] }

func (b *Builder) counts() (docs, tokens uint64) { return b.docs, b.tokens }
