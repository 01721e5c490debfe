package importer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const sbKey = "systems/macbook-pro-les/uploads/20250208_143052_macbook-pro-les/manifest.json"

// sbManifestJSON is byte for byte what CloudSyncMethod._upload_manifest
// writes (json.dumps(..., indent=2)).
const sbManifestJSON = `{
  "upload_id": "20250208_143052_macbook-pro-les",
  "system_id": "macbook-pro-les",
  "timestamp": "2025-02-08T14:30:52.123456+00:00",
  "files": [
    {
      "name": "reflection.duckdb",
      "path": "systems/macbook-pro-les/uploads/20250208_143052_macbook-pro-les/reflection.duckdb",
      "size_bytes": 0,
      "compression": "gzip",
      "checksum": ""
    },
    {
      "name": "knowledge_graph.duckdb",
      "path": "systems/macbook-pro-les/uploads/20250208_143052_macbook-pro-les/knowledge_graph.duckdb",
      "size_bytes": 0,
      "compression": "gzip",
      "checksum": ""
    }
  ],
  "metadata": {
    "uploader": "session-buddy",
    "version": "1.0.0"
  }
}`

func TestParseSessionBuddyManifest(t *testing.T) {
	m, err := parseManifest(sbKey, []byte(sbManifestJSON))
	if err != nil {
		t.Fatal(err)
	}
	if m.SystemID != "macbook-pro-les" || m.UploadID != "20250208_143052_macbook-pro-les" ||
		m.Prefix != "systems/macbook-pro-les/uploads/20250208_143052_macbook-pro-les" ||
		!m.Time.Equal(time.Date(2025, 2, 8, 14, 30, 52, 123456000, time.UTC)) {
		t.Errorf("manifest %+v", m)
	}
	want := []File{{Name: ReflectionDB, Compression: "gzip"}, {Name: KnowledgeGraphDB, Compression: "gzip"}}
	if len(m.Files) != 2 || m.Files[0] != want[0] || m.Files[1] != want[1] {
		t.Errorf("files %+v", m.Files)
	}
	if got := m.key(m.Files[1]); got != m.Prefix+"/knowledge_graph.duckdb" {
		t.Errorf("key %s", got)
	}
}

func TestParseManifestVariants(t *testing.T) {
	const key = "systems/box/uploads/u1/manifest.json"
	sum := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, json string
		want       []File
		ignored    int
	}{
		{"akosha python schema, compressed", `{"uploaded_at": "2026-01-01T00:00:00Z", "conversation_count": 3,
			"compressed": true, "compression_format": "gzip", "files": ["reflection.duckdb"]}`,
			[]File{{Name: ReflectionDB, Compression: "gzip"}}, 0},
		{"akosha python schema, plain", `{"compressed": false, "files": ["knowledge_graph.duckdb"]}`,
			[]File{{Name: KnowledgeGraphDB, Compression: "none"}}, 0},
		{"compression unstated", `{"files": [{"name": "reflection.duckdb"}]}`,
			[]File{{Name: ReflectionDB}}, 0},
		{"full path as name", `{"files": ["systems/box/uploads/u1/reflection.duckdb"]}`,
			[]File{{Name: ReflectionDB}}, 0},
		{"bucket url path", `{"files": [{"name": "reflection.duckdb", "path": "s3://bucket/systems/box/uploads/u1/reflection.duckdb"}]}`,
			[]File{{Name: ReflectionDB}}, 0},
		{"size and checksum", `{"files": [{"name": "reflection.duckdb", "size_bytes": 42, "checksum": "sha256:` + strings.ToUpper(sum) + `"}]}`,
			[]File{{Name: ReflectionDB, Size: 42, SHA256: sum}}, 0},
		{"unknown clean file ignored", `{"files": [{"name": "reflection.duckdb"}, {"name": "skills.duckdb"}]}`,
			[]File{{Name: ReflectionDB}}, 1},
		{"unknown fields ignored", `{"files": ["reflection.duckdb"], "future": {"x": 1}}`,
			[]File{{Name: ReflectionDB}}, 0},
	} {
		m, err := parseManifest(key, []byte(c.json))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(m.Files) != len(c.want) || len(m.Ignored) != c.ignored {
			t.Errorf("%s: files %+v ignored %v", c.name, m.Files, m.Ignored)
			continue
		}
		for i := range c.want {
			if m.Files[i] != c.want[i] {
				t.Errorf("%s: file %d = %+v, want %+v", c.name, i, m.Files[i], c.want[i])
			}
		}
	}
}

func TestParseManifestRefuses(t *testing.T) {
	const key = "systems/box/uploads/u1/manifest.json"
	ok := `{"files": ["reflection.duckdb"]}`
	for _, c := range []struct {
		name, key, json, want string
	}{
		{"dotted system id", "systems/box.local/uploads/u1/manifest.json", ok, "system id"},
		{"long system id", "systems/" + strings.Repeat("a", 101) + "/uploads/u1/manifest.json", ok, "system id"},
		{"parent system id", "systems/../uploads/u1/manifest.json", ok, "system id"},
		{"upload id traversal", "systems/box/uploads/../manifest.json", ok, "path traversal"},
		{"upload id dots", "systems/box/uploads/a..b/manifest.json", ok, "path traversal"},
		{"upload id charset", "systems/box/uploads/a%2fb/manifest.json", ok, "upload id"},
		{"wrong place", "systems/box/manifest.json", ok, "not systems/"},
		{"not json", key, `{"files": [`, "not a manifest"},
		{"trailing data", key, ok + `{}`, "trailing data"},
		{"wrong types", key, `{"system_id": 7, "files": []}`, "not a manifest"},
		{"other system", key, `{"system_id": "other", "files": ["reflection.duckdb"]}`, "does not match"},
		{"other upload", key, `{"upload_id": "u2", "files": ["reflection.duckdb"]}`, "does not match"},
		{"no files", key, `{"files": []}`, "lists neither"},
		{"only unknown files", key, `{"files": ["notes.txt"]}`, "lists neither"},
		{"traversal name", key, `{"files": [{"name": "../../memories/_delta_log/1.json"}]}`, "file name"},
		{"traversal string", key, `{"files": ["../reflection.duckdb"]}`, "path"},
		{"slash name", key, `{"files": [{"name": "a/reflection.duckdb"}]}`, "file name"},
		{"backslash name", key, `{"files": [{"name": "..\\reflection.duckdb"}]}`, "file name"},
		{"nul name", key, `{"files": [{"name": "reflection.duckdb\u0000"}]}`, "file name"},
		{"dot name", key, `{"files": [{"name": "."}]}`, "file name"},
		{"empty name", key, `{"files": [{"name": ""}]}`, "file name"},
		{"traversal path", key, `{"files": [{"name": "reflection.duckdb", "path": "systems/box/uploads/u1/../../x/uploads/u1/reflection.duckdb"}]}`, "path traversal"},
		{"foreign path", key, `{"files": [{"name": "reflection.duckdb", "path": "systems/other/uploads/u1/reflection.duckdb"}]}`, "not this upload"},
		{"listed twice", key, `{"files": ["reflection.duckdb", {"name": "reflection.duckdb"}]}`, "twice"},
		{"zstd", key, `{"files": [{"name": "reflection.duckdb", "compression": "zstd"}]}`, "not supported"},
		{"unknown compression", key, `{"files": [{"name": "reflection.duckdb", "compression": "rar"}]}`, "unknown compression"},
		{"format without flag", key, `{"compression_format": "gzip", "files": ["reflection.duckdb"]}`, "compression_format"},
		{"negative size", key, `{"files": [{"name": "reflection.duckdb", "size_bytes": -1}]}`, "negative"},
		{"bad checksum", key, `{"files": [{"name": "reflection.duckdb", "checksum": "md5:abc"}]}`, "SHA-256"},
	} {
		_, err := parseManifest(c.key, []byte(c.json))
		if err == nil || !errors.Is(err, ErrInvalidUpload) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want ErrInvalidUpload mentioning %q", c.name, err, c.want)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(sbKey, sbManifestJSON)
	f.Add("systems/a/uploads/b/manifest.json", `{"files": ["reflection.duckdb"], "compressed": true, "compression_format": "gzip"}`)
	f.Fuzz(func(t *testing.T, key, data string) {
		m, err := parseManifest(key, []byte(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidUpload) {
				t.Fatalf("error without ErrInvalidUpload: %v", err)
			}
			return
		}
		// Whatever it accepts stays inside its own folder.
		for _, file := range m.Files {
			k := m.key(file)
			if !strings.HasPrefix(k, m.Prefix+"/") || strings.Count(k, "/") != 4 || strings.Contains(k, "..") {
				t.Fatalf("accepted key %q", k)
			}
		}
	})
}
