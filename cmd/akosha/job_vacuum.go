package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/jobs/vacuum"
	"github.com/akosha/akosha/lake"
)

func newVacuumCmd(g *globals) *cobra.Command {
	var table string
	var opts vacuum.Options
	cmd := &cobra.Command{
		Use:   "vacuum",
		Short: "Delete removed files past the grace period, orphans and old log entries",
		Long: `Delete what the lake no longer needs: data files removed longer ago than --grace
(which must be longer than any query or cache holds an old snapshot), unreferenced
files older than --orphan-grace (left by a crashed writer), and log entries older
than --log-retention below the newest checkpoint. A live file is never deleted.

Exit codes: 0 done, 1 failed, 2 usage, 3 some deletes failed, 4 another run holds the lease.`,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			run := startJob("vacuum")
			defer func() { g.finishJob(cmd, run, err) }()
			if table != "" {
				if _, err := lakeTable(table); err != nil {
					return err
				}
				opts.Tables = []string{table}
			}
			if opts.Grace <= 0 || opts.LogRetention <= 0 || opts.OrphanGrace < 0 {
				return usageError{errors.New("--grace and --log-retention must be positive")}
			}
			l, err := g.openLake(cmd.Context())
			if err != nil {
				return err
			}
			ctx, release, err := holdJobLease(cmd.Context(), l, "vacuum")
			if err != nil {
				return err
			}
			defer release()

			out := cmd.OutOrStdout()
			pr := newProgress()
			opts.Progress = func(ev vacuum.Event) {
				switch ev.Phase {
				case vacuum.PhasePlanned:
					if opts.DryRun {
						fmt.Fprintf(out, "%s: %d objects to delete\n", ev.Table, len(ev.Candidates))
						for _, c := range ev.Candidates {
							fmt.Fprintf(out, "  %-10s %s (%d bytes)\n", c.Kind, c.Key, c.Size)
						}
						return
					}
					pr.start("vacuuming "+ev.Table, len(ev.Candidates))
					pr.log("vacuum plan", "table", ev.Table, "candidates", len(ev.Candidates))
				case vacuum.PhaseDeleted:
					pr.step()
					attrs := []any{"table", ev.Table, "kind", ev.Candidate.Kind, "key", ev.Candidate.Key, "bytes", ev.Candidate.Size}
					if ev.Err != nil {
						attrs = append(attrs, "err", ev.Err.Error())
					}
					pr.log("vacuum delete", attrs...)
				}
			}
			sum, err := vacuum.Run(ctx, l, opts)
			pr.finish()
			err = withCause(cmd, ctx, err)
			if sum != nil {
				verb := "deleted"
				if opts.DryRun {
					verb = "would delete"
				}
				n, bytes, failed := sum.Total()
				if !opts.DryRun {
					run.Items("deleted", n)
					run.Items("failed", failed)
					run.Bytes(bytes, 0)
				}
				fmt.Fprintf(out, "vacuum: %s %d objects (%s), %d failed, in %s\n", verb, n, mb(bytes), failed, sum.Elapsed.Round(time.Millisecond))
				for _, name := range lake.Tables {
					ts := sum.Tables[name]
					if ts == nil {
						continue
					}
					kept := "log kept whole (no checkpoint yet)"
					if ts.LogRetainedFrom >= 0 {
						kept = fmt.Sprintf("log kept from v%d", ts.LogRetainedFrom)
					}
					fmt.Fprintf(out, "  %-10s v%d: %d live files; %d removed, %d orphans, %d log entries, %d checkpoints, %d indexes; %d removed files within the grace; %s\n",
						name, ts.Version, ts.LiveFiles, ts.Deleted[vacuum.KindRemoved], ts.Deleted[vacuum.KindOrphan],
						ts.Deleted[vacuum.KindLog], ts.Deleted[vacuum.KindCheckpoint], ts.Deleted[vacuum.KindIndex],
						ts.WithinGrace, kept)
				}
				if u := sum.Uploads; u.Deleted > 0 || u.Failed > 0 {
					fmt.Fprintf(out, "  %-10s %s %d database files (%s) of %d imported uploads, %d failed\n",
						"uploads", verb, u.Deleted, mb(u.Bytes), u.Uploads, u.Failed)
				}
			}
			if errors.Is(err, vacuum.ErrDeletesFailed) {
				return exitError{exitPartial, err}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&table, "table", "", "only this table: memories, entities or relations (default all)")
	cmd.Flags().DurationVar(&opts.Grace, "grace", vacuum.DefaultGrace, "delete removed files only this long after their removal")
	cmd.Flags().DurationVar(&opts.OrphanGrace, "orphan-grace", 0, "delete unreferenced files only this long after they were written (default --grace)")
	cmd.Flags().DurationVar(&opts.LogRetention, "log-retention", vacuum.DefaultLogRetention, "keep log entries at least this long (and always from the newest checkpoint on)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be deleted and change nothing")
	return cmd
}
