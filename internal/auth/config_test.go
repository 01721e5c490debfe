package auth_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/akosha/akosha/internal/auth"
)

func TestParseAPIKeys(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []auth.APIKey
		wantErr string // in the error; "" for success
	}{
		{name: "empty", in: "", want: nil},
		{name: "one key", in: "grafana:viewer:k0123456789abcdef",
			want: []auth.APIKey{{Name: "grafana", Role: "viewer", Key: "k0123456789abcdef"}}},
		{name: "several, with spaces and a trailing comma",
			in: " grafana:viewer:k0123456789abcdef , sb:operator:k1123456789abcdef:sb-1|sb-2,",
			want: []auth.APIKey{
				{Name: "grafana", Role: "viewer", Key: "k0123456789abcdef"},
				{Name: "sb", Role: "operator", Key: "k1123456789abcdef", SystemIDs: []string{"sb-1", "sb-2"}},
			}},
		{name: "too few fields", in: "grafana:k0123456789abcdef", wantErr: "entry 1"},
		{name: "too many fields", in: "a:admin:k0123456789abcdef:sb:team:extra", wantErr: "6 fields"},
		{name: "tenant with systems", in: "a:operator:k0123456789abcdef:sb-1|sb-2:team-a",
			want: []auth.APIKey{{Name: "a", Role: "operator", Key: "k0123456789abcdef", SystemIDs: []string{"sb-1", "sb-2"}, Tenant: "team-a"}}},
		{name: "tenant without systems", in: "a:viewer:k0123456789abcdef::team-a",
			want: []auth.APIKey{{Name: "a", Role: "viewer", Key: "k0123456789abcdef", Tenant: "team-a"}}},
		{name: "fleet-wide admin", in: "ops:admin:k0123456789abcdef::*",
			want: []auth.APIKey{{Name: "ops", Role: "admin", Key: "k0123456789abcdef", Tenant: "*"}}},
		{name: "fleet-wide is admin only", in: "a:viewer:k0123456789abcdef::*", wantErr: "admin role only"},
		{name: "empty tenant", in: "a:viewer:k0123456789abcdef:sb-1:", wantErr: "empty tenant"},
		{name: "bad tenant", in: "a:viewer:k0123456789abcdef::team a", wantErr: `tenant "team a"`},
		{name: "unknown role", in: "a:root:k0123456789abcdef", wantErr: `role "root"`},
		{name: "short key", in: "a:admin:short", wantErr: "shorter than 16"},
		{name: "empty name", in: ":admin:k0123456789abcdef", wantErr: "empty name"},
		{name: "bad system_id", in: "a:admin:k0123456789abcdef:sb 1", wantErr: `system_id "sb 1"`},
		{name: "empty system list", in: "a:admin:k0123456789abcdef:", wantErr: `system_id ""`},
		{name: "duplicate name", in: "a:admin:k0123456789abcdef,a:viewer:k1123456789abcdef", wantErr: "duplicate name"},
		{name: "duplicate key", in: "a:admin:k0123456789abcdef,b:viewer:k0123456789abcdef", wantErr: "same key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auth.ParseAPIKeys(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "k0123456789abcdef") {
					t.Errorf("the error %q reveals a key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		dev     bool
		secret  string
		keys    string
		wantErr string
	}{
		{name: "dev needs nothing", dev: true},
		{name: "a secret is enough", secret: string(secret)},
		{name: "keys are enough", keys: "a:admin:k0123456789abcdef"},
		{name: "both", secret: string(secret), keys: "a:admin:k0123456789abcdef"},
		{name: "neither refuses to start open", wantErr: "refusing to serve without authentication"},
		{name: "a short secret", secret: "hunter2", wantErr: "at least 32"},
		{name: "bad keys", secret: string(secret), keys: "a:root:k0123456789abcdef", wantErr: auth.EnvAPIKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(auth.EnvJWTSecret, tt.secret)
			t.Setenv(auth.EnvAPIKeys, tt.keys)
			a, err := auth.NewFromEnv(tt.dev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || a == nil {
				t.Fatalf("NewFromEnv = %v, %v", a, err)
			}
		})
	}
}

func TestNewRefusesToAcceptNothing(t *testing.T) {
	if _, err := auth.New(auth.Config{}); err == nil {
		t.Error("New with no secret, no keys and auth enabled succeeded, want an error")
	}
}
