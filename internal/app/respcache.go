package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fengcheng/datahub/internal/access"
)

// CachedRoots returns the root fields whose answers the response cache may
// keep: aggregates and reference data that no read audit records (a test
// holds every one of them out of reach of an audited type), whose answer
// depends only on the arguments and on the caller's access decisions.
func CachedRoots() []string {
	return []string{"indicators", "parkingOpeningRate", "parkingSpacesAdded", "caseClasses"}
}

// accessFingerprint returns the response cache's view of a caller: the kind
// of principal, its evaluation organisation and everything the policy
// decided for it on every dataset (rows, fields, grants). Callers the policy
// treats alike share cached answers; a grant that starts or ends, or any
// policy change that touches the caller, changes it.
func accessFingerprint(d Decider, cat *access.Catalog) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		p := access.PrincipalFrom(ctx)
		view := struct {
			Kind      access.Kind
			Org       string
			Decisions []*access.Decision
		}{Kind: p.Kind, Org: p.Org}
		for _, ds := range cat.Datasets {
			dec, err := d.Decide(ctx, ds.Name)
			if err != nil {
				return nil, fmt.Errorf("access fingerprint: %s: %w", ds.Name, err)
			}
			view.Decisions = append(view.Decisions, dec)
		}
		return json.Marshal(view)
	}
}
