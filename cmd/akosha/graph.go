package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/functions/query"
)

func newGraphCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph entity|path",
		Short: "The knowledge graph across systems: an entity's neighbours, shortest paths",
		Long: `graph reads the entities and relations of every system as one graph, where entities with the same
name (case aside) are one node: on a running server (--url) or on the lake itself (--lake).`,
	}
	cmd.AddCommand(newGraphEntityCmd(g), newGraphPathCmd(g))
	return cmd
}

func newGraphEntityCmd(g *globals) *cobra.Command {
	var c client
	var o output
	var name, direction string
	var types []string
	var limit int
	cmd := &cobra.Command{
		Use:   "entity SYSTEM_ID ID | entity --name NAME",
		Short: "An entity and its neighbours: relation type, direction and the entity at the other end",
		Args:  cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if (name == "") == (len(args) == 0) || (len(args) != 0 && len(args) != 2) {
				return usageError{fmt.Errorf("give SYSTEM_ID ID, or --name NAME")}
			}
			v := url.Values{}
			path := "/v1/graph/entities"
			if name != "" {
				v.Set("name", name)
			} else {
				path += "/" + url.PathEscape(args[0]) + "/" + url.PathEscape(args[1])
				v.Set("system_id", args[0])
				v.Set("id", args[1])
			}
			if cmd.Flags().Changed("direction") {
				v.Set("direction", direction)
			}
			if cmd.Flags().Changed("relation-type") {
				v["relation_type"] = types
			}
			if cmd.Flags().Changed("limit") {
				v.Set("limit", strconv.Itoa(limit))
			}
			if c.url != "" {
				v.Del("system_id") // in the path
				v.Del("id")
			}
			a, err := callAPI(cmd.Context(), g, &c, path, v,
				func(f *query.Function) func(context.Context, url.Values) (*query.NeighboursResponse, error) {
					return f.Neighbours
				})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				return writeJSON(w, a)
			}
			printNeighbours(w, a)
			return nil
		},
	}
	c.flags(cmd)
	o.flags(cmd)
	cmd.Flags().StringVar(&name, "name", "", "name the entity by its name, in any system")
	cmd.Flags().StringVar(&direction, "direction", "both", "out (the entity is from_entity), in, or both")
	cmd.Flags().StringSliceVar(&types, "relation-type", nil, "only relations of these types")
	cmd.Flags().IntVar(&limit, "limit", 100, "most neighbours to show")
	return cmd
}

func printNeighbours(w io.Writer, a *query.NeighboursResponse) {
	if e := a.Entity; e != nil {
		fmt.Fprintf(w, "%s (%s) %s/%s, node %q\n", cell(e.Name), cell(e.EntityType), e.SystemID, e.ID, a.Node)
		for _, o := range e.Observations {
			fmt.Fprintf(w, "  - %s\n", cell(o))
		}
	} else {
		fmt.Fprintf(w, "node %q (no entity record)\n", a.Node)
	}
	var others []string
	for _, e := range a.Entities {
		if a.Entity == nil || e.SystemID != a.Entity.SystemID || e.ID != a.Entity.ID {
			others = append(others, fmt.Sprintf("%s/%s (%s)", e.SystemID, e.ID, cell(e.EntityType)))
		}
	}
	if len(others) > 0 {
		fmt.Fprintf(w, "same name in: %s\n", strings.Join(others, ", "))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "direction\trelation_type\tnode\tentity\trelation")
	for _, n := range a.Neighbours {
		ent := "-"
		if n.Entity != nil {
			ent = fmt.Sprintf("%s/%s (%s)", n.Entity.SystemID, n.Entity.ID, cell(n.Entity.EntityType))
		}
		arrow := "->"
		if n.Direction == "in" {
			arrow = "<-"
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s/%s\n", n.Direction, arrow, cell(n.RelationType), cell(n.Name), ent, n.Relation.SystemID, n.Relation.ID)
	}
	tw.Flush()
	more := ""
	if a.Truncated {
		more = fmt.Sprintf(" of %d; --limit shows more", a.Total)
	}
	fmt.Fprintf(w, "(%d neighbours%s)\n", a.Count, more)
}

func newGraphPathCmd(g *globals) *cobra.Command {
	var c client
	var o output
	var maxHops int
	var directed bool
	cmd := &cobra.Command{
		Use:   "path FROM TO",
		Short: "A shortest path between two entities (each a name or SYSTEM_ID/ID)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			v := url.Values{"from": {args[0]}, "to": {args[1]}}
			if cmd.Flags().Changed("max-hops") {
				v.Set("max_hops", strconv.Itoa(maxHops))
			}
			if directed {
				v.Set("directed", "true")
			}
			a, err := callAPI(cmd.Context(), g, &c, "/v1/graph/path", v,
				func(f *query.Function) func(context.Context, url.Values) (*query.PathResponse, error) { return f.Path })
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if o.format == "json" {
				return writeJSON(w, a)
			}
			if !a.Found {
				_, err := fmt.Fprintf(w, "no path from %q to %q within %d hops\n", a.From, a.To, a.MaxHops)
				return err
			}
			// One line a node, the hop into it above: readable however long
			// the names.
			for i, n := range a.Path {
				if i > 0 {
					e := a.Edges[i-1]
					if e.Direction == "out" {
						fmt.Fprintf(w, "   | -%s->  (%s/%s)\n", cell(e.RelationType), e.Relation.SystemID, e.Relation.ID)
					} else {
						fmt.Fprintf(w, "   | <-%s-  (%s/%s)\n", cell(e.RelationType), e.Relation.SystemID, e.Relation.ID)
					}
				}
				ent := "no entity record"
				if n.Entity != nil {
					ent = fmt.Sprintf("%s/%s, %s", n.Entity.SystemID, n.Entity.ID, cell(n.Entity.EntityType))
				}
				fmt.Fprintf(w, "%s (%s)\n", cell(n.Name), ent)
			}
			_, err = fmt.Fprintf(w, "(%d hops)\n", *a.Hops)
			return err
		},
	}
	c.flags(cmd)
	o.flags(cmd)
	cmd.Flags().IntVar(&maxHops, "max-hops", query.DefaultMaxHops, fmt.Sprintf("longest path searched (1..%d)", query.MaxMaxHops))
	cmd.Flags().BoolVar(&directed, "directed", false, "follow relations only from from_entity to to_entity")
	return cmd
}
