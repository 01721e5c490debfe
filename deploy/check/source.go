// Package check holds the tests of Akosha's deployment manifests (Dockerfile,
// knative/, kubernetes/, functions/*/func.yaml). It is its own Go module so the
// Kubernetes, Knative and kustomize libraries stay out of the main module.
//
// It reads the main module's source text (go/ast, no build of it) for the
// configuration keys and the metric names the code uses, so the ConfigMap and
// the dashboards are checked against what the code really reads and exports.
package check

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Source is what the main module's non-test Go files declare.
type Source struct {
	// Keys: every AKOSHA_* string literal (config.Register names, os.Getenv
	// arguments, the constants passed to them), with the files naming it.
	Keys map[string][]string
	// SecretKeys: keys registered with Secret: true.
	SecretKeys map[string]bool
	// Metrics: every metric name of a prometheus *Opts literal, with its kind
	// (counter, gauge, histogram, summary).
	Metrics map[string]string
	// GoCollector, ProcessCollector: the code registers client_golang's
	// go_* and process_* collectors.
	GoCollector, ProcessCollector bool
}

var keyPattern = regexp.MustCompile(`^AKOSHA_[A-Z0-9_]+$`)

// ScanSource parses every non-test .go file of the module rooted at root,
// skipping nested modules, testdata and hidden folders.
func ScanSource(root string) (*Source, error) {
	src := &Source{Keys: map[string][]string{}, SecretKeys: map[string]bool{}, Metrics: map[string]string{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root {
				if strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules" {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module (this one, among others)
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		src.scanFile(f, filepath.ToSlash(rel))
		return nil
	})
	return src, err
}

func (s *Source) scanFile(f *ast.File, rel string) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if v, ok := stringLit(n); ok && keyPattern.MatchString(v) {
				s.Keys[v] = appendOnce(s.Keys[v], rel)
			}
		case *ast.SelectorExpr:
			switch n.Sel.Name {
			case "NewGoCollector":
				s.GoCollector = true
			case "NewProcessCollector":
				s.ProcessCollector = true
			}
		case *ast.CompositeLit:
			fields := map[string]ast.Expr{}
			for _, e := range n.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						fields[id.Name] = kv.Value
					}
				}
			}
			// config.Key{Name: "AKOSHA_...", Secret: true}
			if name, ok := litOf(fields["Name"]); ok && keyPattern.MatchString(name) {
				if id, ok := fields["Secret"].(*ast.Ident); ok && id.Name == "true" {
					s.SecretKeys[name] = true
				}
			}
			// prometheus.CounterOpts{Namespace: ..., Subsystem: ..., Name: ...}
			if sel, ok := n.Type.(*ast.SelectorExpr); ok {
				kind := map[string]string{"CounterOpts": "counter", "GaugeOpts": "gauge",
					"HistogramOpts": "histogram", "SummaryOpts": "summary"}[sel.Sel.Name]
				if kind == "" {
					return true
				}
				name, ok := litOf(fields["Name"])
				if !ok {
					return true
				}
				var parts []string
				for _, k := range []string{"Namespace", "Subsystem"} {
					if v, ok := litOf(fields[k]); ok && v != "" {
						parts = append(parts, v)
					}
				}
				s.Metrics[strings.Join(append(parts, name), "_")] = kind
			}
		}
		return true
	})
}

// Exported says whether a series name is exported by the code: a metric's own
// name, or a histogram's or summary's _bucket/_sum/_count series.
func (s *Source) Exported(series string) bool {
	if _, ok := s.Metrics[series]; ok {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(series, suf)
		if !ok {
			continue
		}
		switch s.Metrics[base] {
		case "histogram":
			return true
		case "summary":
			if suf != "_bucket" {
				return true
			}
		}
	}
	return false
}

func litOf(e ast.Expr) (string, bool) {
	if bl, ok := e.(*ast.BasicLit); ok {
		return stringLit(bl)
	}
	return "", false
}

func stringLit(bl *ast.BasicLit) (string, bool) {
	if bl.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(bl.Value)
	return v, err == nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// promKeywords are PromQL words that are not metric names.
var promKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
}

var (
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promRange  = regexp.MustCompile(`\[[^\]]*\]`)
	promGroup  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promLabels = regexp.MustCompile(`\{[^}]*\}`)
	promIdent  = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// MetricNames returns the metric names a PromQL expression selects: the
// identifiers that are neither functions (followed by "("), keywords, label
// names (inside braces or grouping clauses) nor numbers.
func MetricNames(expr string) []string {
	e := promString.ReplaceAllString(expr, `""`)
	e = promRange.ReplaceAllString(e, " ")
	e = promGroup.ReplaceAllString(e, " ")
	e = promLabels.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		id := e[loc[0]:loc[1]]
		if loc[0] > 0 && (isDigit(e[loc[0]-1]) || e[loc[0]-1] == '.') {
			continue // the exponent or unit of a number (1e3)
		}
		rest := strings.TrimLeft(e[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(id)] {
			continue
		}
		out = appendOnce(out, id)
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
