package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/akosha/akosha/internal/jobmetrics"
	"github.com/akosha/akosha/jobs/importer"
	"github.com/akosha/akosha/lake/storage"
)

// Job exit codes (documented in README.md, "Jobs"):
//
//	0 done (or nothing to do)
//	1 failed: nothing half-done is visible; the next run resumes
//	2 usage error
//	3 finished, but some items failed (see the summary)
//	4 another run holds the lease; this one changed nothing
const (
	exitPartial = 3
	exitLeased  = 4
)

type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
func (e exitError) ExitCode() int { return e.code }

func newJobCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job compact|index|age|vacuum|import",
		Short: "Run one of the lake's jobs (as its Kubernetes CronJob does)",
	}
	cmd.AddCommand(newImportCmd(g), newIndexCmd(g), newCompactCmd(g), newAgeCmd(g), newVacuumCmd(g))
	return cmd
}

// startJob begins a job run's metrics; finishJob, deferred with the run's
// error, records its exit code and pushes them (internal/jobmetrics).
func startJob(name string) *jobmetrics.Run { return jobmetrics.Start(name) }

// finishJob also records the run in the lake (jobmetrics.WriteRecord), where the
// query function's GET /v1/lake and the console show it; a dry run changed
// nothing and is not recorded, and a failure to record is logged, never the
// job's failure.
func (g *globals) finishJob(cmd *cobra.Command, run *jobmetrics.Run, err error) {
	ctx := context.WithoutCancel(cmd.Context())
	code := exitCodeOf(err)
	end := time.Now()
	run.Finish(ctx, code, "")
	if dry, _ := cmd.Flags().GetBool("dry-run"); dry || g.lakeURL == "" || code == exitUsage {
		return
	}
	store, serr := g.openStore(ctx)
	if serr == nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		serr = jobmetrics.WriteRecord(rctx, store, run.Record(code, err, end))
	}
	if serr != nil {
		slog.Warn("record the job run", "job", cmd.Name(), "err", serr)
	}
}

// exitCodeOf is the exit code main gives err.
func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ce interface{ ExitCode() int }
	if errors.As(err, &ce) {
		return ce.ExitCode()
	}
	return exitFailed
}

func newImportCmd(g *globals) *cobra.Command {
	var source string
	var opts importer.Options
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import Session-Buddy's S3 uploads (systems/{sid}/uploads/...), each exactly once",
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			run := startJob("import")
			defer func() { g.finishJob(cmd, run, err) }()
			l, err := g.openLake(cmd.Context())
			if err != nil {
				return err
			}
			ctx, release, err := holdJobLease(cmd.Context(), l, "import")
			if err != nil {
				return err
			}
			defer release()
			src := l.Store()
			if source != "" {
				if src, err = storage.Open(ctx, source); err != nil {
					return err
				}
			}
			pr := newProgress()
			started := false
			opts.Progress = func(ev importer.Event) {
				switch ev.Phase {
				case importer.PhaseFound: // once per upload listed, each with the total
					if !started {
						pr.start("importing uploads", ev.Total)
						started = true
					}
					return
				case importer.PhaseDone:
					pr.step()
				}
				attrs := []any{"phase", ev.Phase, "upload", ev.Upload, "index", ev.Index, "total", ev.Total}
				if ev.Phase == importer.PhaseBatch {
					attrs = append(attrs, "table", ev.Table, "batch", ev.Batch, "rows", ev.Rows, "committed", ev.Committed)
				}
				if ev.Phase == importer.PhaseDone {
					attrs = append(attrs, "status", ev.Status)
					if ev.Err != nil {
						attrs = append(attrs, "err", ev.Err.Error())
					}
				}
				pr.log("import", attrs...)
			}
			sum, err := importer.Run(ctx, src, l, opts)
			pr.finish()
			if !opts.DryRun {
				run.Items("imported", sum.Imported)
				run.Items("skipped", sum.Skipped)
				run.Items("failed", sum.Failed)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "uploads: %d seen, %d imported, %d skipped, %d failed, %d pending\n",
				sum.Seen, sum.Imported, sum.Skipped, sum.Failed, sum.Pending)
			for table, st := range sum.Tables {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-18s %d rows read, %d imported, %d invalid\n", table, st.Rows, st.Imported, st.Invalid)
			}
			for _, u := range sum.Uploads {
				if u.Err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "  FAILED %s: %v\n", u.Prefix, u.Err)
				}
			}
			if errors.Is(err, importer.ErrUploadsFailed) {
				return exitError{exitPartial, err}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&source, "source", "", "where the uploads are (default: the lake's own bucket)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the plan: uploads found, done and pending")
	cmd.Flags().IntVar(&opts.BatchSize, "batch-size", 0, "source rows per commit (default 5000)")
	cmd.Flags().StringSliceVar(&opts.Systems, "system", nil, "only these system ids")
	return cmd
}

// progress shows a job's progress: a bar per phase on a terminal, JSON log
// lines otherwise.
type progress struct {
	terminal bool
	bar      *progressbar.ProgressBar
}

func newProgress() *progress { return &progress{terminal: isTerminal(os.Stderr)} }

// start begins a bar of n steps on a terminal, ending the previous one.
func (p *progress) start(desc string, n int) {
	if !p.terminal || n == 0 {
		return
	}
	p.finish()
	p.bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(desc), progressbar.OptionShowCount())
}

// step advances the bar.
func (p *progress) step() {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// finish ends the bar.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(os.Stderr)
		p.bar = nil
	}
}

// log writes a JSON log line when not on a terminal (a bar shows it there).
func (p *progress) log(msg string, attrs ...any) {
	if !p.terminal {
		slog.Info(msg, attrs...)
	}
}

// withCause adds why a job's context ended (its lease was lost) to err,
// unless the caller's own context ended.
func withCause(cmd *cobra.Command, ctx context.Context, err error) error {
	if cause := context.Cause(ctx); err != nil && cause != nil && cmd.Context().Err() == nil {
		return fmt.Errorf("%w (%v)", err, cause)
	}
	return err
}
