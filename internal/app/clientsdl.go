package app

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// federationDirectives are the definitions of the Federation v2 directives
// a subgraph's SDL may import through @link without declaring them (a
// gateway knows them; a client compiler does not). Field sets are strings.
var federationDirectives = map[string]string{
	"key":              `directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE`,
	"shareable":        `directive @shareable repeatable on OBJECT | FIELD_DEFINITION`,
	"external":         `directive @external(reason: String) on OBJECT | FIELD_DEFINITION`,
	"requires":         `directive @requires(fields: String!) on FIELD_DEFINITION`,
	"provides":         `directive @provides(fields: String!) on FIELD_DEFINITION`,
	"override":         `directive @override(from: String!, label: String) on FIELD_DEFINITION`,
	"interfaceObject":  `directive @interfaceObject on OBJECT`,
	"composeDirective": `directive @composeDirective(name: String!) repeatable on SCHEMA`,
	"tag":              `directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION`,
	"inaccessible":     `directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION`,
}

// ClientSDL turns the subgraph SDL the hub serves (extend schema @link …,
// extend type Query …) into the schema file a client compiler reads
// (relay-compiler, graphql-codegen without federation support): the @link
// extension goes, the Federation directives it imports are declared, and
// every type extension is merged into its type.
func ClientSDL(subgraphSDL string) (string, error) {
	doc, err := parser.ParseSchema(&ast.Source{Name: "subgraph.graphql", Input: subgraphSDL})
	if err != nil {
		return "", fmt.Errorf("parse the subgraph SDL: %w", err)
	}
	var decls []string
	for _, ext := range doc.SchemaExtension {
		if len(ext.OperationTypes) > 0 {
			return "", fmt.Errorf("the SDL extends the schema's root operation types (%d): not a subgraph SDL", len(ext.OperationTypes))
		}
		for _, d := range ext.Directives {
			if d.Name != "link" {
				return "", fmt.Errorf("the SDL's schema extension carries @%s; only @link is expected", d.Name)
			}
			imports := d.Arguments.ForName("import")
			if imports == nil || imports.Value == nil {
				continue
			}
			for _, c := range imports.Value.Children {
				name := strings.TrimPrefix(c.Value.Raw, "@")
				def, ok := federationDirectives[name]
				if !ok {
					return "", fmt.Errorf("the SDL imports @%s, whose definition the client schema lacks", name)
				}
				decls = append(decls, def)
			}
		}
	}
	doc.SchemaExtension = nil
	slices.Sort(decls)
	decls = slices.Compact(decls)

	var buf bytes.Buffer
	formatter.NewFormatter(&buf).FormatSchemaDocument(doc)
	schema, gerr := gqlparser.LoadSchema(
		&ast.Source{Name: "federation.graphql", Input: strings.Join(decls, "\n") + "\n"},
		&ast.Source{Name: "hub.graphql", Input: buf.String()},
	)
	if gerr != nil {
		return "", fmt.Errorf("load the SDL with the Federation directives declared: %w", gerr)
	}
	buf.Reset()
	formatter.NewFormatter(&buf).FormatSchema(schema)
	return buf.String(), nil
}
