package server

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Cost limits, in field resolutions.
const (
	// MaxCostDefault bounds what one operation may ask: about 5,000 rows of
	// 50 fields, a response of some tens of megabytes at most. The demo's
	// heaviest page (50 compounds × 5 violations × 5 cases, with counts)
	// costs a tenth of it.
	MaxCostDefault = 250_000
	// rootListGuess is how many items a root list without `first` is
	// counted for: the whole jurisdiction tree (about 950) and the like.
	rootListGuess = 1000
	// listGuess is how many items a nested list without `first` is
	// counted for: a timeline, a figure list, a case's violations.
	listGuess = 10
	// firstGuess is a `first` left out: the pages' default size.
	firstGuess = 20
)

// costLimit refuses operations whose estimated size exceeds max before
// anything runs. gqlgen's complexity limit counts fields only, so a page of
// 200 rows costs as much as one row and a thousand aliases of a list add up
// to a response of hundreds of megabytes. The estimate multiplies each
// field by the sizes of the lists around it: `first` where a field takes
// one, listGuess for other lists.
type costLimit struct{ max int }

var (
	_ graphql.HandlerExtension        = costLimit{}
	_ graphql.OperationContextMutator = costLimit{}
)

func (costLimit) ExtensionName() string                   { return "CostLimit" }
func (costLimit) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (c costLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	cost := selectionCost(rc.Operation.SelectionSet, 1, rc.Variables, c.max, true)
	if cost <= c.max {
		return nil
	}
	err := gqlerror.Errorf("the operation asks for about %d field values, more than the %d allowed: ask for fewer rows (first), fields or aliases, and page through", cost, c.max)
	err.Extensions = map[string]any{"code": string(apperr.BadUserInput), "cost": cost, "maxCost": c.max}
	return err
}

// selectionCost adds up the fields of set, each counted mult times, and
// stops counting once the total passes limit. root says set is the
// operation's own.
func selectionCost(set ast.SelectionSet, mult int, vars map[string]any, limit int, root bool) int {
	total := 0
	for _, sel := range set {
		if total > limit {
			return total
		}
		switch s := sel.(type) {
		case *ast.Field:
			total += mult
			if len(s.SelectionSet) > 0 {
				total += selectionCost(s.SelectionSet, mult*listSize(s, vars, root), vars, limit-total, false)
			}
		case *ast.InlineFragment:
			total += selectionCost(s.SelectionSet, mult, vars, limit-total, root)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				total += selectionCost(s.Definition.SelectionSet, mult, vars, limit-total, root)
			}
		}
	}
	return total
}

// listSize is how many items field f stands for: its `first` argument when
// it takes one (a connection's edges then count once), a guess for other
// lists, 1 for a single object.
func listSize(f *ast.Field, vars map[string]any, root bool) int {
	if f.Definition == nil {
		return 1
	}
	if f.Definition.Arguments.ForName("first") != nil {
		if n, ok := asInt(f.ArgumentMap(vars)["first"]); ok && n >= 0 {
			return max(n, 1)
		}
		return firstGuess
	}
	if f.Definition.Type.Elem == nil || f.Name == "edges" {
		return 1
	}
	if root {
		return rootListGuess
	}
	return listGuess
}

func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	case nil:
		return 0, false
	}
	// json.Number, from variables.
	var i int
	_, err := fmt.Sscan(fmt.Sprint(v), &i)
	return i, err == nil
}
