package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/lake/erasures"
)

func newErasuresCmd(g *globals) *cobra.Command {
	var c client
	var since, until string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "erasures [--since T] [--until T] [--limit N]",
		Short: "Show the erasure log: what was forgotten, by whom, when (never content)",
		Long: `erasures lists the lake's erasure log, newest first: one row per delete that removed
something and per compaction that removed expired records, with when, who, the system's
tenant, the operation (delete or expire), the filter and the counts. Never content.

On a running server (--url) it calls GET /v1/erasures, with the server's auth: operators
and admins see their tenant's rows, a fleet-wide admin every row, viewers are refused.
With --lake it reads the lake itself, as its owner, and sees every row. --since is
inclusive, --until exclusive; when more rows match than --limit, the last line says how
to ask for the next page. --json prints the API's answer.`,
		Example: `  akosha erasures --url http://localhost:8080 --since 2026-11-01T00:00:00Z
  akosha erasures --lake s3://bucket/lake --limit 20 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var q erasures.Query
			for _, t := range []struct {
				flag, val string
				dst       *time.Time
			}{{"--since", since, &q.Since}, {"--until", until, &q.Until}} {
				if t.val == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339Nano, t.val)
				if err != nil {
					return usageError{fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-11-25T10:00:00Z", t.flag, t.val)}
				}
				*t.dst = v
			}
			if limit < 1 || limit > 1000 {
				return usageError{fmt.Errorf("--limit %d: want 1 to 1000", limit)}
			}
			if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
				return usageError{fmt.Errorf("--since must be before --until")}
			}
			q.Limit = limit
			var resp query.ErasuresResponse
			if c.url != "" {
				v := url.Values{"limit": {strconv.Itoa(limit)}}
				if since != "" {
					v.Set("since", since)
				}
				if until != "" {
					v.Set("until", until)
				}
				if err := c.getAPI(cmd.Context(), "/v1/erasures", v, &resp); err != nil {
					return err
				}
			} else {
				store, err := g.openStore(cmd.Context())
				if err != nil {
					return err
				}
				recs, more, err := erasures.New(store).List(cmd.Context(), q)
				if err != nil {
					return err
				}
				if recs == nil {
					recs = []erasures.Record{}
				}
				resp = query.ErasuresResponse{Erasures: recs, Truncated: more}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(resp)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tWHO\tTENANT\tOPERATION\tSYSTEM\tDELETED\tFILTER")
			for _, r := range resp.Erasures {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.When.Format(time.RFC3339Nano), r.Who, dash(r.Tenant),
					r.Operation, dash(r.SystemID), r.Deleted, strings.ReplaceAll(string(r.Filter), "\n", " "))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if resp.Truncated && len(resp.Erasures) > 0 {
				fmt.Fprintf(out, "(more: --until %s)\n", resp.Erasures[len(resp.Erasures)-1].When.Format(time.RFC3339Nano))
			}
			return nil
		},
	}
	c.flags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "rows at or after this RFC 3339 time")
	fl.StringVar(&until, "until", "", "rows before this RFC 3339 time (the next page)")
	fl.IntVar(&limit, "limit", 100, "at most this many rows (1 to 1000)")
	fl.BoolVar(&asJSON, "json", false, "print the JSON answer of GET /v1/erasures")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
