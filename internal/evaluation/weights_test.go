package evaluation

import (
	"testing"
)

func TestComposite(t *testing.T) {
	w, err := NewWeights("v", map[string]map[string]float64{
		"area":       {FigClosureRate: 0.5, FigSatisfaction: 0.25, FigReworkRate: 0.25},
		"department": {FigOnTimeHandlingRate: 0.5, FigReworkRate: 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{weights: w}
	fig := func(name string, v *float64, suppressed bool) Figure {
		return Figure{Name: name, Value: v, Suppressed: suppressed}
	}
	got := s.composite(RowArea, []Figure{fig(FigClosureRate, ptr(0.9), false), fig(FigSatisfaction, ptr(4.0), false), fig(FigReworkRate, ptr(0.1), false)})
	want := 0.5*0.9 + 0.25*0.75 + 0.25*0.9
	if got.Value == nil || *got.Value != round6(want) {
		t.Errorf("composite = %v, want %v", got, want)
	}
	if got := s.composite(RowArea, []Figure{fig(FigClosureRate, ptr(0.9), false), fig(FigSatisfaction, nil, false), fig(FigReworkRate, ptr(0.1), false)}); got.Value != nil {
		t.Errorf("composite with a nil input = %v", got)
	}
	if got := s.composite(RowArea, []Figure{fig(FigClosureRate, ptr(0.9), false), fig(FigSatisfaction, nil, true), fig(FigReworkRate, ptr(0.1), false)}); got.Value != nil || !got.Suppressed {
		t.Errorf("composite with a suppressed input = %v", got)
	}
	// Suppressed whatever comes before the suppressed input (here an
	// undefined one), not only when it is the first to be looked at.
	if got := s.composite(RowArea, []Figure{fig(FigClosureRate, nil, false), fig(FigSatisfaction, ptr(4.0), false), fig(FigReworkRate, nil, true)}); got.Value != nil || !got.Suppressed {
		t.Errorf("composite with an undefined and a suppressed input = %v", got)
	}
}

// TestCompositeByRowKind: a department row is scored with the department
// weights, whatever area figures it carries; an area row with the area's.
func TestCompositeByRowKind(t *testing.T) {
	w, err := NewWeights("v", map[string]map[string]float64{
		"area":       {FigParticipation: 0.5, FigClosureRate: 0.5},
		"department": {FigOnTimeHandlingRate: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{weights: w}
	figs := []Figure{
		{Name: FigParticipation, Value: ptr(0.2)}, {Name: FigClosureRate, Value: ptr(0.8)},
		{Name: FigOnTimeHandlingRate, Value: ptr(0.9)},
	}
	if got := s.composite(Group{Street: "hailing.chengdong"}.RowKind(), figs); got.Value == nil || *got.Value != 0.5 {
		t.Errorf("street row composite = %v, want 0.5×0.2 + 0.5×0.8 = 0.5", got)
	}
	if got := s.composite(Group{Street: "hailing.chengdong", Department: "water"}.RowKind(), figs); got.Value == nil || *got.Value != 0.9 {
		t.Errorf("department row composite = %v, want 0.9 (participation is not the department's)", got)
	}
}
