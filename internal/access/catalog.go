package access

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/fengcheng/datahub/internal/rules"
	"github.com/goccy/go-yaml"
)

// SharingClass is how a field group may be shared, after the national rules
// for government data sharing.
type SharingClass string

// Sharing classes.
const (
	// ClassPublic groups are for everyone: citizens, the anonymous public
	// and every department.
	ClassPublic SharingClass = "public"
	// ClassUnconditional groups (无条件共享) are for every department.
	ClassUnconditional SharingClass = "unconditional"
	// ClassConditional groups (有条件共享) are for the provider, and for other
	// departments only with an approved grant.
	ClassConditional SharingClass = "conditional"
	// ClassNotShared groups (不予共享) are for the provider only, and for roles
	// the policy names explicitly.
	ClassNotShared SharingClass = "not-shared"
	// ClassPersonal groups hold personal data: the provider sees them; other
	// departments see them masked unless a grant names the group.
	ClassPersonal SharingClass = "personal"
)

var sharingClasses = []SharingClass{ClassPublic, ClassUnconditional, ClassConditional, ClassNotShared, ClassPersonal}

// ProviderDistrict as a provider means no department provides the data: the
// hub keeps it for the district government (audit trail, evaluation). Only
// roles the policy names explicitly read such data.
const ProviderDistrict = "district"

// Department kinds in the catalog.
const (
	DeptBureau = "bureau"
	DeptStreet = "street"
	DeptTown   = "town"
	DeptUnit   = "unit"
)

// Catalog is the government information resource catalog (政务信息资源目录)
// of policies/catalog.yaml: departments, roles and every dataset with its
// field groups. It is read-only once loaded.
type Catalog struct {
	// District is the code of the jurisdiction tree's root, e.g. "hailing".
	District    string        `yaml:"district"`
	Departments []*Department `yaml:"departments"`
	Roles       []*Role       `yaml:"roles"`
	Datasets    []*Dataset    `yaml:"datasets"`
}

// Department is a provider or user of shared data.
type Department struct {
	Code string `yaml:"code"`
	Kind string `yaml:"kind"` // bureau, street, town or unit
	Name string `yaml:"name"`
}

// Role is a role a principal can hold, or (Abstract) one that exists only to
// be inherited in the policy.
type Role struct {
	Name     string `yaml:"name"`
	About    string `yaml:"about"`
	Abstract bool   `yaml:"abstract"`
	// Operations, when set, are the only GraphQL mutations a principal
	// holding the role may call (Engine.CheckOperation).
	Operations []string `yaml:"operations"`
}

// Dataset is one shared dataset.
type Dataset struct {
	Name string `yaml:"name"`
	// Provider is the department code that provides the dataset (its rows),
	// or ProviderDistrict.
	Provider string `yaml:"provider"`
	About    string `yaml:"about"`
	// Actions are the dataset-level actions the policy may allow besides
	// reading (e.g. "report", "command", "handle").
	Actions []string      `yaml:"actions"`
	Groups  []*FieldGroup `yaml:"groups"`
}

// FieldGroup is a set of fields shared under one class.
type FieldGroup struct {
	Name  string       `yaml:"name"`
	Class SharingClass `yaml:"class"`
	// Provider is set when another department than the dataset's provides
	// the group (e.g. planning provides the permit status of a violation).
	// Use ProviderOf for the effective provider.
	Provider string `yaml:"provider"`
	About    string `yaml:"about"`
	// Masks maps each field of a personal group to its masking rule.
	Masks map[string]MaskRule `yaml:"masks"`
	// SuppressBelow, when positive, asks aggregates over the group to
	// suppress cells counting fewer rows than this (small-cell suppression).
	SuppressBelow int `yaml:"suppressBelow"`
}

// Dataset returns the dataset with the given name.
func (c *Catalog) Dataset(name string) (*Dataset, bool) {
	for _, d := range c.Datasets {
		if d.Name == name {
			return d, true
		}
	}
	return nil, false
}

// Department returns the department with the given code.
func (c *Catalog) Department(code string) (*Department, bool) {
	for _, d := range c.Departments {
		if d.Code == code {
			return d, true
		}
	}
	return nil, false
}

// Role returns the role with the given name.
func (c *Catalog) Role(name string) (*Role, bool) {
	for _, r := range c.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// Group returns the field group with the given name.
func (d *Dataset) Group(name string) (*FieldGroup, bool) {
	for _, g := range d.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return nil, false
}

// ProviderOf returns the department that provides group g of d: the group's
// own provider when set, else the dataset's.
func (d *Dataset) ProviderOf(g *FieldGroup) string {
	if g.Provider != "" {
		return g.Provider
	}
	return d.Provider
}

// Mask returns the masking rule of a field of a personal group.
func (g *FieldGroup) Mask(field string) (MaskRule, bool) {
	r, ok := g.Masks[field]
	return r, ok
}

var (
	namePattern      = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	fieldPattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	operationPattern = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
)

// Words the policy gives a meaning of its own; no department, role or
// dataset may take them as its name.
var reservedNames = []string{"provider", "other", ProviderDistrict, "class", "dept"}

// wellKnownRoles are the roles the code refers to; the catalog must declare
// them so that code and policy cannot drift apart.
var wellKnownRoles = []string{
	RoleAdmin, RoleOfficer, RoleViewer, RoleDispatcher, RoleStreetOfficer, RoleGridWorker,
	RoleSystem, RoleAuditor, RoleEvaluator, RoleCitizenApp, RolePublic,
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
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, &PolicyError{File: CatalogFile, Problems: []string{yaml.FormatError(err, false, false)}}
	}
	if problems := c.validate(); len(problems) > 0 {
		return nil, &PolicyError{File: CatalogFile, Problems: problems}
	}
	return &c, nil
}

func (c *Catalog) validate() []string { //nolint:gocognit // one check per rule, in the catalog's order; to be split by section
	var ps problems
	switch {
	case c.District == "":
		ps.add("district: missing (the code of the jurisdiction tree's root, e.g. hailing)")
	case !rules.JurisdictionCode(c.District) || strings.Contains(c.District, "."):
		ps.add("district: %q is not a single jurisdiction code such as hailing", c.District)
	}

	if len(c.Departments) == 0 {
		ps.add("departments: none declared")
	}
	seen := map[string]string{}
	claim := func(name, what string) {
		if prev, ok := seen[name]; ok {
			ps.add("%s %q: the name is already used by %s", what, name, prev)
			return
		}
		seen[name] = what
	}
	for i, d := range c.Departments {
		switch {
		case d == nil:
			ps.add("departments[%d]: empty entry", i)
			continue
		case !namePattern.MatchString(d.Code):
			ps.add("departments[%d]: code %q must be lower-case words joined by '-', e.g. urban-management", i, d.Code)
		case slices.Contains(reservedNames, d.Code):
			ps.add("departments[%d]: %q is a reserved word in policies and cannot be a department code", i, d.Code)
		case d.Code == c.District:
			ps.add("departments[%d]: %q is the district's jurisdiction code and cannot be a department code", i, d.Code)
		}
		if !slices.Contains([]string{DeptBureau, DeptStreet, DeptTown, DeptUnit}, d.Kind) {
			ps.add("department %q: kind %q must be one of bureau, street, town, unit", d.Code, d.Kind)
		}
		claim(d.Code, "department")
	}

	for i, r := range c.Roles {
		switch {
		case r == nil:
			ps.add("roles[%d]: empty entry", i)
			continue
		case !namePattern.MatchString(r.Name):
			ps.add("roles[%d]: name %q must be lower-case words joined by '-', e.g. street-officer", i, r.Name)
		case slices.Contains(reservedNames, r.Name):
			ps.add("roles[%d]: %q is a reserved word in policies and cannot be a role", i, r.Name)
		}
		claim(r.Name, "role")
		if r.Abstract && len(r.Operations) > 0 {
			ps.add("role %q: an abstract role is never held, so it cannot be limited to operations", r.Name)
		}
		for _, op := range r.Operations {
			if !operationPattern.MatchString(op) {
				ps.add("role %q: operation %q is not a GraphQL field name such as reportIssue", r.Name, op)
			}
		}
	}
	for _, name := range append(slices.Clone(wellKnownRoles), roleStaff) {
		if r, ok := c.Role(name); !ok {
			ps.add("roles: the role %q is used by the hub's code and must be declared", name)
		} else if r.Abstract != (name == roleStaff) {
			if name == roleStaff {
				ps.add("role %q: must be abstract (it is only inherited)", name)
			} else {
				ps.add("role %q: principals hold it, so it cannot be abstract", name)
			}
		}
	}

	if len(c.Datasets) == 0 {
		ps.add("datasets: none declared")
	}
	datasets := map[string]bool{}
	for i, d := range c.Datasets {
		if d == nil {
			ps.add("datasets[%d]: empty entry", i)
			continue
		}
		where := fmt.Sprintf("dataset %q", d.Name)
		switch {
		case !namePattern.MatchString(d.Name):
			ps.add("datasets[%d]: name %q must be lower-case words joined by '-', e.g. cases", i, d.Name)
		case slices.Contains(reservedNames, d.Name):
			ps.add("datasets[%d]: %q is a reserved word in policies and cannot be a dataset", i, d.Name)
		case datasets[d.Name]:
			ps.add("%s: declared twice", where)
		}
		datasets[d.Name] = true
		c.checkProvider(&ps, where, d.Provider, true)
		actions := map[string]bool{}
		for _, a := range d.Actions {
			switch {
			case !namePattern.MatchString(a):
				ps.add("%s: action %q must be lower-case words joined by '-', e.g. report", where, a)
			case slices.Contains(reservedActions, a) || strings.HasPrefix(a, "rows"):
				ps.add("%s: action %q is reserved for the engine", where, a)
			case actions[a]:
				ps.add("%s: action %q declared twice", where, a)
			}
			actions[a] = true
		}
		if len(d.Groups) == 0 {
			ps.add("%s: no field groups (every dataset has at least its core group)", where)
		}
		groups := map[string]bool{}
		for j, g := range d.Groups {
			if g == nil {
				ps.add("%s: groups[%d]: empty entry", where, j)
				continue
			}
			gw := fmt.Sprintf("dataset %q, field group %q", d.Name, g.Name)
			switch {
			case !namePattern.MatchString(g.Name):
				ps.add("%s: groups[%d]: name %q must be lower-case words joined by '-', e.g. reporter", where, j, g.Name)
			case groups[g.Name]:
				ps.add("%s: declared twice", gw)
			}
			groups[g.Name] = true
			switch {
			case g.Class == "":
				ps.add("%s: no sharing class (one of %s)", gw, classList())
			case !slices.Contains(sharingClasses, g.Class):
				ps.add("%s: unknown sharing class %q (one of %s)", gw, g.Class, classList())
			}
			if g.Provider != "" {
				c.checkProvider(&ps, gw, g.Provider, false)
			}
			if g.Class == ClassPersonal && len(g.Masks) == 0 {
				ps.add("%s: a personal group needs a masking rule for each of its fields (masks: {field: NAME|PHONE|ID_NUMBER|PLATE})", gw)
			}
			if g.Class != ClassPersonal && len(g.Masks) > 0 {
				ps.add("%s: masks are only for personal groups; this one is %s", gw, g.Class)
			}
			for _, f := range sortedKeys(g.Masks) {
				if !fieldPattern.MatchString(f) {
					ps.add("%s: %q is not a field name", gw, f)
				}
				if !slices.Contains(MaskRules(), g.Masks[f]) {
					ps.add("%s: field %q: unknown masking rule %q (one of %s)", gw, f, g.Masks[f], maskRuleList())
				}
			}
			if g.SuppressBelow < 0 {
				ps.add("%s: suppressBelow must not be negative", gw)
			}
		}
	}
	return ps
}

func (c *Catalog) checkProvider(ps *problems, where, provider string, required bool) {
	switch {
	case provider == "" && required:
		ps.add("%s: no provider (a department code, or %q)", where, ProviderDistrict)
	case provider == ProviderDistrict:
	default:
		if _, ok := c.Department(provider); !ok {
			ps.add("%s: provider %q is not a department declared under departments", where, provider)
		}
	}
}

// CheckPrincipalDept describes why dept cannot be a principal's department,
// or returns "" when it can: no department (the public) or a department
// code that no policy placeholder can stand for. A word the policy gives a
// meaning of its own ("provider", "other", "district" — the provider of the
// audit trail —, the district's code) or a name with pattern characters
// ("*", "street-*") would make the policy's placeholders match the
// principal itself. Credentials are checked against the directory before
// they get here; this is the engine's own guarantee.
func (c *Catalog) CheckPrincipalDept(dept string) string {
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
func (c *Catalog) datasetNames() string {
	names := make([]string, 0, len(c.Datasets))
	for _, d := range c.Datasets {
		names = append(names, d.Name)
	}
	return strings.Join(names, ", ")
}

func classList() string {
	s := make([]string, len(sharingClasses))
	for i, c := range sharingClasses {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func maskRuleList() string {
	var s []string
	for _, r := range MaskRules() {
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
