package evaluation

import (
	"os"
	"strings"
	"testing"
)

func TestWeightsFileInPolicies(t *testing.T) {
	w, err := LoadWeights(os.DirFS("../../policies"))
	if err != nil {
		t.Fatalf("policies/weights.yaml: %v", err)
	}
	for name, want := range map[string]float64{
		FigClosureRate: 0.20, FigOnTimeClosureRate: 0.20, FigSatisfaction: 0.25,
		FigParticipation: 0.10, FigReworkRate: 0.10, FigOverduePendingRate: 0.15,
	} {
		if got := w.Weight(name); got != want {
			t.Errorf("weight of %s = %v, want %v", name, got, want)
		}
	}
	f := w.Formula()
	for _, part := range []string{"0.2×closure_rate", "0.25×(satisfaction − 1)/4", "0.1×(1 − rework_rate)", "0.15×(1 − overdue_pending_rate)", w.Version} {
		if !strings.Contains(f, part) {
			t.Errorf("formula %q lacks %q", f, part)
		}
	}
}

func TestParseWeightsErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string // substrings of the error
	}{
		{"sum", "version: v\nweights:\n  closure_rate: 0.5\n  satisfaction: 0.4\n", []string{"sum to 0.9, not 1"}},
		{"sum over", "version: v\nweights:\n  closure_rate: 0.7\n  satisfaction: 0.4\n", []string{"sum to 1.1"}},
		{"unknown", "version: v\nweights:\n  closure: 0.5\n  satisfaction: 0.5\n", []string{`unknown figure "closure"`, "scorable figures: "}},
		{"count", "version: v\nweights:\n  registered: 0.5\n  satisfaction: 0.5\n", []string{`figure "registered" cannot be weighted`}},
		{"hours", "version: v\nweights:\n  avg_handling_hours: 0.5\n  satisfaction: 0.5\n", []string{`"avg_handling_hours" cannot be weighted`}},
		{"negative", "version: v\nweights:\n  closure_rate: -0.5\n  satisfaction: 1.5\n", []string{"weight of closure_rate is -0.5", "weight of satisfaction is 1.5"}},
		{"zero", "version: v\nweights:\n  closure_rate: 0\n  satisfaction: 1\n", []string{"weight of closure_rate is 0"}},
		{"no version", "weights:\n  satisfaction: 1\n", []string{"version is missing"}},
		{"empty", "version: v\n", []string{"weights is missing or empty"}},
		{"duplicate", "version: v\nweights:\n  satisfaction: 0.5\n  satisfaction: 0.5\n", []string{"satisfaction"}},
		{"unknown key", "version: v\nweight:\n  satisfaction: 1\n", []string{"weight"}},
		{"not a number", "version: v\nweights:\n  satisfaction: high\n", []string{"weights.yaml"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWeights([]byte(c.file))
			if err == nil || !IsWeightsError(err) {
				t.Fatalf("err = %v, want a WeightsError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// Within tolerance.
	if _, err := ParseWeights([]byte("version: v\nweights:\n  closure_rate: 0.1\n  on_time_closure_rate: 0.2\n  satisfaction: 0.7\n")); err != nil {
		t.Errorf("0.1 + 0.2 + 0.7: %v", err)
	}
}

func TestComposite(t *testing.T) {
	w, err := ParseWeights([]byte("version: t\nweights:\n  closure_rate: 0.5\n  satisfaction: 0.25\n  rework_rate: 0.25\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{weights: w}
	fig := func(name string, v *float64, suppressed bool) Figure {
		return Figure{Name: name, Value: v, Suppressed: suppressed}
	}
	got := s.composite([]Figure{fig(FigClosureRate, ptr(0.9), false), fig(FigSatisfaction, ptr(4.0), false), fig(FigReworkRate, ptr(0.1), false)})
	want := 0.5*0.9 + 0.25*0.75 + 0.25*0.9
	if got.Value == nil || *got.Value != round6(want) {
		t.Errorf("composite = %v, want %v", got, want)
	}
	if got := s.composite([]Figure{fig(FigClosureRate, ptr(0.9), false), fig(FigSatisfaction, nil, false), fig(FigReworkRate, ptr(0.1), false)}); got.Value != nil {
		t.Errorf("composite with a nil input = %v", got)
	}
	if got := s.composite([]Figure{fig(FigClosureRate, ptr(0.9), false), fig(FigSatisfaction, nil, true), fig(FigReworkRate, ptr(0.1), false)}); got.Value != nil || !got.Suppressed {
		t.Errorf("composite with a suppressed input = %v", got)
	}
	// Suppressed whatever comes before the suppressed input (here an
	// undefined one), not only when it is the first to be looked at.
	if got := s.composite([]Figure{fig(FigClosureRate, nil, false), fig(FigSatisfaction, ptr(4.0), false), fig(FigReworkRate, nil, true)}); got.Value != nil || !got.Suppressed {
		t.Errorf("composite with an undefined and a suppressed input = %v", got)
	}
}

func FuzzParseWeights(f *testing.F) {
	data, err := os.ReadFile("../../policies/weights.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("version: v\nweights: {satisfaction: 1}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWeights(b)
		if err != nil {
			return
		}
		var sum float64
		for _, e := range w.entries {
			if e.w <= 0 || e.w > 1 {
				t.Fatalf("accepted weight %v", e.w)
			}
			sum += e.w
		}
		if sum < 1-WeightTolerance || sum > 1+WeightTolerance {
			t.Fatalf("accepted sum %v", sum)
		}
	})
}
