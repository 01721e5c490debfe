package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/akosha/akosha/schemas"
)

// Environment variables NewFromEnv reads.
const (
	EnvJWTSecret = "AKOSHA_JWT_SECRET"
	EnvAPIKeys   = "AKOSHA_API_KEYS"
)

const (
	// MinSecretLen is the shortest JWT secret accepted: RFC 7518 (3.2) asks
	// for a key at least as long as the HS256 output.
	MinSecretLen = 32
	// MinKeyLen is the shortest API key accepted, about 95 bits of a random
	// base64 string: too long to guess online, short enough to paste.
	MinKeyLen = 16
)

// Config configures an Authenticator.
type Config struct {
	// Disabled turns authentication off: every request acts as the admin
	// "dev". Only `akosha serve --dev` sets it.
	Disabled bool
	// JWTSecret verifies HS256 JWTs; nil accepts no JWTs.
	JWTSecret []byte
	// APIKeys are the static keys accepted.
	APIKeys []APIKey
	// Limiter, when set, rate-limits every authenticated request by its
	// principal (429 with Retry-After when the bucket is empty).
	Limiter Limiter
}

// APIKey is a static credential. Key is the secret itself; the Authenticator
// keeps only its SHA-256 hash.
type APIKey struct {
	Name      string
	Role      string
	Key       string
	SystemIDs []string // empty: all systems (of its tenant)
	// Tenant is the key's tenant: "" (DefaultTenant), a tenant name, or
	// FleetWide ("*", admin only).
	Tenant string
}

// ParseAPIKeys parses the AKOSHA_API_KEYS format: comma-separated entries
// name:role:key[:system1|system2[:tenant]], white space around entries
// ignored. With the fifth field (the tenant) the systems field may be empty.
// Error messages name the entry by position and name, never by its key.
func ParseAPIKeys(s string) ([]APIKey, error) {
	var keys []APIKey
	names := map[string]bool{}
	secrets := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue // "a,b," and an empty variable are fine
		}
		parts := strings.Split(entry, ":")
		if len(parts) < 3 || len(parts) > 5 {
			return nil, fmt.Errorf("auth: %s entry %d: want name:role:key[:system1|system2[:tenant]], got %d fields",
				EnvAPIKeys, i+1, len(parts))
		}
		k := APIKey{Name: parts[0], Role: parts[1], Key: parts[2]}
		// Four fields keep their old meaning (a system list, which must not
		// be empty); with a tenant after it the list may be empty.
		if len(parts) == 4 || len(parts) == 5 && parts[3] != "" {
			k.SystemIDs = strings.Split(parts[3], "|")
		}
		if len(parts) == 5 {
			if k.Tenant = parts[4]; k.Tenant == "" {
				return nil, fmt.Errorf("auth: %s entry %d (%s): empty tenant (leave the fifth field out for the default tenant)",
					EnvAPIKeys, i+1, parts[0])
			}
		}
		if err := k.validate(); err != nil {
			return nil, fmt.Errorf("auth: %s entry %d: %w", EnvAPIKeys, i+1, err)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("auth: %s entry %d: duplicate name %q", EnvAPIKeys, i+1, k.Name)
		}
		if secrets[k.Key] {
			return nil, fmt.Errorf("auth: %s entry %d (%s): same key as an earlier entry", EnvAPIKeys, i+1, k.Name)
		}
		names[k.Name], secrets[k.Key] = true, true
		keys = append(keys, k)
	}
	return keys, nil
}

func (k APIKey) validate() error {
	switch {
	case k.Name == "":
		return errors.New("empty name")
	case !ValidRole(k.Role):
		return fmt.Errorf("key %q: role %q is not admin, operator or viewer", k.Name, k.Role)
	case len(k.Key) < MinKeyLen:
		return fmt.Errorf("key %q: shorter than %d characters", k.Name, MinKeyLen)
	case strings.ContainsAny(k.Key, ":, \t"):
		return fmt.Errorf("key %q: contains ':', ',' or white space", k.Name)
	}
	for _, id := range k.SystemIDs {
		if !schemas.ValidSystemID(id) {
			return fmt.Errorf("key %q: system_id %q does not match %s", k.Name, id, schemas.SystemIDPattern)
		}
	}
	return checkTenant(k.Tenant, k.Role)
}

// checkTenant validates a credential's tenant: empty (the default), a name
// of the system_id syntax, or FleetWide for an admin.
func checkTenant(tenant, role string) error {
	switch {
	case tenant == "":
		return nil
	case tenant == FleetWide && role != RoleAdmin:
		return fmt.Errorf("tenant %q (fleet-wide) is for the admin role only", FleetWide)
	case tenant == FleetWide:
		return nil
	case !schemas.ValidSystemID(tenant):
		return fmt.Errorf("tenant %q does not match %s (or %q for a fleet-wide admin)", tenant, schemas.SystemIDPattern, FleetWide)
	}
	return nil
}

// ValidTenant reports whether name is a tenant name (not FleetWide): the
// system_id syntax.
func ValidTenant(name string) bool { return schemas.ValidSystemID(name) }

// NewFromEnv builds the Authenticator the functions use. With dev set,
// authentication is off. Otherwise it reads AKOSHA_JWT_SECRET and
// AKOSHA_API_KEYS and fails when neither is set, so that a deployment that
// forgot its secret refuses to start instead of serving the lake to anyone.
func NewFromEnv(dev bool) (*Authenticator, error) {
	if dev {
		slog.Warn("auth: authentication is off (--dev): every request acts as admin")
		return New(Config{Disabled: true})
	}
	keys, err := ParseAPIKeys(os.Getenv(EnvAPIKeys))
	if err != nil {
		return nil, err
	}
	secret := os.Getenv(EnvJWTSecret)
	if secret == "" && len(keys) == 0 {
		return nil, fmt.Errorf("auth: neither %s nor %s is set; refusing to serve without authentication "+
			"(set one of them, or run `akosha serve --dev` for a local server without auth)", EnvJWTSecret, EnvAPIKeys)
	}
	var cfg Config
	if secret != "" {
		cfg.JWTSecret = []byte(secret)
	}
	cfg.APIKeys = keys
	if cfg.Limiter, err = limiterFromEnv(); err != nil {
		return nil, err
	}
	return New(cfg)
}

// Environment variables of the rate limit.
const (
	EnvRateLimit = "AKOSHA_RATE_LIMIT" // requests per second per principal; empty or 0: no limit
	EnvRateBurst = "AKOSHA_RATE_BURST" // bucket size; default twice the rate
	EnvRedisURL  = "AKOSHA_REDIS_URL"  // shares the buckets between replicas when set
)

// limiterFromEnv builds the per-principal limiter: Redis-backed when
// AKOSHA_REDIS_URL is set (one budget across replicas), in process otherwise.
func limiterFromEnv() (Limiter, error) {
	v := os.Getenv(EnvRateLimit)
	if v == "" || v == "0" {
		return nil, nil
	}
	perSec, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil, fmt.Errorf("auth: %s=%q: not a number", EnvRateLimit, v)
	}
	rate := Rate{PerSecond: perSec, Burst: int(math.Ceil(2 * perSec))}
	if b := os.Getenv(EnvRateBurst); b != "" {
		if rate.Burst, err = strconv.Atoi(b); err != nil {
			return nil, fmt.Errorf("auth: %s=%q: not an integer", EnvRateBurst, b)
		}
	}
	if u := os.Getenv(EnvRedisURL); u != "" {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", EnvRedisURL, err)
		}
		opts.ContextTimeoutEnabled = true
		return NewRedisLimiter(redis.NewClient(opts), rate)
	}
	return NewMemoryLimiter(rate)
}

// hashKey is how API keys are stored and compared.
func hashKey(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }
