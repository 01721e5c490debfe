package importer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
)

// batcher cuts one source table into batches and commits each with its own
// txn. A batch is a run of consecutive rows in storage order, ended by the
// plan's row count or by maxBatchBytes, so the same upload is always cut the
// same way; its txn appId names (upload, table, batch index) and its txn
// version records the row count of the plan. A batch whose txn is already in
// the lake (an earlier run crashed after it, or a concurrent run got there
// first) is read past without being decoded or staged.
type batcher struct {
	j     *job
	log   *slog.Logger
	s     *source
	alias string
	t     *tableSpec
	m     *Manifest
	res   *UploadResult
	table *lake.Table
	cols  map[string]string
	total int64

	plan  int // rows per batch
	stats TableStats
}

// record is what the schemas record types have in common.
type record[R any] interface {
	*R
	Normalize()
	Validate(now time.Time) error
}

type appendFunc[R any] func(ctx context.Context, recs []R, txns ...delta.Txn) (*delta.CommitResult, error)

func runBatches[R any, P record[R]](ctx context.Context, b *batcher, conv func(*row, *Manifest) R, appendRecs appendFunc[R]) (TableStats, bool, error) {
	b.plan = b.j.opts.BatchSize
	// The first run to commit a batch of this table fixed the plan; a run
	// with another BatchSize finishes the upload with it rather than cutting
	// different batches (which would import rows twice).
	if tx, ok := b.table.Cached().Txn(batchAppID(b.m.Prefix, b.t.name, 0)); ok && tx.Version > 0 && int(tx.Version) != b.plan {
		b.log.Info("resuming with the batch size the upload was started with", "batch_size", tx.Version)
		b.plan = int(tx.Version)
	}

	rows, err := b.s.conn.QueryContext(ctx, b.t.selectSQL(b.alias, b.cols))
	if err != nil {
		return b.stats, false, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()

	vals := make([]any, 2*len(b.t.columns))
	dest := make([]any, len(vals))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var (
		batch     int
		n         int   // rows in the current batch
		size      int64 // their bytes, as row.bytes counts them
		recs      []R
		committed bool
		now       = time.Now()
	)
	skip := b.isCommitted(batch)
	flush := func() error {
		did, err := commitBatch(ctx, b, batch, skip, recs, appendRecs)
		committed = committed || did
		batch++
		n, size = 0, 0
		clear(recs) // let the records go before the next batch is read
		recs = recs[:0]
		skip = b.isCommitted(batch)
		return err
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return b.stats, committed, fmt.Errorf("read row %d: %w", b.stats.Rows, err)
		}
		r := row{t: b.t, v: vals}
		n++
		size += r.bytes()
		b.stats.Rows++
		if !skip {
			rec := conv(&r, b.m)
			err := r.err
			if err == nil {
				P(&rec).Normalize()
				err = P(&rec).Validate(now)
			}
			if err != nil {
				b.invalid(&r, err)
			} else {
				recs = append(recs, rec)
			}
		}
		if n >= b.plan || size >= maxBatchBytes {
			if err := flush(); err != nil {
				return b.stats, committed, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return b.stats, committed, fmt.Errorf("read row %d: %w", b.stats.Rows, err)
	}
	if n > 0 {
		if err := flush(); err != nil {
			return b.stats, committed, err
		}
	}
	return b.stats, committed, nil
}

func (b *batcher) isCommitted(batch int) bool {
	_, ok := b.table.Cached().Txn(batchAppID(b.m.Prefix, b.t.name, batch))
	return ok
}

// commitBatch appends one batch with its txn. A batch with no valid rows is still
// committed (a txn alone), so that every batch of an upload leaves its mark
// and the plan can always be read back from batch 0.
func commitBatch[R any](ctx context.Context, b *batcher, batch int, skip bool, recs []R, appendRecs appendFunc[R]) (bool, error) {
	report := func(committed bool) {
		b.j.progress(Event{Phase: PhaseBatch, Upload: b.m.Prefix, Table: b.t.name, Batch: batch,
			Rows: b.stats.Rows, TableRows: b.total, Committed: committed})
	}
	if skip {
		b.stats.SkippedBatches++
		report(false)
		return false, nil
	}
	txn := delta.Txn{AppID: batchAppID(b.m.Prefix, b.t.name, batch), Version: int64(b.plan), LastUpdated: time.Now().UnixMilli()}
	_, err := appendRecs(ctx, recs, txn)
	var done *delta.TxnCommittedError
	switch {
	case errors.As(err, &done):
		if done.Txn.Version != int64(b.plan) {
			return false, fmt.Errorf("batch %d: a concurrent import cuts batches of %d rows, this one of %d: the next run will finish the upload",
				batch, done.Txn.Version, b.plan)
		}
		b.stats.SkippedBatches++
		report(false)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("commit batch %d: %w", batch, err)
	}
	b.stats.Batches++
	b.stats.Imported += int64(len(recs))
	report(true)
	return true, nil
}

// invalid counts a refused row and keeps the first few for the summary.
func (b *batcher) invalid(r *row, err error) {
	b.stats.Invalid++
	id, _ := r.v[2*b.t.index["id"]].(string)
	if b.stats.Invalid <= 5 {
		b.log.Warn("invalid row skipped", "id", clip(id), "err", err)
	}
	if len(b.res.Invalid) < maxRowErrors {
		b.res.Invalid = append(b.res.Invalid, RowError{Table: b.t.name, ID: clip(id), Err: err})
	}
}
