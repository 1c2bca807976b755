package auth_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/policies"
	"github.com/golang-jwt/jwt/v5"
)

// identities returns the identity check the hub wires: the directory on the
// package database (loaded by setupKeys) and the roles of the embedded
// policy catalog.
func identities(t *testing.T, kb keyBundle) *auth.Identities {
	t.Helper()
	data, err := fs.ReadFile(policies.FS, policy.CatalogFile)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := policy.ParseCatalog(data)
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewIdentities(directory.NewService(postgres.NewDirectoryStore(kb.pool)), auth.HoldableRoles(cat))
}

// forgedClaims are claims an identity provider (or anyone holding the
// development key) might sign that name nothing real, or more than the
// holder's department serves. Each once opened data: "provider" and "other"
// are placeholders of the policy, "district" is the provider of the audit
// trail and evaluation, "*" and "street-*" are patterns.
var forgedClaims = []struct {
	name  string
	dept  string
	roles []string
	jur   string
	want  string
}{
	{"placeholder provider", "provider", []string{"viewer"}, "", "not in the directory"},
	{"placeholder other", "other", []string{"viewer"}, "", "not in the directory"},
	{"audit provider district", "district", []string{"viewer"}, "", "not in the directory"},
	{"district code as dept", "hailing", []string{"viewer"}, "", "not in the directory"},
	{"unknown dept", "sports-bureau", []string{"viewer"}, "", "not in the directory"},
	{"abstract role", "housing", []string{"bureau-staff"}, "", `unknown role "bureau-staff"`},
	{"abstract anyone", "water", []string{"anyone"}, "", `unknown role "anyone"`},
	{"unknown role", "water", []string{"superuser"}, "", `unknown role "superuser"`},
	{"street claims district", "street-chengdong", []string{"viewer"}, "hailing", `outside street-chengdong's area "hailing.chengdong"`},
	{"street claims another street", "street-chengdong", []string{"officer"}, "hailing.chengxi", "outside street-chengdong's area"},
	{"grid worker elsewhere", "street-chengdong", []string{"grid-worker"}, "hailing.chengxi.jichuan", "outside street-chengdong's area"},
	{"town claims district", "town-jiulong", []string{"admin"}, "hailing", "outside town-jiulong's area"},
	{"unknown jurisdiction", "housing", []string{"viewer"}, "hailing.nowhere", `unknown jurisdiction "hailing.nowhere"`},
}

// TestTokensNamingNothingRealAreRefused: a correctly signed token whose
// dept, roles or jur do not hold in the directory and the policy is
// UNAUTHENTICATED, over HTTP and over a WebSocket's connection_init alike.
func TestTokensNamingNothingRealAreRefused(t *testing.T) {
	t.Parallel()
	b := setupAuthenticator(t)
	for _, tc := range forgedClaims {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := auth.MintDev(devSecret, auth.DevClaims{Subject: "mallory", Dept: tc.dept, Roles: tc.roles, Jurisdiction: tc.jur}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			a := devAuthenticator(t)
			r := httptest.NewRequest("POST", "/query", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			p, err := a.Authenticate(r)
			if err == nil {
				t.Fatalf("HTTP: accepted as %+v", *p)
			}
			wantUnauthenticated(t, err, tc.want)
			_, err = a.AuthenticateInit(context.Background(), map[string]any{"Authorization": "Bearer " + tok})
			wantUnauthenticated(t, err, tc.want)
			_, err = a.AuthenticateToken(context.Background(), tok)
			wantUnauthenticated(t, err, tc.want)
		})
	}
	// The same check passes what is real.
	for _, c := range []auth.DevClaims{
		{Subject: "ok", Dept: "street-chengdong", Roles: []string{"grid-worker"}, Jurisdiction: "hailing.chengdong.fenghuang"},
		{Subject: "ok", Dept: "street-chengdong", Roles: []string{"viewer"}},
		{Subject: "ok", Dept: "housing", Roles: []string{"officer"}, Jurisdiction: "hailing.chengxi"},
		{Subject: "ok", Dept: "urban-management", Roles: []string{"dispatcher"}},
	} {
		tok, err := auth.MintDev(devSecret, c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := devAuthenticator(t).AuthenticateToken(context.Background(), tok); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	// An asymmetric token from the identity provider takes the same check.
	cl := claims()
	cl["dept"] = "provider"
	_, err := b.auth.AuthenticateToken(context.Background(), sign(t, jwt.SigningMethodRS256, sharedKeys().rsa, "rsa-1", cl))
	wantUnauthenticated(t, err, "not in the directory")
}

// devAuthenticator accepts development tokens, as a development hub does.
func devAuthenticator(t *testing.T) *auth.Authenticator {
	t.Helper()
	kb := setupKeys(t)
	return auth.NewAuthenticator(setupVerifiers(t).dev, kb.keys, identities(t, kb))
}

// TestKeysNamingNothingRealAreRefused: an API key stored before these
// checks existed (or whose department, role or area has since changed)
// stops authenticating; so does a citizen-app key, with or without a
// citizen id, and over connection_init.
func TestKeysNamingNothingRealAreRefused(t *testing.T) {
	t.Parallel()
	kb := setupKeys(t)
	a := auth.NewAuthenticator(nil, kb.keys, identities(t, kb))
	ctx := context.Background()
	for _, tc := range forgedClaims {
		t.Run(tc.name, func(t *testing.T) {
			plain, key := kb.create(t, auth.APIKeySpec{Dept: "urban-management", Roles: []string{"officer"}})
			jur := tc.jur
			if jur == "" {
				jur = "hailing"
				if tc.dept == "street-chengdong" || tc.dept == "town-jiulong" {
					t.Skip("a key without a jurisdiction takes its department's area")
				}
			}
			// Rewrite the stored key as a legacy or drifted one.
			if _, err := kb.pool.Exec(ctx, `UPDATE api_keys SET dept = $2, roles = $3, jurisdiction = $4 WHERE id = $1`,
				key.ID, tc.dept, tc.roles, jur); err != nil {
				t.Fatal(err)
			}
			_, err := a.AuthenticateToken(ctx, plain)
			wantUnauthenticated(t, err, tc.want)
			_, err = a.AuthenticateInit(ctx, map[string]any{"apiKey": plain})
			wantUnauthenticated(t, err, tc.want)
		})
	}
	t.Run("citizen-app key of a vanished department", func(t *testing.T) {
		plain, key := kb.create(t, auth.APIKeySpec{Dept: "urban-management", Roles: []string{"citizen-app"}})
		if _, err := kb.pool.Exec(ctx, `UPDATE api_keys SET dept = 'other' WHERE id = $1`, key.ID); err != nil {
			t.Fatal(err)
		}
		for _, cid := range []string{"", "citizen-1"} {
			_, err := a.AuthenticateCredentials(ctx, auth.Credentials{APIKey: plain, CitizenID: cid})
			wantUnauthenticated(t, err, fmt.Sprintf("the API key %s names the department %q", key.ID, "other"))
		}
	})
}

// TestWithoutIdentityCheckNothingIsAccepted: an Authenticator built
// without the identity check fails closed.
func TestWithoutIdentityCheckNothingIsAccepted(t *testing.T) {
	t.Parallel()
	kb := setupKeys(t)
	plain, _ := kb.create(t, auth.APIKeySpec{})
	_, err := auth.NewAuthenticator(nil, kb.keys, nil).AuthenticateToken(context.Background(), plain)
	wantUnauthenticated(t, err, "cannot check identities")
}
