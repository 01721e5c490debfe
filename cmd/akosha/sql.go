package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/akosha/akosha/functions/query"
	"github.com/akosha/akosha/functions/query/sqlexec"
	"github.com/akosha/akosha/internal/auth"
)

// client is how client commands reach a running server.
type client struct {
	url   string
	token string
}

func (c *client) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.url, "url", os.Getenv("AKOSHA_URL"), "a running server (env AKOSHA_URL); without it the command reads --lake directly")
	cmd.Flags().StringVar(&c.token, "token", os.Getenv("AKOSHA_TOKEN"), "bearer token or API key for --url (env AKOSHA_TOKEN)")
}

// post sends a JSON body and returns the answer, turning API errors into Go errors.
func (c *client) post(ctx context.Context, path string, body any, accept string) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.url, "/")+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s (%d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
		}
		return nil, fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return out, nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newSQLCmd(g *globals) *cobra.Command {
	var c client
	var format, asOf string
	var limit int
	cmd := &cobra.Command{
		Use:   `sql "SELECT ..."`,
		Short: "Run SQL over the lake (views memories, entities, relations)",
		Long: `sql runs one read-only statement, on a running server (--url) or on the lake itself (--lake).

Output: an aligned table by default; --format csv, json, ndjson or parquet for machines.

--as-of answers from a past state of the lake: a memories table version (e.g. 12) or an
RFC 3339 time (each table at its newest version committed at or before it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			accept := map[string]string{"table": "application/json", "json": "application/json", "csv": "text/csv",
				"ndjson": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}[format]
			if accept == "" {
				return usageError{fmt.Errorf("--format %q: want table, csv, json, ndjson or parquet", format)}
			}
			out := cmd.OutOrStdout()
			if c.url != "" {
				req := map[string]any{"sql": args[0], "limit": limit}
				if asOf != "" {
					req["as_of"] = query.AsOf(asOf)
				}
				body, err := c.post(cmd.Context(), "/v1/sql", req, accept)
				if err != nil {
					return err
				}
				if format != "table" {
					_, err = out.Write(body)
					return err
				}
				var res sqlexec.Result
				if err := json.Unmarshal(body, &res); err != nil {
					return fmt.Errorf("decode the answer: %w", err)
				}
				return printTable(out, &res)
			}
			res, err := g.localQuery(cmd.Context(), args[0], limit, query.AsOf(asOf))
			if err != nil {
				return err
			}
			switch format {
			case "table":
				return printTable(out, res)
			case "json":
				return sqlexec.WriteJSON(out, res)
			case "csv":
				return sqlexec.WriteCSV(out, res)
			case "ndjson":
				return sqlexec.WriteNDJSON(out, res)
			default:
				return sqlexec.WriteParquet(out, res)
			}
		},
	}
	c.flags(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table, csv, json, ndjson or parquet")
	cmd.Flags().IntVar(&limit, "limit", 0, "most rows to return (default the server's limit, 10,000)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "answer as of a memories table version or an RFC 3339 time (time travel)")
	return cmd
}

// localQuery runs a statement on the lake itself.
func (g *globals) localQuery(ctx context.Context, sql string, limit int, asOf query.AsOf) (*sqlexec.Result, error) {
	f, done, err := g.localQueryFunction(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return f.QueryAt(ctx, sql, limit, asOf)
}

// localQueryFunction opens a query function on the lake itself (no server,
// no auth), with its cache under the user's cache directory, for client
// commands run with --lake.
func (g *globals) localQueryFunction(ctx context.Context) (*query.Function, func(), error) {
	l, err := g.openLake(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, _ := auth.New(auth.Config{Disabled: true})
	cfg, err := query.ConfigFromEnv()
	if err != nil {
		return nil, nil, err
	}
	if cfg.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			cfg.CacheDir = filepath.Join(dir, "akosha")
		}
	}
	f, err := query.Open(l, a, cfg, prometheus.NewRegistry())
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Stop(context.Background()) }, nil
}

// printTable writes an aligned text table; long cells are cut to keep rows
// on one line.
func printTable(w io.Writer, res *sqlexec.Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	fmt.Fprintln(tw, strings.Join(names, "\t"))
	for _, row := range res.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	more := ""
	if res.Truncated {
		more = " (truncated by the limit)"
	}
	_, err := fmt.Fprintf(w, "(%d rows%s)\n", res.RowCount, more)
	return err
}

func cell(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "NULL"
	case string:
		s = x
	default:
		b, err := json.Marshal(x)
		if err != nil {
			s = fmt.Sprint(x)
		} else {
			s = string(b)
		}
	}
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}
