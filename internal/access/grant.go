package access

import "time"

// Grant is an approved request of one department for another's conditional
// or personal data: which field groups of a dataset, in which jurisdiction
// subtree, for what purpose, until when. It is stored as Casbin policy, one
// p2 line per field group (see Rules), and applies to the grantee's staff
// where policy.csv allows "use-grant".
type Grant struct {
	ID      string
	Grantee string // department code
	Dataset string
	Groups  []string
	// Jurisdiction is the subtree root the grant covers ("hailing" for the
	// whole district).
	Jurisdiction string
	Purpose      string
	// Until is when the grant stops applying. The engine compares it with
	// its clock on every decision, so an expired grant stops working at once,
	// before its lines are removed and without a reload.
	Until time.Time
}

// Rules returns the grant as Casbin p2 rules (without the ptype), one per
// field group:
//
//	dept:<grantee>, <dataset>/<group>, <jurisdiction>, <until RFC 3339 UTC>, <grant id>, <purpose>
func (g Grant) Rules() [][]string {
	until := g.Until.UTC().Format(time.RFC3339)
	out := make([][]string, 0, len(g.Groups))
	for _, group := range g.Groups {
		out = append(out, []string{GrantSubjectPrefix + g.Grantee, g.Dataset + "/" + group, g.Jurisdiction, until, g.ID, g.Purpose})
	}
	return out
}

// Active reports whether the grant applies at now.
func (g Grant) Active(now time.Time) bool { return now.Before(g.Until) }

// GrantPType is the Casbin policy type of grant lines, for adapters and the
// grants workflow: p2, dept:<grantee>, <dataset>/<group>, <jurisdiction>,
// <until RFC 3339>, <grant id>, <purpose>.
const GrantPType = "p2"

// GrantSubjectPrefix prefixes the grantee department in grant lines.
const GrantSubjectPrefix = "dept:"

// GrantIDField is the index of the grant id among a p2 rule's fields: the
// grants workflow, which stores grant lines in its own transactions,
// removes them by it.
const GrantIDField = 4
