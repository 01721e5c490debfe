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
		Short: "Build and merge the HNSW vector index segments of the memories tiers",
		Long: `index keeps a few HNSW segments per tier of the memories table (any days and systems in a
segment), stored under memories/_indexes/, each naming the data files it covers. A run builds a new
segment over the live files no segment covers once they hold --min-vectors rows, rebuilds a segment
over its live files when over 20% of its vectors lie in files that are no longer live, and merges
segments: --merge-factor segments of one size tier (tiers --merge-factor apart) become one, and a tier
never holds more than --max-segments. Existing segments are otherwise left alone. It is idempotent: a
second run builds nothing. Search visits each segment once and scans what no segment covers.

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
					pr.start("indexing tiers", ev.Total)
					pr.log("index", "phase", ev.Phase, "total", ev.Total)
					return
				}
				pr.step()
				attrs := []any{"phase", ev.Phase, "partition", ev.Partition.String(), "index", ev.Index, "total", ev.Total}
				if ev.Phase == indexer.PhaseBuilt || ev.Phase == indexer.PhaseSmall {
					attrs = append(attrs, "vectors", ev.Vectors)
				}
				if ev.Phase == indexer.PhaseBuilt {
					attrs = append(attrs, "reason", ev.Reason, "replaces", ev.Replaces, "manifest", ev.Key, "elapsed_ms", ev.Elapsed.Milliseconds())
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
			fmt.Fprintf(cmd.OutOrStdout(), "tiers: %d seen, %d current, %d small; segments: %d %s (%d vectors, %d merges), %d failed\n",
				sum.Partitions, sum.Current, sum.Small, sum.Built, verb, sum.Vectors, sum.Merged, sum.Failed)
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
	cmd.Flags().IntVar(&opts.MinVectors, "min-vectors", indexer.DefaultMinVectors, "fewer rows in files no segment covers make no new segment (exact scans are as fast)")
	cmd.Flags().IntVar(&opts.MaxSegments, "max-segments", indexer.DefaultMaxSegments, "a tier holds at most this many segments (a search visits each)")
	cmd.Flags().IntVar(&opts.MergeFactor, "merge-factor", indexer.DefaultMergeFactor, "this many segments of one size tier are merged; size tiers are this factor apart")
	cmd.Flags().IntVar(&opts.M, "m", 0, "HNSW M (default 16)")
	cmd.Flags().IntVar(&opts.EfConstruction, "ef-construction", 0, "HNSW efConstruction (default 200)")
	cmd.Flags().IntVar(&opts.Workers, "workers", 0, "insert goroutines (default: one per core)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "only count the segments that would be built")
	return cmd
}
