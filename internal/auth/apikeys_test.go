package auth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/policies"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// keyBundle is what an API key test works with. Keys are committed to the
// package database (Authenticate runs its own statements on the pool); each
// test creates its own keys, so parallel tests do not see each other's rows.
type keyBundle struct {
	pool *pgxpool.Pool
	keys *auth.APIKeys
}

var directoryOnce = sync.OnceValue(func() error {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: env.DatabaseURL, MaxConns: 1})
	if err != nil {
		return err
	}
	defer pool.Close()
	return postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return seed.Directory(ctx, tx) })
})

// setupKeys returns a key store on the package database, with the
// jurisdiction tree and the departments loaded (once per package): keys
// may name only departments and jurisdictions that exist.
func setupKeys(t *testing.T) keyBundle {
	t.Helper()
	testenv.SkipShort(t)
	if err := directoryOnce(); err != nil {
		t.Fatalf("insert directory: %v", err)
	}
	pool := env.Pool(t)
	return keyBundle{pool: pool, keys: auth.NewAPIKeys(pool)}
}

func (b keyBundle) create(t *testing.T, spec auth.APIKeySpec) (string, auth.APIKey) {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test: " + t.Name()
	}
	if spec.Dept == "" {
		spec.Dept = "urban-management"
	}
	if spec.Roles == nil {
		spec.Roles = []string{access.RoleOfficer}
	}
	if spec.ExpiresAt.IsZero() {
		spec.ExpiresAt = time.Now().Add(30 * 24 * time.Hour)
	}
	plain, key, err := b.keys.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return plain, key
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	expires := time.Now().Add(90 * 24 * time.Hour)
	plain, key := b.create(t, auth.APIKeySpec{
		Name:         "drone platform",
		Dept:         "urban-management",
		Roles:        []string{"officer", "viewer"},
		Jurisdiction: "hailing.chengdong",
		ExpiresAt:    expires,
	})

	if !strings.HasPrefix(plain, auth.APIKeyPrefix+key.ID+"_") {
		t.Fatalf("plaintext %q does not start with dhk_<id>_", plain)
	}
	if key.Name != "drone platform" || key.Dept != "urban-management" || key.Jurisdiction != "hailing.chengdong" ||
		!slices.Equal(key.Roles, []string{"officer", "viewer"}) || key.RevokedAt != nil || key.LastUsedAt != nil ||
		!key.ExpiresAt.Equal(expires.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("created key = %+v", key)
	}

	p, err := b.keys.Authenticate(ctx, plain)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := access.Principal{Kind: access.KindService, Subject: key.ID, Dept: "urban-management", Roles: []string{"officer", "viewer"}, Jurisdiction: "hailing.chengdong"}
	if p.Kind != want.Kind || p.Subject != want.Subject || p.Dept != want.Dept || p.Jurisdiction != want.Jurisdiction ||
		!slices.Equal(p.Roles, want.Roles) || p.CitizenID != "" {
		t.Fatalf("principal = %+v, want %+v", *p, want)
	}

	listed := findKey(t, b, key.ID)
	if listed.LastUsedAt == nil {
		t.Fatal("last_used_at not set after use")
	}
	if !listed.CreatedAt.Equal(key.CreatedAt) || !listed.ExpiresAt.Equal(key.ExpiresAt) || !listed.Active(time.Now()) {
		t.Fatalf("listed key = %+v, created %+v", listed, key)
	}

	if err := b.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	_, err = b.keys.Authenticate(ctx, plain)
	wantUnauthenticated(t, err, "has been revoked")
	revoked := findKey(t, b, key.ID)
	if revoked.RevokedAt == nil || revoked.Active(time.Now()) {
		t.Fatalf("listed key after revoke = %+v", revoked)
	}
	// Revoking again keeps the first revocation time.
	if err := b.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if again := findKey(t, b, key.ID); !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("revoked_at moved from %v to %v", revoked.RevokedAt, again.RevokedAt)
	}
	wantCode(t, b.keys.Revoke(ctx, "000000000000"), apperr.NotFound, "no API key")
}

func findKey(t *testing.T, b keyBundle, id string) auth.APIKey {
	t.Helper()
	keys, err := b.keys.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	i := slices.IndexFunc(keys, func(k auth.APIKey) bool { return k.ID == id })
	if i < 0 {
		t.Fatalf("key %s not listed", id)
	}
	return keys[i]
}

func TestAPIKeyStoresHashNotSecret(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	plain, key := b.create(t, auth.APIKeySpec{})
	secret := strings.TrimPrefix(plain, auth.APIKeyPrefix+key.ID+"_")

	var hash []byte
	var row string
	err := b.pool.QueryRow(context.Background(),
		`SELECT hash, row_to_json(k)::text FROM api_keys k WHERE id = $1`, key.ID).Scan(&hash, &row)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if !bytes.Equal(hash, sum[:]) {
		t.Fatalf("stored hash %x, want SHA-256 of the secret %x", hash, sum)
	}
	if strings.Contains(row, secret) || strings.Contains(row, plain) {
		t.Fatalf("the secret is stored in clear: %s", row)
	}
}

func TestAPIKeyRefusals(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	plain, key := b.create(t, auth.APIKeySpec{})
	secret := strings.TrimPrefix(plain, auth.APIKeyPrefix+key.ID+"_")

	expiredPlain, expiredKey := b.create(t, auth.APIKeySpec{})
	if _, err := b.pool.Exec(ctx, `UPDATE api_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 second' WHERE id = $1`, expiredKey.ID); err != nil {
		t.Fatal(err)
	}
	otherPlain, _ := b.create(t, auth.APIKeySpec{})
	otherSecret := otherPlain[len(otherPlain)-len(secret):]

	// A secret differing in its last character only.
	last := secret[len(secret)-1]
	flipped := byte('A')
	if last == 'A' {
		flipped = 'B'
	}
	wrongSecret := auth.APIKeyPrefix + key.ID + "_" + secret[:len(secret)-1] + string(flipped)

	const invalid = "the API key is not valid"
	tests := []struct {
		name, key, want string
	}{
		{"wrong secret", wrongSecret, invalid},
		{"another key's secret", auth.APIKeyPrefix + key.ID + "_" + otherSecret, invalid},
		{"unknown id", auth.APIKeyPrefix + "0123456789ab_" + secret, invalid},
		{"expired", expiredPlain, "expired on"},
		{"empty", "", "malformed"},
		{"prefix only", auth.APIKeyPrefix, "malformed"},
		{"no prefix", strings.TrimPrefix(plain, auth.APIKeyPrefix), "malformed"},
		{"upper-case id", auth.APIKeyPrefix + strings.ToUpper(key.ID) + "_" + secret, "malformed"},
		{"short secret", plain[:len(plain)-1], "malformed"},
		{"long secret", plain + "x", "malformed"},
		{"id not hex", auth.APIKeyPrefix + "zzzzzzzzzzzz_" + secret, "malformed"},
		{"secret not base64url", auth.APIKeyPrefix + key.ID + "_" + strings.Repeat("*", len(secret)), "malformed"},
		{"a JWT", "eyJhbGciOiJIUzI1NiJ9.e30.x", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.keys.Authenticate(ctx, tt.key)
			if err == nil {
				t.Fatalf("accepted: %+v", *p)
			}
			wantUnauthenticated(t, err, tt.want)
			if tt.want == invalid {
				// Unknown ids and wrong secrets must read the same.
				if e, _ := apperr.As(err); e.Message != invalid {
					t.Fatalf("message %q reveals more than %q", e.Message, invalid)
				}
			}
		})
	}
	// The refusals did not spoil the good key.
	if _, err := b.keys.Authenticate(ctx, plain); err != nil {
		t.Fatalf("good key after refusals: %v", err)
	}
}

func TestAPIKeyLastUsedAtMovesAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	plain, key := b.create(t, auth.APIKeySpec{})

	if _, err := b.keys.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	first := findKey(t, b, key.ID).LastUsedAt
	if first == nil {
		t.Fatal("last_used_at not set")
	}
	for range 3 {
		if _, err := b.keys.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	if again := findKey(t, b, key.ID).LastUsedAt; !again.Equal(*first) {
		t.Fatalf("last_used_at moved within a minute: %v → %v", first, again)
	}

	// Two minutes later (simulated by ageing the row) the next use writes.
	if _, err := b.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = last_used_at - interval '2 minutes' WHERE id = $1`, key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.keys.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	later := findKey(t, b, key.ID).LastUsedAt
	if !later.After(first.Add(-time.Minute)) {
		t.Fatalf("last_used_at not refreshed: %v (first use %v)", later, first)
	}
}

func TestAPIKeyCreateValidation(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	now := time.Now()
	ok := auth.APIKeySpec{Name: "hotline", Dept: "urban-management", Roles: []string{"officer"}, ExpiresAt: now.Add(time.Hour)}
	with := func(edit func(*auth.APIKeySpec)) auth.APIKeySpec {
		s := ok
		edit(&s)
		return s
	}
	tests := []struct {
		name  string
		spec  auth.APIKeySpec
		field string
	}{
		{"no expiry", with(func(s *auth.APIKeySpec) { s.ExpiresAt = time.Time{} }), "expiresAt"},
		{"past expiry", with(func(s *auth.APIKeySpec) { s.ExpiresAt = now.Add(-time.Minute) }), "expiresAt"},
		{"more than a year", with(func(s *auth.APIKeySpec) { s.ExpiresAt = now.Add(367 * 24 * time.Hour) }), "expiresAt"},
		{"no name", with(func(s *auth.APIKeySpec) { s.Name = "  " }), "name"},
		{"long name", with(func(s *auth.APIKeySpec) { s.Name = strings.Repeat("名", 201) }), "name"},
		{"no dept", with(func(s *auth.APIKeySpec) { s.Dept = "" }), "dept"},
		{"bad dept", with(func(s *auth.APIKeySpec) { s.Dept = "Urban_Management" }), "dept"},
		{"no roles", with(func(s *auth.APIKeySpec) { s.Roles = nil }), "roles"},
		{"bad role", with(func(s *auth.APIKeySpec) { s.Roles = []string{"Officer"} }), "roles"},
		{"unknown dept", with(func(s *auth.APIKeySpec) { s.Dept = "nosuch" }), "dept"},
		{"unknown role", with(func(s *auth.APIKeySpec) { s.Roles = []string{"officer", "superuser"} }), "roles"},
		{"abstract role", with(func(s *auth.APIKeySpec) { s.Roles = []string{"staff"} }), "roles"},
		{"unknown jurisdiction", with(func(s *auth.APIKeySpec) { s.Jurisdiction = "hailing.nowhere" }), "jurisdiction"},
		{"citizen-app with another role", with(func(s *auth.APIKeySpec) { s.Roles = []string{"citizen-app", "officer"} }), "roles"},
		{"jurisdiction outside the district", with(func(s *auth.APIKeySpec) { s.Jurisdiction = "taizhou" }), "jurisdiction"},
		{"jurisdiction not a code", with(func(s *auth.APIKeySpec) { s.Jurisdiction = "hailing..x" }), "jurisdiction"},
		{"street office claims the district", with(func(s *auth.APIKeySpec) { s.Dept, s.Jurisdiction = "street-chengdong", "hailing" }), "jurisdiction"},
		{"street office claims another street", with(func(s *auth.APIKeySpec) { s.Dept, s.Jurisdiction = "street-chengdong", "hailing.chengxi.jichuan" }), "jurisdiction"},
		{"town claims a street", with(func(s *auth.APIKeySpec) { s.Dept, s.Jurisdiction = "town-jiulong", "hailing.chengdong" }), "jurisdiction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := b.keys.Create(context.Background(), tt.spec)
			e, isApp := apperr.As(err)
			if !isApp || e.Code != apperr.BadUserInput || e.Field != tt.field {
				t.Fatalf("Create error = %v, want BAD_USER_INPUT on %s", err, tt.field)
			}
		})
	}

	// A year ahead is allowed, and the jurisdiction defaults to the district.
	_, key, err := b.keys.Create(context.Background(), with(func(s *auth.APIKeySpec) { s.ExpiresAt = now.Add(365 * 24 * time.Hour) }))
	if err != nil {
		t.Fatalf("Create one year ahead: %v", err)
	}
	if key.Jurisdiction != auth.JurisdictionDefault {
		t.Fatalf("jurisdiction = %q, want %q", key.Jurisdiction, auth.JurisdictionDefault)
	}
	// A street office's key without a jurisdiction serves its own street,
	// not the district; inside its street it may be narrower.
	for give, want := range map[string]string{"": "hailing.chengdong", "hailing.chengdong.fenghuang": "hailing.chengdong.fenghuang"} {
		_, key, err = b.keys.Create(context.Background(), with(func(s *auth.APIKeySpec) { s.Dept, s.Jurisdiction = "street-chengdong", give }))
		if err != nil || key.Jurisdiction != want {
			t.Fatalf("street office key with jurisdiction %q: %q, %v; want %q", give, key.Jurisdiction, err, want)
		}
	}
}

// TestAPIKeyCreateUnknownNames: a key naming a department, role or
// jurisdiction that does not exist is refused, with a message listing the
// valid departments or roles, and nothing is stored; the roles are those of
// the policy in force when the store is told them.
func TestAPIKeyCreateUnknownNames(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	name := "unknown names: " + t.Name()
	spec := func(dept, jurisdiction string, roles ...string) auth.APIKeySpec {
		return auth.APIKeySpec{Name: name, Dept: dept, Roles: roles, Jurisdiction: jurisdiction, ExpiresAt: time.Now().Add(time.Hour)}
	}
	wantInvalid := func(t *testing.T, keys *auth.APIKeys, s auth.APIKeySpec, field string, mentions ...string) {
		t.Helper()
		_, _, err := keys.Create(ctx, s)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.BadUserInput || e.Field != field {
			t.Fatalf("Create %+v: %v, want BAD_USER_INPUT on %s", s, err, field)
		}
		for _, m := range mentions {
			if !strings.Contains(e.Message, m) {
				t.Errorf("message %q does not mention %q", e.Message, m)
			}
		}
	}
	wantInvalid(t, b.keys, spec("nosuch", "", "viewer"), "dept", `"nosuch"`, "urban-management", "street-chengdong", "town-suchen")
	wantInvalid(t, b.keys, spec("housing", "", "superuser"), "roles", `"superuser"`, "officer", "street-officer", "citizen-app")
	wantInvalid(t, b.keys, spec("housing", "hailing.chengdong.nowhere", "viewer"), "jurisdiction", `"hailing.chengdong.nowhere"`)
	var stored int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE name = $1`, name).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Fatalf("%d refused keys stored", stored)
	}

	// The policy in force decides the roles: the baseline catalog's roles
	// principals can hold, and none of its abstract ones.
	eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS})
	if err != nil {
		t.Fatal(err)
	}
	roles := auth.HoldableRoles(eng.Catalog())
	if !slices.Contains(roles, access.RoleStreetOfficer) || slices.Contains(roles, "staff") {
		t.Fatalf("holdable roles %v", roles)
	}
	keys := b.keys.WithRoles(roles)
	for _, r := range roles {
		if r == access.RoleEvaluator {
			continue // an organisation's role: TestEvaluatorKeysBelongToAnOrganisation
		}
		if _, _, err := keys.Create(ctx, spec("housing", "hailing.chengdong", r)); err != nil {
			t.Errorf("role %s: %v", r, err)
		}
	}
	wantInvalid(t, keys, spec("housing", "", "command-centre"), "roles", `"command-centre"`)
	// A policy that adds a role lets keys hold it; one that lacks a role
	// refuses it.
	if _, _, err := b.keys.WithRoles([]string{"viewer", "inspector"}).Create(ctx, spec("housing", "", "inspector")); err != nil {
		t.Errorf("a role the policy adds: %v", err)
	}
	wantInvalid(t, b.keys.WithRoles([]string{"viewer"}), spec("housing", "", "officer"), "roles", `"officer"`, "viewer")
}

// TestAPIKeyCacheServesOnlyTheKeyAsAccepted: a kept key answers for its
// exact secret only, until its expiry, as a copy, and until Forget or
// ForgetAll drops it; then its row decides again.
func TestAPIKeyCacheServesOnlyTheKeyAsAccepted(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	clock := time.Now()
	keys, err := b.keys.WithClock(func() time.Time { return clock }).WithCache(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	plain, key := b.create(t, auth.APIKeySpec{Roles: []string{access.RoleOfficer, access.RoleViewer}})
	p, err := keys.Authenticate(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = access.RoleAdmin // the caller's copy

	// Revoked in the database only: the instance keeps the key until told.
	if err := b.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	again, err := keys.Authenticate(ctx, plain)
	if err != nil || again.Subject != key.ID || !slices.Equal(again.Roles, []string{access.RoleOfficer, access.RoleViewer}) {
		t.Fatalf("kept key: %+v, %v; want the principal as first accepted", again, err)
	}
	again.Roles[0] = access.RoleAdmin
	if third, err := keys.Authenticate(ctx, plain); err != nil || third.Roles[0] != access.RoleOfficer {
		t.Fatalf("kept key after a caller edited its copy: %+v, %v", third, err)
	}
	// Another secret under the kept id is judged by the row.
	last := plain[len(plain)-1]
	wrong := plain[:len(plain)-1] + string(map[bool]byte{true: 'A', false: 'B'}[last != 'A'])
	_, err = keys.Authenticate(ctx, wrong)
	wantUnauthenticated(t, err, "not valid")
	keys.Forget(key.ID)
	_, err = keys.Authenticate(ctx, plain)
	wantUnauthenticated(t, err, "has been revoked")

	// ForgetAll drops every kept key.
	plain2, key2 := b.create(t, auth.APIKeySpec{})
	if _, err := keys.Authenticate(ctx, plain2); err != nil {
		t.Fatal(err)
	}
	if err := b.keys.Revoke(ctx, key2.ID); err != nil {
		t.Fatal(err)
	}
	keys.ForgetAll()
	_, err = keys.Authenticate(ctx, plain2)
	wantUnauthenticated(t, err, "has been revoked")

	// A kept key past its expiry is refused.
	plain3, _ := b.create(t, auth.APIKeySpec{ExpiresAt: clock.Add(time.Hour)})
	if _, err := keys.Authenticate(ctx, plain3); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Hour)
	_, err = keys.Authenticate(ctx, plain3)
	wantUnauthenticated(t, err, "expired")
}

// TestAPIKeyCacheLetsGoAfterTTL: a revocation nobody announced still takes
// effect once the kept key's time is up.
func TestAPIKeyCacheLetsGoAfterTTL(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	keys, err := b.keys.WithCache(200 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	plain, key := b.create(t, auth.APIKeySpec{})
	if _, err := keys.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := b.keys.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := keys.Authenticate(ctx, plain)
		if err != nil {
			wantUnauthenticated(t, err, "has been revoked")
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a revoked key was still accepted 10 s after a 200 ms cache time")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forgetDuringRead is a query tracer that calls forget while a key's row
// is being read, as a revocation announced at that moment would.
type forgetDuringRead struct {
	forget func()
	reads  atomic.Int32
}

func (f *forgetDuringRead) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.Contains(data.SQL, "FROM api_keys WHERE id") {
		f.reads.Add(1)
		if f.forget != nil {
			f.forget()
		}
	}
	return ctx
}

func (*forgetDuringRead) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestAPIKeyCacheKeepsNothingReadAcrossAForget: a key whose row was read
// while a revocation was announced is not kept, so its next use reads the
// row again instead of serving what may be a revoked key.
func TestAPIKeyCacheKeepsNothingReadAcrossAForget(t *testing.T) {
	t.Parallel()
	b := setupKeys(t)
	ctx := context.Background()
	plain, _ := b.create(t, auth.APIKeySpec{})
	cfg, err := pgxpool.ParseConfig(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	tracer := &forgetDuringRead{}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	keys, err := auth.NewAPIKeys(pool).WithCache(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tracer.forget = keys.ForgetAll
	if _, err := keys.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	tracer.forget = nil
	if _, err := keys.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if n := tracer.reads.Load(); n != 2 {
		t.Fatalf("%d reads of the key's row, want 2: a row read across a forget was kept", n)
	}
	// Without a forget, the row read is kept.
	if _, err := keys.Authenticate(ctx, plain); err != nil || tracer.reads.Load() != 2 {
		t.Fatalf("third use: %d reads, %v; want the kept key", tracer.reads.Load(), err)
	}
}
