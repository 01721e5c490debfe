package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/internal/config"
	"github.com/akosha/akosha/jobs/age"
	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/schemas"
)

// The aging policy and the storage classes of the colder tiers.
var (
	keyAgeWarmDays   = config.Register(config.Key{Name: "AKOSHA_AGE_WARM_DAYS", Default: "7", Help: "days after which a partition moves from hot to warm"})
	keyAgeColdDays   = config.Register(config.Key{Name: "AKOSHA_AGE_COLD_DAYS", Default: "90", Help: "days after which a partition moves to cold"})
	keyAgeDeleteDays = config.Register(config.Key{Name: "AKOSHA_AGE_DELETE_DAYS", Default: "2555", Help: "days after which a partition is deleted (retention)"})
	keyWarmClass     = config.Register(config.Key{Name: "AKOSHA_WARM_STORAGE_CLASS", Default: lake.DefaultWarmStorageClass, Help: "S3 storage class of warm files (empty: the bucket's default)"})
	keyColdClass     = config.Register(config.Key{Name: "AKOSHA_COLD_STORAGE_CLASS", Default: lake.DefaultColdStorageClass, Help: "S3 storage class of cold files (empty: the bucket's default)"})
)

func newAgeCmd(g *globals) *cobra.Command {
	var table, maxMove, now string
	var dryRun bool
	var policy age.Policy
	var warmClass, coldClass string
	cmd := &cobra.Command{
		Use:   "age",
		Short: "Move partitions hot -> warm -> cold as they age, and delete them past retention",
		Long: `age moves each partition (tier/system_id/day) to the tier its age calls for: warm after
--warm-days, cold after --cold-days, deleted after --delete-days (the age of a partition counts
from the end of its day). A move rewrites the partition's files in the target tier's layout:
int8 embeddings with a per-vector scale for memories, stronger zstd, and on S3 the tier's
storage class. Each move is one commit (removes and adds together, dataChange=true); a move
that loses a race with another commit reserves its partition from compaction and is planned
again and retried within the run (up to 10 tries). Search and SQL answer over every
tier; scores on warm and cold data are computed from the stored vectors (within 0.01).

Exit codes: 0 done, 1 failed, 2 usage, 3 some moves failed, 4 another run holds the lease.`,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			run := startJob("age")
			defer func() { g.finishJob(cmd, run, err) }()
			opts := age.Options{Policy: policy, DryRun: dryRun}
			if err := policy.Validate(); err != nil {
				return usageError{err}
			}
			if table != "" {
				if _, err := lakeTable(table); err != nil {
					return err
				}
				opts.Tables = []string{table}
			}
			if opts.MaxMoveBytes, err = parseSize(maxMove); err != nil {
				return err
			}
			if now != "" {
				t, err := time.Parse(time.RFC3339, now)
				if err != nil {
					return usageError{fmt.Errorf("--now %q: want RFC 3339, e.g. 2026-11-26T02:00:00Z", now)}
				}
				opts.Now = t
			}
			opts.Layouts = lake.DefaultLayouts()
			for tier, class := range map[string]string{schemas.TierWarm: warmClass, schemas.TierCold: coldClass} {
				l := opts.Layouts[tier]
				l.StorageClass = class
				opts.Layouts[tier] = l
			}
			l, err := g.openLake(cmd.Context())
			if err != nil {
				return err
			}
			ctx, release, err := holdJobLease(cmd.Context(), l, "age")
			if err != nil {
				return err
			}
			defer release()

			out := cmd.OutOrStdout()
			pr := newProgress()
			opts.Progress = func(ev age.Event) {
				switch ev.Phase {
				case age.PhasePlanned:
					var bytes int64
					for _, m := range ev.Moves {
						bytes += m.Size
					}
					if dryRun {
						fmt.Fprintf(out, "%s: %d moves, %s\n", ev.Table, len(ev.Moves), mb(bytes))
						for _, m := range ev.Moves {
							fmt.Fprintf(out, "  %-10s %s: %d files, %s, %d rows\n", m.Kind(), m.From, len(m.Files), mb(m.Size), m.Rows)
						}
						return
					}
					pr.start("aging "+ev.Table, len(ev.Moves))
					pr.log("age plan", "table", ev.Table, "moves", len(ev.Moves), "bytes", bytes)
				case age.PhaseMove:
					r := ev.Result
					pr.step()
					if dryRun {
						return
					}
					attrs := []any{"table", r.Table, "move", r.Kind, "partition", r.From, "status", r.Status,
						"files_in", r.FilesIn, "files_out", r.FilesOut, "bytes_in", r.BytesIn, "bytes_out", r.BytesOut,
						"rows_in", r.RowsIn, "rows_out", r.RowsOut, "index", ev.Index}
					if r.Err != nil {
						attrs = append(attrs, "err", r.Err.Error())
					}
					pr.log("age move", attrs...)
				}
			}
			sum, err := age.Run(ctx, l, opts)
			pr.finish()
			err = withCause(cmd, ctx, err)
			if sum != nil && !dryRun {
				fmt.Fprintf(out, "age: %d moved, %d deleted, %d skipped (lost every race; the next run retries), %d failed in %s; %s -> %s\n",
					sum.Moved, sum.Deleted, sum.Skipped, sum.Failed, sum.Elapsed.Round(time.Millisecond), mb(sum.BytesIn), mb(sum.BytesOut))
				for _, r := range sum.Results {
					if r.Status == age.StatusFailed {
						fmt.Fprintf(out, "  FAILED %s %s %s: %v\n", r.Table, r.Kind, r.From, r.Err)
					}
				}
				run.Items("moved", sum.Moved)
				run.Items("deleted", sum.Deleted)
				run.Items("skipped", sum.Skipped)
				run.Items("failed", sum.Failed)
				run.Bytes(sum.BytesIn, sum.BytesOut)
			}
			if errors.Is(err, age.ErrMovesFailed) {
				return exitError{exitPartial, err}
			}
			return err
		},
	}
	days := func(k config.Key) int {
		n, err := k.Int()
		if err != nil {
			return 0 // Validate refuses it with the flag's name
		}
		return int(n)
	}
	cmd.Flags().IntVar(&policy.WarmAfter, "warm-days", days(keyAgeWarmDays), "days after which hot partitions move to warm (env AKOSHA_AGE_WARM_DAYS)")
	cmd.Flags().IntVar(&policy.ColdAfter, "cold-days", days(keyAgeColdDays), "days after which partitions move to cold (env AKOSHA_AGE_COLD_DAYS)")
	cmd.Flags().IntVar(&policy.DeleteAfter, "delete-days", days(keyAgeDeleteDays), "days after which partitions are deleted (env AKOSHA_AGE_DELETE_DAYS)")
	cmd.Flags().StringVar(&warmClass, "warm-storage-class", keyWarmClass.String(), "S3 storage class of warm files (env AKOSHA_WARM_STORAGE_CLASS)")
	cmd.Flags().StringVar(&coldClass, "cold-storage-class", keyColdClass.String(), "S3 storage class of cold files (env AKOSHA_COLD_STORAGE_CLASS)")
	cmd.Flags().StringVar(&table, "table", "", "only this table: memories, entities or relations (default all)")
	cmd.Flags().StringVar(&maxMove, "max-move-size", "256MB", "the most input one move rewrites (and holds in memory); larger partitions take several moves")
	cmd.Flags().StringVar(&now, "now", "", "count ages at this time instead of now (RFC 3339; for tests and backfills)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan (moves per partition) and change nothing")
	return cmd
}
