package ratelimit_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/ratelimit"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func TestSlidingWindow(t *testing.T) {
	clk := fixture.NewClock(time.Unix(1_800_000_000, 0))
	l := ratelimit.New(env.Redis(t), env.RedisPrefix+t.Name(), clk.Now)
	ctx := context.Background()
	rule := ratelimit.Rule{Limit: 3, Window: time.Minute}
	for i := range 3 {
		ok, _, err := l.Allow(ctx, "citizen:a", rule)
		if err != nil || !ok {
			t.Fatalf("request %d refused: %v", i, err)
		}
		clk.Advance(10 * time.Second)
	}
	ok, wait, err := l.Allow(ctx, "citizen:a", rule)
	if err != nil || ok {
		t.Fatalf("4th request in the window admitted (%v)", err)
	}
	// The first request (t=0) leaves the window at t=60 s; now is t=30 s.
	if wait != 30*time.Second {
		t.Fatalf("retry after %s, want 30s", wait)
	}
	// Another key is not affected.
	if ok, _, _ := l.Allow(ctx, "citizen:b", rule); !ok {
		t.Fatal("another citizen refused")
	}
	clk.Advance(31 * time.Second) // the first request has slid out
	if ok, _, _ := l.Allow(ctx, "citizen:a", rule); !ok {
		t.Fatal("not admitted after the window slid")
	}
	if ok, _, _ := l.Allow(ctx, "citizen:a", rule); ok {
		t.Fatal("window full again but admitted")
	}
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		in   string
		want ratelimit.Rule
		err  bool
	}{
		{"60/1m", ratelimit.Rule{Limit: 60, Window: time.Minute}, false},
		{"off", ratelimit.Rule{}, false},
		{"", ratelimit.Rule{}, false},
		{"60", ratelimit.Rule{}, true},
		{"x/1m", ratelimit.Rule{}, true},
		{"5/-1s", ratelimit.Rule{}, true},
	}
	for _, tc := range tests {
		got, err := ratelimit.ParseRule(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRule(%q) = %+v, %v", tc.in, got, err)
		}
	}
}
