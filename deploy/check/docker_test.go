package check

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The Dockerfile is multi-stage with cgo, runs as uid 1000, declares the cache
// and temp volumes and has the per-function targets func.yaml names; the
// .dockerignore keeps what the build needs.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	from := regexp.MustCompile(`(?m)^FROM\s+\S+(?:\s+AS\s+(\S+))?`).FindAllStringSubmatch(df, -1)
	stages := map[string]bool{}
	for _, m := range from {
		stages[m[1]] = true
	}
	if len(from) < 2 || !stages["build"] || !stages["ingest"] || !stages["query"] {
		t.Errorf("Dockerfile: stages %v, want build, ingest and query (multi-stage)", stages)
	}
	for _, want := range []string{"CGO_ENABLED=1", "USER 1000:1000", "/var/cache/akosha", "./cmd/akosha", `ENTRYPOINT ["/usr/local/bin/akosha"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^VOLUME .*"/var/cache/akosha".*"/tmp"`).MatchString(df) {
		t.Errorf("Dockerfile: want VOLUME for /var/cache/akosha and /tmp")
	}
	// The bases are build arguments (local bases where no registry answers)
	// whose defaults are pinned by digest; serve --dev's ./data lake lands in
	// a writable WORKDIR volume, not on the read-only root.
	for _, arg := range []string{"GO_IMAGE", "RUNTIME_IMAGE"} {
		if !regexp.MustCompile(`(?m)^ARG ` + arg + `=\S+@sha256:[0-9a-f]{64}$`).MatchString(df) {
			t.Errorf("Dockerfile: want ARG %s=<image>@sha256:<digest>", arg)
		}
		if !regexp.MustCompile(`(?m)^FROM \$\{` + arg + `\}`).MatchString(df) {
			t.Errorf("Dockerfile: no stage is FROM ${%s}", arg)
		}
	}
	if !strings.Contains(df, "WORKDIR /var/lib/akosha") || !regexp.MustCompile(`(?m)^VOLUME .*"/var/lib/akosha"`).MatchString(df) {
		t.Errorf("Dockerfile: want WORKDIR /var/lib/akosha, declared a VOLUME (serve --dev writes ./data there)")
	}
	ign, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ign), "\n") {
		switch strings.TrimSpace(line) {
		case "go.mod", "go.sum", "api", "cmd", "internal", "lake", "functions", "jobs", "schemas", "*", "**":
			t.Errorf(".dockerignore excludes %q, which the build needs", line)
		}
	}
	for fn := range knativeFiles {
		data, err := os.ReadFile(filepath.Join(root, "functions", fn, "func.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "image: ghcr.io/akosha/akosha-"+fn+":") {
			t.Errorf("functions/%s/func.yaml: image should be ghcr.io/akosha/akosha-%s (Dockerfile target %s)", fn, fn, fn)
		}
	}
}
