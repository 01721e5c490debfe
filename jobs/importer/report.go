package importer

// Phase says what an Event reports.
type Phase string

const (
	PhaseFound    Phase = "found"    // an upload was listed; Total says how many
	PhaseDownload Phase = "download" // its databases are being downloaded
	PhaseBatch    Phase = "batch"    // a batch of a table was committed or found committed
	PhaseDone     Phase = "done"     // the upload is finished: see Status and Err
)

// Status is the outcome of one upload in one run.
type Status string

const (
	StatusImported Status = "imported" // this run committed some of it
	StatusSkipped  Status = "skipped"  // it was already in the lake
	StatusFailed   Status = "failed"   // refused or interrupted; see Err
	StatusPending  Status = "pending"  // dry run: would be imported
)

// Event is one progress report.
type Event struct {
	Phase  Phase
	Upload string // systems/<sid>/uploads/<uid>
	Index  int    // 1-based position of the upload in this run
	Total  int    // uploads found
	// Batch events: the source table, the batch, rows of the table read so
	// far and in all, and whether this run committed the batch (false: an
	// earlier or concurrent run did).
	Table     string
	Batch     int
	Rows      int64
	TableRows int64
	Committed bool
	// Done events.
	Status Status
	Err    error
}

// TableStats counts one source table's rows.
type TableStats struct {
	Rows           int64 // rows read from the upload
	Imported       int64 // records this run committed
	Invalid        int64 // rows refused by the mapping or validation (never committed)
	Batches        int   // batches this run committed
	SkippedBatches int   // batches already in the lake
}

func (s *TableStats) add(o TableStats) {
	s.Rows += o.Rows
	s.Imported += o.Imported
	s.Invalid += o.Invalid
	s.Batches += o.Batches
	s.SkippedBatches += o.SkippedBatches
}

// RowError is an invalid row: its table, its id (if readable) and why.
type RowError struct {
	Table string
	ID    string
	Err   error
}

// UploadResult is what happened to one upload.
type UploadResult struct {
	Prefix   string // systems/<sid>/uploads/<uid>
	SystemID string
	UploadID string
	Status   Status
	Err      error
	Tables   map[string]TableStats // by Session-Buddy table name
	Invalid  []RowError            // the first invalid rows
}

// Summary is the outcome of a Run.
type Summary struct {
	Seen     int // uploads found
	Imported int
	Skipped  int
	Failed   int
	Pending  int                   // dry run only
	Tables   map[string]TableStats // totals by Session-Buddy table name
	Uploads  []UploadResult
}

func (s *Summary) add(r UploadResult) {
	s.Uploads = append(s.Uploads, r)
	switch r.Status {
	case StatusImported:
		s.Imported++
	case StatusSkipped:
		s.Skipped++
	case StatusFailed:
		s.Failed++
	case StatusPending:
		s.Pending++
	}
	for name, ts := range r.Tables {
		t := s.Tables[name]
		t.add(ts)
		s.Tables[name] = t
	}
}
