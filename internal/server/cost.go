package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/parking"
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
	// catalogGuess is how many datasets Query.accessCatalog is counted for
	// (the catalog declares six).
	catalogGuess = 20
	// snapshotsFirstMax is the most manifests Query.snapshots lists.
	snapshotsFirstMax = 1000
)

// costLimit refuses operations whose estimated size exceeds max before
// anything runs. gqlgen's complexity limit counts fields only, so a page of
// 200 rows costs as much as one row and a thousand aliases of a list add up
// to a response of hundreds of megabytes. The estimate multiplies each
// field by the sizes of the lists around it: `first` where a field takes
// one, the representations of `_entities` and the ids of `nodes`,
// periods × groups of `indicators`, a guess for other lists.
//
// Every number in the estimate comes from the caller, so page sizes are
// checked against what each list serves before anything is multiplied, and
// the arithmetic saturates: a wrapped product would let any operation pass.
type costLimit struct {
	max int
	now func() time.Time
}

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
	if err := checkPageSizes(rc.Operation.SelectionSet, rc.Variables); err != nil {
		return err
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	e := estimator{vars: rc.Variables, now: now()}
	cost := e.selectionCost(rc.Operation.SelectionSet, 1, c.max, true)
	if cost <= c.max {
		return nil
	}
	err := gqlerror.Errorf("the operation asks for about %d field values, more than the %d allowed: ask for fewer rows (first), fields or aliases, and page through", cost, c.max)
	err.Extensions = map[string]any{"code": string(apperr.BadUserInput), "cost": cost, "maxCost": c.max}
	return err
}

// pageArgs are the arguments that size a list.
var pageArgs = []string{"first", "last"}

// firstMax is the largest page field f serves: nested lists show a few
// records, a handful of root lists page further or less far than the
// others.
func firstMax(f *ast.Field, root bool) int {
	if !root {
		return links.FirstMax
	}
	switch f.Name {
	case "auditTrail":
		return audit.FirstMax
	case "snapshots":
		return snapshotsFirstMax
	case "parkingLotsNear":
		return parking.NearFirstMax
	}
	return page.FirstMax
}

// checkPageSizes refuses, with BAD_USER_INPUT naming the argument, a page
// size outside what its list serves anywhere in the operation, whether
// written in the document or passed as a variable.
func checkPageSizes(set ast.SelectionSet, vars map[string]any) *gqlerror.Error {
	var refused *gqlerror.Error
	walkFields(set, func(f *ast.Field, root bool) bool {
		if f.Definition == nil {
			return false
		}
		for _, name := range pageArgs {
			if f.Definition.Arguments.ForName(name) == nil {
				continue
			}
			v, given := f.ArgumentMap(vars)[name]
			if !given || v == nil {
				continue
			}
			limit := firstMax(f, root)
			if n, ok := asInt(v); !ok || n < 0 || n > int64(limit) {
				refused = gqlerror.ErrorPosf(f.Position, "%s of %s must be between 0 and %d", name, f.Name, limit)
				refused.Extensions = map[string]any{"code": string(apperr.BadUserInput), "field": name}
				return true
			}
		}
		return false
	})
	return refused
}

// estimator weighs one operation.
type estimator struct {
	vars map[string]any
	now  time.Time
}

// selectionCost adds up the fields of set, each counted mult times, and
// stops counting once the total passes limit. root says set is the
// operation's own. Every field adds at least 1, so the walk ends after
// about limit fields however fragments spread one another.
func (e estimator) selectionCost(set ast.SelectionSet, mult, limit int, root bool) int {
	total := 0
	for _, sel := range set {
		if total > limit {
			return total
		}
		switch s := sel.(type) {
		case *ast.Field:
			total = satAdd(total, mult)
			if len(s.SelectionSet) > 0 {
				total = satAdd(total, e.selectionCost(s.SelectionSet, satMul(mult, e.listSize(s, root)), limit-total, false))
			}
		case *ast.InlineFragment:
			total = satAdd(total, e.selectionCost(s.SelectionSet, mult, limit-total, root))
		case *ast.FragmentSpread:
			if s.Definition != nil {
				total = satAdd(total, e.selectionCost(s.Definition.SelectionSet, mult, limit-total, root))
			}
		}
	}
	return total
}

// listSize is how many items field f stands for: its `first` or `last`
// argument when it takes them (a connection's edges then count once), the
// list's default page when neither is given, a guess for other lists, 1
// for a single object. checkPageSizes has bounded both.
func (e estimator) listSize(f *ast.Field, root bool) int {
	if f.Definition == nil {
		return 1
	}
	switch {
	case root && f.Name == "_entities":
		if reps, ok := f.ArgumentMap(e.vars)["representations"].([]any); ok {
			return max(len(reps), 1)
		}
		return rootListGuess
	case root && f.Name == "nodes":
		if ids, ok := f.ArgumentMap(e.vars)["ids"].([]any); ok {
			return max(len(ids), 1)
		}
		return rootListGuess
	case root && f.Name == "indicators":
		return e.indicatorRows(f)
	case root && f.Name == "accessCatalog":
		return catalogGuess
	}
	paged := false
	for _, name := range pageArgs {
		if f.Definition.Arguments.ForName(name) == nil {
			continue
		}
		paged = true
		if n, ok := asInt(f.ArgumentMap(e.vars)[name]); ok && n >= 0 {
			return max(int(min(n, math.MaxInt32)), 1)
		}
	}
	if paged { // neither first nor last given: the list's default page
		switch {
		case !root:
			return links.FirstDefault
		case f.Name == "auditTrail":
			return audit.FirstDefault
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

// indicatorRows is how many rows indicators(period, from, to, groupBy)
// answers at most, by the evaluation package's own estimate.
func (e estimator) indicatorRows(f *ast.Field) int {
	args := f.ArgumentMap(e.vars)
	periods := evaluation.MaxPeriods
	from, okFrom := asTime(args["from"])
	to, okTo := asTime(args["to"])
	if okFrom && okTo {
		period := evaluation.Period(fmt.Sprint(args["period"]))
		periods = evaluation.PeriodCount(period, from, to, e.now, time.UTC)
	}
	var dims []evaluation.Dim
	if list, ok := args["groupBy"].([]any); ok {
		for _, d := range list {
			dims = append(dims, evaluation.Dim(fmt.Sprint(d)))
		}
	}
	return evaluation.EstimatedRows(periods, dims)
}

func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		return p, err == nil
	}
	return time.Time{}, false
}

// asInt reads an integer argument as the document or the variables give
// it; ok is false for anything that is not an integer within int64.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		if n != math.Trunc(n) || n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// satAdd and satMul are + and × on non-negative ints that stick at
// math.MaxInt instead of wrapping.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}
