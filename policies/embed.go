// Package policies carries the access policy files in the binary: the
// Casbin model (model.conf), the baseline policy and standing sharing
// agreements (policy.csv) and the dataset catalog (catalog.yaml). See
// internal/policy, which loads them.
package policies

import "embed"

// FS holds model.conf, policy.csv and catalog.yaml at its root.
//
//go:embed *.conf *.csv *.yaml
var FS embed.FS
