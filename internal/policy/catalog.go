package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/rules"
)

var (
	namePattern      = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	fieldPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	operationPattern = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
)

// Words the policy gives a meaning of its own; no department, role or
// dataset may take them as its name.
var reservedNames = []string{"provider", "other", access.ProviderDistrict, "class", "dept"}

// wellKnownRoles are the roles the code refers to; the catalog must declare
// them so that code and policy cannot drift apart.
var wellKnownRoles = []string{
	access.RoleAdmin, access.RoleOfficer, access.RoleViewer, access.RoleDispatcher, access.RoleStreetOfficer, access.RoleGridWorker,
	access.RoleSystem, access.RoleAuditor, access.RoleEvaluator, access.RoleCitizenApp, access.RolePublic,
}

// roleStaff is the abstract role every department role inherits; a
// principal holding it acts for its department (Decision.OwnDept).
const roleStaff = "staff"

// reservedActions are the actions the engine asks about itself.
var reservedActions = []string{actRead, actReadMasked, actUseGrant, actRowsAll, actRowsJurisdiction, actRowsDept, actRowsCitizen}

// ParseCatalog parses and validates a catalog (catalog.yaml). Unknown keys,
// duplicates, a field group without a valid class, a personal group without
// masks and every other inconsistency are errors; all problems are reported
// at once, each on its own line.
func ParseCatalog(data []byte) (*access.Catalog, error) {
	var c access.Catalog
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, &PolicyError{File: CatalogFile, Problems: []string{yaml.FormatError(err, false, false)}}
	}
	if problems := validateCatalog(&c); len(problems) > 0 {
		return nil, &PolicyError{File: CatalogFile, Problems: problems}
	}
	return &c, nil
}

// catalogCheck collects the problems of one catalog, section by section, in
// the catalog's order.
type catalogCheck struct {
	c  *access.Catalog
	ps problems
	// seen maps each department code and role name to what claimed it:
	// departments and roles share one namespace in policy lines.
	seen map[string]string
}

func validateCatalog(c *access.Catalog) []string {
	v := &catalogCheck{c: c, seen: map[string]string{}}
	v.checkDistrict()
	v.checkDepartments()
	v.checkRoles()
	v.checkWellKnownRoles()
	v.checkDatasets()
	return v.ps
}

// claim records name as taken by what, or reports the entry that took it.
func (v *catalogCheck) claim(name, what string) {
	if prev, ok := v.seen[name]; ok {
		v.ps.add("%s %q: the name is already used by %s", what, name, prev)
		return
	}
	v.seen[name] = what
}

func (v *catalogCheck) checkDistrict() {
	switch c := v.c; {
	case c.District == "":
		v.ps.add("district: missing (the code of the jurisdiction tree's root, e.g. hailing)")
	case !rules.JurisdictionCode(c.District) || strings.Contains(c.District, "."):
		v.ps.add("district: %q is not a single jurisdiction code such as hailing", c.District)
	}
}

func (v *catalogCheck) checkDepartments() {
	if len(v.c.Departments) == 0 {
		v.ps.add("departments: none declared")
	}
	for i, d := range v.c.Departments {
		switch {
		case d == nil:
			v.ps.add("departments[%d]: empty entry", i)
			continue
		case !namePattern.MatchString(d.Code):
			v.ps.add("departments[%d]: code %q must be lower-case words joined by '-', e.g. urban-management", i, d.Code)
		case slices.Contains(reservedNames, d.Code):
			v.ps.add("departments[%d]: %q is a reserved word in policies and cannot be a department code", i, d.Code)
		case d.Code == v.c.District:
			v.ps.add("departments[%d]: %q is the district's jurisdiction code and cannot be a department code", i, d.Code)
		}
		if !slices.Contains([]string{access.DeptBureau, access.DeptStreet, access.DeptTown, access.DeptUnit}, d.Kind) {
			v.ps.add("department %q: kind %q must be one of bureau, street, town, unit", d.Code, d.Kind)
		}
		v.claim(d.Code, "department")
	}
}

func (v *catalogCheck) checkRoles() {
	for i, r := range v.c.Roles {
		switch {
		case r == nil:
			v.ps.add("roles[%d]: empty entry", i)
			continue
		case !namePattern.MatchString(r.Name):
			v.ps.add("roles[%d]: name %q must be lower-case words joined by '-', e.g. street-officer", i, r.Name)
		case slices.Contains(reservedNames, r.Name):
			v.ps.add("roles[%d]: %q is a reserved word in policies and cannot be a role", i, r.Name)
		}
		v.claim(r.Name, "role")
		if r.Abstract && len(r.Operations) > 0 {
			v.ps.add("role %q: an abstract role is never held, so it cannot be limited to operations", r.Name)
		}
		for _, op := range r.Operations {
			if !operationPattern.MatchString(op) {
				v.ps.add("role %q: operation %q is not a GraphQL field name such as reportIssue", r.Name, op)
			}
		}
	}
}

// checkWellKnownRoles checks that the roles the code names are declared,
// and abstract exactly when only inherited (staff).
func (v *catalogCheck) checkWellKnownRoles() {
	for _, name := range append(slices.Clone(wellKnownRoles), roleStaff) {
		if r, ok := v.c.Role(name); !ok {
			v.ps.add("roles: the role %q is used by the hub's code and must be declared", name)
		} else if r.Abstract != (name == roleStaff) {
			if name == roleStaff {
				v.ps.add("role %q: must be abstract (it is only inherited)", name)
			} else {
				v.ps.add("role %q: principals hold it, so it cannot be abstract", name)
			}
		}
	}
}

func (v *catalogCheck) checkDatasets() {
	if len(v.c.Datasets) == 0 {
		v.ps.add("datasets: none declared")
	}
	datasets := map[string]bool{}
	for i, d := range v.c.Datasets {
		if d == nil {
			v.ps.add("datasets[%d]: empty entry", i)
			continue
		}
		where := fmt.Sprintf("dataset %q", d.Name)
		switch {
		case !namePattern.MatchString(d.Name):
			v.ps.add("datasets[%d]: name %q must be lower-case words joined by '-', e.g. cases", i, d.Name)
		case slices.Contains(reservedNames, d.Name):
			v.ps.add("datasets[%d]: %q is a reserved word in policies and cannot be a dataset", i, d.Name)
		case datasets[d.Name]:
			v.ps.add("%s: declared twice", where)
		}
		datasets[d.Name] = true
		checkProvider(v.c, &v.ps, where, d.Provider, true)
		v.checkActions(where, d)
		v.checkGroups(where, d)
	}
}

// checkActions checks a dataset's own actions: names the engine does not
// ask about itself, each declared once.
func (v *catalogCheck) checkActions(where string, d *access.Dataset) {
	actions := map[string]bool{}
	for _, a := range d.Actions {
		switch {
		case !namePattern.MatchString(a):
			v.ps.add("%s: action %q must be lower-case words joined by '-', e.g. report", where, a)
		case slices.Contains(reservedActions, a) || strings.HasPrefix(a, "rows"):
			v.ps.add("%s: action %q is reserved for the engine", where, a)
		case actions[a]:
			v.ps.add("%s: action %q declared twice", where, a)
		}
		actions[a] = true
	}
}

func (v *catalogCheck) checkGroups(where string, d *access.Dataset) {
	if len(d.Groups) == 0 {
		v.ps.add("%s: no field groups (every dataset has at least its core group)", where)
	}
	groups := map[string]bool{}
	for j, g := range d.Groups {
		if g == nil {
			v.ps.add("%s: groups[%d]: empty entry", where, j)
			continue
		}
		gw := fmt.Sprintf("dataset %q, field group %q", d.Name, g.Name)
		switch {
		case !namePattern.MatchString(g.Name):
			v.ps.add("%s: groups[%d]: name %q must be lower-case words joined by '-', e.g. reporter", where, j, g.Name)
		case groups[g.Name]:
			v.ps.add("%s: declared twice", gw)
		}
		groups[g.Name] = true
		v.checkGroup(gw, g)
	}
}

// checkGroup checks one field group's class, provider, masks and
// suppression; gw names the group in messages.
func (v *catalogCheck) checkGroup(gw string, g *access.FieldGroup) {
	switch {
	case g.Class == "":
		v.ps.add("%s: no sharing class (one of %s)", gw, classList())
	case !slices.Contains(access.SharingClasses(), g.Class):
		v.ps.add("%s: unknown sharing class %q (one of %s)", gw, g.Class, classList())
	}
	if g.Provider != "" {
		checkProvider(v.c, &v.ps, gw, g.Provider, false)
	}
	v.checkMasks(gw, g)
	if g.SuppressBelow < 0 {
		v.ps.add("%s: suppressBelow must not be negative", gw)
	}
}

// checkMasks checks that personal groups, and only they, give each field a
// known masking rule.
func (v *catalogCheck) checkMasks(gw string, g *access.FieldGroup) {
	if g.Class == access.ClassPersonal && len(g.Masks) == 0 {
		v.ps.add("%s: a personal group needs a masking rule for each of its fields (masks: {field: NAME|PHONE|ID_NUMBER|PLATE})", gw)
	}
	if g.Class != access.ClassPersonal && len(g.Masks) > 0 {
		v.ps.add("%s: masks are only for personal groups; this one is %s", gw, g.Class)
	}
	for _, f := range sortedKeys(g.Masks) {
		if !fieldPattern.MatchString(f) {
			v.ps.add("%s: %q is not a field name", gw, f)
		}
		if !slices.Contains(access.MaskRules(), g.Masks[f]) {
			v.ps.add("%s: field %q: unknown masking rule %q (one of %s)", gw, f, g.Masks[f], maskRuleList())
		}
	}
}

func checkProvider(c *access.Catalog, ps *problems, where, provider string, required bool) {
	switch {
	case provider == "" && required:
		ps.add("%s: no provider (a department code, or %q)", where, access.ProviderDistrict)
	case provider == access.ProviderDistrict:
	default:
		if _, ok := c.Department(provider); !ok {
			ps.add("%s: provider %q is not a department declared under departments", where, provider)
		}
	}
}

// checkPrincipalDept describes why dept cannot be a principal's department,
// or returns "" when it can: no department (the public) or a department
// code that no policy placeholder can stand for. A word the policy gives a
// meaning of its own ("provider", "other", "district" — the provider of the
// audit trail —, the district's code) or a name with pattern characters
// ("*", "street-*") would make the policy's placeholders match the
// principal itself. Credentials are checked against the directory before
// they get here; this is the engine's own guarantee.
func checkPrincipalDept(c *access.Catalog, dept string) string {
	switch {
	case dept == "":
		return ""
	case !namePattern.MatchString(dept):
		return fmt.Sprintf("your credential's department %q is not a department code; access is refused", dept)
	case slices.Contains(reservedNames, dept) || dept == c.District:
		return fmt.Sprintf("your credential's department %q is a word the access policy reserves, not a department; access is refused", dept)
	}
	return ""
}

// datasetNames lists the declared datasets, for messages.
func datasetNames(c *access.Catalog) string {
	names := make([]string, 0, len(c.Datasets))
	for _, d := range c.Datasets {
		names = append(names, d.Name)
	}
	return strings.Join(names, ", ")
}

func classList() string {
	classes := access.SharingClasses()
	s := make([]string, len(classes))
	for i, c := range classes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func maskRuleList() string {
	var s []string
	for _, r := range access.MaskRules() {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PolicyError reports everything wrong with the policy files (or with rules
// from the run-time policy store). The engine refuses to start on it, and a
// reload that hits it keeps the policy it had.
type PolicyError struct {
	// File is the file (model.conf, policy.csv, catalog.yaml) or "run-time
	// policy store" the problems were found in.
	File     string
	Problems []string
}

func (e *PolicyError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("access policy: %s: %s", e.File, e.Problems[0])
	}
	return fmt.Sprintf("access policy: %s: %d problems:\n  %s", e.File, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// IsPolicyError reports whether err is (or wraps) a *PolicyError.
func IsPolicyError(err error) bool {
	var pe *PolicyError
	return errors.As(err, &pe)
}

type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }
