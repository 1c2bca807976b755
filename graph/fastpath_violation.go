package graph

import (
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/vektah/gqlparser/v2/ast"
)

// Shared by the fast paths: field-group decisions as @access takes them,
// and violations as nested pages hold them.

// fieldAccess is the caller's access to group on a row of jurisdiction jur,
// as the @access directive judges it: a group a grant raises in part of the
// district only is judged by the row's own jurisdiction.
func fieldAccess(d *access.Decision, group, jur string) access.FieldAccess {
	if _, partial := d.Partial[group]; partial {
		return d.FieldAt(group, jur)
	}
	return d.Field(group)
}

// readable reports whether a field group may be written (visible or masked).
func readable(a access.FieldAccess) bool { return a == access.FieldVisible || a == access.FieldMasked }

// violationWriter writes the plain fields of violations (those of a
// nested page).
type violationWriter struct {
	*fastWriter
	now time.Time
}

func (w violationWriter) violation(set ast.SelectionSet, v *violation.Violation) bool {
	return w.object(set, "Violation", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalUUID(v.ID).MarshalGQL(w.buf)
		case "recordNo":
			w.str(v.RecordNo)
		case "kind":
			w.str(string(v.Kind))
		case "subtype":
			w.strOrNull(string(v.Subtype))
		case "channel":
			w.str(string(v.Channel))
		case "status":
			w.str(string(v.Status))
		case "outcome":
			w.strOrNull(string(v.Outcome))
		case "description":
			w.str(v.Description)
		case "address":
			w.str(v.Address)
		case "areaM2":
			return w.optFloat(v.AreaM2)
		case "demolishedAreaM2":
			return w.optFloat(v.DemolishedAreaM2)
		case "discoveredAt":
			w.datetime(v.DiscoveredAt)
		case "noticeIssuedAt":
			w.optTime(v.NoticeIssuedAt)
		case "deadline":
			w.optTime(v.Deadline)
		case "overdue":
			w.boolean(v.Overdue(w.now))
		case "resolvedAt":
			w.optTime(v.ResolvedAt)
		case "closedAt":
			w.optTime(v.ClosedAt)
		case "version":
			w.integer(v.Version)
		case "location":
			return w.location(f.SelectionSet, v.Lat, v.Lng)
		case "jurisdiction":
			return w.jurisdiction(f.SelectionSet, v.JurisdictionCode)
		case "ownerDept":
			return w.department(f.SelectionSet, v.OwnerDept)
		}
		return true
	})
}
