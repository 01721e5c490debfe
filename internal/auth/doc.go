// Package auth authenticates and authorizes requests to the ingest and query
// functions.
//
// # Credentials
//
// A request carries one credential, in one of these headers:
//
//	Authorization: Bearer <JWT or API key>
//	X-API-Key: <API key>
//	Authorization: Basic base64(<API key name>:<API key>)
//
// Basic credentials exist for clients that can only be given a URL:
// Session-Buddy's HTTP client sends https://NAME:KEY@host/... as Basic auth.
// The name must be the key's own; a JWT is not accepted this way.
//
// JWTs are HS256 only, signed with AKOSHA_JWT_SECRET (at least 32 bytes).
// Their claims are sub (the principal's name, required), role (required),
// exp (required), optional nbf and iat (honoured with 30 s of leeway for clock
// skew), optional system_ids, a list limiting the token's writes to those
// systems, and optional tenant (below). IssueToken and IssueTenantToken make
// one.
//
// API keys are static and listed in AKOSHA_API_KEYS, a comma-separated list
// of entries
//
//	name:role:key[:system1|system2|...[:tenant]]
//
// for example
//
//	AKOSHA_API_KEYS='grafana:viewer:<random key>,sb-fleet:operator:<random key>:sb-laptop|sb-desk'
//
// The name identifies the key in logs and rate limits; the role is one of the
// roles below; the key is at least 16 characters without ':', ',' or white
// space (`openssl rand -hex 24` makes a good one); the optional system list,
// separated by '|', limits its writes to those system_ids (with a tenant
// after it, the list may be empty: name:role:key::team-a). Only a SHA-256 hash of
// each key is kept in memory, and a presented key is compared with all of
// them in constant time.
//
// # Tenants
//
// Every system belongs to one tenant (lake/tenants keeps the mapping in the
// lake) and every credential to one: its tenant claim or fifth field, or
// DefaultTenant when it names none. A credential reads every system of its
// tenant and nothing else, and writes the systems of its tenant (only its
// system_ids, when it has them); a system first written by a credential
// becomes its tenant's. A deployment that names no tenant anywhere is one
// default tenant: everything reads everything, as before tenants existed.
// An admin is limited to its tenant like anyone else; an admin over every
// tenant says so with the tenant "*" (FleetWide), which only admins may hold.
//
// # Roles
//
//	viewer    read: SQL, search, GET endpoints
//	operator  read, and write: ingest
//	admin     everything, including jobs and admin endpoints
//
// Without AKOSHA_JWT_SECRET or AKOSHA_API_KEYS, NewFromEnv refuses to build an
// Authenticator: Akosha never serves unauthenticated by accident. Only
// `akosha serve --dev` turns authentication off, and then every request acts
// as the admin "dev".
//
// # Rate limits
//
// RateLimit limits requests per principal with a token bucket, kept in
// process (MemoryLimiter) or in Redis so that all replicas share it
// (RedisLimiter, which falls back to its own process's buckets while Redis is
// unreachable).
package auth
