package check

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// ruleFile is Prometheus's rule file format (rulefmt), the fields used here.
type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

// A metric name in a dashboard or rule is exported by Akosha's code, or comes
// from an exporter the README lists as a prerequisite.
func checkMetric(t *testing.T, where, name string) {
	t.Helper()
	s := source(t)
	switch {
	case strings.HasPrefix(name, "akosha_"):
		if !s.Exported(name) {
			t.Errorf("%s: metric %s is not exported by the code", where, name)
		}
	case name == "up": // Prometheus itself
	case strings.HasPrefix(name, "kube_"): // kube-state-metrics
	case strings.HasPrefix(name, "kubelet_"): // the kubelet
	case strings.HasPrefix(name, "process_") && s.ProcessCollector:
	case strings.HasPrefix(name, "go_") && s.GoCollector:
	default:
		t.Errorf("%s: metric %s is neither Akosha's nor from a known exporter", where, name)
	}
}

func TestAlertRules(t *testing.T) {
	rel := "kubernetes/monitoring/alerts.yaml"
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(data, &rf); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	names := map[string]bool{}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			where := rel + ": " + r.Alert
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("%s: group %s: a rule without alert or expr", rel, g.Name)
			}
			if names[r.Alert] {
				t.Errorf("%s: alert %s defined twice", rel, r.Alert)
			}
			names[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: needs a severity label and a summary", where)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
				t.Errorf("%s: unbalanced expression %q", where, r.Expr)
			}
			ms := MetricNames(r.Expr)
			if len(ms) == 0 {
				t.Errorf("%s: no metric in %q", where, r.Expr)
			}
			for _, m := range ms {
				checkMetric(t, where, m)
			}
		}
	}
	if n < 5 {
		t.Errorf("%s: only %d rules", rel, n)
	}
}

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func TestDashboards(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "kubernetes/monitoring/dashboards/*.json"))
	want := map[string]bool{"akosha-ingestion.json": false, "akosha-query.json": false, "akosha-storage.json": false}
	uids := map[string]bool{}
	for _, f := range files {
		base := filepath.Base(f)
		if _, ok := want[base]; ok {
			want[base] = true
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if d.UID == "" || d.Title == "" || uids[d.UID] {
			t.Errorf("%s: uid %q title %q (uids must be set and distinct)", base, d.UID, d.Title)
		}
		uids[d.UID] = true
		var walk func([]panel)
		exprs := 0
		walk = func(ps []panel) {
			for _, p := range ps {
				walk(p.Panels)
				for _, tg := range p.Targets {
					exprs++
					where := base + ": " + p.Title
					ms := MetricNames(tg.Expr)
					if len(ms) == 0 {
						t.Errorf("%s: no metric in %q", where, tg.Expr)
					}
					for _, m := range ms {
						checkMetric(t, where, m)
					}
				}
			}
		}
		walk(d.Panels)
		if exprs < 4 {
			t.Errorf("%s: only %d queries", base, exprs)
		}
	}
	for f, ok := range want {
		if !ok {
			t.Errorf("kubernetes/monitoring/dashboards/%s is missing", f)
		}
	}
}

// The scrape config keeps exactly the annotated pods of namespace akosha.
func TestScrapeConfig(t *testing.T) {
	rel := "kubernetes/monitoring/prometheus-scrape.yaml"
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName             string `json:"job_name"`
			ScrapeInterval      string `json:"scrape_interval"`
			ScrapeTimeout       string `json:"scrape_timeout"`
			MetricsPath         string `json:"metrics_path"`
			KubernetesSDConfigs []struct {
				Role       string `json:"role"`
				Namespaces struct {
					Names []string `json:"names"`
				} `json:"namespaces"`
			} `json:"kubernetes_sd_configs"`
			RelabelConfigs []struct {
				SourceLabels []string `json:"source_labels"`
				Action       string   `json:"action,omitempty"`
				Regex        string   `json:"regex,omitempty"`
				Replacement  string   `json:"replacement,omitempty"`
				TargetLabel  string   `json:"target_label,omitempty"`
			} `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if len(cfg.ScrapeConfigs) == 0 || cfg.ScrapeConfigs[0].JobName != "akosha" {
		t.Fatalf("%s: want a scrape job named akosha (the alerts select job=\"akosha\")", rel)
	}
	sc := cfg.ScrapeConfigs[0]
	keep, component := false, false
	for _, r := range sc.RelabelConfigs {
		if r.Action == "keep" && len(r.SourceLabels) == 1 && r.SourceLabels[0] == "__meta_kubernetes_pod_annotation_prometheus_io_scrape" && r.Regex == "true" {
			keep = true
		}
		if r.TargetLabel == "component" {
			component = true
		}
	}
	if !keep || !component {
		t.Errorf("%s: want a keep rule on prometheus.io/scrape and a component label (dashboards use it)", rel)
	}
	if len(sc.KubernetesSDConfigs) != 1 || sc.KubernetesSDConfigs[0].Role != "pod" {
		t.Errorf("%s: want pod service discovery", rel)
	}
}

func TestMetricNames(t *testing.T) {
	got := MetricNames(`histogram_quantile(0.99, sum by (le, table) (rate(akosha_x_bucket{function="a", b=~"5.."}[5m]))) / on(pod) group_left kube_y > 1e3 and up == 0`)
	want := []string{"akosha_x_bucket", "kube_y", "up"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("MetricNames = %v, want %v", got, want)
	}
}
