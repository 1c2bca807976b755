package evaluation

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// WeightsFile is the name of the composite-score weights file in the policy
// directory (policies/weights.yaml, embedded as policies.FS).
const WeightsFile = "weights.yaml"

// WeightTolerance is how far the weights may sum from 1.
const WeightTolerance = 1e-9

// RowKind is what a row of indicators scores: an area or a department.
// Each kind has its own weights, so a department is scored only on what it
// controls.
type RowKind string

// Row kinds.
const (
	// RowArea: the district, a street or town, a community, a case class.
	// Citizen participation belongs here: how residents take part is part
	// of how an area is managed.
	RowArea RowKind = "area"
	// RowDepartment: rows grouped by the department cases were dispatched
	// to.
	RowDepartment RowKind = "department"
)

// RowKinds lists every row kind; a weights file must weigh each.
func RowKinds() []RowKind { return []RowKind{RowArea, RowDepartment} }

// RowKind returns the kind of the row of group g.
func (g Group) RowKind() RowKind {
	if g.Department != "" {
		return RowDepartment
	}
	return RowArea
}

// departmentControlled are the figures a handling department controls:
// how fast and how well it handles what it is sent, and how the reporters
// judge the result. Closure waits on the command centre's verification,
// participation and rating coverage on residents, and the parking and
// inspection figures are not about cases at all: weighing them on a
// department row would score it on others' work.
var departmentControlled = map[string]bool{
	FigHandlingRate: true, FigOnTimeHandlingRate: true, FigReworkRate: true,
	FigOverduePendingRate: true, FigSatisfaction: true,
}

// Weights are the composite score's weights per row kind, declared in a
// file, never in code. Read-only once loaded.
type Weights struct {
	// Version is the file's version string (shown in the composite's
	// formula so a score can be traced to the weights that made it).
	Version string
	kinds   map[RowKind][]weight
}

type weight struct {
	name string
	w    float64
	kind figureKind
}

// WeightsError lists every problem found in a weights file.
type WeightsError struct {
	File     string
	Problems []string
}

func (e *WeightsError) Error() string {
	return fmt.Sprintf("%s: %s", e.File, strings.Join(e.Problems, "; "))
}

// ScorableFigures returns the figures a weight may name, with how each is
// normalised to [0, 1].
func ScorableFigures() map[string]string {
	out := map[string]string{}
	for _, d := range figureDefs {
		switch d.kind {
		case kindRate:
			out[d.name] = "as is"
		case kindInverted:
			out[d.name] = "1 − x (lower is better)"
		case kindStars:
			out[d.name] = "(x − 1) / 4"
		}
	}
	return out
}

// NewWeights validates the weights a weights file declares (internal/policy
// reads the file): a version string and, per row kind (area, department), a
// map of figure names to weights. Every name must be a scorable figure
// (rates, inverted rates, satisfaction), department weights only figures a
// department controls, every weight a number in (0, 1], and each kind's
// weights must sum to 1 within WeightTolerance. All problems are reported
// at once in a *WeightsError.
func NewWeights(version string, byKind map[string]map[string]float64) (*Weights, error) {
	var ps []string
	if strings.TrimSpace(version) == "" {
		ps = append(ps, `version is missing: give the weights a version string, e.g. version: "2026-1"`)
	}
	w := &Weights{Version: strings.TrimSpace(version), kinds: map[RowKind][]weight{}}
	known := map[string]bool{}
	for _, k := range RowKinds() {
		known[string(k)] = true
		entries, problems := parseKind(k, byKind[string(k)])
		ps = append(ps, problems...)
		w.kinds[k] = entries
	}
	for k := range byKind {
		if !known[k] {
			ps = append(ps, fmt.Sprintf("unknown row kind %q under weights (row kinds: area, department)", k))
		}
	}
	if len(ps) > 0 {
		sort.Strings(ps)
		return nil, &WeightsError{File: WeightsFile, Problems: ps}
	}
	return w, nil
}

// DepartmentControlled reports whether a department row may weigh figure
// name: whether the handling department controls it.
func DepartmentControlled(name string) bool { return departmentControlled[name] }

// parseKind validates the weights of one row kind and returns them in row
// order, so the formula reads the same every time.
func parseKind(k RowKind, ws map[string]float64) ([]weight, []string) {
	if len(ws) == 0 {
		return nil, []string{fmt.Sprintf("weights.%s is missing or empty: name at least one figure", k)}
	}
	scorable := ScorableFigures()
	names := make([]string, 0, len(scorable))
	for n := range scorable {
		names = append(names, n)
	}
	sort.Strings(names)
	var ps []string
	var entries []weight
	var sum float64
	for name, v := range ws {
		d, known := defOf(name)
		_, ok := scorable[name]
		switch {
		case !known && name != FigComposite:
			ps = append(ps, fmt.Sprintf("weights.%s: unknown figure %q (scorable figures: %s)", k, name, strings.Join(names, ", ")))
			continue
		case !ok:
			ps = append(ps, fmt.Sprintf("weights.%s: figure %q cannot be weighted: it is a count or a magnitude, not a rate (scorable figures: %s)", k, name, strings.Join(names, ", ")))
			continue
		case k == RowDepartment && !departmentControlled[name]:
			ps = append(ps, fmt.Sprintf("weights.department: figure %q is not under a handling department's control (department rows may weigh: %s)", name, strings.Join(sortedKeys(departmentControlled), ", ")))
			continue
		case math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 1:
			ps = append(ps, fmt.Sprintf("weights.%s: weight of %s is %v: a weight is a number greater than 0 and at most 1", k, name, v))
			continue
		}
		sum += v
		entries = append(entries, weight{name: name, w: v, kind: d.kind})
	}
	if len(ps) == 0 && math.Abs(sum-1) > WeightTolerance {
		ps = append(ps, fmt.Sprintf("weights.%s: the weights sum to %s, not 1 (tolerance %g)", k, strconv.FormatFloat(sum, 'f', -1, 64), WeightTolerance))
	}
	order := map[string]int{}
	for i, d := range figureDefs {
		order[d.name] = i
	}
	sort.Slice(entries, func(i, j int) bool { return order[entries[i].name] < order[entries[j].name] })
	return entries, ps
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsWeightsError reports whether err is a weights file problem.
func IsWeightsError(err error) bool {
	var we *WeightsError
	return errors.As(err, &we)
}

// Weight returns the weight of a figure on rows of kind k (0 when it has
// none).
func (w *Weights) Weight(k RowKind, name string) float64 {
	if w == nil {
		return 0
	}
	for _, e := range w.kinds[k] {
		if e.name == name {
			return e.w
		}
	}
	return 0
}

// Formula is the composite's formula on rows of kind k, with its weights.
func (w *Weights) Formula(k RowKind) string {
	if w == nil {
		return "no weights configured"
	}
	entries := w.kinds[k]
	parts := make([]string, 0, len(entries))
	for _, e := range entries {
		ws := strconv.FormatFloat(e.w, 'f', -1, 64)
		switch e.kind {
		case kindInverted:
			parts = append(parts, fmt.Sprintf("%s×(1 − %s)", ws, e.name))
		case kindStars:
			parts = append(parts, fmt.Sprintf("%s×(%s − 1)/4", ws, e.name))
		default:
			parts = append(parts, fmt.Sprintf("%s×%s", ws, e.name))
		}
	}
	return fmt.Sprintf("Σ weight × normalised value (weights %s, %s rows): %s; nil when any input is nil", w.Version, k, strings.Join(parts, " + "))
}

// normalise maps a figure value to [0, 1] for the composite.
func normalise(kind figureKind, v float64) float64 {
	switch kind {
	case kindInverted:
		return 1 - v
	case kindStars:
		return (v - 1) / 4
	default:
		return v
	}
}

// composite computes the composite figure of a row of kind k from its
// other figures: Σ w·normalised value with k's weights, suppressed when any
// weighted input is suppressed (whatever the others are: the flag must not
// depend on the order of the weights), else nil when any is nil.
func (s *Service) composite(k RowKind, figs []Figure) Figure {
	f := Figure{Name: FigComposite, Formula: s.weights.Formula(k)}
	if s.weights == nil {
		return f
	}
	entries := s.weights.kinds[k]
	ins := make([]*Figure, len(entries))
	for j, e := range entries {
		for i := range figs {
			if figs[i].Name == e.name {
				ins[j] = &figs[i]
				break
			}
		}
		if ins[j] != nil && ins[j].Suppressed {
			f.Suppressed = true
			return f
		}
	}
	var sum float64
	for j, e := range entries {
		if ins[j] == nil || ins[j].Value == nil {
			return f
		}
		sum += e.w * normalise(e.kind, *ins[j].Value)
	}
	f.Value = ptr(round6(sum))
	return f
}
