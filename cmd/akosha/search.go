package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/functions/query"
)

func newSearchCmd(g *globals) *cobra.Command {
	var c client
	var text, vectorFile, format, project, from, to, mode, session, asOf string
	var k int
	var threshold, weight float64
	var tagsAll bool
	var systems, kinds, tiers, tags []string
	cmd := &cobra.Command{
		Use:   "search --text TEXT | --vector-file FILE",
		Short: "Semantic, full-text (BM25) or hybrid search over the memories, best first",
		Long: `search runs one search, on a running server (--url) or on the lake itself (--lake).

--mode vector ranks by cosine similarity to --vector-file, or to --text embedded by an
embeddings endpoint (the server's, or AKOSHA_EMBEDDINGS_URL in lake mode); --mode text ranks
--text by BM25 over content and tags and needs no endpoint; --mode hybrid fuses both
rankings (--hybrid-weight is the vector ranking's share). The default is hybrid when there
is a text and a vector (given, or embedded), vector with --vector-file only, text with
--text and no endpoint. --vector-file reads a JSON array of 384 numbers ("-" for stdin).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if text == "" && vectorFile == "" {
				return usageError{fmt.Errorf("give --text or --vector-file (or both, for --mode hybrid)")}
			}
			if format != "table" && format != "json" {
				return usageError{fmt.Errorf("--format %q: want table or json", format)}
			}
			req := query.SearchRequest{Text: text, K: &k, Mode: mode, AsOf: query.AsOf(asOf)}
			if cmd.Flags().Changed("hybrid-weight") {
				req.HybridWeight = &weight
			}
			if vectorFile != "" {
				var rd io.Reader = os.Stdin
				if vectorFile != "-" {
					fh, err := os.Open(vectorFile)
					if err != nil {
						return err
					}
					defer fh.Close()
					rd = fh
				}
				if err := json.NewDecoder(rd).Decode(&req.Vector); err != nil {
					return fmt.Errorf("%s: want a JSON array of 384 numbers: %w", vectorFile, err)
				}
			}
			if cmd.Flags().Changed("threshold") {
				req.Threshold = &threshold
			}
			if systems != nil || kinds != nil || tiers != nil || project != "" || from != "" || to != "" || tags != nil || tagsAll || session != "" {
				req.Filter = &query.SearchFilter{SystemID: systems, Kind: kinds, Tier: tiers, Project: project, From: from, To: to,
					Tags: tags, TagsAll: tagsAll, SessionID: session}
			}
			var resp query.SearchResponse
			if c.url != "" {
				body, err := c.post(cmd.Context(), "/v1/search", req, "application/json")
				if err != nil {
					return err
				}
				if err := json.Unmarshal(body, &resp); err != nil {
					return fmt.Errorf("decode the answer: %w", err)
				}
			} else {
				r, err := g.localSearch(cmd.Context(), req)
				if err != nil {
					return err
				}
				resp = *r
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(resp)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "score\tsystem_id\tid\tkind\ttier\tcreated_at\tcontent")
			for _, r := range resp.Results {
				fmt.Fprintf(tw, "%.4f\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Score, r.SystemID, r.ID, r.Kind, r.Tier, r.CreatedAt, cell(r.Content))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err := fmt.Fprintf(out, "(%d results, %.1f ms)\n", len(resp.Results), resp.ElapsedMS)
			return err
		},
	}
	c.flags(cmd)
	cmd.Flags().StringVar(&text, "text", "", "search text (BM25 in modes text and hybrid; embedded in mode vector)")
	cmd.Flags().StringVar(&mode, "mode", "", "vector, text or hybrid (default: from the inputs, see above)")
	cmd.Flags().Float64Var(&weight, "hybrid-weight", 0.5, "mode hybrid: the vector ranking's share in the fusion (0..1)")
	cmd.Flags().StringVar(&vectorFile, "vector-file", "", `JSON file holding the 384-float query vector ("-": stdin)`)
	cmd.Flags().IntVar(&k, "k", query.DefaultSearchK, "number of results (1..1000)")
	cmd.Flags().Float64Var(&threshold, "threshold", 0, "lowest cosine similarity to return (-1..1; modes vector and hybrid)")
	cmd.Flags().StringSliceVar(&systems, "system", nil, "only these system ids")
	cmd.Flags().StringSliceVar(&kinds, "kind", nil, "only these kinds (conversation, reflection, memory)")
	cmd.Flags().StringSliceVar(&tiers, "tier", nil, "only these tiers (hot, warm, cold)")
	cmd.Flags().StringVar(&project, "project", "", "only this project")
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "only records holding any of these tags")
	cmd.Flags().BoolVar(&tagsAll, "tags-all", false, "with --tag: records must hold every tag")
	cmd.Flags().StringVar(&session, "session", "", "only this session id")
	cmd.Flags().StringVar(&from, "from", "", "created at or after (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "created at or before (RFC 3339)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().StringVar(&asOf, "as-of", "", "search as of a memories table version or an RFC 3339 time (time travel)")
	return cmd
}

// localSearch runs a search on the lake itself.
func (g *globals) localSearch(ctx context.Context, req query.SearchRequest) (*query.SearchResponse, error) {
	f, done, err := g.localQueryFunction(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return f.Search(ctx, req)
}
