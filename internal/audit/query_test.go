package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	const n = 60
	seed(t, pool, n) // record i has seq i+1
	t0 := sample(0).At

	// want lists the seqs of the sample records matching keep, newest first.
	want := func(keep func(Record) bool) []int64 {
		var seqs []int64
		for i := n - 1; i >= 0; i-- {
			if keep(sample(i)) {
				seqs = append(seqs, int64(i+1))
			}
		}
		return seqs
	}
	tests := []struct {
		name string
		f    Filter
		keep func(Record) bool
	}{
		{"all", Filter{}, func(Record) bool { return true }},
		{"dept", Filter{Dept: "housing"}, func(r Record) bool { return r.Dept == "housing" }},
		{"subject", Filter{Subject: "user-3"}, func(r Record) bool { return r.Subject == "user-3" }},
		{"dataset", Filter{Dataset: "violation"}, func(Record) bool { return true }},
		{"no such dataset", Filter{Dataset: "parking"}, func(Record) bool { return false }},
		{"operation", Filter{Operation: "ViolationList"}, func(Record) bool { return true }},
		{"time range", Filter{From: t0.Add(10 * time.Second), To: t0.Add(25 * time.Second)},
			func(r Record) bool {
				return !r.At.Before(t0.Add(10*time.Second)) && r.At.Before(t0.Add(25*time.Second))
			}},
		{"from only", Filter{From: t0.Add(50 * time.Second)}, func(r Record) bool { return !r.At.Before(t0.Add(50 * time.Second)) }},
		{"combined", Filter{Dept: "planning", Subject: "user-0", To: t0.Add(40 * time.Second)},
			func(r Record) bool {
				return r.Dept == "planning" && r.Subject == "user-0" && r.At.Before(t0.Add(40*time.Second))
			}},
	}
	for _, tt := range tests {
		for _, first := range []int{1, 4, 7, 100} {
			t.Run(tt.name, func(t *testing.T) {
				ctx := ctxT(t)
				var got []int64
				after := ""
				for pages := 0; ; pages++ {
					if pages > n+1 {
						t.Fatal("pagination does not end")
					}
					recs, next, err := Query(ctx, pool, tt.f, first, after)
					if err != nil {
						t.Fatal(err)
					}
					if len(recs) > first || (next != "" && len(recs) != first) {
						t.Fatalf("page of %d with first %d, next %q", len(recs), first, next)
					}
					for _, r := range recs {
						got = append(got, r.Seq)
						if len(r.Hash) != HashSize || r.At.Location() != time.UTC {
							t.Fatalf("record %d: hash %x at %v", r.Seq, r.Hash, r.At)
						}
					}
					if next == "" {
						break
					}
					after = next
				}
				if w := want(tt.keep); !slices.Equal(got, w) {
					t.Fatalf("first %d: got %v\nwant %v", first, got, w)
				}
				// The same list through the Relay arguments, both ways.
				seqs := fixture.CheckRelay(t, first, func(a page.Args) (fixture.RelayPage[int64], error) {
					p, err := QueryPage(ctx, pool, tt.f, a)
					if err != nil {
						return fixture.RelayPage[int64]{}, err
					}
					rp := fixture.RelayPage[int64]{HasNext: p.HasNext, HasPrev: p.HasPrev, Cursor: p.Cursor}
					for _, r := range p.Records {
						rp.Rows = append(rp.Rows, r.Seq)
					}
					return rp, nil
				})
				if w := want(tt.keep); !slices.Equal(seqs, w) {
					t.Fatalf("relay walk, page of %d: got %v\nwant %v", first, seqs, w)
				}
			})
		}
	}

	// Fields come back as written.
	recs, _, err := Query(ctxT(t), pool, Filter{}, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	w := sample(n - 1)
	g := recs[0]
	if g.Seq != n || !g.At.Equal(w.At) || g.Subject != w.Subject || g.Dept != w.Dept ||
		!slices.Equal(g.Roles, w.Roles) || g.Purpose != w.Purpose || g.GrantID != w.GrantID ||
		g.Dataset != w.Dataset || !slices.Equal(g.FieldGroups, w.FieldGroups) || g.RowCount != w.RowCount ||
		g.Operation != w.Operation || g.RequestID != w.RequestID {
		t.Fatalf("got %+v\nwant %+v", g, w)
	}
}

func TestQueryBadInput(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	now := time.Now()
	tests := []struct {
		name  string
		f     Filter
		first int
		after string
		field string
	}{
		{"negative first", Filter{}, -1, "", "first"},
		{"first too large", Filter{}, FirstMax + 1, "", "first"},
		{"garbage cursor", Filter{}, 10, "not-a-cursor", "after"},
		{"foreign cursor", Filter{}, 10, "eyJpZCI6MX0", "after"},
		{"empty range", Filter{From: now, To: now}, 10, "", "to"},
		{"NUL in subject", Filter{Subject: "a\x00b"}, 10, "", "filter.subject"},
		{"invalid UTF-8 in operation", Filter{Operation: "\xff"}, 10, "", "filter.operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Query(context.Background(), pool, tt.f, tt.first, tt.after)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadUserInput || e.Field != tt.field {
				t.Fatalf("err %v, want BAD_USER_INPUT on %s", err, tt.field)
			}
		})
	}
}
