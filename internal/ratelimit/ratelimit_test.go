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

// TestAllowAllIsAllOrNothing: a request counted against two windows (an
// API key's and one citizen's) is admitted into both or neither, and is
// told the longest wait; the shared limiter and the per-instance one agree.
func TestAllowAllIsAllOrNothing(t *testing.T) {
	clk := fixture.NewClock(time.Unix(1_800_000_000, 0))
	limiters := map[string]interface {
		AllowAll(context.Context, []ratelimit.Check) (bool, time.Duration, error)
	}{
		"redis": ratelimit.New(env.Redis(t), env.RedisPrefix+t.Name(), clk.Now),
		"local": ratelimit.NewLocal(clk.Now, 0),
	}
	for name, l := range limiters {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := ratelimit.Check{Key: "{key:k}" + name, Rule: ratelimit.Rule{Limit: 3, Window: time.Minute}}
			alice := ratelimit.Check{Key: "{key:k}:citizen:alice" + name, Rule: ratelimit.Rule{Limit: 1, Window: 30 * time.Second}}
			bob := ratelimit.Check{Key: "{key:k}:citizen:bob" + name, Rule: ratelimit.Rule{Limit: 1, Window: 30 * time.Second}}
			if ok, _, err := l.AllowAll(ctx, []ratelimit.Check{key, alice}); err != nil || !ok {
				t.Fatalf("alice's first request refused: %v", err)
			}
			clk.Advance(10 * time.Second)
			// Alice's window is full: refused, and the key's window keeps its
			// room (2 of 3 left), with her wait (20 s) the longer one.
			ok, wait, err := l.AllowAll(ctx, []ratelimit.Check{key, alice})
			if err != nil || ok || wait != 20*time.Second {
				t.Fatalf("alice's second request: ok %v wait %s err %v; want refused, 20s", ok, wait, err)
			}
			for i, c := range []ratelimit.Check{bob, {Key: "{key:k}:citizen:carol" + name, Rule: bob.Rule}} {
				if ok, _, err := l.AllowAll(ctx, []ratelimit.Check{key, c}); err != nil || !ok {
					t.Fatalf("citizen %d refused: the refused request took the key's room (%v)", i, err)
				}
			}
			// Now the key's window (3) is full: the longest wait is the key's
			// (its first request leaves at 60 s; now is 10 s), not dave's 0.
			ok, wait, err = l.AllowAll(ctx, []ratelimit.Check{key, {Key: "{key:k}:citizen:dave" + name, Rule: bob.Rule}})
			if err != nil || ok || wait != 50*time.Second {
				t.Fatalf("request past the key's limit: ok %v wait %s err %v; want refused, 50s", ok, wait, err)
			}
		})
	}
}
