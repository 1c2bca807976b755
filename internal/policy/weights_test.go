package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/evaluation"
)

func TestWeightsFileInPolicies(t *testing.T) {
	w, err := LoadWeights(os.DirFS("../../policies"))
	if err != nil {
		t.Fatalf("policies/weights.yaml: %v", err)
	}
	for k, weights := range map[evaluation.RowKind]map[string]float64{
		evaluation.RowArea: {evaluation.FigClosureRate: 0.20, evaluation.FigOnTimeClosureRate: 0.20, evaluation.FigSatisfaction: 0.25,
			evaluation.FigParticipation: 0.10, evaluation.FigReworkRate: 0.10, evaluation.FigOverduePendingRate: 0.15},
		evaluation.RowDepartment: {evaluation.FigHandlingRate: 0.15, evaluation.FigOnTimeHandlingRate: 0.30, evaluation.FigReworkRate: 0.20,
			evaluation.FigOverduePendingRate: 0.15, evaluation.FigSatisfaction: 0.20, evaluation.FigParticipation: 0, evaluation.FigClosureRate: 0},
	} {
		for name, want := range weights {
			if got := w.Weight(k, name); got != want {
				t.Errorf("%s weight of %s = %v, want %v", k, name, got, want)
			}
		}
	}
	f := w.Formula(evaluation.RowArea)
	for _, part := range []string{"0.2×closure_rate", "0.25×(satisfaction − 1)/4", "0.1×(1 − rework_rate)", "0.15×(1 − overdue_pending_rate)", w.Version, "area rows"} {
		if !strings.Contains(f, part) {
			t.Errorf("formula %q lacks %q", f, part)
		}
	}
	if f := w.Formula(evaluation.RowDepartment); !strings.Contains(f, "0.3×on_time_handling_rate") || strings.Contains(f, "participation") {
		t.Errorf("department formula %q", f)
	}
}

// kinds wraps one kind's weights in a file weighing area and department
// rows (the other kind valid).
func kinds(area, dept string) string {
	return "version: v\nweights:\n  area:\n" + area + "  department:\n" + dept
}

const validDept = "    handling_rate: 1\n"

func TestParseWeightsErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string // substrings of the error
	}{
		{"sum", kinds("    closure_rate: 0.5\n    satisfaction: 0.4\n", validDept), []string{"weights.area: the weights sum to 0.9, not 1"}},
		{"sum over", kinds("    closure_rate: 0.7\n    satisfaction: 0.4\n", validDept), []string{"sum to 1.1"}},
		{"department sum", kinds("    satisfaction: 1\n", "    handling_rate: 0.5\n"), []string{"weights.department: the weights sum to 0.5"}},
		{"unknown", kinds("    closure: 0.5\n    satisfaction: 0.5\n", validDept), []string{`unknown figure "closure"`, "scorable figures: "}},
		{"count", kinds("    registered: 0.5\n    satisfaction: 0.5\n", validDept), []string{`figure "registered" cannot be weighted`}},
		{"hours", kinds("    avg_handling_hours: 0.5\n    satisfaction: 0.5\n", validDept), []string{`"avg_handling_hours" cannot be weighted`}},
		{"negative", kinds("    closure_rate: -0.5\n    satisfaction: 1.5\n", validDept), []string{"weight of closure_rate is -0.5", "weight of satisfaction is 1.5"}},
		{"zero", kinds("    closure_rate: 0\n    satisfaction: 1\n", validDept), []string{"weight of closure_rate is 0"}},
		{"participation on departments", kinds("    satisfaction: 1\n", "    participation: 0.5\n    handling_rate: 0.5\n"),
			[]string{`weights.department: figure "participation" is not under a handling department's control`}},
		{"closure on departments", kinds("    satisfaction: 1\n", "    closure_rate: 1\n"), []string{`figure "closure_rate" is not under`}},
		{"no department", "version: v\nweights:\n  area:\n    satisfaction: 1\n", []string{"weights.department is missing or empty"}},
		{"unknown kind", kinds("    satisfaction: 1\n", validDept) + "  grid:\n    satisfaction: 1\n", []string{`unknown row kind "grid"`}},
		{"flat (old format)", "version: v\nweights:\n  satisfaction: 1\n", []string{"weights.yaml"}},
		{"no version", "weights:\n  area:\n    satisfaction: 1\n  department:\n" + validDept, []string{"version is missing"}},
		{"empty", "version: v\n", []string{"weights.area is missing or empty", "weights.department is missing or empty"}},
		{"duplicate", kinds("    satisfaction: 0.5\n    satisfaction: 0.5\n", validDept), []string{"satisfaction"}},
		{"unknown key", "version: v\nweight:\n  area:\n    satisfaction: 1\n", []string{"weight"}},
		{"not a number", kinds("    satisfaction: high\n", validDept), []string{"weights.yaml"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWeights([]byte(c.file))
			if err == nil || !evaluation.IsWeightsError(err) {
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
	if _, err := ParseWeights([]byte(kinds("    closure_rate: 0.1\n    on_time_closure_rate: 0.2\n    satisfaction: 0.7\n", validDept))); err != nil {
		t.Errorf("0.1 + 0.2 + 0.7: %v", err)
	}
}

func FuzzParseWeights(f *testing.F) {
	data, err := os.ReadFile("../../policies/weights.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("version: v\nweights: {area: {satisfaction: 1}, department: {handling_rate: 1}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWeights(b)
		if err != nil {
			return
		}
		for _, k := range evaluation.RowKinds() {
			var sum float64
			for name := range evaluation.ScorableFigures() {
				v := w.Weight(k, name)
				if v < 0 || v > 1 || (v > 0 && k == evaluation.RowDepartment && !evaluation.DepartmentControlled(name)) {
					t.Fatalf("accepted %s weight %s = %v", k, name, v)
				}
				sum += v
			}
			if sum < 1-evaluation.WeightTolerance || sum > 1+evaluation.WeightTolerance {
				t.Fatalf("accepted %s sum %v", k, sum)
			}
		}
	})
}
