package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/generated"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
)

// Decider returns the caller's decision on a dataset, computed once per
// request and dataset.
type Decider interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// accessDirective enforces @access(dataset, group, mask): a denied field
// group resolves to null with a FORBIDDEN error, a masked one passes its
// string value through the masking rule. Container fields (no mask rule)
// let a masked group through so their leaves can mask.
func (r *Resolver) accessDirective(ctx context.Context, obj any, next graphql.Resolver, dataset, group string, mask *model.MaskRule) (any, error) {
	d, err := r.Access.Decide(ctx, dataset)
	if err != nil {
		return nil, err
	}
	acc := d.Field(group)
	if _, partial := d.Partial[group]; partial {
		// A grant raises this group in part of the district only: judge
		// the row by its own jurisdiction.
		acc = d.FieldAt(group, rowJurisdiction(obj))
	}
	switch acc {
	case access.FieldVisible:
		return next(ctx)
	case access.FieldMasked:
		v, err := next(ctx)
		if err != nil || mask == nil {
			return v, err
		}
		switch s := v.(type) {
		case *string:
			if s == nil {
				return s, nil
			}
			m := access.Mask(access.MaskRule(*mask), *s)
			return &m, nil
		case string:
			return access.Mask(access.MaskRule(*mask), s), nil
		}
		// A masked field of a type the rule cannot mask is withheld.
		return nil, nil
	default:
		if access.PrincipalFrom(ctx).Kind == access.KindAnonymous {
			return nil, apperr.New(apperr.Forbidden, "sign in to see field group %q of %s", group, dataset)
		}
		return nil, apperr.New(apperr.Forbidden,
			"field group %q of %s is not visible to you; if your work needs it, ask its provider department for a data-sharing grant (requestAccess)",
			group, dataset)
	}
}

// Directives returns the directive implementations for the executable schema.
func (r *Resolver) Directives() generated.DirectiveRoot {
	return generated.DirectiveRoot{Access: r.accessDirective}
}

// rowJurisdiction returns the jurisdiction of the row a field belongs to.
func rowJurisdiction(obj any) string {
	switch o := obj.(type) {
	case *cases.Case:
		return o.JurisdictionCode
	case interface{ RowJurisdiction() string }:
		return o.RowJurisdiction()
	}
	// Unknown rows get no partial grant: the directive never over-grants.
	return ""
}
