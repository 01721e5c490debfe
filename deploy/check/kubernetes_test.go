package check

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const image = "ghcr.io/akosha/akosha"

// kustomization is the part of kustomization.yaml these tests read.
type kustomization struct {
	Resources []string `json:"resources"`
}

func kustomizationResources(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	return k.Resources
}

// kubernetesObjects decodes, strictly, every manifest file kubernetes/'s
// kustomization lists (directories are kustomizations of their own).
func kubernetesObjects(t *testing.T) []Object {
	t.Helper()
	var out []Object
	for _, r := range kustomizationResources(t, "kubernetes") {
		rel := filepath.ToSlash(filepath.Join("kubernetes", r))
		if fi, err := os.Stat(filepath.Join(root, rel)); err == nil && fi.IsDir() {
			continue
		}
		objs, err := DecodeFile(root, rel)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}

// Every YAML file of kubernetes/ is listed in the kustomization (none is
// forgotten) and decodes strictly into the upstream API types.
func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	listed := map[string]bool{}
	for _, r := range kustomizationResources(t, "kubernetes") {
		listed[r] = true
	}
	files, _ := filepath.Glob(filepath.Join(root, "kubernetes", "*.yaml"))
	for _, f := range files {
		base := filepath.Base(f)
		if base != "kustomization.yaml" && !listed[base] {
			t.Errorf("kubernetes/%s is not in kustomization.yaml resources", base)
		}
	}
	objs := kubernetesObjects(t)
	seen := map[string]string{}
	kinds := map[string]int{}
	for _, o := range objs {
		if prev, ok := seen[o.ID()]; ok {
			t.Errorf("%s defined twice (%s and %s)", o.ID(), prev, o.File)
		}
		seen[o.ID()] = o.File
		kinds[o.Kind]++
		if o.Kind != "Namespace" && o.Namespace != "akosha" {
			t.Errorf("%s (%s): namespace %q, want akosha", o.ID(), o.File, o.Namespace)
		}
	}
	want := map[string]int{"Namespace": 1, "Secret": 3, "ConfigMap": 1, "StatefulSet": 2, "Deployment": 2,
		"HorizontalPodAutoscaler": 2, "PodDisruptionBudget": 2, "CronJob": 5, "Ingress": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s objects, want %d", kinds[k], k, n)
		}
	}
	if kinds["NetworkPolicy"] == 0 || kinds["Service"] < 4 {
		t.Errorf("kinds: %v", kinds)
	}
}

func byKind[T any](objs []Object) map[string]T {
	out := map[string]T{}
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			out[o.Name] = v
		}
	}
	return out
}

// Every pod runs non-root, without privilege escalation or capabilities, with
// a read-only root filesystem and seccomp RuntimeDefault, the Akosha image,
// resource requests and limits, config from the ConfigMap, and volumes for
// every writable path.
func TestPodSecurityAndWiring(t *testing.T) {
	objs := kubernetesObjects(t)
	cms := byKind[*corev1.ConfigMap](objs)
	secs := byKind[*corev1.Secret](objs)
	sas := byKind[*corev1.ServiceAccount](objs)
	cacheDir := cms["akosha-config"].Data["AKOSHA_CACHE_DIR"]
	for _, pt := range PodTemplates(objs) {
		errf := func(format string, args ...any) { t.Errorf("%s: %s", pt.Owner, fmt.Sprintf(format, args...)) }
		ps := pt.Spec.Spec
		if sc := ps.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
			sc.RunAsUser == nil || *sc.RunAsUser != 1000 || sc.SeccompProfile == nil ||
			sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			errf("pod securityContext must set runAsNonRoot, runAsUser 1000 and seccomp RuntimeDefault")
		}
		if sas[ps.ServiceAccountName] == nil {
			errf("serviceAccountName %q is not defined", ps.ServiceAccountName)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			errf("automountServiceAccountToken must be false")
		}
		vols := map[string]corev1.Volume{}
		for _, v := range ps.Volumes {
			vols[v.Name] = v
		}
		for _, c := range pt.Claims {
			vols[c] = corev1.Volume{Name: c}
		}
		if len(ps.InitContainers) > 0 {
			errf("init containers are not expected")
		}
		for _, c := range ps.Containers {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				errf("container %s: no securityContext", c.Name)
				continue
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				errf("container %s: allowPrivilegeEscalation must be false", c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				errf("container %s: readOnlyRootFilesystem must be true", c.Name)
			case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
				errf("container %s: capabilities must drop ALL and add none", c.Name)
			case sc.Privileged != nil && *sc.Privileged:
				errf("container %s: privileged", c.Name)
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				errf("container %s: runAsNonRoot must be true", c.Name)
			}
			if !strings.HasPrefix(c.Image, image+":") && !strings.HasPrefix(c.Image, image+"@") {
				errf("container %s: image %q, want %s", c.Name, c.Image, image)
			}
			if len(c.Args) == 0 || (c.Args[0] != "function" && c.Args[0] != "job") {
				errf("container %s: args %v, want function ... or job ...", c.Name, c.Args)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
					errf("container %s: %s request %s / limit %s", c.Name, r, req.String(), lim.String())
				}
			}
			mounts := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if _, ok := vols[m.Name]; !ok {
					errf("container %s: volumeMount %s has no volume", c.Name, m.Name)
				}
				mounts[m.MountPath] = true
			}
			if !mounts["/tmp"] {
				errf("container %s: /tmp is not a volume (the root filesystem is read-only)", c.Name)
			}
			hasCM := false
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					hasCM = true
					if cms[ef.ConfigMapRef.Name] == nil {
						errf("container %s: envFrom ConfigMap %s is not defined", c.Name, ef.ConfigMapRef.Name)
					}
				}
				if ef.SecretRef != nil && secs[ef.SecretRef.Name] == nil {
					errf("container %s: envFrom Secret %s is not defined", c.Name, ef.SecretRef.Name)
				}
			}
			if !hasCM {
				errf("container %s: no envFrom akosha-config", c.Name)
			}
			if c.Args[0] == "function" {
				if c.Args[1] == "query" && !mounts[cacheDir] {
					errf("container %s: the query role has no volume at AKOSHA_CACHE_DIR %s", c.Name, cacheDir)
				}
				checkProbes(t, pt.Owner, c)
				ann := pt.Spec.Annotations
				if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "8080" || ann["prometheus.io/path"] != "/metrics" {
					errf("pod template lacks the prometheus.io scrape/port/path annotations")
				}
			}
		}
	}
}

func checkProbes(t *testing.T, owner string, c corev1.Container) {
	t.Helper()
	path := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return ""
		}
		return p.HTTPGet.Path
	}
	if path(c.ReadinessProbe) != "/health/readiness" {
		t.Errorf("%s: container %s: readinessProbe must GET /health/readiness", owner, c.Name)
	}
	if path(c.LivenessProbe) != "/health/liveness" {
		t.Errorf("%s: container %s: livenessProbe must GET /health/liveness", owner, c.Name)
	}
}

// Services, HPAs, PDBs and the Ingress point at things that exist; the
// component table's sizes and the CronJob schedules hold.
func TestWorkloadsAndReferences(t *testing.T) {
	objs := kubernetesObjects(t)
	deps := byKind[*appsv1.Deployment](objs)
	sts := byKind[*appsv1.StatefulSet](objs)
	svcs := byKind[*corev1.Service](objs)
	templates := map[string]map[string]string{} // workload -> pod labels
	for n, d := range deps {
		templates["Deployment/"+n] = d.Spec.Template.Labels
		sel, err := metaSelector(d.Spec.Selector.MatchLabels)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector does not match its template", n)
		}
	}
	for n, s := range sts {
		templates["StatefulSet/"+n] = s.Spec.Template.Labels
		if svcs[s.Spec.ServiceName] == nil || svcs[s.Spec.ServiceName].Spec.ClusterIP != "None" {
			t.Errorf("StatefulSet %s: serviceName %s is not a headless Service", n, s.Spec.ServiceName)
		}
		if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.Replicas == nil || *s.Spec.Replicas < 1 {
			t.Errorf("StatefulSet %s: want one cache volumeClaimTemplate and at least one replica", n)
		}
	}
	for n, s := range svcs {
		matched := false
		for _, l := range templates {
			if labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(l)) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("Service %s selects no workload", n)
		}
	}
	size := func(kind, name string, cpuReq, cpuLim, memReq, memLim string) {
		var c corev1.Container
		switch kind {
		case "Deployment":
			c = deps[name].Spec.Template.Spec.Containers[0]
		case "StatefulSet":
			c = sts[name].Spec.Template.Spec.Containers[0]
		}
		r := c.Resources
		got := fmt.Sprint(r.Requests.Cpu(), r.Limits.Cpu(), r.Requests.Memory(), r.Limits.Memory())
		want := fmt.Sprint(cpuReq, " ", cpuLim, " ", memReq, " ", memLim)
		if got != want {
			t.Errorf("%s %s: resources %s, want %s", kind, name, got, want)
		}
	}
	size("StatefulSet", "akosha-hot-store", "2", "4", "8Gi", "16Gi")
	size("StatefulSet", "akosha-warm-store", "1", "2", "4Gi", "8Gi")
	size("Deployment", "akosha-ingestion", "1", "2", "2Gi", "4Gi")
	size("Deployment", "akosha-query", "500m", "2", "1Gi", "4Gi")
	for name, want := range map[string]string{"akosha-hot-store": "500Gi", "akosha-warm-store": "2Ti"} {
		s := sts[name]
		if s == nil {
			t.Errorf("no StatefulSet %s", name)
			continue
		}
		got := s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
		if got.String() != want {
			t.Errorf("StatefulSet %s: cache volume %s, want %s", name, got.String(), want)
		}
	}
	for n, h := range byKind[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		if deps[h.Spec.ScaleTargetRef.Name] == nil || h.Spec.ScaleTargetRef.Kind != "Deployment" {
			t.Errorf("HPA %s: target %v does not exist", n, h.Spec.ScaleTargetRef)
		}
		if d := deps[h.Spec.ScaleTargetRef.Name]; d != nil && d.Spec.Replicas != nil && h.Spec.MinReplicas != nil && *d.Spec.Replicas != *h.Spec.MinReplicas {
			t.Errorf("HPA %s: minReplicas %d, Deployment replicas %d", n, *h.Spec.MinReplicas, *d.Spec.Replicas)
		}
	}
	hpa := byKind[*autoscalingv2.HorizontalPodAutoscaler](objs)
	for name, want := range map[string][2]int32{"akosha-ingestion": {2, 20}, "akosha-query": {2, 10}} {
		h := hpa[name]
		if h == nil || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != want[0] || h.Spec.MaxReplicas != want[1] {
			t.Errorf("HPA %s: want %d-%d replicas", name, want[0], want[1])
		}
	}
	for n, p := range byKind[*policyv1.PodDisruptionBudget](objs) {
		d := deps[n]
		if d == nil || !labels.SelectorFromSet(p.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("PDB %s selects no Deployment of its name", n)
		}
	}
	for _, ing := range byKind[*networkingv1.Ingress](objs) {
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || ing.Annotations["cert-manager.io/cluster-issuer"] == "" || len(ing.Spec.TLS) == 0 {
			t.Errorf("Ingress %s: want class nginx, a cert-manager issuer and TLS", ing.Name)
		}
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				s := svcs[p.Backend.Service.Name]
				if s == nil {
					t.Errorf("Ingress %s: backend Service %s does not exist", ing.Name, p.Backend.Service.Name)
					continue
				}
				ok := false
				for _, sp := range s.Spec.Ports {
					ok = ok || sp.Name == p.Backend.Service.Port.Name
				}
				if !ok {
					t.Errorf("Ingress %s: Service %s has no port %q", ing.Name, s.Name, p.Backend.Service.Port.Name)
				}
				if strings.HasPrefix("/metrics", p.Path) && p.Path != "/" {
					t.Errorf("Ingress %s: path %s exposes /metrics", ing.Name, p.Path)
				}
			}
		}
	}
	cron := byKind[*batchv1.CronJob](objs)
	wantCron := map[string]string{"akosha-age": "0 2 * * *", "akosha-compact": "0 */6 * * *", "akosha-index": "", "akosha-vacuum": "", "akosha-import": ""}
	for name, sched := range wantCron {
		c := cron[name]
		if c == nil {
			t.Errorf("no CronJob %s", name)
			continue
		}
		if sched != "" && c.Spec.Schedule != sched {
			t.Errorf("CronJob %s: schedule %q, want %q", name, c.Spec.Schedule, sched)
		}
		if len(strings.Fields(c.Spec.Schedule)) != 5 {
			t.Errorf("CronJob %s: schedule %q is not a 5-field cron expression", name, c.Spec.Schedule)
		}
		if c.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("CronJob %s: concurrencyPolicy %q, want Forbid", name, c.Spec.ConcurrencyPolicy)
		}
		job := strings.TrimPrefix(name, "akosha-")
		args := c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		if len(args) < 2 || args[0] != "job" || args[1] != job {
			t.Errorf("CronJob %s: args %v, want job %s", name, args, job)
		}
		if c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("CronJob %s: restartPolicy must be Never (podFailurePolicy)", name)
		}
	}
	if c := cron["akosha-age"]; c != nil {
		r := c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Resources
		if got := fmt.Sprint(r.Requests.Cpu(), r.Limits.Cpu(), r.Requests.Memory(), r.Limits.Memory()); got != "1 2 2Gi 4Gi" {
			t.Errorf("CronJob akosha-age: resources %s, want 1-2 CPU, 2-4 GiB", got)
		}
	}
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("empty selector")
	}
	return labels.SelectorFromSet(m), nil
}
