package server

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// storableText refuses, before anything runs, an operation any of whose
// text arguments — in a literal, a variable or an input object, at any
// depth, on any field — holds a NUL character or bytes that are not UTF-8.
// PostgreSQL text can hold neither, so such a value would otherwise reach a
// store and come back as an uncoded internal error (or worse, be stored
// somewhere that cannot be read back). One check here covers every filter
// and argument of the API, present and future; the caller gets
// BAD_USER_INPUT naming the argument (input fields as "filter.subject").
type storableText struct{}

var (
	_ graphql.HandlerExtension        = storableText{}
	_ graphql.OperationContextMutator = storableText{}
)

func (storableText) ExtensionName() string                   { return "StorableText" }
func (storableText) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (storableText) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	// Variables are checked where they are used, so the error names the
	// argument; a variable no field uses reaches no store.
	field := badTextIn(rc.Operation.SelectionSet, rc.Variables)
	if field == "" {
		return nil
	}
	err := gqlerror.Errorf("%s must be UTF-8 text without NUL characters", field)
	err.Extensions = map[string]any{"code": string(apperr.BadUserInput), "field": field}
	return err
}

// badTextIn returns the path of the first unstorable text argument in set
// ("" if none).
func badTextIn(set ast.SelectionSet, vars map[string]any) string {
	var found string
	walkFields(set, func(f *ast.Field, _ bool) bool {
		for _, a := range f.Arguments {
			v, err := a.Value.Value(vars)
			if err != nil {
				continue // validation reports a bad value
			}
			if found = badText(a.Name, v); found != "" {
				return true
			}
		}
		return false
	})
	return found
}

// badText returns path if v (a decoded argument value) holds unstorable
// text, or the path of the part that does.
func badText(path string, v any) string {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) || strings.IndexByte(x, 0) >= 0 {
			return path
		}
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
				return path
			}
			if p := badText(path+"."+k, e); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := badText(path+"["+strconv.Itoa(i)+"]", e); p != "" {
				return p
			}
		}
	}
	return ""
}
