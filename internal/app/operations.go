package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// operationGate runs every mutation past the access engine's operation
// check before any of its fields executes: a role the policy limits to some
// operations (the citizen app) is refused every other mutation, including
// ones added to the schema later, whatever each resolver and service does.
// Over HTTP and WebSockets alike, since both execute through the schema.
type operationGate struct {
	graphql.ExecutableSchema
	check func(ctx context.Context, operation string) error
}

// Exec refuses the whole operation when one of its mutation fields is
// refused: nothing of it runs, and the error goes through the error
// presenter like any other (FORBIDDEN).
func (g operationGate) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Mutation {
		var refused bool
		for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
			if err := g.check(ctx, f.Name); err != nil {
				graphql.AddError(graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: f, Object: "Mutation"}), err)
				refused = true
			}
		}
		if refused {
			return graphql.OneShot(&graphql.Response{Errors: graphql.GetErrors(ctx)})
		}
	}
	return g.ExecutableSchema.Exec(ctx)
}
