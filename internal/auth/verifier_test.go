package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/golang-jwt/jwt/v5"
)

var devSecret = []byte("development-secret-at-least-32-bytes-long")

// verifierBundle is a configured verifier pair with the key files behind it.
type verifierBundle struct {
	dev, prod *auth.Verifier
	keys      *testKeys
	rsaPEM    []byte // the RSA public key file, as an attacker could fetch it
}

func setupVerifiers(t *testing.T) verifierBundle {
	t.Helper()
	k := sharedKeys()
	dir := t.TempDir()
	files := []auth.KeyFile{
		{ID: "rsa-1", Path: writePublicPEM(t, dir, "rsa1.pem", &k.rsa.PublicKey)},
		{Path: writePublicPEM(t, dir, "rsa2.pem", &k.rsaNoKID.PublicKey)},
		{ID: "ec-1", Path: writePublicPEM(t, dir, "ec1.pem", &k.ec.PublicKey)},
		{ID: "ed-1", Path: writePublicPEM(t, dir, "ed1.pem", k.ed.Public())},
	}
	dev, err := auth.NewVerifier(auth.VerifierConfig{KeyFiles: files, Mode: auth.ModeDevelopment, DevSecret: devSecret})
	if err != nil {
		t.Fatalf("dev verifier: %v", err)
	}
	prod, err := auth.NewVerifier(auth.VerifierConfig{KeyFiles: files, Mode: auth.ModeProduction})
	if err != nil {
		t.Fatalf("prod verifier: %v", err)
	}
	rsaPEM, err := os.ReadFile(files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	return verifierBundle{dev: dev, prod: prod, keys: k, rsaPEM: rsaPEM}
}

// claims returns valid claims for a street officer, changed by edits.
func claims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"sub":   "u-1024",
		"dept":  "urban-management",
		"roles": []string{"officer"},
		"jur":   "hailing.chengdong",
		"iss":   auth.IssuerDefault,
		"aud":   auth.AudienceDefault,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
func del(k string) func(jwt.MapClaims)        { return func(c jwt.MapClaims) { delete(c, k) } }

// sign makes a token with method, key and kid ("" for none).
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// forgeHeader replaces a token's header, keeping claims and signature.
func forgeHeader(tok, header string) string {
	parts := strings.Split(tok, ".")
	parts[0] = base64.RawURLEncoding.EncodeToString([]byte(header))
	return strings.Join(parts, ".")
}

func TestVerifyGoodTokens(t *testing.T) {
	t.Parallel()
	b := setupVerifiers(t)
	k := b.keys
	tests := []struct {
		name     string
		verifier *auth.Verifier
		token    string
		want     access.Principal
	}{
		{
			name:     "RS256 with kid",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims()),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "ES256 with kid",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodES256, k.ec, "ec-1", claims(set("roles", []string{"viewer", "auditor"}))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"viewer", "auditor"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "EdDSA with kid",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", claims(set("dept", "planning"))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "planning", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "RS256 without kid tries every RSA key",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "", claims()),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "RS256 without kid, key configured without kid",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsaNoKID, "", claims()),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "unknown kid falls back to keys configured without kid",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsaNoKID, "rotated-2025", claims()),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "jur defaults to the district",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("jur"))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing"},
		},
		{
			name:     "no roles",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("roles"))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "audience list containing ours",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("aud", []string{"other", auth.AudienceDefault}))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "expired within the clock-skew leeway",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", time.Now().Add(-10*time.Second).Unix()))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "nbf within the clock-skew leeway",
			verifier: b.prod,
			token:    sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("nbf", time.Now().Add(10*time.Second).Unix()))),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "HS256 dev token in development",
			verifier: b.dev,
			token:    sign(t, jwt.SigningMethodHS256, devSecret, "", claims()),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
		{
			name:     "development mode still accepts asymmetric tokens",
			verifier: b.dev,
			token:    sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", claims()),
			want:     access.Principal{Kind: access.KindUser, Subject: "u-1024", Dept: "urban-management", Roles: []string{"officer"}, Jurisdiction: "hailing.chengdong"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.verifier.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Kind != tt.want.Kind || p.Subject != tt.want.Subject || p.Dept != tt.want.Dept ||
				p.Jurisdiction != tt.want.Jurisdiction || p.CitizenID != "" || !slices.Equal(p.Roles, tt.want.Roles) {
				t.Fatalf("principal = %+v, want %+v", *p, tt.want)
			}
		})
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	t.Parallel()
	b := setupVerifiers(t)
	k := b.keys
	now := time.Now()
	good := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims())
	parts := strings.Split(good, ".")
	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims())

	tests := []struct {
		name  string
		token string
		// prodOnly marks cases that the development verifier answers
		// differently (HS256); wantDev is then its message.
		want    string
		wantDev string
	}{
		// Algorithm attacks.
		{name: "alg none", token: noneToken, want: `alg "none"`},
		{name: "alg None with signature dropped", token: forgeHeader(good, `{"alg":"None","typ":"JWT"}`), want: `alg "none"`},
		{name: "alg NONE with kid", token: forgeHeader(noneToken, `{"alg":"NONE","kid":"rsa-1"}`), want: `alg "none"`},
		{
			name:    "HS256 signed with the RSA public key's PEM bytes",
			token:   sign(t, jwt.SigningMethodHS256, b.rsaPEM, "rsa-1", claims()),
			want:    "not accepted in production",
			wantDev: "signature is invalid",
		},
		{
			name:    "HS256 signed with the RSA public key's PEM bytes, no kid",
			token:   sign(t, jwt.SigningMethodHS256, b.rsaPEM, "", claims()),
			want:    "not accepted in production",
			wantDev: "signature is invalid",
		},
		{name: "RS256 header with kid naming the EC key", token: sign(t, jwt.SigningMethodRS256, k.rsa, "ec-1", claims()), want: "does not match its key"},
		{name: "ES256 header with kid naming the RSA key", token: sign(t, jwt.SigningMethodES256, k.ec, "rsa-1", claims()), want: "does not match its key"},
		{name: "EdDSA header with kid naming the EC key", token: sign(t, jwt.SigningMethodEdDSA, k.ed, "ec-1", claims()), want: "does not match its key"},
		{name: "unsupported RS512", token: sign(t, jwt.SigningMethodRS512, k.rsa, "rsa-1", claims()), want: `"RS512" is not accepted`},
		{name: "unsupported PS256", token: sign(t, jwt.SigningMethodPS256, k.rsa, "rsa-1", claims()), want: `"PS256" is not accepted`},
		{name: "unsupported HS512", token: sign(t, jwt.SigningMethodHS512, devSecret, "", claims()), want: `"HS512" is not accepted`},
		{name: "unknown kid and no kid-less key of that algorithm", token: sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-9", claims()), want: `"ed-9" is not known`},

		// Signatures.
		{name: "signed by a key this server does not know", token: sign(t, jwt.SigningMethodRS256, k.stranger, "rsa-1", claims()), want: "signature is invalid"},
		{name: "unknown key without kid", token: sign(t, jwt.SigningMethodRS256, k.stranger, "", claims()), want: "signature is invalid"},
		{
			name:  "claims changed after signing",
			token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u-1024","dept":"urban-management","roles":["admin"],"iss":"fengcheng-datahub","aud":"datahub","exp":9999999999}`)) + "." + parts[2],
			want:  "signature is invalid",
		},
		{name: "signature stripped", token: parts[0] + "." + parts[1] + ".", want: "signature is invalid"},
		{
			name:    "HS256 dev token in production",
			token:   sign(t, jwt.SigningMethodHS256, devSecret, "", claims()),
			want:    "HS256 development tokens are not accepted in production",
			wantDev: "-", // accepted in development: see TestVerifyGoodTokens
		},
		{
			name:    "HS256 with another secret",
			token:   sign(t, jwt.SigningMethodHS256, []byte("another-secret-that-is-32-bytes-long!!"), "", claims()),
			want:    "not accepted in production",
			wantDev: "signature is invalid",
		},

		// Time.
		{name: "expired", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", now.Add(-5*time.Minute).Unix()))), want: "has expired"},
		{name: "not valid yet", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("nbf", now.Add(5*time.Minute).Unix()))), want: "not valid yet"},
		{name: "issued in the future", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("iat", now.Add(5*time.Minute).Unix()))), want: "issued in the future"},
		{name: "missing exp", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("exp"))), want: "no expiry"},
		{name: "exp not a number", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("exp", "tomorrow"))), want: "malformed"},

		// Issuer and audience.
		{name: "wrong issuer", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("iss", "evil-idp"))), want: "issuer"},
		{name: "missing issuer", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("iss"))), want: "issuer"},
		{name: "wrong audience", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("aud", "another-service"))), want: "not intended for this service"},
		{name: "missing audience", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("aud"))), want: "not intended for this service"},

		// Malformed.
		{name: "empty", token: "", want: "empty"},
		{name: "one segment", token: "abc", want: "malformed"},
		{name: "two segments", token: "abc.def", want: "malformed"},
		{name: "four segments", token: good + ".x", want: "malformed"},
		{name: "header not base64", token: "!!!." + parts[1] + "." + parts[2], want: "malformed"},
		{name: "header not JSON", token: base64.RawURLEncoding.EncodeToString([]byte("hello")) + "." + parts[1] + "." + parts[2], want: "malformed"},
		{name: "claims not JSON", token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[2], want: "malformed"},
		{name: "signature not base64", token: parts[0] + "." + parts[1] + ".***", want: "malformed"},
		{name: "huge", token: strings.Repeat("a", 10000), want: "malformed"},

		// Identity claims.
		{name: "missing sub", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("sub"))), want: "subject"},
		{name: "missing dept", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(del("dept"))), want: "dept claim is invalid"},
		{name: "dept not a code", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("dept", "Urban Management"))), want: "dept claim is invalid"},
		{name: "dept SQL-ish", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("dept", "x' OR '1'='1"))), want: "dept claim is invalid"},
		{name: "role not a name", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("roles", []string{"officer", "Super Admin"}))), want: "roles claim is invalid"},
		{name: "empty role", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("roles", []string{""}))), want: "roles claim is invalid"},
		{name: "roles not an array", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("roles", "admin"))), want: "malformed"},
		{name: "citizen-app role in a token", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("roles", []string{"citizen-app"}))), want: "reserved for the citizen-app API key"},
		{name: "jur outside the district", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("jur", "gaogang.x"))), want: "within the district"},
		{name: "jur prefix trick", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("jur", "hailingx"))), want: "within the district"},
		{name: "jur not dotted code", token: sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", claims(set("jur", "hailing/chengdong"))), want: "jur claim is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.prod.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("production accepted the token: %+v", *p)
			}
			wantUnauthenticated(t, err, tt.want)

			wantDev := tt.want
			if tt.wantDev != "" {
				wantDev = tt.wantDev
			}
			if wantDev == "-" {
				return
			}
			p, err = b.dev.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("development accepted the token: %+v", *p)
			}
			wantUnauthenticated(t, err, wantDev)
		})
	}
}

func TestVerifyWithoutDevSecretRefusesHS256(t *testing.T) {
	t.Parallel()
	v, err := auth.NewVerifier(auth.VerifierConfig{Mode: auth.ModeDevelopment})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, devSecret, "", claims()))
	wantUnauthenticated(t, err, "no development secret")
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, sharedKeys().rsa, "", claims()))
	wantUnauthenticated(t, err, "no RS256 signing key")
}

func TestVerifyCustomIssuerAudienceAndClock(t *testing.T) {
	t.Parallel()
	k := sharedKeys()
	dir := t.TempDir()
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	v, err := auth.NewVerifier(auth.VerifierConfig{
		Issuer:   "https://idp.hailing.gov.cn",
		Audience: "datahub-prod",
		KeyFiles: []auth.KeyFile{{ID: "k", Path: writePublicPEM(t, dir, "k.pem", k.ed.Public())}},
		Now:      func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	c := auth.DevClaims{Subject: "s", Dept: "housing", Roles: []string{"viewer"}, Issuer: "https://idp.hailing.gov.cn", Audience: "datahub-prod", Now: at.Add(-time.Hour)}
	tok, err := auth.Mint(k.ed, "k", c, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The same token an hour and a minute later has expired.
	later, err := auth.Mint(k.ed, "k", auth.DevClaims{Subject: "s", Dept: "housing", Issuer: c.Issuer, Audience: c.Audience, Now: at.Add(-3 * time.Hour)}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), later)
	wantUnauthenticated(t, err, "has expired")
	// Default issuer and audience are not accepted by a server configured
	// with others.
	def, err := auth.Mint(k.ed, "k", auth.DevClaims{Subject: "s", Dept: "housing", Now: at}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), def)
	wantUnauthenticated(t, err, "issuer")
}

func TestMintRoundTrip(t *testing.T) {
	t.Parallel()
	b := setupVerifiers(t)
	c := auth.DevClaims{Subject: "li.wei", Dept: "traffic-police", Roles: []string{"officer", "viewer"}, Jurisdiction: "hailing.chengxi"}
	tokens := map[string]func() (string, error){
		"dev":   func() (string, error) { return auth.MintDev(devSecret, c, time.Hour) },
		"rsa":   func() (string, error) { return auth.Mint(b.keys.rsa, "rsa-1", c, time.Hour) },
		"ec":    func() (string, error) { return auth.Mint(b.keys.ec, "ec-1", c, time.Hour) },
		"ed":    func() (string, error) { return auth.Mint(b.keys.ed, "ed-1", c, time.Hour) },
		"nokid": func() (string, error) { return auth.Mint(b.keys.rsaNoKID, "", c, time.Hour) },
	}
	for name, mint := range tokens {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok, err := mint()
			if err != nil {
				t.Fatalf("mint: %v", err)
			}
			p, err := b.dev.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != c.Subject || p.Dept != c.Dept || p.Jurisdiction != c.Jurisdiction || !slices.Equal(p.Roles, c.Roles) || p.Kind != access.KindUser {
				t.Fatalf("principal = %+v", *p)
			}
		})
	}

	if _, err := auth.MintDev([]byte("short"), c, time.Hour); err == nil {
		t.Error("MintDev accepted a short secret")
	}
	if _, err := auth.MintDev(devSecret, c, 0); err == nil {
		t.Error("MintDev accepted a zero ttl")
	}
	if _, err := auth.MintDev(devSecret, auth.DevClaims{Dept: "housing"}, time.Hour); err == nil {
		t.Error("MintDev accepted a token without subject")
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Mint(p384, "", c, time.Hour); err == nil {
		t.Error("Mint accepted a P-384 key")
	}
}

func TestLoadSigningKey(t *testing.T) {
	t.Parallel()
	k := sharedKeys()
	dir := t.TempDir()
	for name, key := range map[string]any{"rsa": k.rsa, "ec": k.ec, "ed": k.ed} {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		path := writePEM(t, dir, name+".pem", "PRIVATE KEY", der)
		signer, err := auth.LoadSigningKey(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := auth.Mint(signer, "", auth.DevClaims{Subject: "s", Dept: "water"}, time.Minute); err != nil {
			t.Fatalf("%s: mint: %v", name, err)
		}
	}
	path := writePEM(t, dir, "pkcs1.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa))
	if _, err := auth.LoadSigningKey(path); err != nil {
		t.Fatalf("pkcs1: %v", err)
	}
	if _, err := auth.LoadSigningKey(filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("loaded a missing file")
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	t.Parallel()
	k := sharedKeys()
	dir := t.TempDir()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	rsaPath := writePublicPEM(t, dir, "rsa.pem", &k.rsa.PublicKey)
	ecPath := writePublicPEM(t, dir, "ec.pem", &k.ec.PublicKey)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cfg  auth.VerifierConfig
		want string
	}{
		{"dev secret in production", auth.VerifierConfig{Mode: auth.ModeProduction, DevSecret: devSecret}, "only in development mode"},
		{"dev secret with mode unset (production)", auth.VerifierConfig{DevSecret: devSecret}, "only in development mode"},
		{"short dev secret", auth.VerifierConfig{Mode: auth.ModeDevelopment, DevSecret: []byte("secret")}, "at least 32"},
		{"unknown mode", auth.VerifierConfig{Mode: "staging"}, `auth mode "staging"`},
		{"negative leeway", auth.VerifierConfig{Leeway: -time.Second}, "leeway"},
		{"missing file", auth.VerifierConfig{KeyFiles: []auth.KeyFile{{Path: filepath.Join(dir, "nope.pem")}}}, "read public key"},
		{"not PEM", auth.VerifierConfig{KeyFiles: []auth.KeyFile{{Path: garbage}}}, "no PEM block"},
		{"private key", auth.VerifierConfig{KeyFiles: []auth.KeyFile{{Path: writePEM(t, dir, "priv.pem", "PRIVATE KEY", privDER)}}}, "holds a private key"},
		{"RSA 1024", auth.VerifierConfig{KeyFiles: []auth.KeyFile{{Path: writePublicPEM(t, dir, "small.pem", &small.PublicKey)}}}, "at least 2048"},
		{"P-384", auth.VerifierConfig{KeyFiles: []auth.KeyFile{{Path: writePublicPEM(t, dir, "p384.pem", &p384.PublicKey)}}}, "only P-256"},
		{"duplicate kid", auth.VerifierConfig{KeyFiles: []auth.KeyFile{{ID: "a", Path: rsaPath}, {ID: "a", Path: ecPath}}}, `key id "a" is used by both`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.NewVerifier(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewVerifier error = %v, want %q", err, tt.want)
			}
		})
	}

	// PKCS#1 public keys and certificates load too.
	pkcs1 := writePEM(t, dir, "pkcs1.pem", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey))
	if _, err := auth.NewVerifier(auth.VerifierConfig{KeyFiles: []auth.KeyFile{{Path: pkcs1}}}); err != nil {
		t.Fatalf("PKCS#1 public key: %v", err)
	}
}

func TestParseKeyFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    []auth.KeyFile
		wantErr bool
	}{
		{spec: "", want: nil},
		{spec: "/k/a.pem", want: []auth.KeyFile{{Path: "/k/a.pem"}}},
		{spec: "idp-2025=/k/a.pem, /k/b.pem ,", want: []auth.KeyFile{{ID: "idp-2025", Path: "/k/a.pem"}, {Path: "/k/b.pem"}}},
		{spec: "=/k/a.pem", wantErr: true},
		{spec: "kid=", wantErr: true},
	}
	for _, tt := range tests {
		got, err := auth.ParseKeyFiles(tt.spec)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseKeyFiles(%q) error = %v", tt.spec, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("ParseKeyFiles(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

// FuzzVerify feeds arbitrary strings to the verifier: it must never panic
// and must refuse everything with UNAUTHENTICATED.
func FuzzVerify(f *testing.F) {
	k := sharedKeys()
	dir := f.TempDir()
	path := writePublicPEM(f, dir, "rsa.pem", &k.rsa.PublicKey)
	v, err := auth.NewVerifier(auth.VerifierConfig{Mode: auth.ModeDevelopment, DevSecret: devSecret, KeyFiles: []auth.KeyFile{{ID: "rsa-1", Path: path}}})
	if err != nil {
		f.Fatal(err)
	}
	good, err := auth.Mint(k.rsa, "rsa-1", auth.DevClaims{Subject: "s", Dept: "water"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add(forgeHeader(good, `{"alg":"none"}`))
	f.Add(forgeHeader(good, `{"alg":"HS256","kid":"rsa-1"}`))
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err == nil {
			// Only the minted token (or a lenient re-encoding of it) passes.
			if p.Subject != "s" || p.Dept != "water" {
				t.Fatalf("accepted a token it never issued: %q → %+v", raw, *p)
			}
			return
		}
		if apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Fatalf("error %v is not UNAUTHENTICATED", err)
		}
	})
}

// TestJurisdictionDefaults: a token without a jur claim serves its
// department's own area; field roles must name theirs.
func TestJurisdictionDefaults(t *testing.T) {
	v, err := auth.NewVerifier(auth.VerifierConfig{Mode: auth.ModeDevelopment, DevSecret: devSecret})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dept  string
		roles []string
		want  string // "" = refused
	}{
		{"street-chengxi", []string{"viewer"}, "hailing.chengxi"},
		{"town-jiulong", []string{"officer"}, "hailing.jiulong"},
		{"housing", []string{"viewer"}, "hailing"},
		{"urban-management", []string{"street-officer"}, ""},
		{"street-chengdong", []string{"grid-worker"}, ""},
	}
	for _, tc := range tests {
		tok, err := auth.MintDev(devSecret, auth.DevClaims{Subject: "u", Dept: tc.dept, Roles: tc.roles, Jurisdiction: "hailing"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tok = stripJur(t, tok)
		p, err := v.Verify(context.Background(), tok)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s %v without jur accepted with %q", tc.dept, tc.roles, p.Jurisdiction)
		case tc.want != "" && (err != nil || p.Jurisdiction != tc.want):
			t.Errorf("%s %v without jur: %v %v, want %s", tc.dept, tc.roles, p, err, tc.want)
		}
	}
}

// stripJur re-signs a dev token without its jur claim.
func stripJur(t *testing.T, tok string) string {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return devSecret, nil }); err != nil {
		t.Fatal(err)
	}
	delete(claims, "jur")
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(devSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifyKeepsTokensOnlyUntilExp: a verified token is kept so that the
// next request with it skips the signature check, but a kept token is never
// accepted past its exp, a token differing by one byte is checked afresh,
// and what a caller does to its principal reaches no later caller.
func TestVerifyKeepsTokensOnlyUntilExp(t *testing.T) {
	t.Parallel()
	k := sharedKeys()
	var now atomic.Int64
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	now.Store(at.UnixNano())
	v, err := auth.NewVerifier(auth.VerifierConfig{
		KeyFiles: []auth.KeyFile{{ID: "k", Path: writePublicPEM(t, t.TempDir(), "k.pem", k.ed.Public())}},
		Now:      func() time.Time { return time.Unix(0, now.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Mint(k.ed, "k", auth.DevClaims{Subject: "s", Dept: "housing", Roles: []string{"viewer"}, Now: at}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The first answer is verified, the next ones kept; each caller
	// changes what it got.
	for i := range 3 {
		p, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("Verify %d: %v", i, err)
		}
		if p.Dept != "housing" || len(p.Roles) != 1 || p.Roles[0] != "viewer" {
			t.Fatalf("Verify %d: the principal carries an earlier caller's change: %+v", i, p)
		}
		p.Roles[0], p.Dept = "admin", "planning"
	}
	// The same claims under a broken signature.
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	flipped := "A"
	if sig[0] == 'A' {
		flipped = "B"
	}
	_, err = v.Verify(ctx, tok[:len(tok)-len(sig)]+flipped+sig[1:])
	wantUnauthenticated(t, err, "signature")
	// Past exp (and the leeway), the kept token is refused like any other.
	now.Store(at.Add(11 * time.Minute).UnixNano())
	_, err = v.Verify(ctx, tok)
	wantUnauthenticated(t, err, "has expired")
}
