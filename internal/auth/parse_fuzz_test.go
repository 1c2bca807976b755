package auth

import (
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
)

// FuzzSplitKey: any string either parses into a hex id and a secret of the
// issued length that rebuild the input exactly, or is refused.
func FuzzSplitKey(f *testing.F) {
	f.Add("dhk_0123456789ab_" + strings.Repeat("A", apiKeySecretLen))
	f.Add("dhk_0123456789ab_" + strings.Repeat("_", apiKeySecretLen))
	f.Add("dhk_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, ok := splitKey(s)
		if !ok {
			return
		}
		if APIKeyPrefix+id+"_"+secret != s || len(id) != 2*apiKeyIDBytes || len(secret) != apiKeySecretLen {
			t.Fatalf("splitKey(%q) = %q, %q", s, id, secret)
		}
	})
}

// FuzzParseAuthorization: an Authorization header yields exactly one
// non-empty credential or an UNAUTHENTICATED error.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("Bearer a.b.c")
	f.Add("ApiKey dhk_x")
	f.Add("Basic Zm9v")
	f.Add("bearer")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseAuthorization(s)
		if err != nil {
			if apperr.CodeOf(err) != apperr.Unauthenticated {
				t.Fatalf("error %v is not UNAUTHENTICATED", err)
			}
			return
		}
		if (c.Bearer == "") == (c.APIKey == "") {
			t.Fatalf("parseAuthorization(%q) = %+v", s, c)
		}
	})
}
