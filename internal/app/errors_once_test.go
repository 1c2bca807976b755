package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A field group denied on a list is reported once per field path, not once
// per row, and the rows still come back with the field null.
func TestDeniedFieldReportedOncePerPath(t *testing.T) {
	h := newHub(t)
	r := h.do(h.token("water", "viewer"), `{ properties(first: 20) { edges { node { name permits { permitNo } } } } }`, nil)
	if len(r.Errors) != 1 || r.code(0) != "FORBIDDEN" {
		t.Fatalf("want one FORBIDDEN error for the permits of 20 compounds, got %d: %+v", len(r.Errors), r.Errors)
	}
	if p := fmt.Sprint(r.Errors[0].Path); p != "[properties edges 0 node permits]" {
		t.Errorf("the error is reported at %s, want the first row's path", p)
	}
	if n := strings.Count(string(r.Data["properties"]), `"permits":null`); n != 20 {
		t.Fatalf("%d compounds with permits null, want 20: %.300s", n, r.Data["properties"])
	}
}

// Errors gqlgen's transports write themselves carry a code too.
func TestTransportErrorsHaveCodes(t *testing.T) {
	h := newHub(t)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"unsupported content type", func() *http.Request {
			r, _ := http.NewRequest("POST", h.srv.URL+"/query", strings.NewReader(`{ __typename }`))
			r.Header.Set("Content-Type", "text/plain")
			return r
		}},
		{"mutation over GET", func() *http.Request {
			r, _ := http.NewRequest("GET", h.srv.URL+"/query?query="+url.QueryEscape(`mutation { revokeGrant(id: "x") { status } }`), nil)
			return r
		}},
	} {
		res, err := http.DefaultClient.Do(tc.req())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode < 400 || !strings.Contains(string(b), `"code":"BAD_USER_INPUT"`) {
			t.Errorf("%s: %d %s", tc.name, res.StatusCode, b)
		}
	}
}
