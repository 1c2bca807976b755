package evaluation

import (
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
)

// TestSnapshotOnTimeFlags: the snapshot's on-time flags follow the
// indicators' rules, so an evaluation team recomputes the same rates.
func TestSnapshotOnTimeFlags(t *testing.T) {
	cal := calendar.Default()
	at := func(s string) *time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, cal.Location())
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	// 店外经营 (EVENT 0501): first deadline Wed 10:00, handled late Wed
	// 11:00; reworked, new deadline Thu 15:00, handled again Thu 14:00.
	c := &SourceCase{Kind: "EVENT", MinorCode: "0501", Deadline: at("2025-06-12 15:00"), HandledAt: at("2025-06-12 14:00"),
		FirstHandledAt: at("2025-06-11 11:00"), FirstDeadline: at("2025-06-11 10:00")}
	if v := c.handledOnTime(); v.kind != 'b' || v.b {
		t.Errorf("handled on time after a late first handling: %+v, want false", v)
	}
	c.FirstHandledAt = at("2025-06-11 09:00")
	if v := c.handledOnTime(); v.kind != 'b' || !v.b {
		t.Errorf("both handlings on time: %+v, want true", v)
	}
	// Closed one working hour after the handling deadline: within the
	// verification limit (2 working hours), so on time.
	c.ClosedAt = at("2025-06-12 16:00")
	if v := c.closedOnTime(cal); v.kind != 'b' || !v.b {
		t.Errorf("closed within the verification limit: %+v, want true", v)
	}
	c.ClosedAt = at("2025-06-13 10:00")
	if v := c.closedOnTime(cal); v.kind != 'b' || v.b {
		t.Errorf("closed after the closure deadline: %+v, want false", v)
	}
	c.ClosedAt = nil
	if v := c.closedOnTime(cal); v.kind != 0 {
		t.Errorf("not closed: %+v, want null", v)
	}
}
