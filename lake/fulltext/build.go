package fulltext

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strings"
)

// Doc is what a segment indexes of one record: its content and its tags.
// They make one bag of terms, as the two columns of an FTS5 table do for
// bm25(): a term's frequency is its count in both, the document's length the
// terms of both.
type Doc struct {
	Content string
	Tags    []string
}

// Builder accumulates documents in memory and writes one segment. Documents
// come in increasing doc number order (the index job numbers them as the
// rows it reads, like the vector index's node ids); numbers may skip, and
// the segment keeps a 4-byte length for every number up to the largest, so
// they should be dense.
//
// Memory is about the size of the serialized segment plus 64 bytes per
// distinct term. A Builder is not for concurrent use.
type Builder struct {
	tok      Tokenizer
	emit     func([]byte) // b.addToken, bound once: a method value allocates
	ids      termTable
	terms    []buildTerm
	docLens  []uint32
	docs     uint64
	tokens   uint64
	cur      uint32   // doc number + 1 of the document being added
	curLen   uint32   // its tokens so far
	docTerms []uint32 // its distinct terms, in order of first occurrence
}

type buildTerm struct {
	text   string
	post   []byte // postings as in the segment, without skip tables
	base   uint32 // one more than the last doc in post
	df     uint32
	maxTF  uint32
	minDL  uint32
	curTF  uint32 // in the document being added
	seenIn uint32 // Builder.cur when curTF was reset
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	b := &Builder{ids: newTermTable()}
	b.emit = b.addToken
	return b
}

// Docs is the number of documents added.
func (b *Builder) Docs() int { return int(b.docs) }

// Add indexes doc number n. Numbers must increase from one call to the next.
func (b *Builder) Add(n uint32, d Doc) error {
	if b.docs > 0 && n < b.cur {
		return fmt.Errorf("fulltext: add doc %d after doc %d: numbers must increase", n, b.cur-1)
	}
	if uint64(n) >= maxDocSpan {
		return fmt.Errorf("fulltext: doc number %d is beyond the limit %d", n, uint64(maxDocSpan-1))
	}
	b.cur, b.curLen = n+1, 0
	b.docTerms = b.docTerms[:0]
	b.tok.Each(d.Content, b.emit)
	for _, t := range d.Tags {
		b.tok.Each(t, b.emit)
	}
	dl := b.curLen
	for _, id := range b.docTerms {
		t := &b.terms[id]
		t.post = appendPosting(t.post, n-t.base, t.curTF)
		t.base = n + 1
		t.df++
		t.maxTF = max(t.maxTF, t.curTF)
		t.minDL = min(t.minDL, dl)
	}
	if gap := int(n) - len(b.docLens); gap > 0 {
		b.docLens = append(b.docLens, make([]uint32, gap)...)
	}
	b.docLens = append(b.docLens, dl)
	b.docs++
	b.tokens += uint64(dl)
	return nil
}

func (b *Builder) addToken(term []byte) {
	b.curLen++
	h := maphash.Bytes(termSeed, term)
	id, ok := b.ids.find(h, term, b.terms)
	if !ok {
		id = uint32(len(b.terms))
		b.terms = append(b.terms, buildTerm{text: string(term), minDL: math.MaxUint32})
		b.ids.insert(h, id, b.terms)
	}
	t := &b.terms[id]
	if t.seenIn != b.cur {
		t.seenIn, t.curTF = b.cur, 0
		b.docTerms = append(b.docTerms, id)
	}
	t.curTF++
}

// termSeed hashes terms for the Builder's table; any seed does.
var termSeed = maphash.MakeSeed()

// termTable maps term bytes to term ids: open addressing over one array of
// 8-byte slots (the hash's high half beside the id + 1), which is what
// dominated building with a Go map (a lookup per token, about half the
// build's time): a probe compares 32 bits of hash and only then the bytes.
type termTable struct {
	slots []uint64
	n     int
}

func newTermTable() termTable { return termTable{slots: make([]uint64, 1<<12)} }

func (t *termTable) find(h uint64, term []byte, terms []buildTerm) (uint32, bool) {
	mask := uint64(len(t.slots) - 1)
	tag := h >> 32
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == tag {
			if id := uint32(s) - 1; terms[id].text == string(term) {
				return id, true
			}
		}
	}
}

// insert adds id under hash h, growing the table past half full.
func (t *termTable) insert(h uint64, id uint32, terms []buildTerm) {
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		t.slots = make([]uint64, 2*len(old))
		for _, s := range old {
			if s != 0 {
				t.put(maphash.String(termSeed, terms[uint32(s)-1].text), s)
			}
		}
	}
	t.put(h, h>>32<<32|uint64(id+1))
	t.n++
}

func (t *termTable) put(h, slot uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = slot
}

// appendPosting encodes one posting: the gap and whether tf is 1 in one
// uvarint (most terms occur once in a memory, so most postings take one or
// two bytes), then tf when it is not 1.
func appendPosting(dst []byte, gap, tf uint32) []byte {
	v := uint64(gap) << 1
	if tf == 1 {
		return binary.AppendUvarint(dst, v|1)
	}
	dst = binary.AppendUvarint(dst, v)
	return binary.AppendUvarint(dst, uint64(tf))
}

// skipTable computes the skip entries of a term's postings (nil when they
// fit one block): for each block of blockSize postings its last doc and its
// end offset in post.
func skipTable(post []byte, df uint32) []byte {
	if df <= blockSize {
		return nil
	}
	out := make([]byte, 0, skipSize*((df+blockSize-1)/blockSize))
	var base uint64
	pos := 0
	for i := uint32(1); i <= df; i++ {
		v, n := binary.Uvarint(post[pos:])
		pos += n
		if v&1 == 0 {
			_, n = binary.Uvarint(post[pos:])
			pos += n
		}
		doc := base + v>>1
		base = doc + 1
		if i%blockSize == 0 || i == df {
			out = binary.LittleEndian.AppendUint32(out, uint32(doc))
			out = binary.LittleEndian.AppendUint32(out, uint32(pos))
		}
	}
	return out
}

// WriteTo writes the segment. It does not change the Builder: more
// documents may be added and the result written again.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	order := make([]uint32, len(b.terms))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(x, y uint32) int { return strings.Compare(b.terms[x].text, b.terms[y].text) })
	skips := make(map[uint32][]byte)
	var termBytes, postings uint64
	for _, id := range order {
		t := &b.terms[id]
		if s := skipTable(t.post, t.df); s != nil {
			if uint64(len(t.post)) > math.MaxUint32 {
				return 0, fmt.Errorf("fulltext: postings of %q exceed 4 GiB", t.text)
			}
			skips[id] = s
		}
		termBytes += uint64(len(t.text))
		postings += uint64(len(skips[id]) + len(t.post))
	}
	if termBytes > math.MaxUint32 {
		return 0, fmt.Errorf("fulltext: %d bytes of terms exceed the format's 4 GiB", termBytes)
	}
	h := header{
		terms:        uint32(len(order)),
		docs:         b.docs,
		tokens:       b.tokens,
		docSpan:      uint32(len(b.docLens)),
		blockSize:    blockSize,
		termBytesLen: termBytes,
		postingsLen:  postings,
	}
	body := func(emit func([]byte) error) error {
		return b.writeBody(order, skips, emit)
	}
	// The body's checksum goes in the header, so the body is produced twice:
	// once into the hash, once into w. Producing it is cheap next to
	// holding a second copy of the postings.
	crc := uint32(0)
	_ = body(func(p []byte) error { crc = crc32.Update(crc, castagnoli, p); return nil })
	h.bodyCRC = crc
	hb := h.encode()
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	emit := func(p []byte) error {
		m, err := bw.Write(p)
		n += int64(m)
		return err
	}
	if err := emit(hb[:]); err != nil {
		return n, fmt.Errorf("fulltext: write segment: %w", err)
	}
	if err := body(emit); err != nil {
		return n, fmt.Errorf("fulltext: write segment: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("fulltext: write segment: %w", err)
	}
	return n, nil
}

func (b *Builder) writeBody(order []uint32, skips map[uint32][]byte, emit func([]byte) error) error {
	le := binary.LittleEndian
	const chunk = 64 << 10
	buf := make([]byte, 0, chunk+256)
	flush := func(force bool) error {
		if len(buf) == 0 || (!force && len(buf) < chunk) {
			return nil
		}
		err := emit(buf)
		buf = buf[:0]
		return err
	}
	for _, dl := range b.docLens {
		buf = le.AppendUint32(buf, dl)
		if err := flush(false); err != nil {
			return err
		}
	}
	var termOff, postOff uint64
	for _, id := range order {
		t := &b.terms[id]
		buf = le.AppendUint32(buf, uint32(termOff))
		buf = le.AppendUint32(buf, t.df)
		buf = le.AppendUint64(buf, postOff)
		buf = le.AppendUint32(buf, t.maxTF)
		buf = le.AppendUint32(buf, t.minDL)
		termOff += uint64(len(t.text))
		postOff += uint64(len(skips[id]) + len(t.post))
		if err := flush(false); err != nil {
			return err
		}
	}
	buf = le.AppendUint32(buf, uint32(termOff)) // the sentinel
	buf = le.AppendUint32(buf, 0)
	buf = le.AppendUint64(buf, postOff)
	buf = le.AppendUint32(buf, 0)
	buf = le.AppendUint32(buf, 0)
	if err := flush(true); err != nil {
		return err
	}
	for _, id := range order {
		buf = append(buf, b.terms[id].text...)
		if err := flush(false); err != nil {
			return err
		}
	}
	if err := flush(true); err != nil {
		return err
	}
	for _, id := range order {
		if s := skips[id]; s != nil {
			if err := emit(s); err != nil {
				return err
			}
		}
		if p := b.terms[id].post; len(p) > 0 {
			if err := emit(p); err != nil {
				return err
			}
		}
	}
	return nil
}
