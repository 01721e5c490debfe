package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/akosha/akosha/functions/ingest"
	"github.com/akosha/akosha/internal/auth"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var c client
	var f ingest.DeleteFilter
	var before string
	var dry bool
	cmd := &cobra.Command{
		Use:   "delete --system ID (--id ID... | --project P | --session S | --kind K | --before T | --all-records-of-system)",
		Short: "Delete records (forgetting): by id or by filter, with a dry run",
		Long: `delete removes every version of the records a filter names, with a copy-on-write commit
per table (operation AKOSHA DELETE) that lands before it returns, and appends a row to
the lake's erasure log (who, when, the filter, the count; no content), which
akosha erasures shows.

On a running server (--url) it calls POST /v1/delete, with the server's auth: an operator
may delete within its systems, erasing a whole system (--all-records-of-system) needs an
admin. With --lake it deletes on the lake itself, as its owner (the erasure record names
the local user). Every criterion given must hold; --system is required. --dry-run only
counts. The answer is JSON: records deleted, and per table rows, files and version.`,
		Example: `  akosha delete --url http://localhost:8080 --system laptop-1 --id m1 --id m2
  akosha delete --system laptop-1 --project scratch --before 2026-01-01T00:00:00Z --dry-run
  akosha delete --system old-laptop --all-records-of-system`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if before != "" {
				t, err := time.Parse(time.RFC3339Nano, before)
				if err != nil {
					return usageError{fmt.Errorf("--before %q: want an RFC 3339 time such as 2026-01-01T00:00:00Z", before)}
				}
				f.Before = &t
			}
			var out any
			if c.url != "" {
				body, err := c.post(cmd.Context(), "/v1/delete", struct {
					ingest.DeleteFilter
					DryRun bool `json:"dry_run,omitempty"`
				}{f, dry}, "")
				if err != nil {
					return err
				}
				var resp ingest.DeleteResponse
				if err := json.Unmarshal(body, &resp); err != nil {
					return fmt.Errorf("decode the answer: %w", err)
				}
				out = resp
			} else {
				l, err := g.openLake(cmd.Context())
				if err != nil {
					return err
				}
				a, _ := auth.New(auth.Config{Disabled: true})
				fn, err := ingest.Open(l, a, ingest.Config{}, prometheus.NewRegistry())
				if err != nil {
					return err
				}
				defer fn.Stop(cmd.Context())
				resp, err := fn.Delete(cmd.Context(), f, dry, "cli:"+localUser())
				if err != nil {
					return err
				}
				out = resp
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	c.flags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.SystemID, "system", "", "the system whose records go (required)")
	fl.StringVar(&f.Table, "table", "", "memories, entities or relations (default: every table with the filtered columns)")
	fl.StringArrayVar(&f.IDs, "id", nil, "a record id (repeat for several)")
	fl.StringVar(&f.Project, "project", "", "memories of this project")
	fl.StringVar(&f.SessionID, "session", "", "memories of this session_id")
	fl.StringVar(&f.Kind, "kind", "", "memories of this kind: conversation, reflection or memory")
	fl.StringVar(&before, "before", "", "records created before this RFC 3339 time")
	fl.BoolVar(&f.AllRecordsOfSystem, "all-records-of-system", false, "erase every record of the system (admin)")
	fl.BoolVar(&dry, "dry-run", false, "count only; delete nothing")
	return cmd
}

func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "unknown"
}
