package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/lake"
)

func newLakeMigrateCmd(g *globals) *cobra.Command {
	var dryRun, asJSON bool
	var targetMB int64
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Rewrite a lake partitioned by system (tier/system_id/day) into the tier/day layout",
		Long: `Lakes written before the tier/day layout are partitioned by tier, system_id and day, a
partition and a small file per system and day. migrate rewrites each table as one Delta commit:
new partition columns (tier, day), every file removed, and each old (tier, day) rewritten as files
of up to --target-size sorted by (system_id, created_at), with system_id a column of the rows.
Readers of the old snapshot keep their files until vacuum's grace has passed.

Stop ingest and the jobs first: the commit refuses if anything else wrote meanwhile. It is
resumable: a run after a crash or a refused commit reuses every (tier, day) already rewritten
(recorded under _migrate/), and a table already migrated is left alone. A lake it does not
recognise is refused before anything is written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			opts := lake.MigrateOptions{DryRun: dryRun, TargetSize: targetMB << 20}
			if !asJSON {
				opts.Progress = func(ev lake.MigrateEvent) {
					how := fmt.Sprintf("%d files -> %d", ev.FilesIn, ev.FilesOut)
					if dryRun {
						how = fmt.Sprintf("%d files", ev.FilesIn)
					}
					if ev.Reused {
						how += " (staged by an earlier run)"
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s %s [%d/%d] %s\n", ev.Table, ev.Partition, ev.Index, ev.Total, how)
				}
			}
			res, err := lake.Migrate(cmd.Context(), store, opts)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(res); jerr != nil {
					return jerr
				}
			} else {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TABLE\tSTATE\tFILES IN\tFILES OUT\tROWS\tVERSION")
				for _, r := range res {
					state := "migrated"
					switch {
					case r.Already && r.Evolved && dryRun:
						state = "would add new columns to the schema"
					case r.Already && r.Evolved:
						state = "schema: new columns added"
					case r.Already:
						state = "already tier/day"
					case dryRun:
						state = "would migrate"
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", r.Table, state, r.FilesIn, r.FilesOut, r.Rows, r.Version)
				}
				tw.Flush()
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "plan and report without writing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().Int64Var(&targetMB, "target-size", 128, "largest output file, in MiB")
	return cmd
}
