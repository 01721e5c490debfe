package main

// The references generated from the code: the CLI's (docs/cli, by cobra's
// own generator) and the MCP tools' (README.md, from tools/list). Each test
// fails when its reference is stale; `go generate ./cmd/akosha` (or
// `make docs`) rewrites them.

//go:generate env AKOSHA_UPDATE_DOCS=1 go test -count=1 -run ^(TestCLIReferenceIsCurrent|TestREADMEListsTheMCPTools)$ .

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/spf13/cobra/doc"
)

// updating says the test should rewrite its reference instead of failing.
var updating = os.Getenv("AKOSHA_UPDATE_DOCS") == "1"

// repoFile is a path relative to the repository's root (tests run in
// cmd/akosha).
func repoFile(rel string) string { return filepath.Join("..", "..", rel) }

// withoutAkoshaEnv clears AKOSHA_* variables, some of which are flag
// defaults: the reference must not depend on who generated it.
func withoutAkoshaEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AKOSHA_") {
			t.Setenv(name, "")
		}
	}
}

func TestCLIReferenceIsCurrent(t *testing.T) {
	withoutAkoshaEnv(t)
	root := newRoot()
	root.DisableAutoGenTag = true // no date: the same tree generates the same files
	fresh := t.TempDir()
	if err := doc.GenMarkdownTree(root, fresh); err != nil {
		t.Fatal(err)
	}
	dir := repoFile("docs/cli")
	want, err := readTree(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 10 {
		t.Fatalf("cobra generated only %v", slices.Sorted(maps.Keys(want)))
	}
	if updating {
		if err := writeTree(dir, want); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := readTree(dir)
	if err != nil {
		t.Fatalf("%v (run go generate ./cmd/akosha)", err)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !bytes.Equal(got[name], want[name]) {
			t.Errorf("docs/cli/%s is stale: run go generate ./cmd/akosha (or make docs)", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/cli/%s documents no command: run go generate ./cmd/akosha (or make docs)", name)
		}
	}
}

func readTree(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}

// writeTree makes dir hold exactly files.
func writeTree(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write docs: %w", err)
		}
	}
	return nil
}

// The README's table of MCP tools is what tools/list answers on akosha
// serve's /mcp, and each tool's inputSchema is a valid JSON Schema of an
// object whose required arguments it describes.
func TestREADMEListsTheMCPTools(t *testing.T) {
	withoutAkoshaEnv(t)
	p := startServerOn(t, t.TempDir(), (*runtime).bothServer, nil)
	status, _, body := p.do(t, http.MethodPost, "/mcp", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`),
		http.Header{"X-Api-Key": {viewerKey}, "Content-Type": {"application/json"}})
	var answer struct {
		Result struct {
			Tools []mcpTool `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &answer); status != http.StatusOK || err != nil || len(answer.Result.Tools) < 10 {
		t.Fatalf("tools/list = %d %v: %s", status, err, truncate(body))
	}
	tools := answer.Result.Tools
	for _, tool := range tools {
		checkInputSchema(t, tool)
	}
	table := toolTable(tools)
	readme := repoFile("README.md")
	text, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- mcp-tools: generated from tools/list by go generate ./cmd/akosha -->\n", "<!-- /mcp-tools -->\n"
	i, j := bytes.Index(text, []byte(begin)), bytes.Index(text, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", begin, end)
	}
	current := string(text[i+len(begin) : j])
	if current == table {
		return
	}
	if !updating {
		t.Fatalf("README.md's MCP tool table is stale: run go generate ./cmd/akosha (or make docs); want\n%s", table)
	}
	updated := string(text[:i+len(begin)]) + table + string(text[j:])
	if err := os.WriteFile(readme, []byte(updated), 0o644); err != nil {
		t.Fatal(err)
	}
}

type mcpTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"inputSchema"`
}

// checkInputSchema fails unless tool's inputSchema is a valid JSON Schema
// of an object that describes every argument it requires.
func checkInputSchema(t *testing.T, tool mcpTool) {
	t.Helper()
	var s openapi3.Schema
	if err := json.Unmarshal(tool.InputSchema, &s); err != nil {
		t.Errorf("%s: inputSchema: %v", tool.Name, err)
		return
	}
	// MCP tools describe their arguments in JSON Schema 2020-12, the
	// dialect of OpenAPI 3.1 (a numeric exclusiveMinimum, for one).
	if err := s.Validate(context.Background(), openapi3.IsOpenAPI31OrLater()); err != nil {
		t.Errorf("%s: inputSchema is not a valid schema: %v", tool.Name, err)
	}
	if !s.Type.Is("object") || len(s.Properties) == 0 {
		t.Errorf("%s: inputSchema is not an object with properties: %s", tool.Name, tool.InputSchema)
	}
	for _, r := range s.Required {
		if s.Properties[r] == nil {
			t.Errorf("%s: requires %q, which it does not describe", tool.Name, r)
		}
	}
}

// toolTable is the README's table: each tool, its arguments (required ones
// starred) and what it does.
func toolTable(tools []mcpTool) string {
	sorted := slices.Clone(tools)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var b strings.Builder
	b.WriteString("| tool | arguments (* required) | what it does |\n|---|---|---|\n")
	for _, tool := range sorted {
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		}
		_ = json.Unmarshal(tool.InputSchema, &s) // checked by checkInputSchema
		var args []string
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			if slices.Contains(s.Required, name) {
				name += "*"
			}
			args = append(args, "`"+name+"`")
		}
		desc := strings.ReplaceAll(tool.Description, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", tool.Name, strings.Join(args, ", "), desc)
	}
	return b.String()
}
