package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/internal/lease"
	"github.com/akosha/akosha/jobs/compact"
	"github.com/akosha/akosha/lake"
)

// jobLeaseTTL is how long a crashed job's lease blocks the next run; the
// holder renews it every third of that.
const jobLeaseTTL = time.Minute

// holdJobLease takes the lease of job name (Redis when AKOSHA_REDIS_URL is
// set, else the lake's store) and returns a context that ends when the lease
// is lost, and the function that releases it. A lease held by another run
// is exit code 4.
func holdJobLease(ctx context.Context, l *lake.Lake, name string) (context.Context, func(), error) {
	acq, closeBackend, err := lease.Open(lease.KeyRedisURL.String(), l.Store(), lease.Options{})
	if err != nil {
		return nil, nil, err
	}
	ls, err := acq.Acquire(ctx, name, jobLeaseTTL)
	if err != nil {
		closeBackend()
		if errors.Is(err, lease.ErrHeld) {
			return nil, nil, exitError{exitLeased, fmt.Errorf("%w; this run changed nothing", err)}
		}
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ls.Lost():
			cancel(fmt.Errorf("lease %q lost", name))
		case <-ctx.Done():
		}
	}()
	release := func() {
		cancel(nil)
		<-done
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer rcancel()
		if err := ls.Release(rctx); err != nil {
			slog.Warn("release job lease", "job", name, "err", err)
		}
		closeBackend()
	}
	return ctx, release, nil
}

// parseSize reads a byte size: 268435456, 256MB, 256MiB, 1G, 512k.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, usageError{fmt.Errorf("size %q: want a positive number of bytes, e.g. 256MB", s)}
	}
	return n * mult, nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func newCompactCmd(g *globals) *cobra.Command {
	var table, target string
	var dryRun bool
	var workers int
	cmd := &cobra.Command{
		Use:   "compact",
		Short: "Merge small data files per partition; re-sent records collapse to the latest",
		Long: `Merge the small files of each partition into files of about --target-size, keeping
only the latest version (greatest ingested_at) of a record re-sent within the partition.
Each merge is one commit (remove + add; dataChange=false only when no version was dropped);
a merge that loses a race with another commit is planned again and retried within the run
(up to 10 tries). Partitions a tier move has reserved are left alone. Then a dedupe pass
removes versions superseded in other partitions or tiers (a record re-sent with a created_at
on another day): one copy-on-write commit per table, so the table itself is latest-wins.

Exit codes: 0 done, 1 failed, 2 usage, 3 some groups failed, 4 another run holds the lease.`,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			run := startJob("compact")
			defer func() { g.finishJob(cmd, run, err) }()
			opts := compact.Options{DryRun: dryRun, Workers: workers}
			if table != "" {
				if _, err := lakeTable(table); err != nil {
					return err
				}
				opts.Tables = []string{table}
			}
			if target != "" {
				n, err := parseSize(target)
				if err != nil {
					return err
				}
				opts.TargetSize = n
			}
			l, err := g.openLake(cmd.Context())
			if err != nil {
				return err
			}
			ctx, release, err := holdJobLease(cmd.Context(), l, "compact")
			if err != nil {
				return err
			}
			defer release()

			out := cmd.OutOrStdout()
			pr := newProgress()
			opts.Progress = func(ev compact.Event) {
				switch ev.Phase {
				case compact.PhasePlanned:
					var bytes int64
					for _, gr := range ev.Groups {
						bytes += gr.Size
					}
					if dryRun {
						fmt.Fprintf(out, "%s: %d groups, %s to merge\n", ev.Table, len(ev.Groups), mb(bytes))
						for _, gr := range ev.Groups {
							fmt.Fprintf(out, "  %s: %d files, %s, %d rows\n", gr.Partition, len(gr.Files), mb(gr.Size), gr.Rows)
						}
						return
					}
					pr.start("compacting "+ev.Table, len(ev.Groups))
					pr.log("compact plan", "table", ev.Table, "groups", len(ev.Groups), "bytes", bytes)
				case compact.PhaseGroup:
					r := ev.Result
					pr.step()
					if dryRun {
						return
					}
					attrs := []any{"table", r.Table, "partition", r.Partition, "status", r.Status,
						"files_in", r.FilesIn, "files_out", r.FilesOut, "bytes_in", r.BytesIn, "bytes_out", r.BytesOut,
						"rows_in", r.RowsIn, "rows_out", r.RowsOut, "index", ev.Index}
					if r.Err != nil {
						attrs = append(attrs, "err", r.Err.Error())
					}
					pr.log("compact group", attrs...)
				}
			}
			sum, err := compact.Run(ctx, l, opts)
			pr.finish()
			err = withCause(cmd, ctx, err)
			if sum != nil && !dryRun {
				tot := sum.Totals()
				run.Items("compacted", tot.Compacted)
				run.Items("skipped", tot.Skipped)
				run.Items("failed", tot.Failed)
				run.Bytes(tot.BytesIn, tot.BytesOut)
				fmt.Fprintf(out, "compact: %d groups, %d compacted, %d skipped (lost every race; the next run retries), %d failed in %s\n",
					tot.Groups, tot.Compacted, tot.Skipped, tot.Failed, sum.Elapsed.Round(time.Millisecond))
				for _, name := range lake.Tables {
					if ts := sum.Tables[name]; ts != nil {
						fmt.Fprintf(out, "  %-10s %d -> %d files, %s -> %s, %d -> %d rows\n", name,
							ts.FilesIn, ts.FilesOut, mb(ts.BytesIn), mb(ts.BytesOut), ts.RowsIn, ts.RowsOut)
						if d := ts.Dedupe; d.Superseded > 0 || d.Skipped {
							fmt.Fprintf(out, "  %-10s %d superseded versions removed from %d files (%d left), skipped %v\n", "",
								d.Superseded, d.FilesIn, d.FilesOut, d.Skipped)
						}
						if d := ts.Dedupe; d.Expired > 0 {
							fmt.Fprintf(out, "  %-10s %d expired records removed (erasure record %s)\n", "", d.Expired, d.Erasure)
						}
					}
				}
				for _, r := range sum.Results {
					if r.Status == compact.StatusFailed {
						fmt.Fprintf(out, "  FAILED %s %s: %v\n", r.Table, r.Partition, r.Err)
					}
				}
			}
			if errors.Is(err, compact.ErrGroupsFailed) {
				return exitError{exitPartial, err}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&table, "table", "", "only this table: memories, entities or relations (default all)")
	cmd.Flags().StringVar(&target, "target-size", "128MB", "output file size to aim for, and the most input one merge holds in memory")
	cmd.Flags().IntVar(&workers, "workers", compact.DefaultWorkers, "groups merged at once (each holds up to --target-size in memory)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan (groups per partition) and change nothing")
	return cmd
}

// lakeTable checks a --table value.
func lakeTable(name string) (string, error) {
	for _, t := range lake.Tables {
		if t == name {
			return name, nil
		}
	}
	return "", usageError{fmt.Errorf("--table %q: want memories, entities or relations", name)}
}
