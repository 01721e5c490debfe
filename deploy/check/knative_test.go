package check

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

var knativeFiles = map[string]string{"ingest": "knative/ingest.yaml", "query": "knative/query.yaml"}

func knativeServices(t *testing.T) map[string]*servingv1.Service {
	t.Helper()
	out := map[string]*servingv1.Service{}
	for fn, rel := range knativeFiles {
		objs, err := DecodeFile(root, rel)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 {
			t.Fatalf("%s: %d documents, want one Knative Service", rel, len(objs))
		}
		ks, ok := objs[0].Obj.(*servingv1.Service)
		if !ok {
			t.Fatalf("%s: %s, want serving.knative.dev/v1 Service", rel, objs[0].Kind)
		}
		out[fn] = ks
	}
	return out
}

// Both Knative Services decode strictly, pass Knative's own defaulting and
// validation (the admission webhook's checks, with the default feature flags),
// scale to zero, and carry probes, config and (query) the cache volume.
func TestKnativeServices(t *testing.T) {
	cm := configMap(t)
	secs := secrets(t)
	for fn, ks := range knativeServices(t) {
		rel := knativeFiles[fn]
		ctx := apis.WithinCreate(context.Background())
		ks.SetDefaults(ctx)
		if err := ks.Validate(ctx); err != nil {
			t.Errorf("%s: Knative validation: %v", rel, err)
		}
		if ks.Name != fn || ks.Namespace != "akosha" {
			t.Errorf("%s: name %s/%s, want akosha/%s (the func.yaml name)", rel, ks.Namespace, ks.Name, fn)
		}
		tpl := ks.Spec.Template
		ann := tpl.Annotations
		if ann["autoscaling.knative.dev/min-scale"] != "0" {
			t.Errorf("%s: min-scale %q, want 0 (scale to zero)", rel, ann["autoscaling.knative.dev/min-scale"])
		}
		for _, k := range []string{"autoscaling.knative.dev/max-scale", "autoscaling.knative.dev/target"} {
			if n, err := strconv.Atoi(ann[k]); err != nil || n < 1 {
				t.Errorf("%s: %s %q, want a positive number", rel, k, ann[k])
			}
		}
		target, _ := strconv.Atoi(ann["autoscaling.knative.dev/target"])
		if tpl.Spec.ContainerConcurrency == nil || *tpl.Spec.ContainerConcurrency < int64(target) {
			t.Errorf("%s: containerConcurrency must be set and at least the target", rel)
		}
		if tpl.Spec.TimeoutSeconds == nil || *tpl.Spec.TimeoutSeconds < 30 {
			t.Errorf("%s: timeoutSeconds must be set (at least the 30 s request timeouts)", rel)
		}
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "8080" {
			t.Errorf("%s: template lacks the prometheus.io annotations", rel)
		}
		if len(tpl.Spec.Containers) != 1 {
			t.Fatalf("%s: %d containers", rel, len(tpl.Spec.Containers))
		}
		c := tpl.Spec.Containers[0]
		checkProbes(t, rel, c)
		if len(c.Args) != 2 || c.Args[0] != "function" || c.Args[1] != fn {
			t.Errorf("%s: args %v, want [function %s]", rel, c.Args, fn)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
			*sc.AllowPrivilegeEscalation || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.Capabilities == nil ||
			len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || sc.SeccompProfile == nil ||
			sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: container securityContext must be non-root, read-only, no escalation, drop ALL, RuntimeDefault", rel)
		}
		hasCM := false
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				hasCM = ef.ConfigMapRef.Name == cm.Name
			}
			if ef.SecretRef != nil && secs[ef.SecretRef.Name] == nil {
				t.Errorf("%s: envFrom Secret %s is not in kubernetes/secrets.yaml", rel, ef.SecretRef.Name)
			}
		}
		if !hasCM {
			t.Errorf("%s: no envFrom ConfigMap %s", rel, cm.Name)
		}
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			mounts[m.MountPath] = m.Name
		}
		vols := map[string]corev1.Volume{}
		for _, v := range tpl.Spec.Volumes {
			vols[v.Name] = v
		}
		if v, ok := vols[mounts["/tmp"]]; !ok || v.EmptyDir == nil {
			t.Errorf("%s: /tmp must be an emptyDir (read-only root filesystem)", rel)
		}
		if fn == "query" {
			dir := cm.Data["AKOSHA_CACHE_DIR"]
			if v, ok := vols[mounts[dir]]; !ok || v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
				t.Errorf("%s: no sized emptyDir at AKOSHA_CACHE_DIR %s", rel, dir)
			}
		}
	}
}

// funcYAML is func.yaml as knative/func's schema (schema/func_yaml-schema.json,
// additionalProperties false) defines the fields used here.
type funcYAML struct {
	SpecVersion string `json:"specVersion"`
	Name        string `json:"name"`
	Runtime     string `json:"runtime"`
	Registry    string `json:"registry,omitempty"`
	Image       string `json:"image"`
	Namespace   string `json:"namespace"`
	Created     string `json:"created"`
	Invoke      string `json:"invoke,omitempty"`
	Build       *struct {
		Builder string `json:"builder,omitempty"`
	} `json:"build,omitempty"`
	Run struct {
		Envs []struct {
			Name  string `json:"name,omitempty"`
			Value string `json:"value"`
		} `json:"envs"`
		Volumes []struct {
			Secret    string `json:"secret,omitempty"`
			ConfigMap string `json:"configMap,omitempty"`
			EmptyDir  *struct {
				Medium    string `json:"medium,omitempty"`
				SizeLimit string `json:"sizeLimit,omitempty"`
			} `json:"emptyDir,omitempty"`
			Path string `json:"path"`
		} `json:"volumes"`
	} `json:"run"`
	Deploy struct {
		Namespace          string            `json:"namespace"`
		ServiceAccountName string            `json:"serviceAccountName"`
		Annotations        map[string]string `json:"annotations"`
		Labels             []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"labels"`
		HealthEndpoints struct {
			Liveness  string `json:"liveness"`
			Readiness string `json:"readiness"`
		} `json:"healthEndpoints"`
		Options struct {
			Scale struct {
				Min         *int64   `json:"min"`
				Max         *int64   `json:"max"`
				Metric      string   `json:"metric"`
				Target      *float64 `json:"target"`
				Utilization *float64 `json:"utilization"`
			} `json:"scale"`
			Resources struct {
				Requests struct {
					CPU    string `json:"cpu"`
					Memory string `json:"memory"`
				} `json:"requests"`
				Limits struct {
					CPU         string `json:"cpu"`
					Memory      string `json:"memory"`
					Concurrency *int64 `json:"concurrency"`
				} `json:"limits"`
			} `json:"resources"`
		} `json:"options"`
	} `json:"deploy"`
}

// Each function has a func.yaml that matches its Knative Service.
func TestFuncYAML(t *testing.T) {
	cm := configMap(t)
	secs := secrets(t)
	kss := knativeServices(t)
	for fn, ks := range kss {
		rel := filepath.Join("functions", fn, "func.yaml")
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		var f funcYAML
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if f.Name != fn || f.Runtime != "go" || f.SpecVersion == "" || f.Created == "" || f.Image == "" {
			t.Errorf("%s: name %q runtime %q specVersion %q created %q image %q", rel, f.Name, f.Runtime, f.SpecVersion, f.Created, f.Image)
		}
		if f.Namespace != "akosha" || f.Deploy.Namespace != "akosha" || f.Deploy.ServiceAccountName != "akosha" {
			t.Errorf("%s: namespace and service account must be akosha", rel)
		}
		h := f.Deploy.HealthEndpoints
		if h.Liveness != "/health/liveness" || h.Readiness != "/health/readiness" {
			t.Errorf("%s: healthEndpoints %+v", rel, h)
		}
		s := f.Deploy.Options.Scale
		ann := ks.Spec.Template.Annotations
		if s.Min == nil || *s.Min != 0 || s.Max == nil || strconv.FormatInt(*s.Max, 10) != ann["autoscaling.knative.dev/max-scale"] ||
			s.Target == nil || strconv.FormatFloat(*s.Target, 'f', -1, 64) != ann["autoscaling.knative.dev/target"] {
			t.Errorf("%s: scale %+v differs from %s", rel, s, knativeFiles[fn])
		}
		lim := f.Deploy.Options.Resources.Limits
		if lim.Concurrency == nil || ks.Spec.Template.Spec.ContainerConcurrency == nil || *lim.Concurrency != *ks.Spec.Template.Spec.ContainerConcurrency {
			t.Errorf("%s: limits.concurrency differs from containerConcurrency of %s", rel, knativeFiles[fn])
		}
		c := ks.Spec.Template.Spec.Containers[0]
		if lim.CPU != c.Resources.Limits.Cpu().String() || lim.Memory != c.Resources.Limits.Memory().String() {
			t.Errorf("%s: limits %s/%s differ from %s", rel, lim.CPU, lim.Memory, knativeFiles[fn])
		}
		refs := map[string]bool{}
		for _, e := range f.Run.Envs {
			refs[e.Value] = true
		}
		if !refs["{{ configMap:"+cm.Name+" }}"] {
			t.Errorf("%s: run.envs does not import ConfigMap %s", rel, cm.Name)
		}
		for name := range secs {
			if !refs["{{ secret:"+name+" }}"] {
				t.Errorf("%s: run.envs does not import Secret %s", rel, name)
			}
		}
		paths := map[string]bool{}
		for _, v := range f.Run.Volumes {
			if v.EmptyDir != nil {
				paths[v.Path] = true
			}
		}
		if !paths["/tmp"] || (fn == "query" && !paths[cm.Data["AKOSHA_CACHE_DIR"]]) {
			t.Errorf("%s: emptyDir volumes %v, want /tmp (and the cache for query)", rel, paths)
		}
	}
}
