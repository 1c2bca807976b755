// Package model holds GraphQL-only types: generated ones in models_gen.go and
// hand-written ones that carry what field resolvers need.
package model

import (
	"context"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
)

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

// EdgeCursor is an edge's cursor, encoded when it is written: most pages
// are read without their cursors, and encoding one costs more than the
// rest of the edge.
type EdgeCursor struct {
	of func(int) string
	i  int
}

// CursorOf is the cursor of the i-th edge of a page whose cursors of gives.
func CursorOf(of func(int) string, i int) EdgeCursor { return EdgeCursor{of: of, i: i} }

// Cursor returns the edge's opaque cursor.
func (c EdgeCursor) Cursor() string { return c.of(c.i) }

// CaseEdge is one case of a page.
type CaseEdge struct {
	EdgeCursor
	Node *cases.Case
}

// PropertyEdge is one compound of a page.
type PropertyEdge struct {
	EdgeCursor
	Node *property.Property
}

// ViolationEdge is one violation of a page.
type ViolationEdge struct {
	EdgeCursor
	Node *violation.Violation
}

// ParkingLotEdge is one parking lot of a page.
type ParkingLotEdge struct {
	EdgeCursor
	Node *parking.Lot
}
