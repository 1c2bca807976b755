package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// PersistedOperations are operation documents known by their SHA-256, in
// Redis so that every instance knows them: the automatic persisted queries
// a client registers by sending a query with its hash once (kept for
// APQTTL after their last registration), and the allow-list an operator
// registers (`datahub operations register`), kept until removed. A document
// never changes under its hash, so each instance keeps the ones it has
// seen in a local LRU and asks Redis only once.
type PersistedOperations struct {
	rdb    redis.UniversalClient
	prefix string
	local  *lru.LRU[string]
	// known caches hashes found on the allow-list.
	known *lru.LRU[bool]
}

// APQTTL is how long an automatic persisted query stays after its last
// registration.
const APQTTL = 7 * 24 * time.Hour

// NewPersistedOperations keeps its keys under prefix.
func NewPersistedOperations(rdb redis.UniversalClient, prefix string) *PersistedOperations {
	return &PersistedOperations{rdb: rdb, prefix: prefix, local: lru.New[string](2000), known: lru.New[bool](2000)}
}

func (p *PersistedOperations) allowListKey() string   { return p.prefix + "operations" }
func (p *PersistedOperations) apqKey(h string) string { return p.prefix + "apq:" + h }

// Hash is a document's key: hex SHA-256, as Apollo clients send it.
func Hash(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// Get implements graphql.Cache for gqlgen's APQ extension: the allow-list
// first, then the automatic ones. A Redis failure reads as unknown (the
// client then sends the whole query).
func (p *PersistedOperations) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := p.local.Get(ctx, hash); ok {
		return q, true
	}
	q, err := p.rdb.HGet(ctx, p.allowListKey(), hash).Result()
	if errors.Is(err, redis.Nil) {
		q, err = p.rdb.Get(ctx, p.apqKey(hash)).Result()
	}
	if err != nil {
		return "", false
	}
	p.local.Add(ctx, hash, q)
	return q, true
}

// Add implements graphql.Cache: gqlgen calls it once it has checked that
// the query hashes to hash.
func (p *PersistedOperations) Add(ctx context.Context, hash, query string) {
	p.local.Add(ctx, hash, query)
	_ = p.rdb.Set(ctx, p.apqKey(hash), query, APQTTL).Err()
}

// Register puts query on the allow-list and returns its hash.
func (p *PersistedOperations) Register(ctx context.Context, query string) (string, error) {
	h := Hash(query)
	if err := p.rdb.HSet(ctx, p.allowListKey(), h, query).Err(); err != nil {
		return "", fmt.Errorf("register operation: %w", err)
	}
	return h, nil
}

// List returns the allow-list, hash to document.
func (p *PersistedOperations) List(ctx context.Context) (map[string]string, error) {
	m, err := p.rdb.HGetAll(ctx, p.allowListKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("list operations: %w", err)
	}
	return m, nil
}

// Remove takes hash off the allow-list. Instances that cached it keep
// serving it until they restart (at most the LRU's size).
func (p *PersistedOperations) Remove(ctx context.Context, hash string) error {
	if err := p.rdb.HDel(ctx, p.allowListKey(), hash).Err(); err != nil {
		return fmt.Errorf("remove operation: %w", err)
	}
	return nil
}

// allowed reports whether hash is on the allow-list.
func (p *PersistedOperations) allowed(ctx context.Context, hash string) (bool, error) {
	if ok, seen := p.known.Get(ctx, hash); seen && ok {
		return true, nil
	}
	ok, err := p.rdb.HExists(ctx, p.allowListKey(), hash).Result()
	if err != nil {
		return false, err
	}
	if ok {
		p.known.Add(ctx, hash, true)
	}
	return ok, nil
}

// allowListOnly refuses, for the callers it names (PERSISTED_ONLY:
// "anonymous", "citizen-app"), any operation that is not on the allow-list:
// a public client then runs exactly the operations its release shipped
// with, and nobody can send it a hand-made query. It runs after APQ has
// turned a hash into its document.
type allowListOnly struct {
	ops   *PersistedOperations
	kinds []string
}

func (allowListOnly) ExtensionName() string                   { return "PersistedOperationsOnly" }
func (allowListOnly) Validate(graphql.ExecutableSchema) error { return nil }
func (a allowListOnly) restricted(p *access.Principal) bool {
	switch {
	case p == nil || p.Kind == access.KindAnonymous:
		return slices.Contains(a.kinds, "anonymous")
	case p.CitizenID != "" || slices.Contains(p.Roles, "citizen-app"):
		return slices.Contains(a.kinds, "citizen-app")
	}
	return false
}

func (a allowListOnly) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if !a.restricted(access.PrincipalFrom(ctx)) {
		return nil
	}
	ok, err := a.ops.allowed(ctx, Hash(raw.Query))
	if err != nil {
		return &gqlerror.Error{Message: "the operation allow-list cannot be read at the moment, please retry",
			Extensions: map[string]any{"code": "SERVICE_UNAVAILABLE"}}
	}
	if !ok {
		return &gqlerror.Error{Message: "this client may run registered operations only: send extensions.persistedQuery.sha256Hash of one",
			Extensions: map[string]any{"code": "PERSISTED_QUERY_NOT_ALLOWED"}}
	}
	return nil
}
