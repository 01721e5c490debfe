package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/akosha/akosha/lake/delta"
	"github.com/akosha/akosha/schemas"
)

// Warm and cold memories keep their vectors as embedding_i8 times
// embedding_scale, and their embedding is NULL: Akosha's own views restore
// it, but an engine that reads the Delta table directly sees NULL. These
// view definitions restore it there too, with each engine's list function.

// viewEngines names, per engine, how a definition reads the table and
// maps a list.
var viewEngines = map[string]struct {
	source    func(uri string) string
	transform string // fmt with the list and the lambda's body
	floatType string
	create    string
}{
	"duckdb": {
		source:    func(uri string) string { return "delta_scan(" + sqlString(uri) + ")" },
		transform: "list_transform(%s, x -> %s)", floatType: "FLOAT",
		create: "CREATE OR REPLACE VIEW",
	},
	"spark": {
		source:    func(uri string) string { return "delta.`" + strings.ReplaceAll(uri, "`", "``") + "`" },
		transform: "transform(%s, x -> %s)", floatType: "FLOAT",
		create: "CREATE OR REPLACE TEMPORARY VIEW",
	},
	"trino": {
		// Trino reads a Delta table registered in its catalog: the
		// source is that table's name (delta.akosha.memories by default).
		source:    func(name string) string { return name },
		transform: "transform(%s, x -> %s)", floatType: "REAL",
		create: "CREATE OR REPLACE VIEW",
	},
}

// memoriesViewSQL is a view named view over source whose embedding is the
// stored float vector, or the int8 codes times their scale where only
// those are stored; it lists columns in the table's order, without the
// int8 pair.
func memoriesViewSQL(engine, view, source string, columns []string) (string, error) {
	e, ok := viewEngines[engine]
	if !ok {
		return "", fmt.Errorf("engine %q: want duckdb, spark or trino", engine)
	}
	for _, need := range []string{"embedding", "embedding_i8", "embedding_scale"} {
		if !slices.Contains(columns, need) {
			return "", fmt.Errorf("the memories table has no %s column", need)
		}
	}
	var sel []string
	for _, c := range columns {
		switch c {
		case "embedding_i8", "embedding_scale":
			continue
		case "embedding":
			dequant := fmt.Sprintf(e.transform, "embedding_i8", "CAST(x AS "+e.floatType+") * embedding_scale")
			sel = append(sel, "CASE WHEN embedding IS NULL AND embedding_i8 IS NOT NULL THEN "+dequant+
				" ELSE embedding END AS embedding")
		default:
			sel = append(sel, c)
		}
	}
	return fmt.Sprintf("%s %s AS\nSELECT\n  %s\nFROM %s;\n", e.create, view, strings.Join(sel, ",\n  "), e.source(source)), nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func newLakeViewsCmd(g *globals) *cobra.Command {
	var engine, view, trinoTable string
	cmd := &cobra.Command{
		Use:   "views",
		Short: "Print a view for another engine that restores warm and cold memories' embedding",
		Long: `Warm and cold memories store each embedding as 384 int8 codes and a scale
(embedding_i8, embedding_scale); their embedding column is NULL to an engine that reads the
Delta table directly. views prints a view definition for DuckDB (delta_scan, with the delta
extension), Spark SQL (delta.` + "`uri`" + `) or Trino (a table registered in its Delta catalog)
that shows every memory's embedding as floats, whatever its tier. Columns follow the table's
schema in the log.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			snap, err := delta.NewTable(store, schemas.TableMemories).Snapshot(cmd.Context())
			if err != nil {
				return err
			}
			schema, err := snap.Schema()
			if err != nil {
				return err
			}
			source := strings.TrimRight(g.lakeURL, "/") + "/" + schemas.TableMemories
			if engine == "trino" {
				source = trinoTable
			}
			sql, err := memoriesViewSQL(engine, view, source, schema.Names())
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), sql)
			return err
		},
	}
	cmd.Flags().StringVar(&engine, "engine", "duckdb", "duckdb, spark or trino")
	cmd.Flags().StringVar(&view, "view", "akosha_memories", "the view's name")
	cmd.Flags().StringVar(&trinoTable, "trino-table", "delta.akosha.memories", "with --engine trino: the memories table as Trino's Delta catalog names it")
	return cmd
}
