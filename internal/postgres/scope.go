package postgres

import (
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/jackc/pgx/v5"
)

// where accumulates SQL conditions and their named arguments.
type where struct {
	conds []string
	args  pgx.NamedArgs
}

func newWhere() *where { return &where{args: pgx.NamedArgs{}} }

func (w *where) add(cond string, kv ...any) {
	w.conds = append(w.conds, cond)
	for i := 0; i+1 < len(kv); i += 2 {
		w.args[kv[i].(string)] = kv[i+1]
	}
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return "TRUE"
	}
	return strings.Join(w.conds, " AND ")
}

// scopeColumns names the columns a table's row scope is judged on.
type scopeColumns struct {
	path      string // ltree column of the row's jurisdiction
	street    string // denormalised street code, for index use ("" if none)
	depts     []string
	citizenID string // "" when the table has no citizen column
}

// as returns the columns qualified by a table alias, for a statement that
// judges the scope of a table it joins.
func (c scopeColumns) as(alias string) scopeColumns {
	q := func(col string) string {
		if col == "" {
			return ""
		}
		return alias + "." + col
	}
	out := scopeColumns{path: q(c.path), street: q(c.street), citizenID: q(c.citizenID)}
	for _, d := range c.depts {
		out.depts = append(out.depts, q(d))
	}
	return out
}

// addScope compiles a row scope into one predicate. Street-level subtree
// roots use the plain street column so the planner can use the hot btree
// indexes; deeper roots use the ltree path.
func (w *where) addScope(s access.RowScope, cols scopeColumns) {
	if s.All {
		return
	}
	if s.Empty() {
		w.add("FALSE")
		return
	}
	var ors []string
	var streets, paths []string
	for _, j := range s.Jurisdictions {
		if cols.street != "" && strings.Count(j, ".") == 1 {
			streets = append(streets, j)
		} else {
			paths = append(paths, j)
		}
	}
	if len(streets) > 0 {
		ors = append(ors, cols.street+" = ANY(@scope_streets)")
		w.args["scope_streets"] = streets
	}
	if len(paths) > 0 {
		ors = append(ors, cols.path+" <@ ANY(@scope_paths::ltree[])")
		w.args["scope_paths"] = paths
	}
	if len(s.Depts) > 0 {
		for _, c := range cols.depts {
			ors = append(ors, c+" = ANY(@scope_depts)")
		}
		w.args["scope_depts"] = s.Depts
	}
	if s.CitizenID != "" && cols.citizenID != "" {
		ors = append(ors, cols.citizenID+" = @scope_citizen")
		w.args["scope_citizen"] = s.CitizenID
	}
	if len(ors) == 0 {
		w.add("FALSE")
		return
	}
	w.add("(" + strings.Join(ors, " OR ") + ")")
}

// addSubtree restricts rows to a jurisdiction subtree, using the
// denormalised street and community columns where the code is at that level
// (their btree indexes serve the hot lists), the row's own code for a grid
// (leaf, indexed with the order on cases) and the ltree path otherwise.
// community and leaf may be "" when the table has no such column.
func (w *where) addSubtree(code, street, community, path, leaf string) {
	switch strings.Count(code, ".") {
	case 1:
		w.add(street+" = @subtree", "subtree", code)
	case 2:
		if community != "" {
			w.add(community+" = @subtree", "subtree", code)
			return
		}
		fallthrough
	case 3:
		// A grid is a leaf of the tree: its subtree is itself.
		if leaf != "" && strings.Count(code, ".") == 3 {
			w.add(leaf+" = @subtree", "subtree", code)
			return
		}
		fallthrough
	default:
		// Includes the district root: an unknown top-level code matches
		// nothing instead of everything.
		w.add(path+" <@ @subtree::ltree", "subtree", code)
	}
}
