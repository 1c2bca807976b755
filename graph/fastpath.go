package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
)

// The fast path answers the hub's busiest read operations — a page of cases
// (an officer's work list), a page of compounds with their cases and
// violations, the parking lots near a point (the citizen app's search) and
// the evaluation indicators — without the GraphQL executor. The executor spends most of
// such a request's CPU on per-field machinery (a field context, a closure
// and often a goroutine for each of some twenty fields of fifty objects);
// the answer itself needs one statement and a loop. The fast path takes the
// same service call as the resolver (access decision, row scope in SQL,
// validation, audit), then writes the JSON the executor would write, with
// the same marshalers and the same masking. It takes only what it fully
// understands — a query whose one root field is one of fastRoots, selecting
// the plain fields below it, without fragments, directives, arguments below
// the root or repeated keys — and hands everything else, and every error,
// to the executor. Differential tests hold the two paths to the same bytes
// over generated queries and principals.

// FastPath returns the operation middleware that serves such queries.
func (r *Resolver) FastPath(log *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		root, ok := fastRoot(oc)
		if !ok {
			return next(ctx)
		}
		data, ok := r.renderFast(ctx, log, oc, root)
		if !ok {
			return next(ctx)
		}
		r.fastServed.Add(1)
		sent := false
		return func(context.Context) *graphql.Response {
			if sent {
				return nil
			}
			sent = true
			return &graphql.Response{Data: data}
		}
	}
}

// fastRoots are the root fields the fast path serves, each with the fields
// below it that it writes.
var fastRoots = map[string]fastFields{"cases": connectionFields, "parkingLotsNear": nearbyFields,
	"properties": propertyConnectionFields, "indicators": indicatorRowFields}

// fastRoot returns the root field of an operation the fast path can serve.
func fastRoot(oc *graphql.OperationContext) (*ast.Field, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query || len(oc.Operation.Directives) > 0 {
		return nil, false
	}
	var root *ast.Field
	keys := map[string]bool{}
	for _, s := range oc.Operation.SelectionSet {
		f, ok := s.(*ast.Field)
		if !ok || len(f.Directives) > 0 || keys[f.Alias] {
			return nil, false
		}
		keys[f.Alias] = true
		if f.Name == "__typename" {
			continue
		}
		if _, ok := fastRoots[f.Name]; !ok || root != nil {
			return nil, false
		}
		root = f
	}
	if root == nil || !plainSelection(root.SelectionSet, fastRoots[root.Name]) {
		return nil, false
	}
	return root, true
}

// fastField says which fields of a type the fast path writes: nil for a
// leaf, else the fields of the object it holds.
type fastFields map[string]fastFields

var (
	departmentFields   = fastFields{"__typename": nil, "id": nil, "code": nil, "name": nil, "nameEn": nil, "kind": nil}
	jurisdictionFields = fastFields{"__typename": nil, "id": nil, "code": nil, "level": nil, "name": nil, "nameEn": nil, "adminCode": nil}
	geoPointFields     = fastFields{"__typename": nil, "lat": nil, "lng": nil}
)

// plainSelection reports whether set selects only known fields, without
// directives, fragments or a response key twice, and without arguments
// except page arguments where the fields allow them.
func plainSelection(set ast.SelectionSet, known fastFields) bool {
	keys := make(map[string]bool, len(set))
	for _, s := range set {
		f, ok := s.(*ast.Field)
		if !ok || len(f.Directives) > 0 || keys[f.Alias] {
			return false
		}
		keys[f.Alias] = true
		sub, ok := known[f.Name]
		if !ok || !plainArguments(f.Arguments, sub) {
			return false
		}
		if sub == nil {
			if len(f.SelectionSet) > 0 {
				return false
			}
			continue
		}
		if !plainSelection(f.SelectionSet, sub) {
			return false
		}
	}
	return true
}

// plainArguments reports whether a field takes only what the fast path
// passes on: nothing, or page arguments on a field marked paged.
func plainArguments(args ast.ArgumentList, sub fastFields) bool {
	if len(args) == 0 {
		return true
	}
	if _, ok := sub[pagedMark]; !ok {
		return false
	}
	for _, a := range args {
		if !pageArgNames[a.Name] {
			return false
		}
	}
	return true
}

// fastValue writes the value of the operation's root field; false hands the
// query to the executor.
type fastValue func(w *fastWriter, set ast.SelectionSet) bool

// renderFast runs the query and writes its data member; false hands it to
// the executor. Once a root's records are read (and audited) it hands over
// only on a failure the executor would also meet.
func (r *Resolver) renderFast(ctx context.Context, log *slog.Logger, oc *graphql.OperationContext, root *ast.Field) (data json.RawMessage, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("fast path panicked; the executor answers", "panic", fmt.Sprint(p))
			data, ok = nil, false
		}
	}()
	w := &fastWriter{ctx: ctx, buf: new(bytes.Buffer)}
	var value fastValue
	switch root.Name {
	case "cases":
		value, ok = r.fastCases(ctx, w, root, oc.Variables)
	case "parkingLotsNear":
		value, ok = r.fastNearby(ctx, w, root, oc.Variables)
	case "properties":
		value, ok = r.fastProperties(ctx, w, root, oc.Variables)
	case "indicators":
		value, ok = r.fastIndicators(ctx, w, root, oc.Variables)
	}
	if !ok {
		return nil, false
	}
	w.buf.WriteByte('{')
	for i, s := range oc.Operation.SelectionSet {
		f := s.(*ast.Field)
		w.key(i, f.Alias)
		if f.Name == "__typename" {
			w.str("Query")
			continue
		}
		if !value(w, f.SelectionSet) {
			return nil, false
		}
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), true
}

// fastDirectory looks up the departments and jurisdictions the answer names.
func (r *Resolver) fastDirectory(ctx context.Context, w *fastWriter, deptCodes, jurCodes []string) error {
	ds, err := r.DirectoryService.Departments(ctx, deptCodes)
	if err != nil {
		return err
	}
	js, err := r.DirectoryService.Jurisdictions(ctx, jurCodes)
	if err != nil {
		return err
	}
	w.depts = make(map[string]*directory.Department, len(ds))
	for _, d := range ds {
		w.depts[d.Code] = d
	}
	w.jurs = make(map[string]*directory.Jurisdiction, len(js))
	for _, j := range js {
		w.jurs[j.Code] = j
	}
	return nil
}

// fastWriter writes JSON as gqlgen does: compact, keys in selection order,
// values through gqlgen's own marshalers. A method returning false met
// something the executor must answer (it reports an error there).
type fastWriter struct {
	ctx context.Context
	buf *bytes.Buffer
	d   *access.Decision
	now time.Time
	// className names a case's class as the resolver does.
	className func(*cases.Case) string
	depts     map[string]*directory.Department
	jurs      map[string]*directory.Jurisdiction
	// free holds the lots' live free spaces.
	free map[uuid.UUID]parking.Availability
}

func (w *fastWriter) key(i int, k string) {
	if i > 0 {
		w.buf.WriteByte(',')
	}
	w.buf.WriteByte('"')
	w.buf.WriteString(k) // a GraphQL name: nothing to escape
	w.buf.WriteString(`":`)
}

func (w *fastWriter) str(s string)         { graphql.MarshalString(s).MarshalGQL(w.buf) }
func (w *fastWriter) integer(n int)        { graphql.MarshalInt(n).MarshalGQL(w.buf) }
func (w *fastWriter) boolean(b bool)       { graphql.MarshalBoolean(b).MarshalGQL(w.buf) }
func (w *fastWriter) null()                { w.buf.WriteString("null") }
func (w *fastWriter) datetime(t time.Time) { model.MarshalDateTime(t).MarshalGQL(w.buf) }
func (w *fastWriter) float(f float64) bool {
	return graphql.MarshalFloatContext(f).MarshalGQLContext(w.ctx, w.buf) == nil
}

// intOrNull writes n, or null for 0: a field its resolver leaves null when
// unset.
func (w *fastWriter) intOrNull(n int) {
	if n == 0 {
		w.null()
		return
	}
	w.integer(n)
}

// strOrNull writes s, or null for "".
func (w *fastWriter) strOrNull(s string) {
	if s == "" {
		w.null()
		return
	}
	w.str(s)
}

func (w *fastWriter) optStr(s *string) {
	if s == nil {
		w.null()
		return
	}
	w.str(*s)
}

func (w *fastWriter) optTime(t *time.Time) {
	if t == nil {
		w.null()
		return
	}
	w.datetime(*t)
}

// optFloat writes *f, or null for nil (false: not a finite float).
func (w *fastWriter) optFloat(f *float64) bool {
	if f == nil {
		w.null()
		return true
	}
	return w.float(*f)
}

// masked writes a nullable personal string as @access with a mask rule
// lets it through (the caller checked that acc is readable).
func (w *fastWriter) masked(acc access.FieldAccess, s string, rule model.MaskRule) {
	if s != "" && acc == access.FieldMasked {
		s = access.Mask(access.MaskRule(rule), s)
	}
	w.strOrNull(s)
}

// object writes one object: a member per selected field, __typename as
// typename, every other field by field (false: hand the query over).
func (w *fastWriter) object(set ast.SelectionSet, typename string, field func(f *ast.Field) bool) bool {
	w.buf.WriteByte('{')
	for i, s := range set {
		f := s.(*ast.Field)
		w.key(i, f.Alias)
		if f.Name == "__typename" {
			w.str(typename)
			continue
		}
		if !field(f) {
			return false
		}
	}
	w.buf.WriteByte('}')
	return true
}

// writeConnection writes a Relay connection of typename's nodes: total
// count, page info, and edges whose nodes node writes.
func writeConnection[E any](w *fastWriter, set ast.SelectionSet, typename string, count model.Counter, p *model.PageInfo,
	edges []E, cursor func(E) string, node func(ast.SelectionSet, E) bool) bool {
	return w.object(set, typename+"Connection", func(f *ast.Field) bool {
		switch f.Name {
		case "totalCount":
			n, err := count(w.ctx)
			if err != nil {
				return false
			}
			w.integer(n)
		case "pageInfo":
			return w.pageInfo(f.SelectionSet, p)
		case "edges":
			w.buf.WriteByte('[')
			for j, e := range edges {
				if j > 0 {
					w.buf.WriteByte(',')
				}
				ok := w.object(f.SelectionSet, typename+"Edge", func(f *ast.Field) bool {
					if f.Name == "cursor" {
						w.str(cursor(e))
						return true
					}
					return node(f.SelectionSet, e)
				})
				if !ok {
					return false
				}
			}
			w.buf.WriteByte(']')
		}
		return true
	})
}

func (w *fastWriter) pageInfo(set ast.SelectionSet, p *model.PageInfo) bool {
	return w.object(set, "PageInfo", func(f *ast.Field) bool {
		switch f.Name {
		case "hasNextPage":
			w.boolean(p.HasNextPage)
		case "hasPreviousPage":
			w.boolean(p.HasPreviousPage)
		case "startCursor":
			w.optStr(p.StartCursor)
		case "endCursor":
			w.optStr(p.EndCursor)
		}
		return true
	})
}

func (w *fastWriter) location(set ast.SelectionSet, lat, lng float64) bool {
	return w.object(set, "GeoPoint", func(f *ast.Field) bool {
		if f.Name == "lat" {
			return w.float(lat)
		}
		return w.float(lng)
	})
}

func (w *fastWriter) department(set ast.SelectionSet, code string) bool {
	d, ok := w.depts[code]
	if !ok {
		return false // the executor reports the missing department
	}
	return w.object(set, "Department", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalID(d.Code).MarshalGQL(w.buf)
		case "code":
			w.str(d.Code)
		case "name":
			w.str(d.NameZh)
		case "nameEn":
			w.str(d.NameEn)
		case "kind":
			w.str(d.Kind)
		}
		return true
	})
}

func (w *fastWriter) jurisdiction(set ast.SelectionSet, code string) bool {
	j, ok := w.jurs[code]
	if !ok {
		return false
	}
	return w.object(set, "Jurisdiction", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalID(j.Code).MarshalGQL(w.buf)
		case "code":
			w.str(j.Code)
		case "level":
			w.str(string(j.Level))
		case "name":
			w.str(j.NameZh)
		case "nameEn":
			w.str(j.NameEn)
		case "adminCode":
			w.str(j.AdminCode)
		}
		return true
	})
}
