package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/jobs/indexer"
)

func newIndexCmd(g *globals) *cobra.Command {
	var opts indexer.Options
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Build HNSW vector indexes for the memories partitions that lack a current one",
		Long: `index builds one HNSW index per (tier, system_id) of the memories table, across days, and
stores it under memories/_indexes/ naming the data files it covers. A (tier, system) is rebuilt when it
has no usable index (and at least --min-vectors vectors), when files the index does not cover hold more
than max(--min-vectors, 10% of the indexed vectors), or when over 20% of its vectors lie in files that
are no longer live. It is idempotent: a second run builds nothing. Search scans what no index covers.

Exit codes: 0 done, 1 failed, 2 usage, 3 some partitions failed, 4 another run holds the lease.`,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			run := startJob("index")
			defer func() { g.finishJob(cmd, run, err) }()
			l, err := g.openLake(cmd.Context())
			if err != nil {
				return err
			}
			ctx, release, err := holdJobLease(cmd.Context(), l, "index")
			if err != nil {
				return err
			}
			defer release()
			pr := newProgress()
			opts.Progress = func(ev indexer.Event) {
				if ev.Phase == indexer.PhasePlan {
					pr.start("indexing partitions", ev.Total)
					pr.log("index", "phase", ev.Phase, "total", ev.Total)
					return
				}
				pr.step()
				attrs := []any{"phase", ev.Phase, "partition", ev.Partition.String(), "index", ev.Index, "total", ev.Total}
				if ev.Phase == indexer.PhaseBuilt || ev.Phase == indexer.PhaseSmall {
					attrs = append(attrs, "vectors", ev.Vectors)
				}
				if ev.Phase == indexer.PhaseBuilt {
					attrs = append(attrs, "manifest", ev.Key, "elapsed_ms", ev.Elapsed.Milliseconds())
				}
				if ev.Err != nil {
					attrs = append(attrs, "err", ev.Err.Error())
				}
				pr.log("index", attrs...)
			}
			sum, err := indexer.Run(ctx, l, opts)
			pr.finish()
			verb := "built"
			if opts.DryRun {
				verb = "to build"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "partitions: %d seen, %d %s (%d vectors), %d current, %d small, %d failed\n",
				sum.Partitions, sum.Built, verb, sum.Vectors, sum.Current, sum.Small, sum.Failed)
			if !opts.DryRun {
				run.Items("built", sum.Built)
				run.Items("current", sum.Current)
				run.Items("small", sum.Small)
				run.Items("failed", sum.Failed)
			}
			for _, f := range sum.Failures {
				fmt.Fprintf(cmd.OutOrStdout(), "  FAILED %s: %v\n", f.Partition, f.Err)
			}
			if errors.Is(err, indexer.ErrPartitionsFailed) {
				return exitError{exitPartial, err}
			}
			return err
		},
	}
	cmd.Flags().IntVar(&opts.MinVectors, "min-vectors", indexer.DefaultMinVectors, "a (tier, system) with fewer vectors gets no index (exact scans are as fast), and fewer unindexed rows trigger no rebuild")
	cmd.Flags().IntVar(&opts.M, "m", 0, "HNSW M (default 16)")
	cmd.Flags().IntVar(&opts.EfConstruction, "ef-construction", 0, "HNSW efConstruction (default 200)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "insert goroutines (default: one per core)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "only count the partitions that need an index")
	return cmd
}
