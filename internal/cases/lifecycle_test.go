package cases

import (
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
)

// TestNext checks every (status, action) pair against a hand-written table
// of the legal transitions; everything else must be refused with
// BAD_USER_INPUT naming the current status.
func TestNext(t *testing.T) {
	legal := map[Status]map[Action]Status{
		StatusReported:      {ActionRegister: StatusRegistered, ActionDecline: StatusNotRegistered},
		StatusRegistered:    {ActionDispatch: StatusDispatched},
		StatusReturned:      {ActionDispatch: StatusDispatched},
		StatusBacklog:       {ActionDispatch: StatusDispatched},
		StatusDispatched:    {ActionReturn: StatusReturned, ActionHandle: StatusHandled, ActionDefer: StatusDeferred, ActionBacklog: StatusBacklog},
		StatusRework:        {ActionHandle: StatusHandled, ActionDefer: StatusDeferred, ActionBacklog: StatusBacklog},
		StatusDeferred:      {ActionHandle: StatusHandled, ActionBacklog: StatusBacklog},
		StatusHandled:       {ActionVerify: StatusClosed, ActionRework: StatusRework},
		StatusClosed:        {},
		StatusNotRegistered: {},
	}
	if len(legal) != len(Statuses()) {
		t.Fatalf("table covers %d statuses, lifecycle has %d", len(legal), len(Statuses()))
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
}

func TestStatusOpen(t *testing.T) {
	closed := map[Status]bool{StatusClosed: true, StatusNotRegistered: true, StatusBacklog: true}
	for _, s := range Statuses() {
		if s.Open() == closed[s] {
			t.Errorf("%s.Open() = %v", s, s.Open())
		}
	}
}

func TestCatalogue(t *testing.T) {
	c := DefaultCatalogue()
	cl, ok := c.Lookup(KindEvent, "0501")
	if !ok || cl.MinorName != "店外经营" || cl.Limit.Days != 1 {
		t.Fatalf("lookup 0501: %+v %v", cl, ok)
	}
	if _, ok := c.Lookup(KindComponent, "0504"); ok {
		t.Fatal("component 0504 must not exist (0504 is an event class)")
	}
	for _, cl := range c.All() {
		if (cl.Limit.Hours > 0) == (cl.Limit.Days > 0) {
			t.Errorf("%s %s: exactly one of hours/days must be set: %+v", cl.Kind, cl.MinorCode, cl.Limit)
		}
		if !strings.HasPrefix(cl.MinorCode, cl.MajorCode) {
			t.Errorf("%s: minor code not under major %s", cl.MinorCode, cl.MajorCode)
		}
	}
}
