package auth_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/golang-jwt/jwt/v5"
)

type authBundle struct {
	auth       *auth.Authenticator
	jwt        string // a valid staff token (RS256)
	officerKey string // an urban-management officer key
	officerID  string
	citizenKey string // a citizen-app key
	citizenID  string
}

func setupAuthenticator(t *testing.T) authBundle {
	t.Helper()
	v := setupVerifiers(t)
	kb := setupKeys(t)
	officer, officerKey := kb.create(t, auth.APIKeySpec{Dept: "urban-management", Roles: []string{"officer"}})
	citizen, citizenKey := kb.create(t, auth.APIKeySpec{Dept: "urban-management", Roles: []string{"citizen-app"}, Jurisdiction: "hailing"})
	return authBundle{
		auth:       auth.NewAuthenticator(v.prod, kb.keys, identities(t, kb)),
		jwt:        sign(t, jwt.SigningMethodRS256, v.keys.rsa, "rsa-1", claims()),
		officerKey: officer,
		officerID:  officerKey.ID,
		citizenKey: citizen,
		citizenID:  citizenKey.ID,
	}
}

// principalWant describes the expected principal; Roles nil means "do not
// compare".
type principalWant struct {
	kind      access.Kind
	subject   string
	dept      string
	roles     []string
	citizenID string
}

func checkPrincipal(t *testing.T, p *access.Principal, w principalWant) {
	t.Helper()
	if p.Kind != w.kind || p.Subject != w.subject || p.Dept != w.dept || p.CitizenID != w.citizenID ||
		(w.roles != nil && !slices.Equal(p.Roles, w.roles)) {
		t.Fatalf("principal = %+v, want %+v", *p, w)
	}
}

func TestAuthenticateHTTP(t *testing.T) {
	t.Parallel()
	b := setupAuthenticator(t)
	user := principalWant{kind: access.KindUser, subject: "u-1024", dept: "urban-management", roles: []string{"officer"}}
	officer := principalWant{kind: access.KindService, subject: b.officerID, dept: "urban-management", roles: []string{"officer"}}
	anonymous := principalWant{kind: access.KindAnonymous, subject: "anonymous", roles: []string{"public"}}
	citizen := principalWant{kind: access.KindService, subject: b.citizenID, dept: "urban-management", roles: []string{"citizen-app"}, citizenID: "wx_o6zAJs-3f9K"}
	app := principalWant{kind: access.KindService, subject: b.citizenID, roles: []string{"public"}}

	tests := []struct {
		name    string
		headers [][2]string
		want    principalWant
		wantErr string
	}{
		{name: "no credentials", want: anonymous},
		{name: "empty Authorization header", headers: [][2]string{{"Authorization", ""}}, want: anonymous},
		{name: "bearer token", headers: [][2]string{{"Authorization", "Bearer " + b.jwt}}, want: user},
		{name: "bearer scheme is case-insensitive", headers: [][2]string{{"Authorization", "bearer " + b.jwt}}, want: user},
		{name: "X-API-Key", headers: [][2]string{{"X-API-Key", b.officerKey}}, want: officer},
		{name: "Authorization ApiKey", headers: [][2]string{{"Authorization", "ApiKey " + b.officerKey}}, want: officer},
		{name: "citizen-app key with citizen id", headers: [][2]string{{"X-API-Key", b.citizenKey}, {"X-Citizen-ID", "wx_o6zAJs-3f9K"}}, want: citizen},
		{name: "citizen-app key via ApiKey scheme", headers: [][2]string{{"Authorization", "ApiKey " + b.citizenKey}, {"X-Citizen-ID", "wx_o6zAJs-3f9K"}}, want: citizen},
		{name: "citizen-app key without citizen id acts as the app, public only", headers: [][2]string{{"X-API-Key", b.citizenKey}}, want: app},

		{name: "citizen id with a staff token", headers: [][2]string{{"Authorization", "Bearer " + b.jwt}, {"X-Citizen-ID", "c1"}}, wantErr: "only with a citizen-app API key, not with a staff token"},
		{name: "citizen id with an officer key", headers: [][2]string{{"X-API-Key", b.officerKey}, {"X-Citizen-ID", "c1"}}, wantErr: "does not hold the citizen-app role"},
		{name: "citizen id without credentials", headers: [][2]string{{"X-Citizen-ID", "c1"}}, wantErr: "send the key too"},
		{name: "empty citizen id", headers: [][2]string{{"X-API-Key", b.citizenKey}, {"X-Citizen-ID", ""}}, wantErr: "1–64 characters"},
		{name: "citizen id with a space", headers: [][2]string{{"X-API-Key", b.citizenKey}, {"X-Citizen-ID", "a b"}}, wantErr: "1–64 characters"},
		{name: "citizen id with a quote", headers: [][2]string{{"X-API-Key", b.citizenKey}, {"X-Citizen-ID", "a'--"}}, wantErr: "1–64 characters"},
		{name: "citizen id too long", headers: [][2]string{{"X-API-Key", b.citizenKey}, {"X-Citizen-ID", strings.Repeat("a", 65)}}, wantErr: "1–64 characters"},
		{name: "two citizen ids", headers: [][2]string{{"X-API-Key", b.citizenKey}, {"X-Citizen-ID", "a"}, {"X-Citizen-ID", "b"}}, wantErr: "one X-Citizen-ID header"},
		{name: "token and key", headers: [][2]string{{"Authorization", "Bearer " + b.jwt}, {"X-API-Key", b.officerKey}}, wantErr: "not both"},
		{name: "two Authorization headers", headers: [][2]string{{"Authorization", "Bearer " + b.jwt}, {"Authorization", "Bearer " + b.jwt}}, wantErr: "one Authorization header"},
		{name: "Basic scheme", headers: [][2]string{{"Authorization", "Basic dXNlcjpwYXNz"}}, wantErr: `"Basic" is not supported`},
		{name: "Bearer without token", headers: [][2]string{{"Authorization", "Bearer"}}, wantErr: "carries no token"},
		{name: "ApiKey without key", headers: [][2]string{{"Authorization", "ApiKey  "}}, wantErr: "carries no key"},
		{name: "bad token", headers: [][2]string{{"Authorization", "Bearer x.y.z"}}, wantErr: "malformed"},
		{name: "bad key", headers: [][2]string{{"X-API-Key", b.officerKey[:len(b.officerKey)-2] + "zz"}}, wantErr: "not valid"},
		{name: "key in the Bearer slot", headers: [][2]string{{"Authorization", "Bearer " + b.officerKey}}, wantErr: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/graphql", nil)
			for _, h := range tt.headers {
				r.Header.Add(h[0], h[1])
			}
			p, err := b.auth.Authenticate(r)
			if tt.wantErr != "" {
				wantUnauthenticated(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			checkPrincipal(t, p, tt.want)
		})
	}
}

func TestAuthenticateInitPayload(t *testing.T) {
	t.Parallel()
	b := setupAuthenticator(t)
	user := principalWant{kind: access.KindUser, subject: "u-1024", dept: "urban-management", roles: []string{"officer"}}
	officer := principalWant{kind: access.KindService, subject: b.officerID, dept: "urban-management", roles: []string{"officer"}}
	citizen := principalWant{kind: access.KindService, subject: b.citizenID, dept: "urban-management", roles: []string{"citizen-app"}, citizenID: "c-42"}
	app := principalWant{kind: access.KindService, subject: b.citizenID, roles: []string{"public"}}
	anonymous := principalWant{kind: access.KindAnonymous, subject: "anonymous", roles: []string{"public"}}

	tests := []struct {
		name    string
		payload map[string]any
		want    principalWant
		wantErr string
	}{
		{name: "nil payload", payload: nil, want: anonymous},
		{name: "empty payload", payload: map[string]any{}, want: anonymous},
		{name: "Authorization Bearer", payload: map[string]any{"Authorization": "Bearer " + b.jwt}, want: user},
		{name: "lower-case authorization", payload: map[string]any{"authorization": "Bearer " + b.jwt}, want: user},
		{name: "apiKey", payload: map[string]any{"apiKey": b.officerKey}, want: officer},
		{name: "Authorization ApiKey", payload: map[string]any{"Authorization": "ApiKey " + b.officerKey}, want: officer},
		{name: "apiKey and citizenId", payload: map[string]any{"apiKey": b.citizenKey, "citizenId": "c-42"}, want: citizen},
		{name: "headers object", payload: map[string]any{"headers": map[string]any{"X-API-Key": b.citizenKey, "X-Citizen-ID": "c-42"}}, want: citizen},
		{name: "citizen-app key alone", payload: map[string]any{"apiKey": b.citizenKey}, want: app},
		{name: "unrelated fields ignored", payload: map[string]any{"Authorization": "Bearer " + b.jwt, "locale": "zh-CN", "n": 3}, want: user},

		{name: "citizenId with a token", payload: map[string]any{"Authorization": "Bearer " + b.jwt, "citizenId": "c-42"}, wantErr: "not with a staff token"},
		{name: "citizenId alone", payload: map[string]any{"citizenId": "c-42"}, wantErr: "send the key too"},
		{name: "empty citizenId", payload: map[string]any{"apiKey": b.citizenKey, "citizenId": ""}, wantErr: "1–64 characters"},
		{name: "token and key", payload: map[string]any{"Authorization": "Bearer " + b.jwt, "apiKey": b.officerKey}, wantErr: "not both"},
		{name: "key given twice", payload: map[string]any{"apiKey": b.officerKey, "headers": map[string]any{"x-api-key": b.officerKey}}, wantErr: "more than once"},
		{name: "non-string apiKey", payload: map[string]any{"apiKey": 42}, wantErr: "must be a string"},
		{name: "bad token", payload: map[string]any{"Authorization": "Bearer nope"}, wantErr: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.auth.AuthenticateInit(context.Background(), tt.payload)
			if tt.wantErr != "" {
				wantUnauthenticated(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("AuthenticateInit: %v", err)
			}
			checkPrincipal(t, p, tt.want)
		})
	}
}

func TestAuthenticateToken(t *testing.T) {
	t.Parallel()
	b := setupAuthenticator(t)
	tests := []struct {
		name    string
		raw     string
		kind    access.Kind
		wantErr string
	}{
		{name: "empty", raw: " ", kind: access.KindAnonymous},
		{name: "Bearer", raw: "Bearer " + b.jwt, kind: access.KindUser},
		{name: "bare JWT", raw: b.jwt, kind: access.KindUser},
		{name: "bare key", raw: b.officerKey, kind: access.KindService},
		{name: "ApiKey", raw: "ApiKey " + b.officerKey, kind: access.KindService},
		{name: "unknown scheme", raw: "Digest abc", wantErr: "not supported"},
		{name: "garbage", raw: "garbage", wantErr: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.auth.AuthenticateToken(context.Background(), tt.raw)
			if tt.wantErr != "" {
				wantUnauthenticated(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("AuthenticateToken: %v", err)
			}
			if p.Kind != tt.kind {
				t.Fatalf("kind = %s, want %s", p.Kind, tt.kind)
			}
		})
	}
}

func TestAuthenticatorWithoutVerifierOrKeys(t *testing.T) {
	t.Parallel()
	a := auth.NewAuthenticator(nil, nil, nil)
	ctx := context.Background()
	tok, err := auth.MintDev(devSecret, auth.DevClaims{Subject: "s", Dept: "water"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.AuthenticateToken(ctx, "Bearer "+tok)
	wantUnauthenticated(t, err, "bearer tokens are not accepted")
	_, err = a.AuthenticateCredentials(ctx, auth.Credentials{APIKey: "dhk_x"})
	wantUnauthenticated(t, err, "API keys are not accepted")
	p, err := a.AuthenticateCredentials(ctx, auth.Credentials{})
	if err != nil || p.Kind != access.KindAnonymous {
		t.Fatalf("no credentials: %v, %+v", err, p)
	}
}

func TestAuthenticateRevokedKeyAtOnce(t *testing.T) {
	t.Parallel()
	b := setupAuthenticator(t)
	kb := setupKeys(t)
	r := httptest.NewRequest("GET", "/graphql", nil)
	r.Header.Set(auth.HeaderAPIKey, b.officerKey)
	if _, err := b.auth.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	if err := kb.keys.Revoke(context.Background(), b.officerID); err != nil {
		t.Fatal(err)
	}
	_, err := b.auth.Authenticate(r)
	wantUnauthenticated(t, err, "revoked")
}
