// Package model holds GraphQL-only types: generated ones in models_gen.go and
// hand-written ones that carry what field resolvers need.
package model

import "context"

// Counter counts a connection's matching records, lazily: totalCount costs
// a query only when a client asks for it, and nested connections count all
// their parents in one batched statement.
type Counter func(ctx context.Context) (int, error)

// CaseConnection is a page of cases.
type CaseConnection struct {
	Edges    []*CaseEdge `json:"edges"`
	PageInfo *PageInfo   `json:"pageInfo"`
	Count    Counter     `json:"-"`
}

// PropertyConnection is a page of residential compounds.
type PropertyConnection struct {
	Edges    []*PropertyEdge `json:"edges"`
	PageInfo *PageInfo       `json:"pageInfo"`
	Count    Counter         `json:"-"`
}

// ViolationConnection is a page of violations.
type ViolationConnection struct {
	Edges    []*ViolationEdge `json:"edges"`
	PageInfo *PageInfo        `json:"pageInfo"`
	Count    Counter          `json:"-"`
}

// ParkingLotConnection is a page of parking lots.
type ParkingLotConnection struct {
	Edges    []*ParkingLotEdge `json:"edges"`
	PageInfo *PageInfo         `json:"pageInfo"`
	Count    Counter           `json:"-"`
}
