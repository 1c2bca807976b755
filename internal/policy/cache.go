package policy

import (
	"context"
	"strings"
	"sync"

	"github.com/fengcheng/datahub/internal/access"
)

// requestCache memoises decisions for one request. gqlgen resolves fields in
// parallel goroutines, so it is safe for concurrent use and computes each
// decision once even when several resolvers ask at the same moment.
type requestCache struct {
	mu       sync.Mutex
	entries  map[string]*cacheEntry
	computed map[string]int // per dataset
}

type cacheEntry struct {
	once sync.Once
	d    *access.Decision
	err  error
}

type requestCacheKey struct{}

// WithRequestCache returns ctx carrying a fresh decision cache: within it,
// Engine.Decide computes each dataset's decision once per principal and
// hands every later caller the same (read-only) *Decision. Install it once
// per request (HTTP middleware, WebSocket operation); a ctx that already
// carries one is returned unchanged.
func WithRequestCache(ctx context.Context) context.Context {
	if requestCacheFrom(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, requestCacheKey{}, &requestCache{entries: map[string]*cacheEntry{}, computed: map[string]int{}})
}

func requestCacheFrom(ctx context.Context) *requestCache {
	rc, _ := ctx.Value(requestCacheKey{}).(*requestCache)
	return rc
}

// RequestDecisions returns how many decisions were computed per dataset
// under ctx's request cache (nil without one). With a single principal per
// request every count is at most 1; tests and benchmarks assert it.
func RequestDecisions(ctx context.Context) map[string]int {
	rc := requestCacheFrom(ctx)
	if rc == nil {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.computed))
	for k, v := range rc.computed {
		out[k] = v
	}
	return out
}

func (rc *requestCache) get(p *access.Principal, dataset string, compute func() (*access.Decision, error)) (*access.Decision, error) {
	// Keyed by the principal's content, not its pointer: PrincipalFrom
	// returns a new anonymous principal on every call.
	key := strings.Join([]string{string(p.Kind), p.Subject, p.Dept, strings.Join(p.Roles, ","), p.Jurisdiction, p.CitizenID, p.Org, dataset}, "\x00")
	rc.mu.Lock()
	ent, ok := rc.entries[key]
	if !ok {
		ent = &cacheEntry{}
		rc.entries[key] = ent
	}
	rc.mu.Unlock()
	ent.once.Do(func() {
		ent.d, ent.err = compute()
		rc.mu.Lock()
		rc.computed[dataset]++
		rc.mu.Unlock()
	})
	return ent.d, ent.err
}
