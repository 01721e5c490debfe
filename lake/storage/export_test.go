package storage

// What the external tests see of the internals.

const RangeEnds = rangeEnds

// Ends says which bytes a RangeReader holds: [0, head) and, when hasTail,
// [tailOff, size).
func (r *RangeReader) Ends() (head int, tailOff int64, hasTail bool) {
	return len(r.head), r.tailOff, r.tail != nil
}

// ReadSized is ReadAll's buffer filling, with the size hint given.
var ReadSized = readSized
