package evaluation

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// WeightsFile is the name of the composite-score weights file in the policy
// directory (policies/weights.yaml, embedded as policies.FS).
const WeightsFile = "weights.yaml"

// WeightTolerance is how far the weights may sum from 1.
const WeightTolerance = 1e-9

// Weights are the composite score's weights, declared in a file, never in
// code. Read-only once loaded.
type Weights struct {
	// Version is the file's version string (shown in the composite's
	// formula so a score can be traced to the weights that made it).
	Version string
	entries []weight
}

type weight struct {
	name string
	w    float64
	kind figureKind
}

// weightsFile is the file's shape.
type weightsFile struct {
	Version string             `yaml:"version"`
	Weights map[string]float64 `yaml:"weights"`
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

// LoadWeights reads WeightsFile from fsys (policies.FS, or os.DirFS of the
// policy directory).
func LoadWeights(fsys fs.FS) (*Weights, error) {
	data, err := fs.ReadFile(fsys, WeightsFile)
	if err != nil {
		return nil, &WeightsError{File: WeightsFile, Problems: []string{fmt.Sprintf("cannot read it: %v", err)}}
	}
	return ParseWeights(data)
}

// ParseWeights parses and validates a weights file: a version string and a
// map of figure names to weights. Every name must be a scorable figure
// (rates, inverted rates, satisfaction), every weight a number in (0, 1],
// and the weights must sum to 1 within WeightTolerance. All problems are
// reported at once in a *WeightsError.
func ParseWeights(data []byte) (*Weights, error) {
	var f weightsFile
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, &WeightsError{File: WeightsFile, Problems: []string{yaml.FormatError(err, false, true)}}
	}
	var ps []string
	if strings.TrimSpace(f.Version) == "" {
		ps = append(ps, `version is missing: give the weights a version string, e.g. version: "2026-1"`)
	}
	if len(f.Weights) == 0 {
		ps = append(ps, "weights is missing or empty: name at least one figure")
	}
	scorable := ScorableFigures()
	names := make([]string, 0, len(scorable))
	for n := range scorable {
		names = append(names, n)
	}
	sort.Strings(names)
	w := &Weights{Version: strings.TrimSpace(f.Version)}
	var sum float64
	for name, v := range f.Weights {
		d, known := defOf(name)
		_, ok := scorable[name]
		switch {
		case !known && name != FigComposite:
			ps = append(ps, fmt.Sprintf("unknown figure %q (scorable figures: %s)", name, strings.Join(names, ", ")))
			continue
		case !ok:
			ps = append(ps, fmt.Sprintf("figure %q cannot be weighted: it is a count or a magnitude, not a rate (scorable figures: %s)", name, strings.Join(names, ", ")))
			continue
		case math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 1:
			ps = append(ps, fmt.Sprintf("weight of %s is %v: a weight is a number greater than 0 and at most 1", name, v))
			continue
		}
		sum += v
		w.entries = append(w.entries, weight{name: name, w: v, kind: d.kind})
	}
	if len(ps) == 0 && math.Abs(sum-1) > WeightTolerance {
		ps = append(ps, fmt.Sprintf("the weights sum to %s, not 1 (tolerance %g)", strconv.FormatFloat(sum, 'f', -1, 64), WeightTolerance))
	}
	if len(ps) > 0 {
		sort.Strings(ps)
		return nil, &WeightsError{File: WeightsFile, Problems: ps}
	}
	// Row order, so the formula reads the same every time.
	order := map[string]int{}
	for i, d := range figureDefs {
		order[d.name] = i
	}
	sort.Slice(w.entries, func(i, j int) bool { return order[w.entries[i].name] < order[w.entries[j].name] })
	return w, nil
}

// IsWeightsError reports whether err is a weights file problem.
func IsWeightsError(err error) bool {
	var we *WeightsError
	return errors.As(err, &we)
}

// Weight returns the weight of a figure (0 when it has none).
func (w *Weights) Weight(name string) float64 {
	if w == nil {
		return 0
	}
	for _, e := range w.entries {
		if e.name == name {
			return e.w
		}
	}
	return 0
}

// Formula is the composite's formula with its weights.
func (w *Weights) Formula() string {
	if w == nil {
		return "no weights configured"
	}
	parts := make([]string, 0, len(w.entries))
	for _, e := range w.entries {
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
	return fmt.Sprintf("Σ weight × normalised value (weights %s): %s; nil when any input is nil", w.Version, strings.Join(parts, " + "))
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

// composite computes the composite figure of a row from its other figures:
// Σ w·normalised value, suppressed when any weighted input is suppressed
// (whatever the others are: the flag must not depend on the order of the
// weights), else nil when any is nil.
func (s *Service) composite(figs []Figure) Figure {
	f := Figure{Name: FigComposite, Formula: s.weights.Formula()}
	if s.weights == nil {
		return f
	}
	ins := make([]*Figure, len(s.weights.entries))
	for j, e := range s.weights.entries {
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
	for j, e := range s.weights.entries {
		if ins[j] == nil || ins[j].Value == nil {
			return f
		}
		sum += e.w * normalise(e.kind, *ins[j].Value)
	}
	f.Value = ptr(round6(sum))
	return f
}
