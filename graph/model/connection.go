// Package model holds GraphQL-only types: generated ones in models_gen.go and
// hand-written ones that carry what field resolvers need.
package model

import (
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/property"
)

// CaseConnection is a page of cases plus what totalCount needs to count
// lazily (only when the client asks for it).
type CaseConnection struct {
	Edges    []*CaseEdge `json:"edges"`
	PageInfo *PageInfo   `json:"pageInfo"`
	Filter   cases.Filter
}

// PropertyConnection is a page of properties plus the filter totalCount
// counts with.
type PropertyConnection struct {
	Edges    []*PropertyEdge `json:"edges"`
	PageInfo *PageInfo       `json:"pageInfo"`
	Filter   property.Filter
}
