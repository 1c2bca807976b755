// Package respcache keeps the answers of expensive public queries (the
// evaluation indicators, say) in memory, so that a thousand callers asking
// the same thing cost one computation.
//
// Correctness rests on three rules:
//   - Only operations whose every root field is listed in Config.Roots are
//     cached; those fields are aggregates that no read audit records, so a
//     cached answer skips nothing the audit trail needs.
//   - The key holds the query, the operation name, the variables and the
//     caller's Fingerprint: everything access control decided for the
//     caller (row scope, field access, grants). Two callers share an entry
//     only when the policy treats them alike; a grant that ends, or a policy
//     change, changes the fingerprint and so the key.
//   - Every change event (Invalidate) empties the cache and bumps a
//     generation; an answer computed across a change is not kept, and an
//     entry is served only in the generation it was made in. While change
//     events cannot be heard (Changed(false)) nothing is served from the
//     cache. TTL bounds what no event announces: time passing (the current
//     month's live figures, deadlines turning overdue).
//
// Several instances each keep their own cache; each hears every change on
// the shared event stream.
package respcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// Defaults for Config.
const (
	TTLDefault      = 30 * time.Second
	MaxBytesDefault = 32 << 20
	// maxEntryBytes keeps one huge answer from flushing everything else.
	maxEntryBytes = 4 << 20
)

// Config configures a Cache.
type Config struct {
	// Roots are the root Query fields an operation may select (with
	// __typename) to be cached.
	Roots []string
	// Fingerprint returns what access control decided for the caller of
	// ctx, as bytes that differ whenever the decisions do.
	Fingerprint func(ctx context.Context) ([]byte, error)
	// TTL is how long an entry lives at most (TTLDefault when zero).
	TTL time.Duration
	// MaxBytes bounds the cached answers' total size (MaxBytesDefault when
	// zero).
	MaxBytes uint64
	// FreshHeaders name request headers whose presence asks for an answer
	// from the database, like Cache-Control: no-cache (a read-your-writes
	// position, say).
	FreshHeaders []string
}

// Cache is a response cache for gqlgen. Its methods are safe for
// concurrent use.
type Cache struct {
	cfg   Config
	roots map[string]bool
	store *otter.Cache[[32]byte, entry]
	gen   atomic.Uint64
	live  atomic.Bool

	lookups *prometheus.CounterVec
	size    prometheus.GaugeFunc
}

// entry is one cached answer: the data of a response without errors.
type entry struct {
	gen  uint64
	data []byte
	// contentType is set on the HTTP layer's entries (whole responses).
	contentType string
}

// New returns an empty cache, not yet live: call Changed(true) once change
// events are heard.
func New(cfg Config) (*Cache, error) {
	if cfg.Fingerprint == nil {
		return nil, errors.New("respcache: Fingerprint is required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = TTLDefault
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = MaxBytesDefault
	}
	store, err := otter.New(&otter.Options[[32]byte, entry]{
		MaximumWeight:    cfg.MaxBytes,
		Weigher:          func(_ [32]byte, e entry) uint32 { return uint32(len(e.data)) + 64 },
		ExpiryCalculator: otter.ExpiryWriting[[32]byte, entry](cfg.TTL),
	})
	if err != nil {
		return nil, fmt.Errorf("respcache: %w", err)
	}
	c := &Cache{cfg: cfg, roots: map[string]bool{}, store: store,
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datahub_response_cache_lookups_total",
			Help: "Cacheable GraphQL operations by result: hit, miss, bypass (asked for a fresh answer, or change events not heard), uncacheable (errors, or a change during the computation).",
		}, []string{"result"}),
	}
	c.size = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "datahub_response_cache_bytes", Help: "Bytes of answers held in the response cache (approximate).",
	}, func() float64 { return float64(c.store.WeightedSize()) })
	for _, r := range cfg.Roots {
		c.roots[r] = true
	}
	return c, nil
}

// Collectors returns the cache's metrics.
func (c *Cache) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.lookups, c.size}
}

// Invalidate drops every entry: data changed somewhere.
func (c *Cache) Invalidate() {
	c.gen.Add(1)
	c.store.InvalidateAll()
}

// Changed empties the cache: data changed, or the stream of change events
// was lost or regained. live says whether change events are being heard;
// while they are not, the cache neither serves nor keeps answers. It suits
// events.BrokerConfig.OnChange.
func (c *Cache) Changed(live bool) {
	c.live.Store(live)
	c.Invalidate()
}

// Middleware returns the gqlgen operation middleware that serves and fills
// the cache.
func (c *Cache) Middleware() graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if !c.cacheable(oc) {
			return next(ctx)
		}
		if !c.live.Load() {
			c.lookups.WithLabelValues("bypass").Inc()
			return next(ctx)
		}
		gen := c.gen.Load()
		key, err := c.key(ctx, oc)
		if err != nil {
			// The executor meets the same failure and reports it where it
			// belongs.
			c.lookups.WithLabelValues("bypass").Inc()
			return next(ctx)
		}
		if c.fresh(oc.Headers) {
			// A fresh answer, which then replaces the cached one.
			c.lookups.WithLabelValues("bypass").Inc()
			return c.fill(ctx, next, key, gen)
		}
		if e, ok := c.store.GetIfPresent(key); ok && e.gen == gen {
			c.lookups.WithLabelValues("hit").Inc()
			if kept, ok := ctx.Value(keptKey{}).(*bool); ok {
				*kept = true
			}
			return once(&graphql.Response{Data: e.data})
		}
		c.lookups.WithLabelValues("miss").Inc()
		return c.fill(ctx, next, key, gen)
	}
}

// fill runs the operation and keeps its answer under key if it has no
// errors and the generation is still gen (nothing changed meanwhile).
func (c *Cache) fill(ctx context.Context, next graphql.OperationHandler, key [32]byte, gen uint64) graphql.ResponseHandler {
	h := next(ctx)
	first := true
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if !first || resp == nil {
			return resp
		}
		first = false
		switch {
		case len(resp.Errors) > 0 || len(resp.Extensions) > 0 || len(resp.Data) == 0 || len(resp.Data) > maxEntryBytes:
			c.lookups.WithLabelValues("uncacheable").Inc()
		case c.live.Load() && c.gen.Load() == gen:
			c.store.Set(key, entry{gen: gen, data: bytes.Clone(resp.Data)})
			if kept, ok := ctx.Value(keptKey{}).(*bool); ok {
				*kept = true
			}
		default:
			c.lookups.WithLabelValues("uncacheable").Inc()
		}
		return resp
	}
}

// cacheable reports whether oc is a query selecting only cacheable root
// fields, without directives (@defer would stream several responses).
func (c *Cache) cacheable(oc *graphql.OperationContext) bool {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query || len(oc.Operation.Directives) > 0 {
		return false
	}
	found := false
	for _, s := range oc.Operation.SelectionSet {
		f, ok := s.(*ast.Field)
		if !ok || len(f.Directives) > 0 || hasDirectives(f.SelectionSet) {
			return false
		}
		switch {
		case f.Name == "__typename":
		case c.roots[f.Name]:
			found = true
		default:
			return false
		}
	}
	return found
}

// hasDirectives reports whether any selection below set carries a
// directive or is a fragment (whose directives would need resolving).
func hasDirectives(set ast.SelectionSet) bool {
	for _, s := range set {
		f, ok := s.(*ast.Field)
		if !ok || len(f.Directives) > 0 || hasDirectives(f.SelectionSet) {
			return true
		}
	}
	return false
}

// key hashes what the answer depends on: the document, the operation, the
// variables and the caller's access decisions.
func (c *Cache) key(ctx context.Context, oc *graphql.OperationContext) ([32]byte, error) {
	fp, err := c.cfg.Fingerprint(ctx)
	if err != nil {
		return [32]byte{}, err
	}
	vars, err := json.Marshal(oc.Variables) // map keys come out sorted
	if err != nil {
		return [32]byte{}, err
	}
	return hashParts([]byte("op"), []byte(oc.RawQuery), []byte(oc.OperationName), vars, fp), nil
}

// hashParts hashes parts, each prefixed by its length so that no two lists
// of parts hash alike.
func hashParts(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// fresh reports whether the request asks for a fresh answer:
// Cache-Control: no-cache or no-store, or one of Config.FreshHeaders.
func (c *Cache) fresh(h http.Header) bool {
	for _, name := range c.cfg.FreshHeaders {
		if h.Get(name) != "" {
			return true
		}
	}
	return noCache(h)
}

// noCache reports whether h holds Cache-Control: no-cache or no-store.
func noCache(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(d)) {
			case "no-cache", "no-store":
				return true
			}
		}
	}
	return false
}

// once answers resp to the first call, then nil (the end of the stream).
func once(resp *graphql.Response) graphql.ResponseHandler {
	sent := false
	return func(context.Context) *graphql.Response {
		if sent {
			return nil
		}
		sent = true
		return resp
	}
}

// The HTTP layer: a request whose exact bytes (body, Accept, Content-Type)
// and caller's fingerprint were answered from a cacheable operation
// before gets the stored response bytes back without parsing, executing
// or encoding anything. Whether an answer may be kept is still decided by
// the operation middleware (kept tells the HTTP layer); the HTTP layer
// only remembers the bytes it wrote.

// keptKey carries a *bool the operation middleware sets when it kept the
// answer of the request's operation.
type keptKey struct{}

// Handler returns next with the HTTP layer in front of it. Put it where
// the caller is known (after authentication and the request scope); next
// must run the Middleware.
func (c *Cache) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !c.live.Load() || c.fresh(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			// next reads what was read, then the body's error again (the
			// body limit's is sticky), and reports it as it always does.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
			next.ServeHTTP(w, r)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !c.mentionsRoot(body) {
			next.ServeHTTP(w, r)
			return
		}
		gen := c.gen.Load()
		fp, err := c.cfg.Fingerprint(r.Context())
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		key := hashParts([]byte("http"), body, []byte(r.Header.Get("Accept")), []byte(r.Header.Get("Content-Type")), fp)
		if e, ok := c.store.GetIfPresent(key); ok && e.gen == gen {
			c.lookups.WithLabelValues("hit").Inc()
			w.Header().Set("Content-Type", e.contentType)
			_, _ = w.Write(e.data)
			return
		}
		kept := false
		rec := &capture{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), keptKey{}, &kept)))
		if kept && rec.status == http.StatusOK && !rec.overflow && c.live.Load() && c.gen.Load() == gen {
			c.store.Set(key, entry{gen: gen, data: rec.body, contentType: rec.contentType})
		}
	})
}

// mentionsRoot is a cheap first test: a body naming none of the cacheable
// roots cannot select one (persisted queries name none and are left to
// the operation middleware).
func (c *Cache) mentionsRoot(body []byte) bool {
	for r := range c.roots {
		if bytes.Contains(body, []byte(r)) {
			return true
		}
	}
	return false
}

// capture passes a response through and keeps a copy of it.
type capture struct {
	http.ResponseWriter
	status      int
	contentType string
	body        []byte
	overflow    bool
}

func (c *capture) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
		c.contentType = c.Header().Get("Content-Type")
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if len(c.body)+len(b) > maxEntryBytes {
		c.overflow, c.body = true, nil
	} else if !c.overflow {
		c.body = append(c.body, b...)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }
