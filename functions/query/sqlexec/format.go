package sqlexec

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// Content types of the writers' formats.
const (
	ContentTypeJSON    = "application/json"
	ContentTypeCSV     = "text/csv; charset=utf-8"
	ContentTypeNDJSON  = "application/x-ndjson"
	ContentTypeParquet = "application/vnd.apache.parquet"
)

// WriteJSON writes res as one JSON object: columns, rows (arrays in column
// order), row_count and truncated.
func WriteJSON(w io.Writer, res *Result) error {
	out := *res
	if out.Rows == nil {
		out.Rows = [][]any{} // [] rather than null
	}
	if out.Columns == nil {
		out.Columns = []Column{}
	}
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(&out); err != nil {
		return fmt.Errorf("sqlexec: write JSON: %w", err)
	}
	return flush(bw, "JSON")
}

// WriteNDJSON writes one JSON object per row, keyed by column name (a
// repeated name gets a suffix, see uniqueNames). Whether rows were cut is
// not part of this format; callers that need it send a header.
func WriteNDJSON(w io.Writer, res *Result) error {
	names := uniqueNames(res.Columns)
	keys := make([][]byte, len(names))
	for i, n := range names {
		k, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("sqlexec: write NDJSON: %w", err)
		}
		keys[i] = k
	}
	bw := bufio.NewWriter(w)
	var line bytes.Buffer
	for r, row := range res.Rows {
		if len(row) != len(names) {
			return fmt.Errorf("sqlexec: write NDJSON: row %d has %d values for %d columns", r, len(row), len(names))
		}
		line.Reset()
		line.WriteByte('{')
		for i, v := range row {
			if i > 0 {
				line.WriteByte(',')
			}
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("sqlexec: write NDJSON: row %d, column %s: %w", r, names[i], err)
			}
			line.Write(keys[i])
			line.WriteByte(':')
			line.Write(b)
		}
		line.WriteString("}\n")
		if _, err := bw.Write(line.Bytes()); err != nil {
			return fmt.Errorf("sqlexec: write NDJSON: %w", err)
		}
	}
	return flush(bw, "NDJSON")
}

// WriteCSV writes a header of column names and one record per row (RFC
// 4180). NULL is an empty field; lists, structs and maps are their JSON
// text, BLOB is base64, everything else is as in JSON without quotes.
func WriteCSV(w io.Writer, res *Result) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	header := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		header[i] = c.Name
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("sqlexec: write CSV: %w", err)
	}
	rec := make([]string, len(res.Columns))
	for r, row := range res.Rows {
		if len(row) != len(rec) {
			return fmt.Errorf("sqlexec: write CSV: row %d has %d values for %d columns", r, len(row), len(rec))
		}
		for i, v := range row {
			rec[i] = textOf(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("sqlexec: write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("sqlexec: write CSV: %w", err)
	}
	return flush(bw, "CSV")
}

func flush(bw *bufio.Writer, format string) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sqlexec: write %s: %w", format, err)
	}
	return nil
}

// uniqueNames returns the column names with repeats renamed name_1,
// name_2, ... (skipping names already taken), for formats whose readers
// look columns up by name.
func uniqueNames(cols []Column) []string {
	taken := make(map[string]bool, len(cols))
	for _, c := range cols {
		taken[c.Name] = true
	}
	seen := make(map[string]bool, len(cols))
	out := make([]string, len(cols))
	for i, c := range cols {
		name := c.Name
		if seen[name] {
			for n := 1; ; n++ {
				cand := name + "_" + strconv.Itoa(n)
				if !taken[cand] {
					name = cand
					break
				}
			}
			taken[name] = true
		}
		seen[name] = true
		out[i] = name
	}
	return out
}
