package policy

import (
	"fmt"
	"io/fs"

	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/goccy/go-yaml"
)

// LoadWeights reads the composite-score weights (evaluation.WeightsFile)
// from the policy directory fsys (policies.FS, or os.DirFS of a directory):
// like the policy files, they are declared beside the policy, never in
// code.
func LoadWeights(fsys fs.FS) (*evaluation.Weights, error) {
	data, err := fs.ReadFile(fsys, evaluation.WeightsFile)
	if err != nil {
		return nil, &evaluation.WeightsError{File: evaluation.WeightsFile, Problems: []string{fmt.Sprintf("cannot read it: %v", err)}}
	}
	return ParseWeights(data)
}

// ParseWeights decodes a weights file (strict YAML: no unknown or repeated
// keys) and validates it (evaluation.NewWeights). Every problem is reported
// in one *evaluation.WeightsError.
func ParseWeights(data []byte) (*evaluation.Weights, error) {
	var f struct {
		Version string                        `yaml:"version"`
		Weights map[string]map[string]float64 `yaml:"weights"`
	}
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, &evaluation.WeightsError{File: evaluation.WeightsFile, Problems: []string{yaml.FormatError(err, false, true)}}
	}
	return evaluation.NewWeights(f.Version, f.Weights)
}
