// Package delta reads and writes Delta Lake transaction logs (protocol:
// reader version 1, writer version 2) over a storage.Store.
//
// A table is a key prefix holding data files and a _delta_log/ folder of
// numbered JSON commits, optional Parquet checkpoints and a _last_checkpoint
// hint. A Snapshot is the immutable state of the table at one version: the
// protocol, the metadata, the live data files, the tombstones (removed files
// still in the state) and the application transaction ids (txn actions).
//
// Writers commit a new version with one put-if-absent of its JSON file, so
// exactly one of many concurrent writers wins each version; the losers read
// the winners, check for logical conflicts and retry at the next version.
//
// Only what protocol 1/2 defines is supported. Tables that need more (reader
// versions above 1, reader features, writer versions above 2 for writing)
// are refused with an error wrapping ErrUnsupported rather than misread.
package delta

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

var (
	// ErrConflict means a concurrent commit changed what this commit depends
	// on (it removed or rewrote a file this commit removes, or changed the
	// metadata or protocol). Retrying the same actions cannot succeed: the
	// caller must abort (and delete the data files it wrote).
	ErrConflict = errors.New("delta: conflicting concurrent commit")

	// ErrTxnCommitted means the table already holds a txn action with the
	// same appId as one in this commit: the work was committed before (by an
	// earlier attempt, another pod or a concurrent winner). The returned
	// error is a *TxnCommittedError naming the recorded txn.
	ErrTxnCommitted = errors.New("delta: transaction already committed")

	// ErrUnsupported means the table needs a protocol version or a feature
	// this implementation does not have.
	ErrUnsupported = errors.New("delta: unsupported table protocol or feature")

	// ErrIncompleteLog means the requested version cannot be rebuilt: a JSON
	// commit it needs is missing and no checkpoint covers the gap.
	ErrIncompleteLog = errors.New("delta: incomplete log")

	// ErrUnknownOutcome means a commit write failed in a way that leaves it
	// unknown whether the version was written, and reading it back failed
	// too. The caller must not assume either outcome; a retry with the same
	// txn appId is safe (it returns ErrTxnCommitted if the first one landed).
	ErrUnknownOutcome = errors.New("delta: commit outcome unknown")

	// ErrNoStats is returned by Add.ParsedStats when the add carries no stats.
	ErrNoStats = errors.New("delta: file has no stats")
)

// TxnCommittedError is the error for ErrTxnCommitted: Txn is the txn action
// already in the table for the appId (CommitVersion is the table version
// that recorded it, or -1 when it came from a checkpoint).
type TxnCommittedError struct {
	Txn Txn
}

func (e *TxnCommittedError) Error() string {
	at := "an earlier version (from a checkpoint)"
	if e.Txn.CommitVersion >= 0 {
		at = fmt.Sprintf("version %d", e.Txn.CommitVersion)
	}
	return fmt.Sprintf("delta: transaction already committed: txn appId %q (version %d) recorded at %s",
		e.Txn.AppID, e.Txn.Version, at)
}

// Is makes errors.Is(err, ErrTxnCommitted) true.
func (e *TxnCommittedError) Is(target error) bool { return target == ErrTxnCommitted }

const (
	defaultCheckpointInterval = 100
	defaultMaxCommitAttempts  = 1000
	// readBackTimeout bounds the read that settles an unknown commit outcome;
	// it runs even when the caller's context has ended, because answering
	// "did my commit land?" is what keeps ingest exactly-once.
	readBackTimeout = 30 * time.Second
	// maxIncrementalUpdate is how many new versions Update fetches one by
	// one before it reloads from the newest checkpoint instead.
	maxIncrementalUpdate = 200
	// readConcurrency bounds parallel GETs of commits and checkpoint parts.
	readConcurrency = 8
)

// Table is one Delta table in a store. Its exported fields are options:
// set them before first use and do not change them afterwards. A Table is
// safe for concurrent use; it holds no state besides its options.
type Table struct {
	// CheckpointInterval is the version interval at which Commit writes a
	// checkpoint. 0 uses the table property delta.checkpointInterval, or
	// 100 when the table has none. Negative disables automatic checkpoints.
	CheckpointInterval int64
	// CheckpointPartSize splits checkpoints with more actions than this into
	// a multi-part checkpoint. 0 always writes a single file.
	CheckpointPartSize int
	// MaxCommitAttempts bounds how many versions one Commit tries before it
	// gives up under contention. 0 means 1000 (each try is one conditional
	// PUT after the backoff; the context bounds the time).
	MaxCommitAttempts int
	// Logger receives warnings that do not fail the call (a failed automatic
	// checkpoint, an unreadable _last_checkpoint). nil uses slog.Default().
	Logger *slog.Logger

	store  storage.Store
	prefix string // "" or "memories" (no trailing slash)
	logDir string // "memories/_delta_log/" or "_delta_log/"

	now func() time.Time // tests override the clock
}

// NewTable returns the table whose root is prefix in store ("" for a table
// at the store's root). It does no I/O.
func NewTable(store storage.Store, prefix string) *Table {
	prefix = strings.Trim(prefix, "/")
	logDir := "_delta_log/"
	if prefix != "" {
		logDir = prefix + "/" + logDir
	}
	return &Table{store: store, prefix: prefix, logDir: logDir, now: time.Now}
}

// Prefix is the table's root key prefix, without a trailing slash.
func (t *Table) Prefix() string { return t.prefix }

// Store is the store the table lives in.
func (t *Table) Store() storage.Store { return t.store }

// DataKey is the storage key of a data file named by an add or remove path.
// The log stores paths URI-encoded and relative to the table root; absolute
// URIs (which other writers may use) and paths escaping the table are
// refused.
func (t *Table) DataKey(path string) (string, error) {
	p, err := decodePath(path)
	if err != nil {
		return "", err
	}
	if strings.Contains(p, "://") || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("data path %q: absolute paths are not supported", path)
	}
	key := p
	if t.prefix != "" {
		key = t.prefix + "/" + p
	}
	if err := storage.CheckKey(key); err != nil {
		return "", fmt.Errorf("data path %q: %w", path, err)
	}
	return key, nil
}

func (t *Table) commitKey(v int64) string { return fmt.Sprintf("%s%020d.json", t.logDir, v) }

func (t *Table) checkpointKey(v int64) string {
	return fmt.Sprintf("%s%020d.checkpoint.parquet", t.logDir, v)
}

func (t *Table) checkpointPartKey(v int64, part, parts int) string {
	return fmt.Sprintf("%s%020d.checkpoint.%010d.%010d.parquet", t.logDir, v, part, parts)
}

func (t *Table) lastCheckpointKey() string { return t.logDir + "_last_checkpoint" }

func (t *Table) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

func (t *Table) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

func (t *Table) maxAttempts() int {
	if t.MaxCommitAttempts > 0 {
		return t.MaxCommitAttempts
	}
	return defaultMaxCommitAttempts
}
