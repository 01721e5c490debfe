package storage

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Open opens a store from a lake URL:
//
//	./data, /var/lib/akosha      a local directory
//	file:///var/lib/akosha       the same
//	s3://bucket/prefix           S3; AKOSHA_S3_ENDPOINT, AKOSHA_S3_REGION and
//	                             AKOSHA_S3_PATH_STYLE reach S3-compatible servers
//
// Query parameters on an s3 URL override the environment:
// ?endpoint=http://127.0.0.1:7070&region=us-east-1&path_style=true.
func Open(ctx context.Context, lakeURL string) (Store, error) {
	if lakeURL == "" {
		return nil, fmt.Errorf("lake url is empty (set --lake or AKOSHA_LAKE_URL)")
	}
	if !strings.Contains(lakeURL, "://") {
		return NewLocal(lakeURL)
	}
	u, err := url.Parse(lakeURL)
	if err != nil {
		return nil, fmt.Errorf("lake url %q: %w", lakeURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" {
			return nil, fmt.Errorf("lake url %q: no path", lakeURL)
		}
		return NewLocal(u.Path)
	case "s3":
		q := u.Query()
		cfg := S3Config{
			Bucket:   u.Host,
			Prefix:   strings.Trim(u.Path, "/"),
			Endpoint: first(q.Get("endpoint"), os.Getenv("AKOSHA_S3_ENDPOINT")),
			Region:   first(q.Get("region"), os.Getenv("AKOSHA_S3_REGION"), os.Getenv("AWS_REGION")),
		}
		ps := first(q.Get("path_style"), os.Getenv("AKOSHA_S3_PATH_STYLE"))
		cfg.PathStyle = ps == "true" || ps == "1" || (ps == "" && cfg.Endpoint != "")
		return NewS3(ctx, cfg)
	default:
		return nil, fmt.Errorf("lake url %q: unsupported scheme %q (want a directory, file:// or s3://)", lakeURL, u.Scheme)
	}
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
