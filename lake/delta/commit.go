package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/akosha/akosha/lake/storage"
)

// CommitResult describes a successful commit.
type CommitResult struct {
	// Version is the table version the commit became.
	Version int64
	// Attempts counts the versions tried (1 when nobody raced us).
	Attempts int
	// Snapshot is the table at Version: the base, every concurrent winner
	// and this commit, so the caller does not need to read the log again.
	Snapshot *Snapshot
}

// engineInfo is written in commitInfo so that a log can be traced back.
const engineInfo = "akosha-delta"

// Create writes version 0 of a new table: protocol 1/2 and meta, with an ID
// (a new UUID when meta.ID is empty), format parquet and createdTime filled
// in when missing. It fails with an error wrapping storage.ErrExists when
// the table already exists.
func (t *Table) Create(ctx context.Context, meta Metadata) (*Snapshot, error) {
	fail := func(err error) error { return fmt.Errorf("delta table %q: create: %w", t.prefix, err) }
	m := normalizeMetadata(meta.clone())
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.CreatedTime == 0 {
		m.CreatedTime = t.clock().UnixMilli()
	}
	proto := Protocol{MinReaderVersion: 1, MinWriterVersion: 2}
	if err := validateMetadata(m); err != nil {
		return nil, fail(err)
	}
	if err := checkWritable(proto, m); err != nil {
		return nil, fail(err)
	}
	// A table whose old commits were cleaned up has no 0.json any more but
	// always has a checkpoint hint: never start a second history over it.
	if _, err := t.store.Head(ctx, t.lastCheckpointKey()); err == nil {
		return nil, fail(fmt.Errorf("table has a _last_checkpoint: %w", storage.ErrExists))
	} else if !errors.Is(err, storage.ErrNotExist) {
		return nil, fail(err)
	}
	partitionBy, _ := json.Marshal(m.PartitionColumns)
	actions := []Action{
		{CommitInfo: map[string]any{
			"timestamp":           t.clock().UnixMilli(),
			"operation":           "CREATE TABLE",
			"operationParameters": map[string]any{"partitionBy": string(partitionBy)},
			"engineInfo":          engineInfo,
			"txnId":               uuid.NewString(),
		}},
		{Protocol: &proto},
		{MetaData: &m},
	}
	data, err := encodeCommit(actions)
	if err != nil {
		return nil, fail(err)
	}
	for attempt := 1; ; attempt++ {
		won, existing, err := t.tryPut(ctx, 0, data, attempt > 1)
		if err != nil {
			return nil, fail(err)
		}
		if existing != nil {
			return nil, fail(fmt.Errorf("version 0: %w", storage.ErrExists))
		}
		if won {
			break
		}
		if attempt >= t.maxAttempts() {
			return nil, fail(fmt.Errorf("version 0: %w", ErrUnknownOutcome))
		}
		if err := sleepJitter(ctx, attempt); err != nil {
			return nil, fail(err)
		}
	}
	b := newBuilder(nil)
	b.apply(0, actions, false)
	return b.finish()
}

// Commit writes actions as the version after base. When other writers won
// the race for that version, it reads their commits and retries at the next
// free version, unless a winner conflicts:
//
//   - a winner removed or re-added a file this commit removes: ErrConflict;
//   - a winner recorded a txn with an appId this commit records:
//     ErrTxnCommitted (a *TxnCommittedError naming the winner's txn);
//   - a winner changed the metadata or the protocol: ErrConflict.
//
// Appends (adds only) never conflict. A txn appId already present in base
// fails with ErrTxnCommitted before anything is written. A commitInfo
// action in actions is merged into the one Commit writes (timestamp,
// operation "WRITE", readVersion, txnId, engineInfo are filled in).
//
// If writing the version fails without a clear answer (a timeout), the
// version is read back: holding our exact bytes means the commit landed.
func (t *Table) Commit(ctx context.Context, base *Snapshot, actions []Action) (*CommitResult, error) {
	if base == nil {
		return nil, fmt.Errorf("delta table %q: commit: nil base snapshot", t.prefix)
	}
	v := base.Version + 1
	fail := func(err error) error { return fmt.Errorf("delta table %q: commit %d: %w", t.prefix, v, err) }
	if err := checkWritable(base.Protocol, base.Metadata); err != nil {
		return nil, fail(err)
	}
	in, body, err := t.prepare(base, actions)
	if err != nil {
		return nil, fail(err)
	}
	for id := range in.txns {
		if tx, ok := base.Txn(id); ok {
			return nil, fail(&TxnCommittedError{Txn: tx})
		}
	}
	for p := range in.removes {
		if _, ok := base.File(p); !ok {
			return nil, fail(fmt.Errorf("%w: %s is not a live file at version %d", ErrConflict, p, base.Version))
		}
	}
	data, err := encodeCommit(body)
	if err != nil {
		return nil, fail(err)
	}

	b := newBuilder(base)
	ambiguous := false // an earlier attempt at v may have landed
	for attempt := 1; ; attempt++ {
		if attempt > t.maxAttempts() {
			return nil, fail(fmt.Errorf("gave up after %d attempts: the log moves faster than this writer can commit", t.maxAttempts()))
		}
		if err := ctx.Err(); err != nil {
			if ambiguous {
				err = errors.Join(ErrUnknownOutcome, err)
			}
			return nil, fail(err)
		}
		won, existing, err := t.tryPut(ctx, v, data, ambiguous)
		if err != nil {
			return nil, fail(err)
		}
		if won {
			b.apply(v, body, false)
			snap, err := b.finish()
			if err != nil {
				return nil, fail(fmt.Errorf("committed, but building the snapshot failed: %w", err))
			}
			t.maybeCheckpoint(ctx, snap)
			return &CommitResult{Version: v, Attempts: attempt, Snapshot: snap}, nil
		}
		if existing == nil {
			// The write failed and the version is still free: try it again.
			ambiguous = true
		} else {
			// Lost the race: fold in every winner so far, then retry after
			// the last of them.
			ambiguous = false
			var winnerTS int64
			for existing != nil {
				winner, err := parseCommit(existing, false)
				if err != nil {
					return nil, fail(fmt.Errorf("winner %d: %w", v, err))
				}
				winnerTS = max(winnerTS, commitTimestamp(existing))
				if err := in.check(v, winner); err != nil {
					return nil, fail(err)
				}
				b.apply(v, winner, false)
				v++
				existing, err = storage.ReadAll(ctx, t.store, t.commitKey(v))
				if errors.Is(err, storage.ErrNotExist) {
					existing = nil
				} else if err != nil {
					return nil, fail(err)
				}
			}
			// The commit lands after the winners, so its time must not be
			// before theirs: as_of resolves a time by binary search over
			// the commit times (VersionAt), which needs them in version
			// order. A time taken before losing the race would put it
			// before the winners' (a compaction that lost to an ingest).
			if info := body[0].CommitInfo; info != nil {
				info["timestamp"] = max(t.clock().UnixMilli(), winnerTS)
				if data, err = encodeCommit(body); err != nil {
					return nil, fail(err)
				}
			}
		}
		if err := sleepJitter(ctx, attempt); err != nil {
			if ambiguous {
				err = errors.Join(ErrUnknownOutcome, err)
			}
			return nil, fail(err)
		}
	}
}

// tryPut writes data as version v with put-if-absent. It returns won when
// the version now holds data (written now, or by an earlier attempt whose
// answer was lost), or the bytes of the other writer's version, or neither
// when the write failed and the version is still free. ambiguous says an
// earlier attempt at v had an unknown outcome, so failing to read v back
// leaves the outcome unknown too.
func (t *Table) tryPut(ctx context.Context, v int64, data []byte, ambiguous bool) (won bool, existing []byte, err error) {
	key := t.commitKey(v)
	perr := t.store.PutIfAbsent(ctx, key, bytes.NewReader(data), int64(len(data)))
	if perr == nil {
		return true, nil, nil
	}
	if !errors.Is(perr, storage.ErrExists) {
		ambiguous = true
	}
	// Read the version back. This read must run even when ctx has ended
	// (a timeout is the typical unknown outcome), so it gets its own
	// bounded context.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readBackTimeout)
	defer cancel()
	got, rerr := storage.ReadAll(rctx, t.store, key)
	switch {
	case rerr == nil && bytes.Equal(got, data):
		return true, nil, nil
	case rerr == nil:
		return false, got, nil
	case errors.Is(rerr, storage.ErrNotExist) && !errors.Is(perr, storage.ErrExists):
		// The write did not land (yet). Retrying at the same version is
		// safe: if the first write lands late the retry finds our bytes.
		t.logger().Warn("delta: commit write failed, version still free; retrying",
			"table", t.prefix, "version", v, "err", perr)
		return false, nil, nil
	case ambiguous:
		return false, nil, fmt.Errorf("%w: write: %v; read-back: %w", ErrUnknownOutcome, perr, rerr)
	default:
		return false, nil, fmt.Errorf("reading the winning version: %w", rerr)
	}
}

// sleepJitter waits a random time that grows with the attempt number, so
// that writers who lost the same race do not collide again in lockstep.
// The growth stops early (at 8 ms): a loser has just read up to the newest
// version, so its next try is as good as anyone's, and long backoffs only
// starve the writers that lost most (measured with 16 writers on the S3
// server: a 128 ms cap gave a 1.2 s p99 commit latency, 8 ms about 1 s).
func sleepJitter(ctx context.Context, attempt int) error {
	limit := time.Millisecond << min(attempt, 3) // 2 ms .. 8 ms
	timer := time.NewTimer(rand.N(limit))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *Table) maybeCheckpoint(ctx context.Context, s *Snapshot) {
	iv := t.checkpointInterval(s.Metadata)
	if iv <= 0 || s.Version == 0 || s.Version%iv != 0 {
		return
	}
	// A checkpoint only speeds up readers: its failure must not turn a
	// successful commit into an error.
	if err := t.Checkpoint(ctx, s); err != nil {
		t.logger().Warn("delta: checkpoint failed", "table", t.prefix, "version", s.Version, "err", err)
	}
}

// intent is what a commit depends on, for checking concurrent winners.
type intent struct {
	removes map[string]bool
	adds    map[string]bool
	txns    map[string]bool
	// meta: the commit changes the metadata (say, the partitioning), which
	// it decided on the whole table as of its base: any file a winner
	// added or removed meanwhile is a conflict.
	meta bool
}

// check returns the conflict between this commit and a winner at version v.
// A txn collision is reported first: the caller's request is then already
// done, which matters more than any file conflict.
func (in *intent) check(v int64, winner []Action) error {
	for _, a := range winner {
		if a.Txn != nil && in.txns[a.Txn.AppID] {
			tx := *a.Txn
			tx.CommitVersion = v
			return &TxnCommittedError{Txn: tx}
		}
	}
	for _, a := range winner {
		switch {
		case a.Remove != nil && in.removes[a.Remove.Path]:
			return fmt.Errorf("%w: version %d removed %s, which this commit removes", ErrConflict, v, a.Remove.Path)
		case a.Add != nil && in.removes[a.Add.Path]:
			return fmt.Errorf("%w: version %d rewrote %s, which this commit removes", ErrConflict, v, a.Add.Path)
		case a.Add != nil && in.adds[a.Add.Path]:
			return fmt.Errorf("%w: version %d added %s, which this commit adds too", ErrConflict, v, a.Add.Path)
		case in.meta && (a.Add != nil || a.Remove != nil):
			return fmt.Errorf("%w: version %d changed files, and this commit changes the metadata of the table as it was before", ErrConflict, v)
		case a.MetaData != nil:
			return fmt.Errorf("%w: version %d changed the table metadata", ErrConflict, v)
		case a.Protocol != nil:
			return fmt.Errorf("%w: version %d changed the table protocol", ErrConflict, v)
		}
	}
	return nil
}

// prepare validates actions against base and returns the commit's intent
// and the actions to write, commitInfo first.
func (t *Table) prepare(base *Snapshot, actions []Action) (*intent, []Action, error) {
	in := &intent{removes: map[string]bool{}, adds: map[string]bool{}, txns: map[string]bool{}}
	meta := base.Metadata
	var userInfo map[string]any
	sawMeta := false
	body := make([]Action, 1, len(actions)+1)
	for i, a := range actions {
		if a.kinds() != 1 {
			return nil, nil, fmt.Errorf("action %d: exactly one of add, remove, txn, metaData, protocol, commitInfo must be set", i)
		}
		switch {
		case a.CommitInfo != nil:
			if userInfo != nil {
				return nil, nil, fmt.Errorf("action %d: more than one commitInfo", i)
			}
			userInfo = a.CommitInfo
			continue
		case a.MetaData != nil:
			m := normalizeMetadata(a.MetaData.clone())
			if err := validateMetadata(m); err != nil {
				return nil, nil, fmt.Errorf("action %d: %w", i, err)
			}
			if m.ID != base.Metadata.ID {
				return nil, nil, fmt.Errorf("action %d: metaData id %q differs from the table's %q", i, m.ID, base.Metadata.ID)
			}
			if sawMeta {
				return nil, nil, fmt.Errorf("action %d: more than one metaData", i)
			}
			sawMeta = true
			in.meta = true
			meta = m
			a = Action{MetaData: &m}
		case a.Protocol != nil:
			if err := checkWritable(*a.Protocol, meta); err != nil {
				return nil, nil, fmt.Errorf("action %d: %w", i, err)
			}
		case a.Txn != nil:
			a = Action{Txn: ptr(*a.Txn)}
			if a.Txn.AppID == "" {
				return nil, nil, fmt.Errorf("action %d: txn without appId", i)
			}
			if in.txns[a.Txn.AppID] {
				return nil, nil, fmt.Errorf("action %d: txn appId %q twice in one commit", i, a.Txn.AppID)
			}
			in.txns[a.Txn.AppID] = true
		case a.Remove != nil:
			r := a.Remove
			if r.Path == "" {
				return nil, nil, fmt.Errorf("action %d: remove without path", i)
			}
			if r.DeletionVector != nil {
				return nil, nil, fmt.Errorf("action %d: %w: deletion vectors", i, ErrUnsupported)
			}
			if r.DataChange && meta.Configuration["delta.appendOnly"] == "true" {
				return nil, nil, fmt.Errorf("action %d: table is append-only (delta.appendOnly=true): cannot remove %s", i, r.Path)
			}
			if in.removes[r.Path] {
				return nil, nil, fmt.Errorf("action %d: %s removed twice in one commit", i, r.Path)
			}
			in.removes[r.Path] = true
			c := *r
			c.PartitionValues, c.Tags = maps.Clone(r.PartitionValues), maps.Clone(r.Tags)
			a = Action{Remove: &c}
		case a.Add != nil:
			ad := a.Add
			if ad.Path == "" {
				return nil, nil, fmt.Errorf("action %d: add without path", i)
			}
			if ad.DeletionVector != nil {
				return nil, nil, fmt.Errorf("action %d: %w: deletion vectors", i, ErrUnsupported)
			}
			if in.adds[ad.Path] {
				return nil, nil, fmt.Errorf("action %d: %s added twice in one commit", i, ad.Path)
			}
			in.adds[ad.Path] = true
			// The snapshot keeps these: copy them so that a caller reusing
			// its Add values cannot change committed state.
			c := *ad
			c.PartitionValues, c.Tags = maps.Clone(ad.PartitionValues), maps.Clone(ad.Tags)
			a = Action{Add: &c}
		}
		body = append(body, a)
	}
	// Partition values are checked against the metadata in force after
	// this commit (it may change the partitioning).
	for _, a := range body[1:] {
		if a.Add == nil {
			continue
		}
		if err := checkPartitionValues(a.Add, meta.PartitionColumns); err != nil {
			return nil, nil, err
		}
	}
	info := map[string]any{
		"timestamp":      t.clock().UnixMilli(),
		"operation":      "WRITE",
		"readVersion":    base.Version,
		"isolationLevel": "Serializable",
		"isBlindAppend":  len(in.removes) == 0,
		"engineInfo":     engineInfo,
		"txnId":          uuid.NewString(),
	}
	maps.Copy(info, userInfo)
	body[0] = Action{CommitInfo: info}
	return in, body, nil
}

func checkPartitionValues(a *Add, cols []string) error {
	if len(a.PartitionValues) != len(cols) {
		return fmt.Errorf("add %s: partition values %v do not match partition columns %v", a.Path, keys(a.PartitionValues), cols)
	}
	for _, c := range cols {
		if _, ok := a.PartitionValues[c]; !ok {
			return fmt.Errorf("add %s: no value for partition column %q", a.Path, c)
		}
	}
	return nil
}

func keys(m map[string]*string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// validateMetadata checks what a writer must get right in metaData.
func validateMetadata(m Metadata) error {
	if m.ID == "" {
		return errors.New("metaData without id")
	}
	if m.Format.Provider != "parquet" {
		return fmt.Errorf("metaData format %q: only parquet is supported", m.Format.Provider)
	}
	s, err := m.Schema()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range m.PartitionColumns {
		if seen[c] {
			return fmt.Errorf("partition column %q listed twice", c)
		}
		seen[c] = true
		if _, ok := s.Field(c); !ok {
			return fmt.Errorf("partition column %q is not in the schema", c)
		}
	}
	return nil
}

// commitTimestamp is the commitInfo timestamp (Unix ms) of a commit's
// bytes; 0 when it has none.
func commitTimestamp(data []byte) int64 {
	acts, err := parseCommit(data, true)
	if err != nil {
		return 0
	}
	for _, a := range acts {
		switch ts := a.CommitInfo["timestamp"].(type) {
		case json.Number:
			if ms, err := ts.Int64(); err == nil {
				return ms
			}
		case float64:
			return int64(ts)
		case int64:
			return ts
		}
	}
	return 0
}
