package model

// Node is the Go side of the schema's Node interface. Its implementors are
// the datasets' own types (cases.Case, property.Property, …), which live in
// packages that know nothing of GraphQL, so it requires no methods: the
// schema, not the Go type, says which objects are nodes.
type Node any
