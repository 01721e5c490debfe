// Package config is Akosha's one configuration loader: every setting has a
// flag and an AKOSHA_* environment variable, and Keys lists every variable
// the code reads, so the Kubernetes ConfigMap can be checked against it.
package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Key is one environment variable the code reads.
type Key struct {
	Name    string
	Default string
	Help    string
	Secret  bool // comes from a Secret, not the ConfigMap
}

var (
	mu   sync.Mutex
	keys = map[string]Key{}
)

// Register declares a key; packages register theirs at init.
func Register(k Key) Key {
	mu.Lock()
	defer mu.Unlock()
	keys[k.Name] = k
	return k
}

// Keys returns every registered key, sorted by name.
func Keys() []Key {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// String is the key's value from the environment, or its default.
func (k Key) String() string {
	if v, ok := os.LookupEnv(k.Name); ok && v != "" {
		return v
	}
	return k.Default
}

// Int parses the key as an integer.
func (k Key) Int() (int64, error) {
	v := k.String()
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not an integer", k.Name, v)
	}
	return n, nil
}

// Duration parses the key as a Go duration ("250ms", "7d" is not valid; use "168h").
func (k Key) Duration() (time.Duration, error) {
	v := k.String()
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a duration", k.Name, v)
	}
	return d, nil
}

// Bool parses the key as a boolean.
func (k Key) Bool() (bool, error) {
	v := k.String()
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: not a boolean", k.Name, v)
	}
	return b, nil
}

// The keys shared by every command.
var (
	LakeURL     = Register(Key{Name: "AKOSHA_LAKE_URL", Help: "lake: a directory, file:// or s3://bucket/prefix"})
	S3Endpoint  = Register(Key{Name: "AKOSHA_S3_ENDPOINT", Help: "S3-compatible endpoint (path-style addressing follows)"})
	S3Region    = Register(Key{Name: "AKOSHA_S3_REGION", Default: "us-east-1", Help: "S3 region"})
	S3PathStyle = Register(Key{Name: "AKOSHA_S3_PATH_STYLE", Help: "true to force path-style addressing"})
	LogLevel    = Register(Key{Name: "AKOSHA_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error"})
)
