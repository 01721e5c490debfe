// Package clienttest drives a running `akosha serve --dev` with a client
// generated from api/openapi.yaml by oapi-codegen: what a user of the
// contract would do. It is a module of its own so that the code generator
// and its runtime stay out of the akosha module's dependencies.
package clienttest

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../openapi.yaml

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/akosha/akosha/api/clienttest/client"
)

// repoRoot is the akosha repository (this module lives in api/clienttest).
const repoRoot = "../.."

// testContext ends shortly before the test binary's deadline.
func testContext(t *testing.T) context.Context {
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-5*time.Second))
	t.Cleanup(cancel)
	return ctx
}

// serveDev builds akosha and runs `akosha serve --dev` on a fresh lake until
// the test ends; it returns the server's URL once it is ready.
func serveDev(t *testing.T) string {
	t.Helper()
	ctx := testContext(t)
	// make test builds akosha once for every test that runs it as a
	// process (AKOSHA_TEST_BINARY); run alone, the test builds it.
	bin := os.Getenv("AKOSHA_TEST_BINARY")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "akosha")
		build := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", bin, "./cmd/akosha")
		build.Dir = repoRoot
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/akosha: %v\n%s", err, out)
		}
	} else if _, err := os.Stat(bin); err != nil {
		t.Fatalf("AKOSHA_TEST_BINARY: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", "--dev", "--addr", addr, "--lake", t.TempDir())
	cmd.Env = append(os.Environ(), "AKOSHA_CACHE_DIR="+t.TempDir(), "AKOSHA_EMBEDDINGS_URL=", "AKOSHA_REDIS_URL=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM finishes in-flight requests and exits 0 (the contract).
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("akosha serve --dev after SIGTERM: %v\n%s", err, logs.String())
		}
	})
	url := "http://" + addr
	for {
		resp, err := http.Get(url + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("akosha serve --dev never became ready:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vector is a deterministic 384-float embedding; seed tells vectors apart.
func vector(seed int) []float32 {
	v := make([]float32, 384)
	for i := range v {
		v[i] = float32(math.Sin(float64(i*(seed+1)) + float64(seed)))
	}
	return v
}

// b64 is v as embedding_b64 carries it: little-endian float32 (the client
// base64-encodes []byte).
func b64(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// The generated client ingests (with an embedding in either spelling and an
// Idempotency-Key), reads the memory back, queries SQL in two formats and
// searches by vector, against the real binary.
func TestGeneratedClientAgainstAkoshaServeDev(t *testing.T) {
	url := serveDev(t)
	ctx := testContext(t)
	c, err := client.NewClientWithResponses(url)
	if err != nil {
		t.Fatal(err)
	}
	first, second := vector(1), vector(2)
	batch := client.MemoryBatch{SystemId: ptr("laptop-1"), Records: []client.Memory{
		{Id: "m1", Content: "fixed the flaky test", CreatedAt: "2026-11-25T10:00:00", Kind: ptr(client.MemoryKind("conversation")),
			EmbeddingB64: ptr(b64(first))},
		{Id: "m2", Content: "group commits keep PUTs few", CreatedAt: "2026-11-25T10:01:00Z", Embedding: &second, Tags: &[]string{"design"}},
	}}
	params := &client.IngestMemoriesParams{IdempotencyKey: ptr("client-test-1")}
	for i, wantDuplicate := range []bool{false, true} {
		ing, err := c.IngestMemoriesWithResponse(ctx, params, batch)
		if err != nil {
			t.Fatal(err)
		}
		if ing.JSON200 == nil || ing.JSON200.Status != "completed" || ing.JSON200.Stored != 2 || (ing.JSON200.Duplicate != nil && *ing.JSON200.Duplicate) != wantDuplicate {
			t.Fatalf("ingest %d: %d %s", i, ing.StatusCode(), ing.Body)
		}
	}

	mem, err := c.GetMemoryWithResponse(ctx, "laptop-1", "m1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if mem.JSON200 == nil || mem.JSON200.Content != "fixed the flaky test" || mem.JSON200.Tier != "hot" || mem.JSON200.Day.String() != "2026-11-25" {
		t.Errorf("get memory: %d %s", mem.StatusCode(), mem.Body)
	}
	if missing, err := c.GetMemoryWithResponse(ctx, "laptop-1", "nope", nil); err != nil || missing.JSON404 == nil || missing.JSON404.Error.Code != "not_found" {
		t.Errorf("get a missing memory: %v %s", err, missing.Body)
	}
	// Time travel: as_of after the latest version is a 404 version_not_found.
	var future client.AsOf
	if err := future.FromAsOf0(999999); err != nil {
		t.Fatal(err)
	}
	if old, err := c.GetMemoryWithResponse(ctx, "laptop-1", "m1", &client.GetMemoryParams{AsOf: &future}); err != nil || old.JSON404 == nil || old.JSON404.Error.Code != "version_not_found" {
		t.Errorf("get a memory as of a version after the latest: %v %s", err, old.Body)
	}

	res, err := c.SqlWithResponse(ctx, nil, client.SQLRequest{Sql: "SELECT id, tags FROM memories ORDER BY id"})
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON200 == nil || res.JSON200.RowCount != 2 || res.JSON200.Rows[0][0] != "m1" || res.JSON200.Columns[1].Type != "VARCHAR[]" {
		t.Errorf("sql: %d %s", res.StatusCode(), res.Body)
	}
	csv, err := c.SqlWithResponse(ctx, &client.SqlParams{Accept: ptr(client.SqlParamsAccept("text/csv"))}, client.SQLRequest{Sql: "SELECT id FROM memories ORDER BY id"})
	if err != nil || csv.StatusCode() != http.StatusOK || string(csv.Body) != "id\nm1\nm2\n" {
		t.Errorf("sql as CSV: %v %q", err, csv.Body)
	}

	found, err := c.SearchMemoriesWithResponse(ctx, client.SearchRequest{Vector: &second, K: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	if found.JSON200 == nil || len(found.JSON200.Results) != 1 || found.JSON200.Results[0].Id != "m2" || found.JSON200.Results[0].Score < 0.999 {
		t.Errorf("search: %d %s", found.StatusCode(), found.Body)
	}
	// Without an embeddings endpoint a text is ranked by BM25 (mode text);
	// mode vector with a text needs the endpoint.
	text, err := c.SearchMemoriesWithResponse(ctx, client.SearchRequest{Text: ptr("flaky")})
	if err != nil || text.JSON200 == nil || len(text.JSON200.Results) != 1 || text.JSON200.Results[0].Id != "m1" {
		t.Errorf("text search without an embeddings endpoint: %v %s", err, text.Body)
	}
	vecText, err := c.SearchMemoriesWithResponse(ctx, client.SearchRequest{Text: ptr("flaky"), Mode: ptr(client.Vector)})
	if err != nil || vecText.JSON400 == nil || vecText.JSON400.Error.Code != "text_search_unavailable" {
		t.Errorf("mode vector with a text, without an embeddings endpoint: %v %s", err, vecText.Body)
	}

	sys, err := c.ListSystemsWithResponse(ctx)
	if err != nil || sys.JSON200 == nil || len(sys.JSON200.Systems) != 1 || sys.JSON200.Systems[0].Total != 2 {
		t.Errorf("systems: %v %s", err, sys.Body)
	}
}

// The committed client is what oapi-codegen makes of the current document.
func TestClientIsCurrent(t *testing.T) {
	config, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "akosha.gen.go")
	tmpConfig := filepath.Join(t.TempDir(), "oapi-codegen.yaml")
	const output = "output: client/akosha.gen.go"
	if !bytes.Contains(config, []byte(output)) {
		t.Fatalf("oapi-codegen.yaml has no %q", output)
	}
	if err := os.WriteFile(tmpConfig, bytes.Replace(config, []byte(output), []byte("output: "+fresh), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	gen := exec.CommandContext(testContext(t), "go", "tool", "oapi-codegen", "-config", tmpConfig, "../openapi.yaml")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client/akosha.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("client/akosha.gen.go is stale: run go generate in api/clienttest (or make docs)")
	}
}
