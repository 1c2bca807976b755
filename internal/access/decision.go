package access

import (
	"slices"
	"strings"
)

// FieldAccess is what a principal gets of one field group.
type FieldAccess int

// Field access levels, weakest first.
const (
	FieldDenied  FieldAccess = iota // null plus a FORBIDDEN error
	FieldMasked                     // personal data shown through its masking rule
	FieldVisible                    // shown as stored
)

func (f FieldAccess) String() string {
	switch f {
	case FieldVisible:
		return "visible"
	case FieldMasked:
		return "masked"
	default:
		return "denied"
	}
}

// RowScope is the set of rows of one dataset a principal may read, in a
// neutral form that each store compiles into its own SQL predicate. A row is
// visible when All is set or it matches any listed condition; the zero value
// matches nothing.
type RowScope struct {
	All bool
	// Jurisdictions are subtree roots (dotted codes).
	Jurisdictions []string
	// Depts match rows whose owner or handling department is listed.
	Depts []string
	// CitizenID matches rows reported by this citizen.
	CitizenID string
}

// Empty reports whether the scope matches no row at all.
func (s RowScope) Empty() bool {
	return !s.All && len(s.Jurisdictions) == 0 && len(s.Depts) == 0 && s.CitizenID == ""
}

// Decision is everything a principal may do with one dataset in one request.
// It is computed once per request and dataset and then only read.
type Decision struct {
	Dataset string
	Rows    RowScope
	// OwnRows is the part of Rows where the principal's department provides
	// the data: reads there are not cross-department and are not audited.
	OwnDept string
	Fields  map[string]FieldAccess
	// Actions the principal may take on the dataset (e.g. "write",
	// "command", "handle").
	Actions []string
	// GrantIDs are the grants this decision relies on (for audit).
	GrantIDs []string
	Purpose  string
	// Partial lists field groups that a grant raises on part of Rows only:
	// on rows under one of the grant's jurisdiction subtrees the group gets
	// the raised access, elsewhere Fields[group]. Use FieldAt per row for
	// such groups; Field alone never over-grants.
	Partial map[string]PartialAccess
}

// PartialAccess is a field group's access on rows under Jurisdictions.
type PartialAccess struct {
	Access        FieldAccess
	Jurisdictions []string // subtree roots (dotted codes)
}

// FieldAt returns the access to a field group on a row in jurisdiction
// (the row's dotted jurisdiction code): Fields[group], raised where a grant
// covering that jurisdiction applies (see Partial).
func (d *Decision) FieldAt(group, jurisdiction string) FieldAccess {
	a := d.Field(group)
	if d == nil {
		return a
	}
	if pa, ok := d.Partial[group]; ok && pa.Access > a {
		for _, root := range pa.Jurisdictions {
			if jurisdiction == root || strings.HasPrefix(jurisdiction, root+".") {
				return pa.Access
			}
		}
	}
	return a
}

// Field returns the access to a field group; unknown groups are denied.
func (d *Decision) Field(group string) FieldAccess {
	if d == nil {
		return FieldDenied
	}
	return d.Fields[group]
}

// Can reports whether the decision allows an action.
func (d *Decision) Can(action string) bool {
	return d != nil && slices.Contains(d.Actions, action)
}
