package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/config"
)

// TestRevokedKeyRefusedOnceAnnounced: the hub keeps the API keys it
// accepted, so a revocation written to the database alone goes unseen
// for the cache's time; announced as `datahub apikey revoke` does, it
// takes effect at once.
func TestRevokedKeyRefusedOnceAnnounced(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.APIKeyCacheTTL = time.Hour })
	h.app.Start() // its background work hears the announcements
	key, id := systemKey(t, h)
	header := http.Header{"X-Api-Key": {key}}
	refused := func() bool {
		return strings.Contains(string(rawPostAs(t, h, header, wsCaseQuery, nil)), "UNAUTHENTICATED")
	}
	if refused() {
		t.Fatal("a new key was refused")
	}
	ctx := context.Background()
	if err := auth.NewAPIKeys(h.app.Pool).Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if refused() {
		t.Fatal("the key was refused before the announcement: the hub does not keep accepted keys")
	}
	if err := auth.AnnounceRevoked(ctx, h.app.Redis, h.cfg.RedisPrefix, id); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(5*time.Second, refused) {
		t.Fatal("the key was still accepted 5 s after its revocation was announced")
	}
}
