package access

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
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
	// Applied are the grant lines behind GrantIDs, one per grant and field
	// group, so that a read can name only the grants that applied to the
	// rows it returned (Returned).
	Applied []AppliedGrant
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

// AppliedGrant is one field group a grant opens to the decision's
// principal, in the jurisdiction subtree rooted at Jurisdiction.
type AppliedGrant struct {
	ID           string
	Group        string
	Jurisdiction string
	Purpose      string
}

// FieldAt returns the access to a field group on a row in jurisdiction
// (the row's dotted jurisdiction code): Fields[group], raised where a grant
// covering that jurisdiction applies (see Partial).
func (d *Decision) FieldAt(group, jurisdiction string) FieldAccess {
	a := d.Field(group)
	if d == nil {
		return a
	}
	if pa, ok := d.Partial[group]; ok && pa.Access > a && UnderAny(jurisdiction, pa.Jurisdictions) {
		return pa.Access
	}
	return a
}

// Returned narrows d to the rows a read returned, given as their
// jurisdictions (one dotted code per row), for the audit trail, which must
// say what was disclosed and under which grant, not what is permitted
// somewhere. A group a grant raises on part of the rows (Partial) gets the
// highest access FieldAt gave it on a returned row, the rule its fields
// were masked by; GrantIDs, Purpose and Applied keep only the grants under
// whose subtree a returned row lies, by the same test. The result has no
// Partial; d itself is not changed (decisions are shared within a request).
func (d *Decision) Returned(jurisdictions []string) *Decision {
	if d == nil || (len(d.Partial) == 0 && len(d.Applied) == 0) {
		return d
	}
	js := slices.Compact(slices.Sorted(slices.Values(jurisdictions)))
	n := *d
	n.Fields = maps.Clone(d.Fields)
	n.Partial = nil
	for group := range d.Partial {
		for _, j := range js {
			n.Fields[group] = max(n.Fields[group], d.FieldAt(group, j))
		}
	}
	n.Applied, n.GrantIDs, n.Purpose = nil, nil, ""
	var purposes []string
	for _, g := range d.Applied {
		if !slices.ContainsFunc(js, func(j string) bool { return Under(j, g.Jurisdiction) }) {
			continue
		}
		n.Applied = append(n.Applied, g)
		n.GrantIDs = append(n.GrantIDs, g.ID)
		purposes = append(purposes, g.Purpose)
	}
	n.GrantIDs, n.Purpose = GrantIDsAndPurpose(n.GrantIDs, purposes)
	return &n
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

// FilterTerm is one part of a list request that compares stored values: a
// filter field, a search text or the sort order, and the field group whose
// values it compares.
type FilterTerm struct {
	Field string // as the caller wrote it: "filter.hasManagement", "orderBy"
	Group string
}

// CheckFilter refuses a list request that filters or sorts on a field
// group the caller may not read unmasked: which records match, how many,
// and in what order would tell whether a record holds a value the caller
// cannot see (an existence oracle). FORBIDDEN names the first such term.
// A group a grant opens under some subtrees only (Partial) may be used
// when jurisdiction, the filter's subtree root, lies inside one of them. A
// decision without rows is not checked: its lists are empty whatever the
// filter.
func (d *Decision) CheckFilter(jurisdiction string, terms []FilterTerm) error {
	if d == nil || d.Rows.Empty() {
		return nil
	}
	for _, t := range terms {
		if d.Field(t.Group) == FieldVisible {
			continue
		}
		if pa, ok := d.Partial[t.Group]; ok && pa.Access == FieldVisible && jurisdiction != "" && UnderAny(jurisdiction, pa.Jurisdictions) {
			continue
		}
		return &apperr.Error{Code: apperr.Forbidden, Field: t.Field,
			Message: fmt.Sprintf("%s compares %s data you may not read unmasked (its %s fields): leave it out", t.Field, d.Dataset, t.Group)}
	}
	return nil
}

// Terms collects the FilterTerms of a list request: add one for each part
// the caller set, naming the group whose values it compares.
type Terms []FilterTerm

// Add appends a term for field when set.
func (t *Terms) Add(set bool, field, group string) {
	if set {
		*t = append(*t, FilterTerm{Field: field, Group: group})
	}
}

// GrantIDsAndPurpose sorts and dedupes grant ids, and joins their purposes
// into the one Decision.Purpose the audit records.
func GrantIDsAndPurpose(ids, purposes []string) ([]string, string) {
	slices.Sort(ids)
	slices.Sort(purposes)
	return slices.Compact(ids), strings.Join(slices.Compact(purposes), "; ")
}

// Under reports whether jurisdiction j lies in the subtree rooted at root.
func Under(j, root string) bool {
	return j == root || strings.HasPrefix(j, root+".")
}

// UnderAny reports whether jurisdiction j lies in one of the subtrees
// rooted at roots.
func UnderAny(j string, roots []string) bool {
	for _, r := range roots {
		if Under(j, r) {
			return true
		}
	}
	return false
}
