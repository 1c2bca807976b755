package violation

import (
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
)

// TestNext checks every (status, action) pair against a hand-written table
// of the legal transitions; everything else must be refused with
// BAD_USER_INPUT naming the current status.
func TestNext(t *testing.T) {
	resolve := func() map[Action]Status {
		return map[Action]Status{ActionDemolish: StatusDemolished, ActionLegalize: StatusLegalized, ActionPenalize: StatusPenalized}
	}
	noticeIssued := resolve()
	noticeIssued[ActionMarkDue] = StatusRectificationDue
	legal := map[Status]map[Action]Status{
		StatusDiscovered:       {ActionIssueNotice: StatusNoticeIssued, ActionDismiss: StatusClosed},
		StatusNoticeIssued:     noticeIssued,
		StatusRectificationDue: resolve(),
		StatusDemolished:       {ActionClose: StatusClosed},
		StatusLegalized:        {ActionClose: StatusClosed},
		StatusPenalized:        {ActionClose: StatusClosed},
		StatusClosed:           {},
	}
	if len(legal) != len(Statuses()) {
		t.Fatalf("table covers %d statuses, lifecycle has %d", len(legal), len(Statuses()))
	}
	if len(Actions()) != 7 {
		t.Fatalf("the lifecycle has %d actions, the table was written for 7", len(Actions()))
	}
	for _, from := range Statuses() {
		for _, a := range Actions() {
			want, ok := legal[from][a]
			got, err := Next(from, a)
			if ok {
				if err != nil || got != want {
					t.Errorf("%s --%s--> got (%s, %v), want %s", from, a, got, err, want)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s --%s--> %s: want refusal", from, a, got)
				continue
			}
			if !apperr.Is(err, apperr.BadUserInput) {
				t.Errorf("%s --%s--> code %s, want BAD_USER_INPUT", from, a, apperr.CodeOf(err))
			}
			if !strings.Contains(err.Error(), string(from)) {
				t.Errorf("%s --%s--> message %q does not name the current status", from, a, err)
			}
		}
	}
	for _, a := range []Action{ActionReport, ActionUpdate, "FLY"} {
		if _, err := Next(StatusDiscovered, a); !apperr.Is(err, apperr.BadUserInput) {
			t.Errorf("%s is not a transition: %v", a, err)
		}
	}
}

func TestStatusOpen(t *testing.T) {
	open := map[Status]bool{StatusDiscovered: true, StatusNoticeIssued: true, StatusRectificationDue: true}
	for _, s := range Statuses() {
		if s.Open() != open[s] {
			t.Errorf("%s.Open() = %v", s, s.Open())
		}
	}
}

func TestOverdue(t *testing.T) {
	now := time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	tests := []struct {
		status   Status
		deadline *time.Time
		want     bool
	}{
		{StatusDiscovered, nil, false},
		{StatusNoticeIssued, &future, false},
		{StatusNoticeIssued, &now, false},
		{StatusNoticeIssued, &past, true},
		{StatusRectificationDue, &past, true},
		{StatusDemolished, &past, false},
		{StatusClosed, &past, false},
	}
	for _, tc := range tests {
		v := &Violation{Status: tc.status, Deadline: tc.deadline}
		if got := v.Overdue(now); got != tc.want {
			t.Errorf("%s deadline %v: Overdue = %v, want %v", tc.status, tc.deadline, got, tc.want)
		}
	}
}

func TestKinds(t *testing.T) {
	tests := []struct {
		kind     Kind
		owner    string
		days     int
		subtypes int
	}{
		{KindIllegalConstruction, DeptUrbanManagement, 15, 5},
		{KindStreetOccupation, DeptUrbanManagement, 1, 2},
		{KindIllegalParking, DeptTrafficPolice, 0, 0},
		{KindIllegalAdvertising, DeptUrbanManagement, 1, 0},
		{KindDumping, DeptUrbanManagement, 2, 2},
	}
	if len(tests) != len(Kinds()) {
		t.Fatalf("table covers %d kinds of %d", len(tests), len(Kinds()))
	}
	for _, tc := range tests {
		if tc.kind.OwnerDept() != tc.owner || tc.kind.NoticeDaysDefault() != tc.days || len(tc.kind.Subtypes()) != tc.subtypes {
			t.Errorf("%s: owner %s, days %d, %d subtypes", tc.kind, tc.kind.OwnerDept(), tc.kind.NoticeDaysDefault(), len(tc.kind.Subtypes()))
		}
		if tc.kind.NameZh() == "" {
			t.Errorf("%s has no Chinese name", tc.kind)
		}
		for _, s := range tc.kind.Subtypes() {
			if k, ok := KindOf(s); !ok || k != tc.kind || s.NameZh() == "" {
				t.Errorf("subtype %s: KindOf = %s %v, name %q", s, k, ok, s.NameZh())
			}
		}
	}
	if !KindIllegalConstruction.Construction() || KindDumping.Construction() {
		t.Error("only illegal construction is construction")
	}
}
