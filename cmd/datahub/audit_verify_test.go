package main

import (
	"context"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/testenv"
)

// `datahub audit verify` checks the chain against a recorded head: a head
// beyond the chain's end is reported as truncation, one with another hash
// as a rewrite, and a matching one is counted.
func TestAuditVerifyAgainstRecordedHead(t *testing.T) {
	testenv.SkipShort(t)
	ctx := context.Background()
	m, _ := newMain(nil)
	if err := m.Run(ctx, []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: env.DatabaseURL, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	w := audit.NewWriter(pool, audit.Options{Key: []byte(config.DevAuditHMACKey)})
	for range 3 {
		if err := w.Log(ctx, audit.Record{Subject: "cli-test", Dept: "water", Dataset: "cases", RowCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m, out := newMain(nil)
	if err := m.Run(ctx, []string{"audit", "verify", "--no-redis"}); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	line := out.String()
	i := strings.Index(line, "head ")
	if i < 0 {
		t.Fatalf("no head in %q", line)
	}
	head := strings.Fields(line[i+len("head "):])[0]
	_, hash, _ := strings.Cut(head, ":")
	zero := strings.Repeat("0", 64)
	for _, tc := range []struct{ head, want string }{
		{head, "1 checkpoint(s) matched"},
		{"999999:" + hash, "truncated"},
		{"1:" + zero, "rewritten"},
	} {
		m, out := newMain(nil)
		err := m.Run(ctx, []string{"audit", "verify", "--no-redis", "--head", tc.head})
		if !strings.Contains(out.String(), tc.want) || (err == nil) != (tc.want == "1 checkpoint(s) matched") {
			t.Fatalf("--head %s: %v\n%s", tc.head, err, out)
		}
	}
	if err := m.Run(ctx, []string{"audit", "verify", "--head", "nonsense"}); err == nil {
		t.Fatal("accepted a malformed --head")
	}
}
