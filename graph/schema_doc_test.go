package graph_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/fengcheng/datahub/graph/generated"
	"github.com/fengcheng/datahub/internal/app"
)

// hubDefined reports whether a definition comes from the hub's own
// schema/*.graphqls: gqlgen's prelude and the federation sources it
// injects (_Service, _Entity, _Any, FieldSet, link__*, federation__*,
// _service, _entities) are marked built-in and are not ours to describe.
func hubDefined(pos *ast.Position) bool {
	return pos != nil && pos.Src != nil && !pos.Src.BuiltIn
}

// undocumented lists, by schema coordinate (Type.field(arg:)), everything
// the hub defines without a description.
func undocumented(s *ast.Schema) []string {
	var missing []string
	need := func(coord, desc string) {
		if strings.TrimSpace(desc) == "" {
			missing = append(missing, coord)
		}
	}
	args := func(owner string, list ast.ArgumentDefinitionList) {
		for _, a := range list {
			need(owner+"("+a.Name+":)", a.Description)
		}
	}
	for _, d := range s.Types {
		if strings.HasPrefix(d.Name, "__") {
			continue
		}
		if hubDefined(d.Position) {
			need(d.Name, d.Description)
		}
		for _, f := range d.Fields {
			if !hubDefined(f.Position) {
				continue
			}
			need(d.Name+"."+f.Name, f.Description)
			args(d.Name+"."+f.Name, f.Arguments)
		}
		for _, v := range d.EnumValues {
			if hubDefined(v.Position) {
				need(d.Name+"."+v.Name, v.Description)
			}
		}
	}
	for _, d := range s.Directives {
		if hubDefined(d.Position) {
			need("@"+d.Name, d.Description)
			args("@"+d.Name, d.Arguments)
		}
	}
	sort.Strings(missing)
	return missing
}

// TestSchemaEverythingDescribed: every type, field, argument, input field,
// enum value and directive the hub defines carries a description, so
// GraphiQL, codegen and the gateway's consumers see what each one means.
func TestSchemaEverythingDescribed(t *testing.T) {
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	if missing := undocumented(s); len(missing) > 0 {
		t.Errorf("%d schema elements have no description:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// TestSchemaDescribeCheckCanFail proves the walk sees each kind of element:
// a schema with one undocumented element of each kind is flagged in full.
func TestSchemaDescribeCheckCanFail(t *testing.T) {
	src := &ast.Source{Name: "planted.graphqls", Input: `
"Described."
type Query {
  "Described."
  a(x: Int): Int
  b: E
}
type T { f: Int }
enum E { "Described." ONE TWO }
input I { g: Int }
directive @d(y: Int) on FIELD_DEFINITION
`}
	doc, err := parser.ParseSchema(src)
	if err != nil {
		t.Fatal(err)
	}
	s := &ast.Schema{Types: map[string]*ast.Definition{}, Directives: map[string]*ast.DirectiveDefinition{}}
	for _, d := range doc.Definitions {
		s.Types[d.Name] = d
	}
	for _, d := range doc.Directives {
		s.Directives[d.Name] = d
	}
	got := strings.Join(undocumented(s), " ")
	want := "@d @d(y:) E E.TWO I I.g Query.a(x:) Query.b T T.f"
	if got != want {
		t.Fatalf("flagged %q, want %q", got, want)
	}
}

// servedSDL is the SDL a gateway composes: { _service { sdl } }.
func servedSDL(t *testing.T) *ast.SchemaDocument {
	t.Helper()
	sdl, err := app.ServedSDL()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parser.ParseSchema(&ast.Source{Name: "_service", Input: sdl})
	if err != nil {
		t.Fatalf("parse served SDL: %v", err)
	}
	return doc
}

// sdlProblems lists what a gateway should not be served: a custom scalar
// without @specifiedBy(url:), and an enum that only serves a schema
// directive's argument (as MaskRule serves @access(mask:)) unless it is
// @inaccessible: directive definitions do not compose, their enums do.
func sdlProblems(doc *ast.SchemaDocument) (problems []string, scalars int) {
	used := map[string]bool{}
	for _, list := range [][]*ast.Definition{doc.Definitions, doc.Extensions} {
		for _, d := range list {
			for _, f := range d.Fields {
				used[f.Type.Name()] = true
				for _, a := range f.Arguments {
					used[a.Type.Name()] = true
				}
			}
			for _, m := range d.Types {
				used[m] = true
			}
		}
	}
	for _, d := range doc.Definitions {
		switch d.Kind {
		case ast.Scalar:
			scalars++
			if sb := d.Directives.ForName("specifiedBy"); sb == nil || sb.Arguments.ForName("url") == nil {
				problems = append(problems, "scalar "+d.Name+" has no @specifiedBy(url:)")
			}
		case ast.Enum:
			if !used[d.Name] && d.Directives.ForName("inaccessible") == nil {
				problems = append(problems, "enum "+d.Name+" serves no field or argument, only directives, yet is public: mark it @inaccessible")
			}
		}
	}
	return problems, scalars
}

// TestSchemaSDLScalarsSpecifiedByAndNoInternalEnums checks the SDL the hub
// serves to a gateway.
func TestSchemaSDLScalarsSpecifiedByAndNoInternalEnums(t *testing.T) {
	problems, scalars := sdlProblems(servedSDL(t))
	for _, p := range problems {
		t.Error(p)
	}
	if scalars == 0 {
		t.Fatal("served SDL declares no scalar: the check would pass vacuously (is DateTime gone?)")
	}
}

// TestSchemaSDLCheckCanFail plants a scalar without @specifiedBy and an
// enum used only by a directive; a hidden one and a used one pass.
func TestSchemaSDLCheckCanFail(t *testing.T) {
	doc, err := parser.ParseSchema(&ast.Source{Name: "planted.graphqls", Input: `
directive @d(rule: Internal, shown: Hidden) on FIELD_DEFINITION
enum Internal { A }
enum Hidden @inaccessible { B }
enum Used { C }
scalar Bare
scalar Dated @specifiedBy(url: "https://scalars.graphql.org/andimarek/date-time")
type Query { u(x: Used): Dated @d(rule: A) }
`})
	if err != nil {
		t.Fatal(err)
	}
	problems, scalars := sdlProblems(doc)
	want := "enum Internal serves no field or argument, only directives, yet is public: mark it @inaccessible|scalar Bare has no @specifiedBy(url:)"
	sort.Strings(problems)
	if got := strings.Join(problems, "|"); got != want || scalars != 2 {
		t.Fatalf("got %q (%d scalars), want %q", got, scalars, want)
	}
}
