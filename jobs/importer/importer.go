package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
	"github.com/akosha/akosha/schemas"
)

// Defaults of Options.
const (
	DefaultBatchSize        = 5000
	DefaultMaxDownloadBytes = 4 << 30  // one stored (compressed) file
	DefaultMaxDatabaseBytes = 16 << 30 // one decompressed database
)

// maxBatchBytes also ends a batch, so that 5,000 rows of 1 MiB content do not
// become 5 GB in memory. It is part of the batch plan that txn ids depend on:
// changing it would re-cut the batches of half-imported uploads. Change the
// appIDPrefix with it.
const maxBatchBytes = 64 << 20

const appIDPrefix = "akosha-import:"

// maxRowErrors bounds the invalid rows an UploadResult keeps (all are counted).
const maxRowErrors = 20

// ErrUploadsFailed is returned (wrapped) by Run when it finished but some
// uploads could not be imported; the Summary says which and why.
var ErrUploadsFailed = errors.New("some uploads failed")

// Options configure Run. The zero value imports everything with the defaults.
type Options struct {
	// DryRun lists the uploads and says which are done and which pending,
	// reading only manifests: nothing is downloaded, committed or written.
	DryRun bool
	// BatchSize is the number of source rows per commit (default 5,000). An
	// upload that a run with another batch size started is finished with
	// that run's size, which the lake records.
	BatchSize int
	// TempDir is where each upload's databases are unpacked, in a private
	// directory removed afterwards (default os.TempDir()). It needs room for
	// the decompressed databases of one upload.
	TempDir string
	// Systems limits the run to these system ids (default: all).
	Systems []string
	// MaxDownloadBytes and MaxDatabaseBytes bound one file of an upload as
	// stored and once decompressed; a larger one is refused.
	MaxDownloadBytes int64
	MaxDatabaseBytes int64
	// NoMarker skips writing the .akosha-imported marker into imported
	// uploads (for a read-only source bucket).
	NoMarker bool
	// Progress, if set, is called from Run's goroutine as work advances.
	Progress func(Event)
	// Logger receives the job's log lines (default slog.Default()).
	Logger *slog.Logger
}

// Run imports every Session-Buddy upload of src that the lake does not hold
// yet, oldest first within each system (so that later uploads' versions of a
// record are the later commits). A refused or failing upload is reported and
// the run goes on with the next; Run then returns an error wrapping
// ErrUploadsFailed alongside the complete Summary. A cancelled ctx stops the
// run at once; everything committed so far stays, and the next run resumes
// after it.
func Run(ctx context.Context, src storage.Store, l *lake.Lake, opts Options) (Summary, error) {
	sum := Summary{Tables: map[string]TableStats{}}
	if src == nil || l == nil {
		return sum, errors.New("import: no source store or no lake")
	}
	if err := opts.check(); err != nil {
		return sum, err
	}
	j := &job{src: src, lake: l, opts: opts.withDefaults()}
	j.log = j.opts.Logger

	keys, markers, err := j.list(ctx)
	if err != nil {
		return sum, err
	}
	sum.Seen = len(keys)
	// One refresh for the whole listing: deciding that an upload is done is
	// then a map lookup, however many uploads the bucket keeps.
	if err := j.refresh(ctx); err != nil {
		return sum, err
	}
	for i, key := range keys {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		j.pos = position{index: i + 1, total: len(keys)}
		res := j.upload(ctx, key, markers)
		sum.add(res)
		j.progress(Event{Phase: PhaseDone, Upload: res.Prefix, Status: res.Status, Err: res.Err})
		if err := ctx.Err(); err != nil {
			return sum, err
		}
	}
	j.log.Info("import finished", "uploads", sum.Seen, "imported", sum.Imported, "skipped", sum.Skipped,
		"failed", sum.Failed, "pending", sum.Pending, "dry_run", j.opts.DryRun)
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%w: %d of %d", ErrUploadsFailed, sum.Failed, sum.Seen)
	}
	return sum, nil
}

func (o Options) check() error {
	if o.BatchSize < 0 {
		return fmt.Errorf("import: batch size %d is negative", o.BatchSize)
	}
	if o.MaxDownloadBytes < 0 || o.MaxDatabaseBytes < 0 {
		return errors.New("import: size limits must not be negative")
	}
	for _, sid := range o.Systems {
		if err := checkSystemID(sid); err != nil {
			return fmt.Errorf("import: systems: %w", err)
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MaxDownloadBytes == 0 {
		o.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	if o.MaxDatabaseBytes == 0 {
		o.MaxDatabaseBytes = DefaultMaxDatabaseBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// Listed in a stable order, each once.
	o.Systems = slices.Compact(slices.Sorted(slices.Values(o.Systems)))
	return o
}

type position struct{ index, total int }

type job struct {
	src  storage.Store
	lake *lake.Lake
	opts Options
	log  *slog.Logger
	pos  position
}

func (j *job) progress(e Event) {
	if j.opts.Progress == nil {
		return
	}
	e.Index, e.Total = j.pos.index, j.pos.total
	j.opts.Progress(e)
}

// list returns the manifest keys of upload folders, in key order, and the
// folders that hold a marker.
func (j *job) list(ctx context.Context) ([]string, map[string]bool, error) {
	prefixes := []string{systemsPrefix}
	if len(j.opts.Systems) > 0 {
		prefixes = prefixes[:0]
		for _, sid := range j.opts.Systems {
			prefixes = append(prefixes, systemsPrefix+sid+"/uploads/")
		}
	}
	var keys []string
	markers := map[string]bool{}
	for _, p := range prefixes {
		objs, err := j.src.List(ctx, p)
		if err != nil {
			return nil, nil, fmt.Errorf("list uploads under %s: %w", p, err)
		}
		for _, o := range objs {
			if _, _, ok := splitManifestKey(o.Key); ok {
				keys = append(keys, o.Key)
			} else if dir, ok := strings.CutSuffix(o.Key, "/"+MarkerName); ok {
				markers[dir] = true
			}
		}
	}
	return keys, markers, nil
}

func (j *job) refresh(ctx context.Context) error {
	for _, name := range lake.Tables {
		t, err := j.lake.Table(name)
		if err != nil {
			return err
		}
		if _, err := t.Refresh(ctx); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	return nil
}

func batchAppID(prefix, table string, batch int) string {
	return fmt.Sprintf("%s%s:%s:%d", appIDPrefix, prefix, table, batch)
}

func doneAppID(prefix string) string { return appIDPrefix + prefix + ":done" }

// doneTxn looks the upload's done txn up in the cached memories snapshot.
func (j *job) doneTxn(prefix string) (delta.Txn, bool) {
	t, err := j.lake.Table(schemas.TableMemories)
	if err != nil {
		return delta.Txn{}, false
	}
	return t.Cached().Txn(doneAppID(prefix))
}

// upload handles one manifest key from the listing.
func (j *job) upload(ctx context.Context, key string, markers map[string]bool) UploadResult {
	sid, uid, _ := splitManifestKey(key)
	prefix := strings.TrimSuffix(key, "/"+ManifestName)
	res := UploadResult{Prefix: prefix, SystemID: sid, UploadID: uid, Tables: map[string]TableStats{}}
	log := j.log.With("upload", prefix)
	j.progress(Event{Phase: PhaseFound, Upload: prefix})
	fail := func(err error) UploadResult {
		res.Status, res.Err = StatusFailed, err
		log.Error("upload not imported", "err", err)
		return res
	}

	// The key is checked before the done lookup so that a hostile key never
	// reaches an app id.
	if err := checkSystemID(sid); err != nil {
		return fail(err)
	}
	if err := checkName("upload id", uid, maxUploadIDLen); err != nil {
		return fail(err)
	}
	if tx, ok := j.doneTxn(prefix); ok {
		res.Status = StatusSkipped
		if !markers[prefix] && !j.opts.DryRun && !j.opts.NoMarker {
			// A run stopped between its done commit and the marker.
			j.writeMarker(ctx, log, prefix, tx.CommitVersion)
		}
		log.Debug("upload already imported")
		return res
	}
	m, err := readManifest(ctx, j.src, key)
	if err != nil {
		return fail(err)
	}
	if len(m.Ignored) > 0 {
		log.Info("manifest lists files the importer does not read", "files", m.Ignored)
	}
	if j.opts.DryRun {
		res.Status = StatusPending
		log.Info("upload pending", "files", len(m.Files), "uploaded_at", m.Time)
		return res
	}
	committed, err := j.importUpload(ctx, log, m, &res)
	if err != nil {
		return fail(err)
	}
	res.Status = StatusSkipped
	if committed {
		res.Status = StatusImported
	}
	return res
}

// importUpload downloads, reads and commits one upload. It reports whether
// this run committed anything of it.
func (j *job) importUpload(ctx context.Context, log *slog.Logger, m *Manifest, res *UploadResult) (bool, error) {
	start := time.Now()
	// Another process may have worked on it since the run began.
	if err := j.refresh(ctx); err != nil {
		return false, err
	}
	if _, ok := j.doneTxn(m.Prefix); ok {
		return false, nil
	}
	dir, err := os.MkdirTemp(j.opts.TempDir, "akosha-import-")
	if err != nil {
		return false, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	j.progress(Event{Phase: PhaseDownload, Upload: m.Prefix})
	files := map[string]string{} // alias -> local path
	for _, f := range m.Files {
		path, err := fetchFile(ctx, j.src, m.key(f), f, dir, j.opts.MaxDownloadBytes, j.opts.MaxDatabaseBytes)
		if err != nil {
			return false, err
		}
		files[alias(f.Name)] = path
	}
	src, err := openSource(ctx, dir, files)
	if err != nil {
		return false, err
	}
	defer src.close()

	// Check every table before committing anything, so that an upload
	// refused for its layout leaves no trace.
	plans, err := j.planTables(ctx, log, src, files)
	if err != nil {
		return false, err
	}
	committed := false
	for _, p := range plans {
		ts, did, err := j.importTable(ctx, log, src, p, m, res)
		res.Tables[p.t.name] = ts
		committed = committed || did
		if err != nil {
			return committed, fmt.Errorf("%s: %w", p.t.name, err)
		}
	}

	// Every batch is in the lake: say so in one txn, which is what later
	// runs (and concurrent ones) look up.
	done := delta.Txn{AppID: doneAppID(m.Prefix), Version: 1, LastUpdated: time.Now().UnixMilli()}
	r, err := j.lake.AppendMemories(ctx, nil, done)
	switch {
	case errors.Is(err, delta.ErrTxnCommitted):
		// A concurrent run finished it first.
	case err != nil:
		return committed, fmt.Errorf("commit done marker: %w", err)
	default:
		committed = true
		if !j.opts.NoMarker {
			j.writeMarker(ctx, log, m.Prefix, r.Version)
		}
	}
	log.Info("upload imported", "tables", res.Tables, "elapsed", time.Since(start).Round(time.Millisecond))
	return committed, nil
}

// alias names an attached database after its file.
func alias(file string) string {
	if file == KnowledgeGraphDB {
		return "sb_knowledge_graph"
	}
	return "sb_reflection"
}

// writeMarker leaves .akosha-imported in the upload's folder. Failing to is
// not an error: the lake already records the upload as done.
func (j *job) writeMarker(ctx context.Context, log *slog.Logger, prefix string, version int64) {
	body, _ := json.Marshal(map[string]any{
		"upload":           prefix,
		"imported_at":      time.Now().UTC().Format(time.RFC3339),
		"memories_version": version,
		"txn_app_id":       doneAppID(prefix),
	})
	err := j.src.PutIfAbsent(ctx, prefix+"/"+MarkerName, bytes.NewReader(body), int64(len(body)))
	if err != nil && !errors.Is(err, storage.ErrExists) {
		log.Warn("could not write the imported marker", "err", err)
	}
}

// tablePlan is a source table found in an upload, checked and counted.
type tablePlan struct {
	t     *tableSpec
	alias string
	cols  map[string]string // column -> DuckDB type
	total int64
}

// planTables finds the source tables in the attached databases and checks
// them. A table may be absent (an install that never used it); one without
// its required columns, a view in its place, or no table at all refuses the
// upload.
func (j *job) planTables(ctx context.Context, log *slog.Logger, src *source, files map[string]string) ([]tablePlan, error) {
	var plans []tablePlan
	for _, t := range sourceTables {
		a := alias(t.file)
		if _, ok := files[a]; !ok {
			continue
		}
		cols, err := src.columns(ctx, a, t.name)
		if err != nil {
			return nil, err
		}
		if cols == nil {
			log.Info("table absent from the upload", "table", t.name)
			continue
		}
		for _, c := range t.required {
			if _, ok := cols[c]; !ok {
				return nil, invalid("%s has no %s column", t.name, c)
			}
		}
		total, err := src.count(ctx, a, t.name)
		if err != nil {
			return nil, err
		}
		plans = append(plans, tablePlan{t: t, alias: a, cols: cols, total: total})
	}
	if len(plans) == 0 {
		// Not marked done: a file without any of the tables is not
		// Session-Buddy's v2 layout, and importing "nothing" would hide that.
		names := make([]string, len(sourceTables))
		for i, t := range sourceTables {
			names[i] = t.name
		}
		return nil, invalid("the databases hold none of the tables %s", strings.Join(names, ", "))
	}
	return plans, nil
}

// importTable imports one Session-Buddy table of an upload. It reports
// whether it committed anything.
func (j *job) importTable(ctx context.Context, log *slog.Logger, s *source, p tablePlan, m *Manifest, res *UploadResult) (TableStats, bool, error) {
	tbl, err := j.lake.Table(p.t.lake)
	if err != nil {
		return TableStats{}, false, err
	}
	b := &batcher{j: j, log: log.With("table", p.t.name), s: s, alias: p.alias, t: p.t, m: m, res: res,
		table: tbl, cols: p.cols, total: p.total}
	switch {
	case p.t.memory != nil:
		return runBatches(ctx, b, p.t.memory, j.lake.AppendMemories)
	case p.t.entity != nil:
		return runBatches(ctx, b, p.t.entity, j.lake.AppendEntities)
	default:
		return runBatches(ctx, b, p.t.relation, j.lake.AppendRelations)
	}
}
