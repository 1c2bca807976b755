package policy

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
)

// WriteMatrix writes the policy matrix as Markdown: for every dataset, each
// role a principal can hold, by department, against the rows it sees, each
// field group (visible, masked, denied, or what an approved grant changes)
// and the dataset actions. It is computed by asking the engine's policy,
// the same answers Decide builds on, for single-role principals; grants in
// the run-time store are not shown, only where a grant would apply.
func WriteMatrix(w io.Writer, eng *Engine) error {
	s := eng.snap.Load()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Access policy matrix\n\n")
	fmt.Fprintf(bw, "Computed from `%s`, `%s` and `%s`. One line per role and the departments it behaves alike in.\n\n", ModelFile, PolicyFile, CatalogFile)
	fmt.Fprintf(bw, "- **rows**: `all`; `jurisdiction` (the principal's subtree); `own dept` (rows the department owns or handles); `own reports` (the citizen's); `grant` (only through a grant's subtree); `none`.\n")
	fmt.Fprintf(bw, "- **field groups**: `visible`; `masked` (through the field's masking rule); `denied` (null and FORBIDDEN); `grant` (denied, visible with an approved grant); `masked, grant` (masked, visible with an approved grant). With no rows, nothing is visible whatever the column says.\n\n")

	for _, m := range s.matrix() {
		ds := m.Dataset
		fmt.Fprintf(bw, "## %s\n\n", ds.Name)
		if ds.About != "" {
			fmt.Fprintf(bw, "%s. ", ds.About)
		}
		fmt.Fprintf(bw, "Provider: %s.\n\n", providerLabel(ds.Provider))
		fmt.Fprintf(bw, "| role | departments | rows |")
		for _, g := range ds.Groups {
			label := fmt.Sprintf("%s (%s", g.Name, g.Class)
			if g.Provider != "" {
				label += ", from " + g.Provider
			}
			fmt.Fprintf(bw, " %s) |", label)
		}
		fmt.Fprintf(bw, " actions |\n|---|---|---|%s---|\n", strings.Repeat("---|", len(ds.Groups)))
		if m.err != nil {
			return m.err
		}
		for _, l := range m.Lines {
			fmt.Fprintf(bw, "| %s | %s | %s |\n", l.Role, l.DeptLabel, strings.Join(l.Cells(), " | "))
		}
		if len(m.NoAccess) > 0 {
			fmt.Fprintf(bw, "\nNo access: %s.\n", strings.Join(m.NoAccess, ", "))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// MatrixDataset is one dataset's part of the policy matrix.
type MatrixDataset struct {
	Dataset *access.Dataset
	// Lines are the roles with any access, one line per role and the
	// departments it behaves alike in, in catalog order.
	Lines []MatrixLine
	// NoAccess names the roles that get nothing of the dataset.
	NoAccess []string
	err      error
}

// MatrixLine is what one role gets of a dataset in a set of departments.
type MatrixLine struct {
	Role string
	// Depts are department codes ("" is no department: the public).
	Depts []string
	// DeptLabel names Depts briefly: "any", "every street", codes.
	DeptLabel string
	// Rows is "all", "jurisdiction", "own dept", "own reports" joined by
	// " + ", or "grant" or "none".
	Rows string
	// Groups has one cell per field group in catalog order: visible,
	// masked, denied, grant, "masked, grant".
	Groups  []string
	Actions []string
}

// Cells is the line's matrix cells: rows, each group, then the actions.
func (l MatrixLine) Cells() []string {
	actions := strings.Join(l.Actions, ", ")
	if actions == "" {
		actions = "—"
	}
	return append(append([]string{l.Rows}, l.Groups...), actions)
}

// Matrix returns the policy matrix WriteMatrix prints, as data: the
// baseline policy of every dataset, without the run-time grants.
func Matrix(eng *Engine) ([]MatrixDataset, error) {
	out := eng.snap.Load().matrix()
	for _, m := range out {
		if m.err != nil {
			return nil, m.err
		}
	}
	return out, nil
}

func (s *snapshot) matrix() []MatrixDataset {
	cat := s.cat
	var roles []*access.Role
	for _, r := range cat.Roles {
		if !r.Abstract {
			roles = append(roles, r)
		}
	}
	// Only the anonymous public comes without a department: tokens and API
	// keys always name one.
	withDept := deptCodes(cat)
	withoutDept := append([]string{""}, withDept...)
	var out []MatrixDataset
	for _, ds := range cat.Datasets {
		m := MatrixDataset{Dataset: ds}
		for _, role := range roles {
			var lines []*MatrixLine
			depts := withDept
			if role.Name == access.RolePublic {
				depts = withoutDept
			}
			for _, dept := range depts {
				b, err := s.base(dept, []string{role.Name}, ds)
				if err != nil {
					m.err = err
					break
				}
				l := matrixLine(ds, b)
				i := slices.IndexFunc(lines, func(o *MatrixLine) bool { return slices.Equal(o.Cells(), l.Cells()) })
				if i < 0 {
					l.Role = role.Name
					lines = append(lines, &l)
					i = len(lines) - 1
				}
				lines[i].Depts = append(lines[i].Depts, dept)
			}
			if len(lines) == 1 && noAccess(lines[0].Cells()) {
				m.NoAccess = append(m.NoAccess, role.Name)
				continue
			}
			for _, l := range lines {
				l.DeptLabel = deptLabel(cat, l.Depts, len(depts))
				m.Lines = append(m.Lines, *l)
			}
		}
		out = append(out, m)
	}
	return out
}

func matrixLine(ds *access.Dataset, b *base) MatrixLine {
	var rows []string
	switch {
	case b.rows.all:
		rows = []string{"all"}
	default:
		if b.rows.jurisdiction {
			rows = append(rows, "jurisdiction")
		}
		if b.rows.dept {
			rows = append(rows, "own dept")
		}
		if b.rows.citizen {
			rows = append(rows, "own reports")
		}
	}
	grantable := len(b.useGrant) > 0
	if len(rows) == 0 {
		if grantable {
			rows = []string{"grant"}
		} else {
			rows = []string{"none"}
		}
	}
	l := MatrixLine{Rows: strings.Join(rows, " + "), Actions: slices.Clone(b.actions)}
	for _, g := range ds.Groups {
		a := b.fields[g.Name]
		cell := a.String()
		if b.useGrant[g.Name] && a < access.FieldVisible {
			if a == access.FieldMasked {
				cell = "masked, grant"
			} else {
				cell = "grant"
			}
		}
		l.Groups = append(l.Groups, cell)
	}
	return l
}

// noAccess reports whether matrix cells say: no rows, no field, no action.
func noAccess(cells []string) bool {
	groups := cells[1 : len(cells)-1]
	return cells[0] == "none" && cells[len(cells)-1] == "—" && !slices.ContainsFunc(groups, func(c string) bool { return c != "denied" })
}

func deptCodes(cat *access.Catalog) []string {
	out := make([]string, len(cat.Departments))
	for i, d := range cat.Departments {
		out[i] = d.Code
	}
	return out
}

func providerLabel(p string) string {
	if p == access.ProviderDistrict {
		return "the district (no department)"
	}
	return "`" + p + "`"
}

// deptLabel names a set of departments ("" is no department) briefly:
// "any", whole kinds ("every street"), or the codes.
func deptLabel(cat *access.Catalog, set []string, universe int) string {
	if len(set) == universe {
		return "any"
	}
	var parts []string
	if slices.Contains(set, "") {
		parts = append(parts, "no department")
	}
	for _, kind := range []string{access.DeptBureau, access.DeptStreet, access.DeptTown, access.DeptUnit} {
		var all, in []string
		for _, d := range cat.Departments {
			if d.Kind != kind {
				continue
			}
			all = append(all, d.Code)
			if slices.Contains(set, d.Code) {
				in = append(in, d.Code)
			}
		}
		switch {
		case len(in) == 0:
		case len(in) == len(all) && len(all) > 1:
			parts = append(parts, "every "+kind)
		case len(in) > len(all)/2 && len(all) > 3:
			var except []string
			for _, c := range all {
				if !slices.Contains(in, c) {
					except = append(except, c)
				}
			}
			parts = append(parts, "every "+kind+" but "+strings.Join(except, ", "))
		default:
			parts = append(parts, strings.Join(in, ", "))
		}
	}
	return strings.Join(parts, "; ")
}
