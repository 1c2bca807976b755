package app_test

import (
	"fmt"
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
