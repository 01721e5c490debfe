package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/lake"
	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/lake/storage"
)

func newLakeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "lake", Short: "Inspect, verify and migrate the lake's Delta tables"}
	var table string
	var version int64
	var asJSON bool

	snapshot := func(cmd *cobra.Command) (*delta.Table, *delta.Snapshot, error) {
		store, err := g.openStore(cmd.Context())
		if err != nil {
			return nil, nil, err
		}
		t := delta.NewTable(store, table)
		var s *delta.Snapshot
		if version >= 0 {
			s, err = t.SnapshotAt(cmd.Context(), version)
		} else {
			s, err = t.Snapshot(cmd.Context())
		}
		return t, s, err
	}

	logCmd := &cobra.Command{
		Use:   "log",
		Short: "List a table's versions and what each commit did",
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			return printLog(cmd, store, table, cmd.OutOrStdout())
		},
	}
	snapCmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Show a table's snapshot: version, protocol, live files",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, s, err := snapshot(cmd)
			if err != nil {
				return err
			}
			return printSnapshot(cmd.OutOrStdout(), s, asJSON)
		},
	}
	verifyCmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every live file of every table exists with the size the log records",
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			tables := lake.Tables
			if table != "" {
				tables = []string{table}
			}
			bad := 0
			for _, name := range tables {
				t := delta.NewTable(store, name)
				s, err := t.Snapshot(cmd.Context())
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				n := 0
				for _, f := range s.Files() {
					key, err := t.DataKey(f.Path)
					if err != nil {
						return err
					}
					info, err := store.Head(cmd.Context(), key)
					switch {
					case err != nil:
						fmt.Fprintf(cmd.OutOrStdout(), "MISSING %s: %v\n", key, err)
						bad++
					case info.Size != f.Size:
						fmt.Fprintf(cmd.OutOrStdout(), "SIZE    %s: log says %d, store has %d\n", key, f.Size, info.Size)
						bad++
					}
					n++
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: version %d, %d live files checked\n", name, s.Version, n)
			}
			if bad > 0 {
				return fmt.Errorf("verify: %d problems", bad)
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{logCmd, snapCmd, verifyCmd} {
		c.Flags().StringVar(&table, "table", "memories", "table: memories, entities or relations (verify: all when empty)")
	}
	snapCmd.Flags().Int64Var(&version, "version", -1, "version to show (default latest)")
	snapCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(logCmd, snapCmd, verifyCmd, newLakeViewsCmd(g), newLakeMigrateCmd(g))
	return cmd
}

func printLog(cmd *cobra.Command, store storage.Store, table string, w io.Writer) error {
	t := delta.NewTable(store, table)
	latest, err := t.Snapshot(cmd.Context())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tTIME\tOPERATION\tADDS\tREMOVES\tTXNS")
	for v := int64(0); v <= latest.Version; v++ {
		b, err := storage.ReadAll(cmd.Context(), store, fmt.Sprintf("%s/_delta_log/%020d.json", table, v))
		if err != nil {
			fmt.Fprintf(tw, "%d\t-\t(not in the log: %v)\t\t\t\n", v, err)
			continue
		}
		actions, err := delta.ParseCommit(b)
		if err != nil {
			return fmt.Errorf("version %d: %w", v, err)
		}
		var adds, removes, txns int
		op, ts := "", ""
		for _, a := range actions {
			switch {
			case a.Add != nil:
				adds++
			case a.Remove != nil:
				removes++
			case a.Txn != nil:
				txns++
			case a.CommitInfo != nil:
				if s, ok := a.CommitInfo["operation"].(string); ok {
					op = s
				}
				if ms, err := strconv.ParseInt(fmt.Sprint(a.CommitInfo["timestamp"]), 10, 64); err == nil {
					ts = time.UnixMilli(ms).UTC().Format(time.RFC3339)
				}
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\n", v, ts, op, adds, removes, txns)
	}
	return tw.Flush()
}

func printSnapshot(w io.Writer, s *delta.Snapshot, asJSON bool) error {
	files := s.Files()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"version": s.Version, "protocol": s.Protocol, "metadata": s.Metadata,
			"files": files, "txns": s.Txns(),
		})
	}
	fmt.Fprintf(w, "version   %d\nprotocol  reader %d / writer %d\npartition %v\nfiles     %d\ntxns      %d\n",
		s.Version, s.Protocol.MinReaderVersion, s.Protocol.MinWriterVersion, s.Metadata.PartitionColumns, len(files), len(s.Txns()))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPATH\tSIZE\tRECORDS")
	for _, f := range files {
		recs := "-"
		if st, err := f.ParsedStats(); err == nil {
			recs = strconv.FormatInt(st.NumRecords, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", f.Path, f.Size, recs)
	}
	return tw.Flush()
}
