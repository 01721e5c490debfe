package check

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kubectl apply -k kubernetes/ renders: kustomize's own library (the code in
// kubectl) builds the kustomization, and every rendered object decodes strictly.
func TestKustomizationRenders(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join(root, "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build kubernetes/: %v", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeStream("kustomize build kubernetes/", out)
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]bool{}
	for _, o := range objs {
		if rendered[o.ID()] {
			t.Errorf("rendered twice: %s", o.ID())
		}
		rendered[o.ID()] = true
		if o.Kind != "Namespace" && o.Namespace != "akosha" {
			t.Errorf("rendered %s outside namespace akosha", o.ID())
		}
	}
	for _, o := range kubernetesObjects(t) {
		if !rendered[o.ID()] {
			t.Errorf("%s (%s) is not in the rendered output", o.ID(), o.File)
		}
	}
	cms := byKind[*corev1.ConfigMap](objs)
	for _, name := range []string{"akosha-config", "akosha-prometheus-scrape", "akosha-prometheus-rules", "akosha-grafana-dashboards"} {
		if cms[name] == nil {
			t.Errorf("rendered output lacks ConfigMap %s", name)
		}
	}
	if d := cms["akosha-grafana-dashboards"]; d != nil && (d.Labels["grafana_dashboard"] != "1" || len(d.Data) != 3) {
		t.Errorf("ConfigMap akosha-grafana-dashboards: labels %v, %d dashboards", d.Labels, len(d.Data))
	}
	t.Logf("kustomize build kubernetes/: %d objects, %d bytes", len(objs), len(out))
}

// The README's production recipe works: an overlay outside the repository
// replaces the placeholder Secrets with values from env files.
func TestSecretOverlayReplacesPlaceholders(t *testing.T) {
	base, err := filepath.Abs(filepath.Join(root, "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, base) // kustomize wants a relative base
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ` + filepath.ToSlash(rel) + `
secretGenerator:
  - name: akosha-auth-config
    namespace: akosha
    behavior: replace
    envs: [auth.env]
  - name: akosha-storage-credentials
    namespace: akosha
    behavior: replace
    envs: [storage.env]
generatorOptions:
  disableNameSuffixHash: true
`,
		"auth.env":    "AKOSHA_JWT_SECRET=0123456789abcdef0123456789abcdef0123\nAKOSHA_API_KEYS=ops:admin:0123456789abcdef01\nAKOSHA_EMBEDDINGS_API_KEY=\n",
		"storage.env": "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=example\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("overlay: %v", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeStream("overlay", out)
	if err != nil {
		t.Fatal(err)
	}
	secs := byKind[*corev1.Secret](objs)
	auth := secs["akosha-auth-config"]
	if auth == nil || len(auth.Data["AKOSHA_JWT_SECRET"]) < 32 || len(auth.StringData) != 0 {
		t.Fatalf("overlay did not replace akosha-auth-config: %+v", auth)
	}
	if secs["akosha-redis-config"] == nil {
		t.Errorf("overlay lost akosha-redis-config")
	}
}
