// Package graph is the GraphQL layer: generated executor (generated/), thin
// resolvers that map arguments, call one service and map the result, and the
// per-request loaders that batch nested fields.
package graph

//go:generate go -C .. tool gqlgen generate
