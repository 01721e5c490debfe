package jobmetrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/akosha/akosha/lake/storage"
)

// RecordPrefix is where each job's last run is recorded in the lake, one
// object per job: _jobs/<job>.json. A CronJob's pod is gone when someone
// asks how the last compaction went, and a Pushgateway is optional; the
// lake is the one thing every process of a deployment reads, so the query
// function answers from these (GET /v1/lake, the console's Lake page).
// They sit beside _leases/ and _reserved/, outside every table, so no table
// reader, vacuum or verify sees them.
const RecordPrefix = "_jobs/"

// Record is one job's last run, as RecordPrefix holds it.
type Record struct {
	Job             string         `json:"job"`
	Result          string         `json:"result"` // ok, partial, failed or leased (ResultOf)
	ExitCode        int            `json:"exit_code"`
	Error           string         `json:"error,omitempty"`
	StartedAt       time.Time      `json:"started_at"`
	EndedAt         time.Time      `json:"ended_at"`
	DurationSeconds float64        `json:"duration_seconds"`
	Items           map[string]int `json:"items"`
	BytesIn         int64          `json:"bytes_in"`
	BytesOut        int64          `json:"bytes_out"`
	// LastSuccessAt is when the job last ended with exit code 0, this run
	// or an earlier one; nil when no run has succeeded yet.
	LastSuccessAt *time.Time `json:"last_success_at"`
}

// ResultOf names an exit code (README, "Jobs"): 0 ok, 3 partial (some items
// failed), 4 leased (another run held the lease and this one did nothing),
// anything else failed.
func ResultOf(exitCode int) string {
	switch exitCode {
	case 0:
		return "ok"
	case 3:
		return "partial"
	case 4:
		return "leased"
	}
	return "failed"
}

// Record is the run as it ended, with exit code and error.
func (r *Run) Record(exitCode int, runErr error, end time.Time) Record {
	rec := Record{
		Job: r.job, Result: ResultOf(exitCode), ExitCode: exitCode,
		StartedAt: r.start.UTC(), EndedAt: end.UTC(), DurationSeconds: end.Sub(r.start).Seconds(),
		Items: map[string]int{}, BytesIn: r.bytesIn, BytesOut: r.bytesOut,
	}
	for k, v := range r.itemValues {
		rec.Items[k] = v
	}
	if runErr != nil {
		rec.Error = firstLine(runErr.Error(), 300)
	}
	if exitCode == 0 {
		t := rec.EndedAt
		rec.LastSuccessAt = &t
	}
	return rec
}

func firstLine(s string, max int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// WriteRecord stores rec as its job's last run, keeping the previous
// record's LastSuccessAt when this run did not succeed (as the Pushgateway
// keeps last_success_timestamp_seconds).
func WriteRecord(ctx context.Context, store storage.Store, rec Record) error {
	key := RecordPrefix + rec.Job + ".json"
	if rec.LastSuccessAt == nil {
		if b, err := storage.ReadAll(ctx, store, key); err == nil {
			var prev Record
			if json.Unmarshal(b, &prev) == nil {
				rec.LastSuccessAt = prev.LastSuccessAt
			}
		}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := store.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("record the run of job %s: %w", rec.Job, err)
	}
	return nil
}

// ReadRecords reads every job's last run, by job name. An unreadable
// record is skipped: one bad object must not hide the others.
func ReadRecords(ctx context.Context, store storage.Store) ([]Record, error) {
	objs, err := store.List(ctx, RecordPrefix)
	if err != nil && !errors.Is(err, storage.ErrNotExist) {
		return nil, err
	}
	out := []Record{}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".json") {
			continue
		}
		b, err := storage.ReadAll(ctx, store, o.Key)
		if err != nil {
			continue
		}
		var rec Record
		if json.Unmarshal(b, &rec) != nil || rec.Job == "" {
			continue
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Job < out[j].Job })
	return out, nil
}
