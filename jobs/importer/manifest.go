package importer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Names inside an upload. Session-Buddy keeps the databases' own names even
// when it gzips them (cloud_sync.py: REFLECTION_DB_NAME, KNOWLEDGE_GRAPH_DB_NAME).
const (
	ManifestName     = "manifest.json"
	ReflectionDB     = "reflection.duckdb"
	KnowledgeGraphDB = "knowledge_graph.duckdb"
	// MarkerName is written into an upload's folder once it is imported. It is
	// a courtesy for people and bucket lifecycle rules; the lake's txn actions
	// decide what is done (see the package documentation).
	MarkerName = ".akosha-imported"
)

const (
	systemsPrefix    = "systems/"
	maxManifestBytes = 1 << 20
	maxUploadIDLen   = 200
	maxFileNameLen   = 255
)

// ErrInvalidUpload marks an upload refused because of what it contains: a
// manifest in the wrong place or shape, a file name with path tricks, a system
// id outside the lake's charset, a checksum or size that does not match, a
// file over the size limits, or a database that is not Session-Buddy's. A
// refused upload changes nothing; it is reported on every run until fixed.
var ErrInvalidUpload = errors.New("invalid upload")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidUpload, fmt.Sprintf(format, args...))
}

// Compression of an uploaded file.
const (
	compressionGzip = "gzip"
	compressionNone = "none"
	compressionAuto = "" // not stated: sniffed from the gzip magic number
)

// Manifest is a validated manifest.json: where the upload is and which of its
// files Akosha reads.
type Manifest struct {
	Key      string // systems/<sid>/uploads/<uid>/manifest.json
	Prefix   string // systems/<sid>/uploads/<uid>
	SystemID string
	UploadID string
	// Time is when Session-Buddy made the upload (zero if the manifest does
	// not say or says it in a form we do not read; it is informational).
	Time  time.Time
	Files []File // known databases only, at most one of each
	// Ignored are files the manifest lists that Akosha does not read (their
	// names were checked and are harmless).
	Ignored []string
}

// File is one database of an upload. The object key is always Prefix + "/" +
// Name: nothing in the manifest can point the importer anywhere else.
type File struct {
	Name        string
	Compression string // gzip, none, or "" to sniff
	// Size is size_bytes from the manifest, 0 when unknown (Session-Buddy
	// writes 0 today). It may be the stored or the decompressed size; either
	// must match.
	Size int64
	// SHA256 is the lower-case hex checksum, "" when unknown (Session-Buddy
	// writes "" today). It may cover the stored or the decompressed bytes.
	SHA256 string
}

// Key is the file's object key in the source store.
func (m *Manifest) key(f File) string { return m.Prefix + "/" + f.Name }

// splitManifestKey recognises systems/<sid>/uploads/<uid>/manifest.json and
// returns its parts without judging them: a key of that shape is an upload,
// valid or not, and is reported either way.
func splitManifestKey(key string) (sid, uid string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 5 || parts[0] != "systems" || parts[2] != "uploads" || parts[4] != ManifestName {
		return "", "", false
	}
	return parts[1], parts[3], true
}

// checkSystemID holds system ids to the lake's rule, ^[A-Za-z0-9_-]{1,100}$,
// because the id becomes a partition directory and part of txn app ids.
// Session-Buddy falls back to $HOSTNAME, which may contain dots: such a
// system must set AKOSHA_SYSTEM_ID.
func checkSystemID(s string) error {
	if s == "" || len(s) > schemas.MaxSystemIDLen {
		return invalid("system id %q: want 1 to %d characters", clip(s), schemas.MaxSystemIDLen)
	}
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) {
			return invalid("system id %q: only letters, digits, '_' and '-' are allowed (set AKOSHA_SYSTEM_ID in Session-Buddy)", clip(s))
		}
	}
	return nil
}

// checkName checks an upload id or a file name: a single path element of
// letters, digits, '_', '-' and '.', not "." and without "..".
func checkName(what, s string, maxLen int) error {
	if s == "" || len(s) > maxLen {
		return invalid("%s %q: want 1 to %d characters", what, clip(s), maxLen)
	}
	if s == "." || strings.Contains(s, "..") {
		return invalid("%s %q: path traversal", what, clip(s))
	}
	for i := 0; i < len(s); i++ {
		if !idChar(s[i]) && s[i] != '.' {
			return invalid("%s %q: only letters, digits, '_', '-' and '.' are allowed", what, clip(s))
		}
	}
	return nil
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// clip shortens hostile input before it goes into an error message or a log.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// rawManifest accepts both shapes in the wild: what Session-Buddy's
// CloudSyncMethod writes (upload_id, system_id, timestamp, files as objects
// with a per-file compression) and Akosha's Python SystemMemoryUploadManifest
// (uploaded_at, files as plain names, compressed + compression_format).
type rawManifest struct {
	UploadID          string            `json:"upload_id"`
	SystemID          string            `json:"system_id"`
	Timestamp         string            `json:"timestamp"`
	UploadedAt        string            `json:"uploaded_at"`
	Files             []json.RawMessage `json:"files"`
	Compressed        *bool             `json:"compressed"`
	CompressionFormat string            `json:"compression_format"`
}

type rawFile struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	SizeBytes   int64  `json:"size_bytes"`
	Compression string `json:"compression"`
	Checksum    string `json:"checksum"`
}

// readManifest fetches and parses the manifest at key.
func readManifest(ctx context.Context, src storage.Store, key string) (*Manifest, error) {
	rc, err := src.Get(ctx, key, 0, maxManifestBytes+1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, invalid("%s is larger than %d bytes", key, maxManifestBytes)
	}
	return parseManifest(key, data)
}

// parseManifest validates a manifest found at key. Everything that names a
// place is checked against the key: the manifest can only describe files in
// its own folder, for the system whose folder it is in.
func parseManifest(key string, data []byte) (*Manifest, error) {
	sid, uid, ok := splitManifestKey(key)
	if !ok {
		return nil, invalid("%q is not systems/<system id>/uploads/<upload id>/%s", clip(key), ManifestName)
	}
	if err := checkSystemID(sid); err != nil {
		return nil, err
	}
	if err := checkName("upload id", uid, maxUploadIDLen); err != nil {
		return nil, err
	}
	m := &Manifest{Key: key, Prefix: systemsPrefix + sid + "/uploads/" + uid, SystemID: sid, UploadID: uid}

	var raw rawManifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, invalid("%s: not a manifest: %v", key, err)
	}
	if dec.More() {
		return nil, invalid("%s: trailing data after the manifest object", key)
	}
	if raw.SystemID != "" && raw.SystemID != sid {
		return nil, invalid("%s: system_id %q does not match the folder's %q", key, clip(raw.SystemID), sid)
	}
	if raw.UploadID != "" && raw.UploadID != uid {
		return nil, invalid("%s: upload_id %q does not match the folder's %q", key, clip(raw.UploadID), uid)
	}
	for _, s := range []string{raw.Timestamp, raw.UploadedAt} {
		if t, err := schemas.ParseTime(s); err == nil {
			m.Time = t
			break
		}
	}
	defaultCompression, err := raw.defaultCompression()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}

	seen := map[string]bool{}
	for i, rf := range raw.Files {
		f, err := parseFile(m.Prefix, rf, defaultCompression)
		if err != nil {
			return nil, fmt.Errorf("%s: files[%d]: %w", key, i, err)
		}
		if seen[f.Name] {
			return nil, invalid("%s: %s is listed twice", key, f.Name)
		}
		seen[f.Name] = true
		switch f.Name {
		case ReflectionDB, KnowledgeGraphDB:
			m.Files = append(m.Files, f)
		default:
			m.Ignored = append(m.Ignored, f.Name)
		}
	}
	if len(m.Files) == 0 {
		return nil, invalid("%s: lists neither %s nor %s", key, ReflectionDB, KnowledgeGraphDB)
	}
	return m, nil
}

func (r *rawManifest) defaultCompression() (string, error) {
	if r.Compressed == nil {
		if r.CompressionFormat != "" {
			return "", invalid("compression_format without compressed")
		}
		return compressionAuto, nil
	}
	if !*r.Compressed {
		if r.CompressionFormat != "" {
			return "", invalid("compression_format %q but compressed is false", clip(r.CompressionFormat))
		}
		return compressionNone, nil
	}
	return checkCompression(r.CompressionFormat)
}

func checkCompression(c string) (string, error) {
	switch c {
	case compressionGzip, compressionNone:
		return c, nil
	case "zstd", "lz4":
		return "", invalid("compression %q is not supported (Session-Buddy writes gzip)", c)
	}
	return "", invalid("unknown compression %q", clip(c))
}

// parseFile reads one entry of files: an object (Session-Buddy) or a plain
// name (Akosha's Python schema).
func parseFile(prefix string, raw json.RawMessage, defaultCompression string) (File, error) {
	var rf rawFile
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
		if err := json.Unmarshal(t, &rf.Name); err != nil {
			return File{}, invalid("%v", err)
		}
		if strings.Contains(rf.Name, "/") {
			rf.Path, rf.Name = rf.Name, rf.Name[strings.LastIndexByte(rf.Name, '/')+1:]
		}
	} else if err := json.Unmarshal(raw, &rf); err != nil {
		return File{}, invalid("%v", err)
	}
	if err := checkName("file name", rf.Name, maxFileNameLen); err != nil {
		return File{}, err
	}
	if rf.Path != "" {
		if err := checkPath(rf.Path, prefix+"/"+rf.Name); err != nil {
			return File{}, err
		}
	}
	f := File{Name: rf.Name, Compression: defaultCompression, Size: rf.SizeBytes}
	if rf.Compression != "" {
		c, err := checkCompression(rf.Compression)
		if err != nil {
			return File{}, err
		}
		f.Compression = c
	}
	if rf.SizeBytes < 0 {
		return File{}, invalid("size_bytes %d is negative", rf.SizeBytes)
	}
	if rf.Checksum != "" {
		sum := strings.ToLower(strings.TrimPrefix(rf.Checksum, "sha256:"))
		if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
			return File{}, invalid("checksum %q is not a SHA-256 hex digest", clip(rf.Checksum))
		}
		f.SHA256 = sum
	}
	return f, nil
}

// checkPath checks a file's path field. The importer never reads from it (the
// key is always the manifest's folder plus the checked name), so it only has
// to agree: the key itself, or the key after a bucket URL or store prefix
// ("s3://bucket/systems/..."), with no traversal anywhere.
func checkPath(path, want string) error {
	if strings.ContainsAny(path, "\\\x00") {
		return invalid("path %q: backslash or NUL", clip(path))
	}
	rest := path
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	for _, el := range strings.Split(rest, "/") {
		if el == "." || el == ".." {
			return invalid("path %q: path traversal", clip(path))
		}
	}
	if path != want && !strings.HasSuffix(path, "/"+want) {
		return invalid("path %q is not this upload's %q", clip(path), want)
	}
	return nil
}
