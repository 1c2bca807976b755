package property

import (
	"testing"

	"github.com/fengcheng/datahub/internal/page"
	"github.com/google/uuid"
)

// TestCursorRoundTrip: a compound's cursor carries its name or its build
// year by order, survives names holding the separator, and is refused by a
// list of another order or key kind.
func TestCursorRoundTrip(t *testing.T) {
	id := uuid.New()
	for _, c := range []struct {
		order Order
		p     Property
	}{
		{OrderNameAsc, Property{ID: id, Name: "东进社区3号院"}},
		{OrderNameDesc, Property{ID: id, Name: "a|b||c"}},
		{OrderBuildYearDesc, Property{ID: id, BuildYear: 1987}},
	} {
		want := c.order.CursorOf(&c.p)
		got, err := page.Decode(want.Encode(), string(c.order), c.order.keyKind())
		if err != nil || got != want {
			t.Errorf("round trip of %+v: %+v %v", want, got, err)
		}
	}
	enc := OrderNameAsc.CursorOf(&Property{ID: id, Name: "x"}).Encode()
	for _, bad := range []string{"!!", enc + "x"} {
		if _, err := page.Decode(bad, string(OrderNameAsc), page.TextKey); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
	if _, err := page.Decode(enc, string(OrderBuildYearAsc), OrderBuildYearAsc.keyKind()); err == nil {
		t.Error("a name cursor accepted for a build-year list")
	}
}
