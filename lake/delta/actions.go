package delta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
)

// Action is one line of a commit: exactly one field is set. Unknown action
// types (cdc, domainMetadata, ...) are skipped when reading.
type Action struct {
	Add        *Add           `json:"add,omitempty"`
	Remove     *Remove        `json:"remove,omitempty"`
	Txn        *Txn           `json:"txn,omitempty"`
	MetaData   *Metadata      `json:"metaData,omitempty"`
	Protocol   *Protocol      `json:"protocol,omitempty"`
	CommitInfo map[string]any `json:"commitInfo,omitempty"`
}

// Add makes a data file part of the table.
type Add struct {
	// Path is the file's URI-encoded path relative to the table root, exactly
	// as written in the log. DecodedPath gives the file name.
	Path string `json:"path"`
	// PartitionValues maps every partition column to its value in
	// serialized form; nil means a null partition value.
	PartitionValues  map[string]*string `json:"partitionValues"`
	Size             int64              `json:"size"`
	ModificationTime int64              `json:"modificationTime"`
	DataChange       bool               `json:"dataChange"`
	// Stats is the JSON statistics string, "" when the writer recorded none.
	Stats string            `json:"stats,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
	// DeletionVector is only read so that files carrying one can be refused:
	// protocol 1 readers cannot apply them.
	DeletionVector *DeletionVector `json:"deletionVector,omitempty"`
}

// Remove takes a data file out of the table; it stays in the state as a
// tombstone so that vacuum and concurrent readers know about it.
type Remove struct {
	Path                 string             `json:"path"`
	DeletionTimestamp    int64              `json:"deletionTimestamp,omitempty"`
	DataChange           bool               `json:"dataChange"`
	ExtendedFileMetadata bool               `json:"extendedFileMetadata,omitempty"`
	PartitionValues      map[string]*string `json:"partitionValues,omitempty"`
	Size                 int64              `json:"size,omitempty"`
	Tags                 map[string]string  `json:"tags,omitempty"`
	DeletionVector       *DeletionVector    `json:"deletionVector,omitempty"`
}

// MarshalJSON writes partitionValues and size even when empty if
// extendedFileMetadata is set: the flag promises readers that they are there.
func (r Remove) MarshalJSON() ([]byte, error) {
	type plain Remove // no methods: no recursion
	if !r.ExtendedFileMetadata {
		return json.Marshal(plain(r))
	}
	pv := r.PartitionValues
	if pv == nil {
		pv = map[string]*string{}
	}
	return json.Marshal(struct {
		plain
		PartitionValues map[string]*string `json:"partitionValues"`
		Size            int64              `json:"size"`
	}{plain(r), pv, r.Size})
}

// DeletionVector describes rows deleted from a file (reader version 3).
type DeletionVector struct {
	StorageType    string `json:"storageType"`
	PathOrInlineDv string `json:"pathOrInlineDv"`
	Offset         *int32 `json:"offset,omitempty"`
	SizeInBytes    int32  `json:"sizeInBytes"`
	Cardinality    int64  `json:"cardinality"`
}

// Txn records the progress of an application (an idempotency key).
type Txn struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated int64  `json:"lastUpdated,omitempty"`
	// CommitVersion is the table version whose commit recorded the txn, or -1
	// when the txn was read from a checkpoint (the log no longer says which
	// version wrote it). It is not part of the log format.
	CommitVersion int64 `json:"-"`
}

// Metadata is the table's metaData action.
type Metadata struct {
	ID               string            `json:"id"`
	Name             string            `json:"name,omitempty"`
	Description      string            `json:"description,omitempty"`
	Format           Format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      int64             `json:"createdTime,omitempty"`
}

// Format names the data file format.
type Format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

// Schema parses SchemaString.
func (m Metadata) Schema() (*StructType, error) {
	if m.SchemaString == "" {
		return nil, errors.New("delta: metaData has no schemaString")
	}
	var s StructType
	if err := json.Unmarshal([]byte(m.SchemaString), &s); err != nil {
		return nil, fmt.Errorf("delta: schemaString: %w", err)
	}
	return &s, nil
}

// Protocol is the table's protocol action.
type Protocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// DecodedPath is the data file path with the log's URI encoding removed
// (decoded exactly once: "x=A%252FA/f" names the file "x=A%2FA/f"). It
// returns Path unchanged when Path is not valid percent-encoding.
func (a Add) DecodedPath() string {
	if p, err := decodePath(a.Path); err == nil {
		return p
	}
	return a.Path
}

// DecodedPath is the tombstone's file path without URI encoding.
func (r Remove) DecodedPath() string {
	if p, err := decodePath(r.Path); err == nil {
		return p
	}
	return r.Path
}

func decodePath(p string) (string, error) {
	d, err := url.PathUnescape(p)
	if err != nil {
		return "", fmt.Errorf("data path %q: %w", p, err)
	}
	return d, nil
}

// EncodePath URI-encodes a relative file path for Add.Path: each segment is
// escaped, slashes are kept.
func EncodePath(p string) string {
	var b []byte
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			b = append(b, url.PathEscape(p[start:i])...)
			if i < len(p) {
				b = append(b, '/')
			}
			start = i + 1
		}
	}
	return string(b)
}

// RemoveAt is the remove action that deletes a from the table at time ts,
// carrying the file's metadata (extendedFileMetadata) as Spark does.
func (a Add) RemoveAt(ts int64) Remove {
	return Remove{
		Path:                 a.Path,
		DeletionTimestamp:    ts,
		DataChange:           true,
		ExtendedFileMetadata: true,
		PartitionValues:      a.PartitionValues,
		Size:                 a.Size,
		Tags:                 a.Tags,
	}
}

// Stats are the per-file statistics of an add.
type Stats struct {
	// NumRecords is the file's row count, -1 when the stats omit it.
	NumRecords int64
	// MinValues, MaxValues and NullCount are keyed by column name (nested
	// for structs); numbers are json.Number.
	MinValues map[string]any
	MaxValues map[string]any
	NullCount map[string]any
	// TightBounds is nil unless the writer recorded it.
	TightBounds *bool
}

// ParsedStats decodes Stats. It returns ErrNoStats when there are none.
func (a Add) ParsedStats() (Stats, error) {
	if a.Stats == "" {
		return Stats{NumRecords: -1}, ErrNoStats
	}
	var raw struct {
		NumRecords  *int64         `json:"numRecords"`
		MinValues   map[string]any `json:"minValues"`
		MaxValues   map[string]any `json:"maxValues"`
		NullCount   map[string]any `json:"nullCount"`
		TightBounds *bool          `json:"tightBounds"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(a.Stats)))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Stats{NumRecords: -1}, fmt.Errorf("delta: stats of %s: %w", a.Path, err)
	}
	s := Stats{NumRecords: -1, MinValues: raw.MinValues, MaxValues: raw.MaxValues,
		NullCount: raw.NullCount, TightBounds: raw.TightBounds}
	if raw.NumRecords != nil {
		s.NumRecords = *raw.NumRecords
	}
	return s, nil
}

// ParseCommit decodes one JSON commit file: newline-delimited actions.
// Blank lines and unknown action types (cdc, domainMetadata, ...) are
// skipped; a malformed line is an error naming it. (Key matching follows
// encoding/json and is case-insensitive, which is harmless for logs written
// by Delta writers.)
func ParseCommit(data []byte) ([]Action, error) {
	return parseCommit(data, true)
}

// leanAction is Action without commitInfo: replay never needs commit
// provenance, and skipping it saves decoding a free-form map per commit.
type leanAction struct {
	Add      *Add      `json:"add"`
	Remove   *Remove   `json:"remove"`
	Txn      *Txn      `json:"txn"`
	MetaData *Metadata `json:"metaData"`
	Protocol *Protocol `json:"protocol"`
}

func parseCommit(data []byte, withCommitInfo bool) ([]Action, error) {
	actions := make([]Action, 0, bytes.Count(data, []byte{'\n'})+1)
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			return nil, fmt.Errorf("line %d: not a JSON object", lineNo)
		}
		var a Action
		if withCommitInfo {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&a); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			if dec.More() {
				return nil, fmt.Errorf("line %d: trailing data after action", lineNo)
			}
		} else {
			var l leanAction
			if err := json.Unmarshal(line, &l); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			a = Action{Add: l.Add, Remove: l.Remove, Txn: l.Txn, MetaData: l.MetaData, Protocol: l.Protocol}
		}
		if err := a.validate(); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		// One line holds one action; should a writer put several keys on
		// one line, keep them all, in a fixed order.
		for _, one := range a.split() {
			actions = append(actions, one)
		}
	}
	return actions, nil
}

// validate rejects actions whose required fields are missing.
func (a *Action) validate() error {
	switch {
	case a.Add != nil && a.Add.Path == "":
		return errors.New("add action without path")
	case a.Remove != nil && a.Remove.Path == "":
		return errors.New("remove action without path")
	case a.Txn != nil && a.Txn.AppID == "":
		return errors.New("txn action without appId")
	}
	if a.Txn != nil {
		a.Txn.CommitVersion = -1
	}
	return nil
}

// split returns one Action per set field (usually exactly one).
func (a Action) split() []Action {
	n := 0
	for _, set := range []bool{a.Protocol != nil, a.MetaData != nil, a.Txn != nil, a.Remove != nil, a.Add != nil, a.CommitInfo != nil} {
		if set {
			n++
		}
	}
	if n <= 1 {
		if n == 0 {
			return nil
		}
		return []Action{a}
	}
	out := make([]Action, 0, n)
	if a.CommitInfo != nil {
		out = append(out, Action{CommitInfo: a.CommitInfo})
	}
	if a.Protocol != nil {
		out = append(out, Action{Protocol: a.Protocol})
	}
	if a.MetaData != nil {
		out = append(out, Action{MetaData: a.MetaData})
	}
	if a.Txn != nil {
		out = append(out, Action{Txn: a.Txn})
	}
	if a.Remove != nil {
		out = append(out, Action{Remove: a.Remove})
	}
	if a.Add != nil {
		out = append(out, Action{Add: a.Add})
	}
	return out
}

// kinds counts the set fields of an action.
func (a Action) kinds() int {
	n := 0
	if a.Add != nil {
		n++
	}
	if a.Remove != nil {
		n++
	}
	if a.Txn != nil {
		n++
	}
	if a.MetaData != nil {
		n++
	}
	if a.Protocol != nil {
		n++
	}
	if a.CommitInfo != nil {
		n++
	}
	return n
}

// encodeCommit writes actions as newline-delimited JSON. Maps that the
// protocol requires to be present (partitionValues, configuration, format
// options) are written as {} rather than null.
func encodeCommit(actions []Action) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i, a := range actions {
		a = normalizeForWrite(a)
		if err := enc.Encode(a); err != nil { // Encode appends '\n'
			return nil, fmt.Errorf("action %d: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

func normalizeForWrite(a Action) Action {
	if a.Add != nil && a.Add.PartitionValues == nil {
		c := *a.Add
		c.PartitionValues = map[string]*string{}
		a.Add = &c
	}
	if a.MetaData != nil {
		m := normalizeMetadata(*a.MetaData)
		a.MetaData = &m
	}
	return a
}

func normalizeMetadata(m Metadata) Metadata {
	if m.PartitionColumns == nil {
		m.PartitionColumns = []string{}
	}
	if m.Configuration == nil {
		m.Configuration = map[string]string{}
	}
	if m.Format.Provider == "" {
		m.Format.Provider = "parquet"
	}
	if m.Format.Options == nil {
		m.Format.Options = map[string]string{}
	}
	return m
}

// clone returns a deep copy of m, so a Snapshot never shares mutable maps
// with a caller.
func (m Metadata) clone() Metadata {
	m.PartitionColumns = slices.Clone(m.PartitionColumns)
	m.Configuration = maps.Clone(m.Configuration)
	m.Format.Options = maps.Clone(m.Format.Options)
	return m
}

func (p Protocol) clone() Protocol {
	p.ReaderFeatures = slices.Clone(p.ReaderFeatures)
	p.WriterFeatures = slices.Clone(p.WriterFeatures)
	return p
}
