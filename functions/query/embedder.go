package query

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/akosha/akosha/functions/query/param"
	"github.com/akosha/akosha/functions/query/search"
	"github.com/akosha/akosha/internal/config"
	"github.com/akosha/akosha/internal/httpx"
)

// Text search embeds the query text with an OpenAI-compatible embeddings
// endpoint: POST {AKOSHA_EMBEDDINGS_URL}/v1/embeddings {"input": text,
// "model": AKOSHA_EMBEDDINGS_MODEL} answering {"data": [{"embedding": [...]}]}.
// The URL may also name the /v1 base or the /v1/embeddings endpoint itself.
// Without a URL, text search answers 400 text_search_unavailable.
var (
	keyEmbeddingsURL   = config.Register(config.Key{Name: "AKOSHA_EMBEDDINGS_URL", Help: "OpenAI-compatible embeddings endpoint for text search (e.g. http://embeddings:8080); empty: text search is refused"})
	keyEmbeddingsModel = config.Register(config.Key{Name: "AKOSHA_EMBEDDINGS_MODEL", Default: "all-MiniLM-L6-v2", Help: "model name sent to the embeddings endpoint (it must produce 384 dimensions)"})
	keyEmbeddingsKey   = config.Register(config.Key{Name: "AKOSHA_EMBEDDINGS_API_KEY", Help: "bearer token for the embeddings endpoint; empty: none"})
)

const embedTimeout = 30 * time.Second

type embedder struct {
	url, model, apiKey string
	client             *http.Client
}

func embedderFromEnv() *embedder {
	return newEmbedder(keyEmbeddingsURL.String(), keyEmbeddingsModel.String(), keyEmbeddingsKey.String())
}

// newEmbedder returns nil when url is empty.
func newEmbedder(url, model, apiKey string) *embedder {
	url = strings.TrimRight(strings.TrimSpace(url), "/")
	if url == "" {
		return nil
	}
	switch {
	case strings.HasSuffix(url, "/embeddings"):
	case strings.HasSuffix(url, "/v1"):
		url += "/embeddings"
	default:
		url += "/v1/embeddings"
	}
	if model == "" {
		model = keyEmbeddingsModel.Default
	}
	return &embedder{url: url, model: model, apiKey: apiKey, client: &http.Client{Timeout: embedTimeout}}
}

// SetEmbeddings points text search at an embeddings endpoint ("" turns text
// search off). It is meant for setup, before the function serves requests.
func (f *Function) SetEmbeddings(url, model string) {
	f.embed = newEmbedder(url, model, keyEmbeddingsKey.String())
}

func (e *embedder) embed(ctx context.Context, text string) ([]float32, error) {
	body, _ := json.Marshal(map[string]any{"input": text, "model": e.model})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.apiKey)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, httpx.Errorf(http.StatusBadGateway, "embeddings_failed", "embeddings endpoint: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, httpx.Errorf(http.StatusBadGateway, "embeddings_failed", "embeddings endpoint: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpx.Errorf(http.StatusBadGateway, "embeddings_failed", "embeddings endpoint answered HTTP %d: %s", resp.StatusCode, truncate(string(b), 200))
	}
	var out struct {
		Data []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Data) == 0 {
		return nil, httpx.Errorf(http.StatusBadGateway, "embeddings_failed", "embeddings endpoint: unexpected answer: %s", truncate(string(b), 200))
	}
	v, err := search.ToVector(out.Data[0].Embedding)
	if err != nil {
		return nil, httpx.Errorf(http.StatusBadGateway, "embeddings_failed", "embeddings endpoint: %v (model %q)", err, e.model)
	}
	return v, nil
}

// truncate shortens s to n bytes for a message (param.Truncate).
func truncate(s string, n int) string { return param.Truncate(s, n) }
