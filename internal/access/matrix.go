package access

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteMatrix writes the policy matrix as Markdown: for every dataset, each
// role a principal can hold, by department, against the rows it sees, each
// field group (visible, masked, denied, or what an approved grant changes)
// and the dataset actions. It is computed by asking the engine's policy,
// the same answers Decide builds on, for single-role principals; grants in
// the run-time store are not shown, only where a grant would apply.
func WriteMatrix(w io.Writer, eng *Engine) error {
	s := eng.snap.Load()
	cat := s.cat
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Access policy matrix\n\n")
	fmt.Fprintf(bw, "Computed from `%s`, `%s` and `%s`. One line per role and the departments it behaves alike in.\n\n", ModelFile, PolicyFile, CatalogFile)
	fmt.Fprintf(bw, "- **rows**: `all`; `jurisdiction` (the principal's subtree); `own dept` (rows the department owns or handles); `own reports` (the citizen's); `grant` (only through a grant's subtree); `none`.\n")
	fmt.Fprintf(bw, "- **field groups**: `visible`; `masked` (through the field's masking rule); `denied` (null and FORBIDDEN); `grant` (denied, visible with an approved grant); `masked, grant` (masked, visible with an approved grant). With no rows, nothing is visible whatever the column says.\n\n")

	var roles []*Role
	for _, r := range cat.Roles {
		if !r.Abstract {
			roles = append(roles, r)
		}
	}
	// Only the anonymous public comes without a department: tokens and API
	// keys always name one.
	withDept := deptCodes(cat)
	withoutDept := append([]string{""}, withDept...)

	for _, ds := range cat.Datasets {
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

		var nothing []string
		for _, role := range roles {
			type line struct {
				cells []string
				depts []string
			}
			var lines []*line
			depts := withDept
			if role.Name == RolePublic {
				depts = withoutDept
			}
			for _, dept := range depts {
				b, err := s.base(dept, []string{role.Name}, ds)
				if err != nil {
					return err
				}
				cells := matrixCells(ds, b)
				i := slices.IndexFunc(lines, func(l *line) bool { return slices.Equal(l.cells, cells) })
				if i < 0 {
					lines = append(lines, &line{cells: cells})
					i = len(lines) - 1
				}
				lines[i].depts = append(lines[i].depts, dept)
			}
			if len(lines) == 1 && noAccess(lines[0].cells) {
				nothing = append(nothing, role.Name)
				continue
			}
			for _, l := range lines {
				fmt.Fprintf(bw, "| %s | %s | %s |\n", role.Name, deptLabel(cat, l.depts, len(depts)), strings.Join(l.cells, " | "))
			}
		}
		if len(nothing) > 0 {
			fmt.Fprintf(bw, "\nNo access: %s.\n", strings.Join(nothing, ", "))
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

func matrixCells(ds *Dataset, b *base) []string {
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
	cells := []string{strings.Join(rows, " + ")}
	for _, g := range ds.Groups {
		a := b.fields[g.Name]
		cell := a.String()
		if b.useGrant[g.Name] && a < FieldVisible {
			if a == FieldMasked {
				cell = "masked, grant"
			} else {
				cell = "grant"
			}
		}
		cells = append(cells, cell)
	}
	actions := strings.Join(b.actions, ", ")
	if actions == "" {
		actions = "—"
	}
	return append(cells, actions)
}

// noAccess reports whether matrix cells say: no rows, no field, no action.
func noAccess(cells []string) bool {
	groups := cells[1 : len(cells)-1]
	return cells[0] == "none" && cells[len(cells)-1] == "—" && !slices.ContainsFunc(groups, func(c string) bool { return c != "denied" })
}

func deptCodes(cat *Catalog) []string {
	out := make([]string, len(cat.Departments))
	for i, d := range cat.Departments {
		out[i] = d.Code
	}
	return out
}

func providerLabel(p string) string {
	if p == ProviderDistrict {
		return "the district (no department)"
	}
	return "`" + p + "`"
}

// deptLabel names a set of departments ("" is no department) briefly:
// "any", whole kinds ("every street"), or the codes.
func deptLabel(cat *Catalog, set []string, universe int) string {
	if len(set) == universe {
		return "any"
	}
	var parts []string
	if slices.Contains(set, "") {
		parts = append(parts, "no department")
	}
	for _, kind := range []string{DeptBureau, DeptStreet, DeptTown, DeptUnit} {
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
