package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// The checkpoint schema below follows the one Spark (Delta 3.x) writes,
// field names, nesting and order included, with every field optional: that
// is the schema every Delta reader (Spark, delta-rs, delta-kernel and so
// DuckDB) is tested against. Only the columns protocol 1/2 defines are
// written: no stats_parsed, deletionVector or domainMetadata.

type ckRow struct {
	Txn      *ckTxn      `parquet:"txn,optional"`
	Add      *ckAdd      `parquet:"add,optional"`
	Remove   *ckRemove   `parquet:"remove,optional"`
	MetaData *ckMetaData `parquet:"metaData,optional"`
	Protocol *ckProtocol `parquet:"protocol,optional"`
}

type ckTxn struct {
	AppID       *string `parquet:"appId,optional"`
	Version     *int64  `parquet:"version,optional"`
	LastUpdated *int64  `parquet:"lastUpdated,optional"`
}

type ckAdd struct {
	Path             *string            `parquet:"path,optional"`
	PartitionValues  map[string]*string `parquet:"partitionValues,optional"`
	Size             *int64             `parquet:"size,optional"`
	ModificationTime *int64             `parquet:"modificationTime,optional"`
	DataChange       *bool              `parquet:"dataChange,optional"`
	Tags             map[string]*string `parquet:"tags,optional"`
	Stats            *string            `parquet:"stats,optional"`
}

type ckRemove struct {
	Path                 *string            `parquet:"path,optional"`
	DeletionTimestamp    *int64             `parquet:"deletionTimestamp,optional"`
	DataChange           *bool              `parquet:"dataChange,optional"`
	ExtendedFileMetadata *bool              `parquet:"extendedFileMetadata,optional"`
	PartitionValues      map[string]*string `parquet:"partitionValues,optional"`
	Size                 *int64             `parquet:"size,optional"`
}

type ckMetaData struct {
	ID               *string            `parquet:"id,optional"`
	Name             *string            `parquet:"name,optional"`
	Description      *string            `parquet:"description,optional"`
	Format           *ckFormat          `parquet:"format,optional"`
	SchemaString     *string            `parquet:"schemaString,optional"`
	PartitionColumns []string           `parquet:"partitionColumns,optional,list"`
	Configuration    map[string]*string `parquet:"configuration,optional"`
	CreatedTime      *int64             `parquet:"createdTime,optional"`
}

type ckFormat struct {
	Provider *string            `parquet:"provider,optional"`
	Options  map[string]*string `parquet:"options,optional"`
}

type ckProtocol struct {
	MinReaderVersion *int32   `parquet:"minReaderVersion,optional"`
	MinWriterVersion *int32   `parquet:"minWriterVersion,optional"`
	ReaderFeatures   []string `parquet:"readerFeatures,optional,list"`
	WriterFeatures   []string `parquet:"writerFeatures,optional,list"`
}

func ptr[T any](v T) *T { return &v }

// optStr maps "" to null, as Spark does for unset strings.
func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ptrMap(m map[string]string) map[string]*string {
	if m == nil {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = ptr(v)
	}
	return out
}

// Checkpoint writes a classic checkpoint of s (%020d.checkpoint.parquet, or
// a multi-part one when CheckpointPartSize is set) and then points
// _last_checkpoint at it. The checkpoint holds the protocol, the metadata,
// every txn, every live file and the tombstones younger than the table's
// delta.deletedFileRetentionDuration (default one week).
//
// Writing one is always safe: a checkpoint of a version describes exactly
// that version, so concurrent writers of the same checkpoint write
// equivalent files, and readers ignore incomplete multi-part sets.
func (t *Table) Checkpoint(ctx context.Context, s *Snapshot) error {
	if s == nil {
		return errors.New("delta: checkpoint of a nil snapshot")
	}
	if err := checkWritable(s.Protocol, s.Metadata); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.Version, err)
	}
	rows := t.checkpointRows(s)
	parts := 1
	if ps := t.CheckpointPartSize; ps > 0 && len(rows) > ps {
		parts = (len(rows) + ps - 1) / ps
	}
	var total int64
	for part := 1; part <= parts; part++ {
		lo := (part - 1) * len(rows) / parts
		hi := part * len(rows) / parts
		data, err := encodeCheckpoint(rows[lo:hi])
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", s.Version, err)
		}
		key := t.checkpointKey(s.Version)
		if parts > 1 {
			key = t.checkpointPartKey(s.Version, part, parts)
		}
		if err := t.store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
			return fmt.Errorf("checkpoint %d: %w", s.Version, err)
		}
		total += int64(len(data))
	}
	lc := lastCheckpoint{Version: s.Version, Size: int64(len(rows)), SizeInBytes: total, NumOfAddFiles: int64(len(s.files))}
	if parts > 1 {
		lc.Parts = &parts
	}
	if err := t.writeLastCheckpoint(ctx, lc); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.Version, err)
	}
	return nil
}

// writeLastCheckpoint updates the hint unless it already names a newer
// checkpoint (a faster writer got there first; moving it back would only
// make readers list more).
func (t *Table) writeLastCheckpoint(ctx context.Context, lc lastCheckpoint) error {
	cur, err := t.readLastCheckpoint(ctx)
	if err != nil {
		return err
	}
	if cur != nil && cur.Version > lc.Version {
		return nil
	}
	b, err := json.Marshal(lc)
	if err != nil {
		return err
	}
	return t.store.Put(ctx, t.lastCheckpointKey(), bytes.NewReader(b), int64(len(b)))
}

// checkpointRows lists the actions of s, protocol and metadata first (some
// readers stop early once they have both).
func (t *Table) checkpointRows(s *Snapshot) []ckRow {
	rows := make([]ckRow, 0, 2+len(s.txns)+len(s.files)+len(s.tombstones))
	p := s.Protocol
	rows = append(rows, ckRow{Protocol: &ckProtocol{
		MinReaderVersion: ptr(int32(p.MinReaderVersion)),
		MinWriterVersion: ptr(int32(p.MinWriterVersion)),
		ReaderFeatures:   p.ReaderFeatures,
		WriterFeatures:   p.WriterFeatures,
	}})
	m := normalizeMetadata(s.Metadata)
	rows = append(rows, ckRow{MetaData: &ckMetaData{
		ID:               ptr(m.ID),
		Name:             optStr(m.Name),
		Description:      optStr(m.Description),
		Format:           &ckFormat{Provider: ptr(m.Format.Provider), Options: ptrMap(m.Format.Options)},
		SchemaString:     ptr(m.SchemaString),
		PartitionColumns: m.PartitionColumns,
		Configuration:    ptrMap(m.Configuration),
		CreatedTime:      ptr(m.CreatedTime),
	}})
	for _, tx := range s.Txns() {
		rows = append(rows, ckRow{Txn: &ckTxn{AppID: ptr(tx.AppID), Version: ptr(tx.Version), LastUpdated: ptr(tx.LastUpdated)}})
	}
	for _, a := range s.files {
		pv := a.PartitionValues
		if pv == nil {
			pv = map[string]*string{}
		}
		rows = append(rows, ckRow{Add: &ckAdd{
			Path:             ptr(a.Path),
			PartitionValues:  pv,
			Size:             ptr(a.Size),
			ModificationTime: ptr(a.ModificationTime),
			DataChange:       ptr(a.DataChange),
			Tags:             ptrMap(a.Tags),
			Stats:            optStr(a.Stats),
		}})
	}
	// Tombstones only matter to readers that may still be reading the file
	// (and to vacuum); past the retention window they are dropped, which is
	// what keeps the checkpoint from growing with every file ever removed.
	horizon := t.clock().Add(-retention(s.Metadata)).UnixMilli()
	for _, r := range s.tombstones {
		if r.DeletionTimestamp != 0 && r.DeletionTimestamp < horizon {
			continue
		}
		rm := &ckRemove{
			Path:              ptr(r.Path),
			DeletionTimestamp: ptr(r.DeletionTimestamp),
			DataChange:        ptr(r.DataChange),
		}
		if r.ExtendedFileMetadata {
			rm.ExtendedFileMetadata = ptr(true)
			rm.PartitionValues = r.PartitionValues
			if rm.PartitionValues == nil {
				rm.PartitionValues = map[string]*string{}
			}
			rm.Size = ptr(r.Size)
		}
		rows = append(rows, ckRow{Remove: rm})
	}
	return rows
}

func encodeCheckpoint(rows []ckRow) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[ckRow](&buf,
		parquet.Compression(&snappy.Codec{}),
		parquet.DataPageVersion(1), // the protocol's SHOULD, for other engines
		parquet.CreatedBy("akosha-delta", "1", ""))
	const batch = 1024
	for len(rows) > 0 {
		n := min(batch, len(rows))
		if _, err := w.Write(rows[:n]); err != nil {
			return nil, fmt.Errorf("write parquet: %w", err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("write parquet: %w", err)
	}
	return buf.Bytes(), nil
}

const defaultRetention = 7 * 24 * time.Hour

// retention parses delta.deletedFileRetentionDuration ("interval 1 week",
// "interval 168 hours", ...), defaulting to one week.
func retention(m Metadata) time.Duration {
	s, ok := m.Configuration["delta.deletedFileRetentionDuration"]
	if !ok {
		return defaultRetention
	}
	if d, ok := parseInterval(s); ok {
		return d
	}
	return defaultRetention
}

// parseInterval parses Spark's calendar interval strings as used by table
// properties: "interval <n> <unit>" (the "interval" keyword is optional).
func parseInterval(s string) (time.Duration, bool) {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) > 0 && f[0] == "interval" {
		f = f[1:]
	}
	if len(f) != 2 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := strings.TrimSuffix(f[1], "s")
	var d time.Duration
	switch unit {
	case "microsecond":
		d = time.Microsecond
	case "millisecond":
		d = time.Millisecond
	case "second":
		d = time.Second
	case "minute":
		d = time.Minute
	case "hour":
		d = time.Hour
	case "day":
		d = 24 * time.Hour
	case "week":
		d = 7 * 24 * time.Hour
	default:
		return 0, false
	}
	return time.Duration(n) * d, true
}

// checkpointInterval is the interval for automatic checkpoints, or 0 when
// they are disabled.
func (t *Table) checkpointInterval(m Metadata) int64 {
	switch {
	case t.CheckpointInterval > 0:
		return t.CheckpointInterval
	case t.CheckpointInterval < 0:
		return 0
	}
	if v, err := strconv.ParseInt(m.Configuration["delta.checkpointInterval"], 10, 64); err == nil && v > 0 {
		return v
	}
	return defaultCheckpointInterval
}
