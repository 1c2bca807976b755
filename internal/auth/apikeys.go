package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// API key format and limits.
const (
	// APIKeyPrefix starts every key, so secret scanners and people can tell
	// a hub key at a glance: dhk_<id>_<secret>.
	APIKeyPrefix = "dhk_"
	// MaxAPIKeyLifetime is the longest validity a key may be given.
	MaxAPIKeyLifetime = 366 * 24 * time.Hour
	// APIKeyTouchInterval is how stale last_used_at may get: a busy key
	// writes it at most once per interval instead of on every request.
	APIKeyTouchInterval = time.Minute

	apiKeyIDBytes     = 6  // 12 hex characters
	apiKeySecretBytes = 32 // 43 base64url characters
	maxAPIKeyNameLen  = 200
)

var apiKeySecretLen = base64.RawURLEncoding.EncodedLen(apiKeySecretBytes)

// APIKeySpec describes a key to create.
type APIKeySpec struct {
	// Name says who holds the key and why ("drone platform", "evaluation
	// team 2025 Q3").
	Name string
	// Dept is the department the key acts for; empty for an evaluation
	// organisation's key.
	Dept string
	// Org is the registered evaluation organisation an evaluator key
	// belongs to (required with the evaluator role, which it holds alone).
	Org string
	// Roles are the roles the key holds (at least one). A citizen-app key
	// holds citizen-app alone: the citizen it vouches for must not borrow
	// any other role.
	Roles []string
	// Jurisdiction is the subtree the key works in, inside the
	// department's area; the department's whole area when empty.
	Jurisdiction string
	// ExpiresAt is required: no key lives forever, none longer than
	// MaxAPIKeyLifetime.
	ExpiresAt time.Time
}

// APIKey is a stored key, without its secret.
type APIKey struct {
	ID           string
	Name         string
	Dept         string
	Org          string
	Roles        []string
	Jurisdiction string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
	LastUsedAt   *time.Time
}

// Active reports whether the key is neither revoked nor expired at now.
func (k *APIKey) Active(now time.Time) bool {
	return k.RevokedAt == nil && now.Before(k.ExpiresAt)
}

// APIKeys stores API keys in PostgreSQL (table api_keys). Only the SHA-256
// of each secret is stored. Managing keys (Create, List, Revoke) is an
// operator task done through `datahub apikey`; these methods do not check
// the caller's permissions.
type APIKeys struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// roles are the roles Create lets a key hold.
	roles []string
	// known keeps keys Authenticate accepted, by key id (see WithCache);
	// nil when every request reads the key's row.
	known *otter.Cache[string, knownKey]
	// forgets counts Forget and ForgetAll calls: a key read from its row
	// before one of them may be stale and is not kept.
	forgets *atomic.Uint64
}

// knownKey is an accepted key: the hash of its secret, the principal it
// authenticated and when it expires.
type knownKey struct {
	sum       [sha256.Size]byte
	principal access.Principal
	expires   time.Time
}

// knownMax bounds how many accepted keys an instance keeps (a few hundred
// bytes each; a hub serves a few dozen department systems and apps).
const knownMax = 10_000

// NewAPIKeys returns the key store on pool. Its Create accepts the roles
// the hub's code knows (access.RoleAdmin … access.RolePublic) until
// WithRoles names those of the policy in force.
func NewAPIKeys(pool *pgxpool.Pool) *APIKeys {
	return &APIKeys{pool: pool, now: time.Now, roles: builtinRoles}
}

// WithRoles returns a copy of s whose Create accepts exactly roles, usually
// HoldableRoles of the policy catalog in force.
func (s *APIKeys) WithRoles(roles []string) *APIKeys {
	c := *s
	c.roles = slices.Clone(roles)
	return &c
}

// WithClock returns a copy of s reading the time from now.
func (s *APIKeys) WithClock(now func() time.Time) *APIKeys {
	c := *s
	c.now = now
	return &c
}

// WithCache returns a copy of s that keeps each key it accepts for up to
// ttl, so a busy caller's requests do not each read the key's row. A kept
// key is served only for its exact secret and before its expiry; a key
// revoked meanwhile is refused once Forget drops it (the hub drops keys
// on the revocation messages of `datahub apikey revoke`) and at the
// latest after ttl. ttl <= 0 keeps nothing.
func (s *APIKeys) WithCache(ttl time.Duration) (*APIKeys, error) {
	c := *s
	c.known = nil
	if ttl <= 0 {
		return &c, nil
	}
	known, err := otter.New(&otter.Options[string, knownKey]{
		MaximumSize:      knownMax,
		ExpiryCalculator: otter.ExpiryWriting[string, knownKey](ttl),
	})
	if err != nil {
		return nil, fmt.Errorf("api key cache: %w", err)
	}
	c.known, c.forgets = known, new(atomic.Uint64)
	return &c, nil
}

// Forget drops key id from the cache, so its next use reads its row.
func (s *APIKeys) Forget(id string) {
	if s.known != nil {
		s.forgets.Add(1)
		s.known.Invalidate(id)
	}
}

// ForgetAll empties the cache: revocations may have been missed.
func (s *APIKeys) ForgetAll() {
	if s.known != nil {
		s.forgets.Add(1)
		s.known.InvalidateAll()
	}
}

// builtinRoles are the roles the hub's code refers to. internal/policy
// refuses a catalog that does not declare each of them as a role a principal
// can hold, so every policy knows them; a catalog may add more.
var builtinRoles = []string{
	access.RoleAdmin, access.RoleOfficer, access.RoleViewer, access.RoleDispatcher, access.RoleStreetOfficer,
	access.RoleGridWorker, access.RoleSystem, access.RoleAuditor, access.RoleEvaluator, access.RoleCitizenApp,
	access.RolePublic,
}

// Create stores a new key and returns its plaintext, shown this once and
// never again. Returns BAD_USER_INPUT for a missing name; an evaluator key
// without a registered organisation, or an organisation's key with a
// department or another role; a department the
// departments table does not hold; a role the store does not know (see
// WithRoles); a jurisdiction the jurisdictions table does not hold or that
// lies outside the department's area; a citizen-app key with other roles; or an expiry that is missing, past or
// more than MaxAPIKeyLifetime ahead. Nothing is stored then.
func (s *APIKeys) Create(ctx context.Context, spec APIKeySpec) (string, APIKey, error) {
	now := s.now().UTC()
	spec.Name = strings.TrimSpace(spec.Name)
	if err := validateSpec(spec, s.roles, now); err != nil {
		return "", APIKey{}, err
	}
	id, secret, err := newKeyMaterial()
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	hash := sha256.Sum256([]byte(secret))
	key := APIKey{
		ID:           id,
		Name:         spec.Name,
		Dept:         spec.Dept,
		Org:          spec.Org,
		Roles:        slices.Clone(spec.Roles),
		Jurisdiction: spec.Jurisdiction,
		CreatedAt:    now.Truncate(time.Microsecond),
		ExpiresAt:    spec.ExpiresAt.UTC().Truncate(time.Microsecond),
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if key.Org != "" {
		// An organisation's key: the organisation must be registered (its
		// contract bounds what it may do), and it works in the district.
		var registered, jurOK bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM eval_organisations WHERE code = $1),
			$2 = '' OR EXISTS (SELECT 1 FROM jurisdictions WHERE code = $2)`, key.Org, key.Jurisdiction).Scan(&registered, &jurOK)
		if err != nil {
			return "", APIKey{}, fmt.Errorf("create api key: check org[%s]: %w", key.Org, err)
		}
		if !registered {
			return "", APIKey{}, apperr.Invalid("org", "%q is not a registered evaluation organisation: register it first (datahub evalorg register)", key.Org)
		}
		if !jurOK {
			return "", APIKey{}, apperr.Invalid("jurisdiction", "%s", UnknownJurisdiction(key.Jurisdiction))
		}
		if key.Jurisdiction == "" {
			key.Jurisdiction = JurisdictionDefault
		}
	} else {
		area, err := checkDirectory(ctx, tx, key.Dept, key.Jurisdiction)
		if err != nil {
			return "", APIKey{}, err
		}
		if key.Jurisdiction == "" {
			key.Jurisdiction = area
		}
		if msg := OutsideArea(key.Dept, area, key.Jurisdiction); msg != "" {
			return "", APIKey{}, apperr.Invalid("jurisdiction", "%s", msg)
		}
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO api_keys (id, name, dept, org, roles, jurisdiction, hash, created_at, expires_at)
		VALUES ($1, $2, $3, nullif($4, ''), $5, $6, $7, $8, $9)`,
		key.ID, key.Name, key.Dept, key.Org, key.Roles, key.Jurisdiction, hash[:], key.CreatedAt, key.ExpiresAt)
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: insert: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", APIKey{}, fmt.Errorf("create api key: commit: %w", err)
	}
	return APIKeyPrefix + id + "_" + secret, key, nil
}

// checkDirectory refuses a department or jurisdiction (when given) the
// directory does not hold, and returns the department's area. A key naming
// either would be refused at every request.
func checkDirectory(ctx context.Context, tx pgx.Tx, dept, jurisdiction string) (string, error) {
	var (
		area  *string
		jurOK bool
	)
	err := tx.QueryRow(ctx, `SELECT (SELECT jurisdiction_code FROM departments WHERE code = $1),
		$2 = '' OR EXISTS (SELECT 1 FROM jurisdictions WHERE code = $2)`, dept, jurisdiction).Scan(&area, &jurOK)
	if err != nil {
		return "", fmt.Errorf("create api key: check dept[%s] jurisdiction[%s]: %w", dept, jurisdiction, err)
	}
	deptOK := area != nil
	if !deptOK {
		rows, err := tx.Query(ctx, `SELECT code FROM departments ORDER BY code`)
		if err != nil {
			return "", fmt.Errorf("create api key: list departments: %w", err)
		}
		codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", fmt.Errorf("create api key: list departments: %w", err)
		}
		return "", apperr.Invalid("dept", "%s", CheckKnownDept(dept, codes))
	}
	if !jurOK {
		return "", apperr.Invalid("jurisdiction", "%s", UnknownJurisdiction(jurisdiction))
	}
	return *area, nil
}

func validateSpec(spec APIKeySpec, known []string, now time.Time) error {
	if spec.Name == "" || utf8.RuneCountInString(spec.Name) > maxAPIKeyNameLen {
		return apperr.Invalid("name", "give the key a name of 1–%d characters saying who holds it", maxAPIKeyNameLen)
	}
	if msg := checkOrg(spec.Org, spec.Dept, spec.Roles); msg != "" {
		field := "org"
		if spec.Org != "" && spec.Dept != "" {
			field = "dept"
		}
		return apperr.Invalid(field, "%s", msg)
	}
	if spec.Org == "" {
		if msg := checkDept(spec.Dept); msg != "" {
			return apperr.Invalid("dept", "%s", msg)
		}
	}
	if len(spec.Roles) == 0 {
		return apperr.Invalid("roles", "give the key at least one role")
	}
	if msg := checkRoles(spec.Roles); msg != "" {
		return apperr.Invalid("roles", "%s", msg)
	}
	if msg := CheckKnownRoles(spec.Roles, known); msg != "" {
		return apperr.Invalid("roles", "%s", msg)
	}
	if slices.Contains(spec.Roles, access.RoleCitizenApp) && len(spec.Roles) > 1 {
		return apperr.Invalid("roles", "a %s key holds that role alone: it acts for citizens, who must not borrow other roles", access.RoleCitizenApp)
	}
	if spec.Jurisdiction != "" {
		if msg := checkJurisdiction(spec.Jurisdiction); msg != "" {
			return apperr.Invalid("jurisdiction", "%s", msg)
		}
	}
	switch {
	case spec.ExpiresAt.IsZero():
		return apperr.Invalid("expiresAt", "an expiry is required (at most %d days ahead)", MaxAPIKeyLifetime/(24*time.Hour))
	case !spec.ExpiresAt.After(now):
		return apperr.Invalid("expiresAt", "the expiry must be in the future")
	case spec.ExpiresAt.Sub(now) > MaxAPIKeyLifetime:
		return apperr.Invalid("expiresAt", "the expiry may be at most %d days ahead", MaxAPIKeyLifetime/(24*time.Hour))
	}
	return nil
}

func newKeyMaterial() (id, secret string, err error) {
	b := make([]byte, apiKeyIDBytes+apiKeySecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b[:apiKeyIDBytes]), base64.RawURLEncoding.EncodeToString(b[apiKeyIDBytes:]), nil
}

// List returns every key, revoked and expired ones included, oldest first.
func (s *APIKeys) List(ctx context.Context) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, name, dept, coalesce(org, ''), roles, jurisdiction, created_at, expires_at, revoked_at, last_used_at
		FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := row.Scan(&k.ID, &k.Name, &k.Dept, &k.Org, &k.Roles, &k.Jurisdiction, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// Revoke ends key id at once: the next request with it is refused. Revoking
// a revoked key changes nothing. Returns NOT_FOUND if there is no such key.
func (s *APIKeys) Revoke(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx,
		`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, s.now().UTC())
	if err != nil {
		return fmt.Errorf("revoke api key: id[%s]: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.New(apperr.NotFound, "no API key with id %q", truncate(id, 32))
	}
	return nil
}

// dummyHash is compared against when the key id is unknown, so that an
// unknown id and a wrong secret take the same path.
var dummyHash = sha256.Sum256([]byte("datahub: no such key"))

// Authenticate returns the service principal of a key in the dhk_ format.
// Unknown ids and wrong secrets get the same UNAUTHENTICATED message, so the
// answer reveals nothing about which ids exist; only the holder of the right
// secret learns that the key has expired or been revoked. The key's
// last_used_at moves at most once per APIKeyTouchInterval.
func (s *APIKeys) Authenticate(ctx context.Context, plaintext string) (*access.Principal, error) {
	id, secret, ok := splitKey(plaintext)
	if !ok {
		return nil, unauthenticated("the API key is malformed: want %s<id>_<secret> as issued", APIKeyPrefix)
	}
	sum := sha256.Sum256([]byte(secret))
	var forgets uint64
	if s.known != nil {
		forgets = s.forgets.Load()
		if kk, ok := s.known.GetIfPresent(id); ok && subtle.ConstantTimeCompare(sum[:], kk.sum[:]) == 1 && s.now().Before(kk.expires) {
			return clonePrincipal(kk.principal), nil
		}
	}
	var (
		k    APIKey
		hash []byte
	)
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, dept, coalesce(org, ''), roles, jurisdiction, hash, created_at, expires_at, revoked_at, last_used_at
		FROM api_keys WHERE id = $1`, id).
		Scan(&k.ID, &k.Name, &k.Dept, &k.Org, &k.Roles, &k.Jurisdiction, &hash, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt)
	found := true
	if errors.Is(err, pgx.ErrNoRows) {
		found, hash = false, dummyHash[:]
	} else if err != nil {
		return nil, fmt.Errorf("authenticate api key: id[%s]: %w", id, err)
	}
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 || !found {
		return nil, unauthenticated("the API key is not valid")
	}
	now := s.now()
	if k.RevokedAt != nil {
		return nil, unauthenticated("the API key %s has been revoked; ask for a new key", k.ID)
	}
	if !now.Before(k.ExpiresAt) {
		return nil, unauthenticated("the API key %s expired on %s; ask for a new key", k.ID, k.ExpiresAt.UTC().Format(time.DateOnly))
	}
	if msg := checkOrg(k.Org, k.Dept, k.Roles); msg != "" {
		return nil, unauthenticated("the API key %s: %s; ask for a key issued to your organisation", k.ID, msg)
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= APIKeyTouchInterval {
		// The condition is repeated in SQL so that instances racing on the
		// same key write once, not once each.
		_, err := s.pool.Exec(ctx, `
			UPDATE api_keys SET last_used_at = $2
			WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)`,
			k.ID, now.UTC(), now.Add(-APIKeyTouchInterval).UTC())
		if err != nil {
			return nil, fmt.Errorf("authenticate api key: touch id[%s]: %w", k.ID, err)
		}
	}
	p := access.Principal{
		Kind:         access.KindService,
		Subject:      k.ID,
		Dept:         k.Dept,
		Org:          k.Org,
		Roles:        k.Roles,
		Jurisdiction: k.Jurisdiction,
	}
	if s.known != nil && s.forgets.Load() == forgets {
		s.known.Set(k.ID, knownKey{sum: sum, principal: *clonePrincipal(p), expires: k.ExpiresAt})
		// A revocation announced between the check and the Set must
		// not leave the row as read kept.
		if s.forgets.Load() != forgets {
			s.known.Invalidate(k.ID)
		}
	}
	return &p, nil
}

// RevokedChannel is the Redis channel on which revocations of API keys are
// announced (payload: the key id) to hub instances sharing prefix.
func RevokedChannel(prefix string) string { return prefix + "apikeys:revoked" }

// AnnounceRevoked tells the hub instances sharing prefix that key id is
// revoked, so each drops it from its cache at once (see WithCache).
func AnnounceRevoked(ctx context.Context, rdb redis.UniversalClient, prefix, id string) error {
	if err := rdb.Publish(ctx, RevokedChannel(prefix), id).Err(); err != nil {
		return fmt.Errorf("announce the revocation of api key %s: %w", id, err)
	}
	return nil
}

// splitKey parses dhk_<id>_<secret>. The id is hex, so the first '_' after
// the prefix ends it even though a base64url secret may contain '_'.
func splitKey(plaintext string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(plaintext, APIKeyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 2*apiKeyIDBytes || len(secret) != apiKeySecretLen {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil || strings.ToLower(id) != id {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", false
	}
	return id, secret, true
}
