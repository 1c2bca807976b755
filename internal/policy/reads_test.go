package policy_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
)

// recordingAuditor keeps what AuditRead hands the auditor.
type recordingAuditor struct {
	reads []*access.Decision
	rows  []int
}

func (a *recordingAuditor) Read(_ context.Context, d *access.Decision, rows int) error {
	a.reads = append(a.reads, d)
	a.rows = append(a.rows, rows)
	return nil
}

// audit runs AuditRead on rows in jurisdictions and returns the decision
// the auditor was given (nil when it was not called).
func audit(t *testing.T, d *access.Decision, jurisdictions ...string) *access.Decision {
	t.Helper()
	a := &recordingAuditor{}
	if err := access.AuditRead(context.Background(), a, d, jurisdictions); err != nil {
		t.Fatalf("AuditRead: %v", err)
	}
	switch len(a.reads) {
	case 0:
		return nil
	case 1:
		if a.rows[0] != len(jurisdictions) {
			t.Errorf("rows = %d, want %d", a.rows[0], len(jurisdictions))
		}
		return a.reads[0]
	default:
		t.Fatalf("%d audit reads for one read", len(a.reads))
		return nil
	}
}

// TestAuditReadNamesOnlyTheGrantsTheRowsLieUnder: water's grant on the
// cases' reporter covers Chengdong only; a read of Chengxi rows names
// neither the grant nor a visible reporter, a read with Chengdong rows
// names both.
func TestAuditReadNamesOnlyTheGrantsTheRowsLieUnder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, g := range []access.Grant{
		{ID: "g-cd", Grantee: "water", Dataset: "cases", Groups: []string{"reporter"},
			Jurisdiction: "hailing.chengdong", Purpose: "Chengdong flood follow-up", Until: t0.Add(time.Hour)},
		{ID: "g-fh", Grantee: "water", Dataset: "cases", Groups: []string{"reporter"},
			Jurisdiction: "hailing.chengdong.fenghuang", Purpose: "Fenghuang survey", Until: t0.Add(time.Hour)},
	} {
		if err := b.eng.AddGrant(ctx, g); err != nil {
			t.Fatalf("AddGrant %s: %v", g.ID, err)
		}
	}
	d := decide(t, b.eng, user("water", "hailing", "viewer"), "cases")
	if _, ok := d.Partial["reporter"]; !ok || d.Field("reporter") != M {
		t.Fatalf("the test needs a partial grant: reporter %v, partial %+v", d.Field("reporter"), d.Partial)
	}

	for _, tc := range []struct {
		name     string
		rows     []string
		grants   []string
		purpose  string
		reporter access.FieldAccess
	}{
		{"Chengxi only", []string{"hailing.chengxi.g01", "hailing.chengxi"}, nil, "", M},
		{"a sibling whose code starts alike", []string{"hailing.chengdongx.g01"}, nil, "", M},
		{"Chengxi and Chengdong", []string{"hailing.chengxi.g01", "hailing.chengdong.g02"}, []string{"g-cd"}, "Chengdong flood follow-up", V},
		{"Fenghuang, under both grants", []string{"hailing.chengdong.fenghuang.g01"}, []string{"g-cd", "g-fh"},
			"Chengdong flood follow-up; Fenghuang survey", V},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := audit(t, d, tc.rows...)
			if got == nil {
				t.Fatal("not audited")
			}
			if !slices.Equal(got.GrantIDs, tc.grants) || got.Purpose != tc.purpose {
				t.Errorf("grants %v, purpose %q; want %v, %q", got.GrantIDs, got.Purpose, tc.grants, tc.purpose)
			}
			if got.Field("reporter") != tc.reporter || got.Partial != nil {
				t.Errorf("reporter %v, partial %+v; want %v, none", got.Field("reporter"), got.Partial, tc.reporter)
			}
			if got.Field("core") != V || !got.Rows.All {
				t.Errorf("core %v, rows %+v; want visible, all", got.Field("core"), got.Rows)
			}
		})
	}

	// One row at a time the audit agrees with the masking: the same rule.
	for _, j := range []string{"hailing.chengdong", "hailing.chengdong.g03", "hailing.chengxi", "hailing.chengdongx", "hailing", ""} {
		if got, want := d.Returned([]string{j}).Field("reporter"), d.FieldAt("reporter", j); got != want {
			t.Errorf("row in %q: audited reporter %v, shown %v", j, got, want)
		}
	}
	// The request's decision is shared: narrowing must not change it.
	if d.Field("reporter") != M || len(d.Partial) != 1 || !slices.Equal(d.GrantIDs, []string{"g-cd", "g-fh"}) {
		t.Errorf("the decision changed: reporter %v, partial %+v, grants %v", d.Field("reporter"), d.Partial, d.GrantIDs)
	}
	if got := audit(t, d); got != nil {
		t.Errorf("a read of no rows was audited: %+v", got)
	}
}

// TestAuditReadKeepsFullGrantsAndOwnReads: a grant covering the whole row
// scope is named for any row, and a decision without grants reaches the
// auditor unchanged.
func TestAuditReadKeepsFullGrantsAndOwnReads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.eng.AddGrant(context.Background(), access.Grant{
		ID: "g-all", Grantee: "water", Dataset: "cases", Groups: []string{"reporter"},
		Jurisdiction: "hailing", Purpose: "flood reports follow-up", Until: t0.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	full := decide(t, b.eng, user("water", "hailing", "viewer"), "cases")
	got := audit(t, full, "hailing.chengxi.g01")
	if got.Field("reporter") != V || !slices.Equal(got.GrantIDs, []string{"g-all"}) || got.Purpose != "flood reports follow-up" {
		t.Errorf("full grant: reporter %v, grants %v, purpose %q", got.Field("reporter"), got.GrantIDs, got.Purpose)
	}

	for _, p := range []*access.Principal{
		user("urban-management", "hailing", "viewer"),
		user("street-chengxi", "hailing.chengxi", "viewer"),
	} {
		d := decide(t, b.eng, p, "cases")
		if got := audit(t, d, "hailing.chengxi.g01", "hailing.chengdong.g02"); got != d {
			t.Errorf("%s: the auditor got %+v, want the decision itself %+v", p.Dept, got, d)
		}
	}
}
