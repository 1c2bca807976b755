package policy

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/util"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/rules"
)

// The policy files, as named in the policy directory.
const (
	ModelFile   = "model.conf"
	PolicyFile  = "policy.csv"
	CatalogFile = "catalog.yaml"
)

// runtimeStore names the run-time policy store (the extra adapter) in
// messages.
const runtimeStore = "run-time policy store"

// Rule types of model.conf.
const (
	ptypeRule     = "p"               // baseline and run-time rules
	ptypeGrant    = access.GrantPType // approved grants
	ptypeRole     = "g"               // role inheritance within a department
	ptypeClass    = "g2"              // field group -> sharing class (generated)
	ptypeProvider = "g3"              // dataset or field group -> provider (generated)
)

// Actions the engine asks the policy about.
const (
	actRead             = "read"
	actReadMasked       = "read-masked"
	actUseGrant         = "use-grant"
	actRowsAll          = "rows:all"
	actRowsJurisdiction = "rows:jurisdiction"
	actRowsDept         = "rows:dept"
	actRowsCitizen      = "rows:citizen"
)

// Special values of a p rule's department field.
const (
	domAny      = "*"
	domProvider = "provider"
	domOther    = "other"
)

const classPrefix = "class:"

// rule is one policy line with where it came from, for messages.
type rule struct {
	ptype  string
	fields []string
	where  string // "line 12" in policy.csv; "" for the run-time store
}

func (r rule) String() string { return r.ptype + ", " + strings.Join(r.fields, ", ") }

// modelTokens are the request and policy tokens the engine relies on.
var modelTokens = map[string][]string{
	"r":  {"r_sub", "r_dom", "r_obj", "r_act"},
	"p":  {"p_sub", "p_dom", "p_obj", "p_act", "p_eft"},
	"p2": {"p2_sub", "p2_obj", "p2_jur", "p2_until", "p2_id", "p2_purpose"},
}

// roleArity is the number of arguments of each role definition.
var roleArity = map[string]int{ptypeRole: 3, ptypeClass: 2, ptypeProvider: 2}

// parseModel parses model.conf and checks it defines what the engine asks:
// the request and policy shapes above, g with domains, g2, g3, an effect
// and a matcher.
func parseModel(text string) (model.Model, error) {
	m, err := model.NewModelFromString(text)
	if err != nil {
		return nil, &PolicyError{File: ModelFile, Problems: []string{err.Error()}}
	}
	var ps problems
	for _, key := range []string{"r", "p", "p2"} {
		sec := key[:1]
		ast, ok := m[sec][key]
		if !ok {
			ps.add("%s is not defined; the engine needs %s = %s", key, key, strings.Join(untoken(modelTokens[key]), ", "))
			continue
		}
		if !slices.Equal(ast.Tokens, modelTokens[key]) {
			ps.add("%s = %s; the engine needs %s = %s", key, strings.Join(untoken(ast.Tokens), ", "), key, strings.Join(untoken(modelTokens[key]), ", "))
		}
	}
	for _, key := range []string{ptypeRole, ptypeClass, ptypeProvider} {
		ast, ok := m["g"][key]
		if !ok {
			ps.add("role definition %s is not defined; the engine needs %s = %s", key, key, strings.TrimSuffix(strings.Repeat("_, ", roleArity[key]), ", "))
			continue
		}
		if n := strings.Count(ast.Value, "_"); n != roleArity[key] {
			ps.add("role definition %s takes %d arguments; the engine needs %d", key, n, roleArity[key])
		}
	}
	if _, ok := m["e"]["e"]; !ok {
		ps.add("policy_effect e is not defined")
	}
	if ast, ok := m["m"]["m"]; !ok {
		ps.add("matcher m is not defined")
	} else if !strings.Contains(ast.Value, "anyRole(") {
		ps.add("matcher m must use anyRole(r.sub, p.sub, r.dom): the request subject is the principal's roles joined by \"|\"")
	}
	if len(ps) > 0 {
		return nil, &PolicyError{File: ModelFile, Problems: ps}
	}
	return m, nil
}

func untoken(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		_, out[i], _ = strings.Cut(t, "_")
	}
	return out
}

// parsePolicyCSV reads policy.csv: one rule a line, fields separated by
// commas (quotes allowed), '#' starts a comment line.
func parsePolicyCSV(data []byte) ([]rule, error) {
	var rules []rule
	var ps problems
	for i, line := range bytes.Split(data, []byte("\n")) {
		where := fmt.Sprintf("line %d", i+1)
		text := strings.TrimSpace(string(line))
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		r := csv.NewReader(strings.NewReader(text))
		r.TrimLeadingSpace = true
		r.FieldsPerRecord = -1
		fields, err := r.Read()
		if err != nil && !errors.Is(err, io.EOF) {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				ps.add("%s, column %d: %v", where, pe.Column, pe.Err)
			} else {
				ps.add("%s: %v", where, err)
			}
			continue
		}
		for j := range fields {
			fields[j] = strings.TrimSpace(fields[j])
		}
		if len(fields) < 2 {
			ps.add("%s: %q is not a rule (ptype, field, …)", where, text)
			continue
		}
		rules = append(rules, rule{ptype: fields[0], fields: fields[1:], where: where})
	}
	if len(ps) > 0 {
		return nil, &PolicyError{File: PolicyFile, Problems: ps}
	}
	return rules, nil
}

// validator checks rules against the catalog.
type validator struct {
	cat *access.Catalog
}

// checkFileRule checks a rule of policy.csv.
func (v validator) checkFileRule(r rule, ps *problems) {
	switch r.ptype {
	case ptypeClass, ptypeProvider:
		ps.add("%s: %s lines are generated from %s; declare the class or provider there instead", r.where, r.ptype, CatalogFile)
	case ptypeGrant:
		ps.add("%s: grants (%s) belong in the run-time policy store, where the grants workflow adds, expires and revokes them; a standing agreement is a p rule", r.where, r.ptype)
	default:
		v.checkRule(r, ps)
	}
}

// checkRule checks a p, g or p2 rule.
func (v validator) checkRule(r rule, ps *problems) {
	bad := func(format string, args ...any) {
		msg := r.String() + ": " + fmt.Sprintf(format, args...)
		if r.where != "" {
			msg = r.where + ": " + msg
		}
		ps.add("%s", msg)
	}
	switch r.ptype {
	case ptypeRule:
		if len(r.fields) != 5 {
			bad("a p rule has 5 fields (role, department, object, action, allow|deny), not %d", len(r.fields))
			return
		}
		sub, dom, obj, act, eft := r.fields[0], r.fields[1], r.fields[2], r.fields[3], r.fields[4]
		if _, ok := v.cat.Role(sub); !ok {
			bad("unknown role %q (declare it under roles in %s)", sub, CatalogFile)
		}
		if dom != domProvider && dom != domOther {
			if msg := v.checkDomain(dom); msg != "" {
				bad("%s", msg)
			}
		}
		ds, groupObj, msg := v.checkObject(obj)
		if msg != "" {
			bad("%s", msg)
		}
		switch {
		case act == "*":
		case act == actRead || act == actReadMasked || act == actUseGrant:
			if msg == "" && !groupObj && obj != "*" {
				bad("%s applies to field groups: write %s/* or %s/<group>", act, obj, obj)
			}
		case act == "rows:*" || slices.Contains([]string{actRowsAll, actRowsJurisdiction, actRowsDept, actRowsCitizen}, act):
			if msg == "" && groupObj {
				bad("%s applies to datasets, not field groups: write the dataset name alone", act)
			}
		default:
			if msg == "" && groupObj {
				bad("the action %q applies to datasets, not field groups: write the dataset name alone", act)
			} else if !v.declaresAction(ds, act) {
				if ds != nil {
					bad("unknown action %q for dataset %q (it declares: %s; the engine asks read, read-masked, use-grant, rows:all, rows:jurisdiction, rows:dept, rows:citizen)", act, ds.Name, strings.Join(ds.Actions, ", "))
				} else {
					bad("unknown action %q (no dataset declares it; the engine asks read, read-masked, use-grant, rows:all, rows:jurisdiction, rows:dept, rows:citizen)", act)
				}
			}
		}
		if eft != "allow" && eft != "deny" {
			bad("the effect must be allow or deny, not %q", eft)
		}

	case ptypeRole:
		if len(r.fields) != 3 {
			bad("a g rule has 3 fields (role, inherited role, department), not %d", len(r.fields))
			return
		}
		for _, name := range r.fields[:2] {
			if _, ok := v.cat.Role(name); !ok {
				bad("unknown role %q (declare it under roles in %s)", name, CatalogFile)
			}
		}
		if r.fields[0] == r.fields[1] {
			bad("a role cannot inherit itself")
		}
		if msg := v.checkDomain(r.fields[2]); msg != "" {
			bad("%s", msg)
		}

	case ptypeGrant:
		if _, err := v.parseGrantRule(r.fields); err != nil {
			bad("%v", err)
		}

	default:
		bad("unknown rule type %q (p, g, or p2 for grants)", r.ptype)
	}
}

// checkDomain checks the department field of a p or g rule: *, a declared
// department, or a pattern matching at least one.
func (v validator) checkDomain(dom string) string {
	switch {
	case dom == domAny:
		return ""
	case strings.Contains(dom, "*"):
		for _, d := range v.cat.Departments {
			if util.KeyMatch(d.Code, dom) {
				return ""
			}
		}
		return fmt.Sprintf("the department pattern %q matches no department in %s", dom, CatalogFile)
	default:
		if _, ok := v.cat.Department(dom); !ok {
			return fmt.Sprintf("unknown department %q (declare it under departments in %s, or write *, provider or other)", dom, CatalogFile)
		}
		return ""
	}
}

// checkObject checks a p rule's object and says which dataset it names (nil
// for * and classes) and whether it names field groups only (* names
// datasets and groups alike).
func (v validator) checkObject(obj string) (ds *access.Dataset, groups bool, msg string) {
	switch {
	case obj == "*":
		return nil, false, ""
	case strings.HasPrefix(obj, classPrefix):
		c := access.SharingClass(strings.TrimPrefix(obj, classPrefix))
		if !slices.Contains(access.SharingClasses(), c) {
			return nil, true, fmt.Sprintf("unknown sharing class %q (one of %s)", c, classList())
		}
		return nil, true, ""
	}
	name, group, hasGroup := strings.Cut(obj, "/")
	ds, ok := v.cat.Dataset(name)
	if !ok {
		return nil, hasGroup, fmt.Sprintf("unknown dataset %q (the catalog declares %s)", name, datasetNames(v.cat))
	}
	if !hasGroup {
		return ds, false, ""
	}
	if group == "*" {
		return ds, true, ""
	}
	if _, ok := ds.Group(group); !ok {
		return ds, true, fmt.Sprintf("unknown field group %q of dataset %q (it has %s)", group, name, groupNames(ds))
	}
	return ds, true, ""
}

func (v validator) declaresAction(ds *access.Dataset, act string) bool {
	if ds != nil {
		return slices.Contains(ds.Actions, act)
	}
	for _, d := range v.cat.Datasets {
		if slices.Contains(d.Actions, act) {
			return true
		}
	}
	return false
}

func groupNames(ds *access.Dataset) string {
	names := make([]string, len(ds.Groups))
	for i, g := range ds.Groups {
		names[i] = g.Name
	}
	return strings.Join(names, ", ")
}

// grantLine is one parsed grant rule: one field group of one grant.
type grantLine struct {
	dept, dataset, group string
	jurisdiction         string
	until                time.Time
	id, purpose          string
	fields               []string // as stored, for removal
}

const maxPurposeLen = 500

// parseGrantRule parses and checks the fields of a p2 rule.
func (v validator) parseGrantRule(f []string) (grantLine, error) {
	if len(f) != 6 {
		return grantLine{}, fmt.Errorf("a grant has 6 fields (dept:<grantee>, <dataset>/<group>, <jurisdiction>, <until>, <grant id>, <purpose>), not %d", len(f))
	}
	g := grantLine{fields: slices.Clone(f), jurisdiction: f[2], id: f[4], purpose: f[5]}
	dept, ok := strings.CutPrefix(f[0], access.GrantSubjectPrefix)
	if !ok {
		return g, fmt.Errorf("the grantee %q must be written dept:<department>", f[0])
	}
	if _, ok := v.cat.Department(dept); !ok {
		return g, fmt.Errorf("unknown grantee department %q", dept)
	}
	g.dept = dept
	name, group, ok := strings.Cut(f[1], "/")
	if !ok {
		return g, fmt.Errorf("a grant names one field group: write %s/<group>", f[1])
	}
	ds, ok := v.cat.Dataset(name)
	if !ok {
		return g, fmt.Errorf("unknown dataset %q (the catalog declares %s)", name, datasetNames(v.cat))
	}
	fg, ok := ds.Group(group)
	if !ok {
		return g, fmt.Errorf("unknown field group %q of dataset %q (it has %s)", group, name, groupNames(ds))
	}
	if fg.Class != access.ClassConditional && fg.Class != access.ClassPersonal {
		return g, fmt.Errorf("field group %s/%s is %s: only conditional and personal groups are granted", name, group, fg.Class)
	}
	if ds.ProviderOf(fg) == dept {
		return g, fmt.Errorf("%s provides %s/%s and needs no grant for it", dept, name, group)
	}
	g.dataset, g.group = name, group
	if err := v.checkJurisdiction(g.jurisdiction); err != nil {
		return g, err
	}
	until, err := time.Parse(time.RFC3339, f[3])
	if err != nil {
		return g, fmt.Errorf("until %q is not an RFC 3339 time such as 2026-06-30T16:00:00Z", f[3])
	}
	g.until = until
	if !validGrantID(g.id) {
		return g, fmt.Errorf("grant id %q must be 1–64 characters of A–Z, a–z, 0–9, '_', '-', '.', ':'", g.id)
	}
	if msg := checkPurpose(g.purpose); msg != "" {
		return g, errors.New(msg)
	}
	return g, nil
}

func (v validator) checkJurisdiction(code string) error {
	if !rules.JurisdictionCode(code) || (code != v.cat.District && !strings.HasPrefix(code, v.cat.District+".")) {
		return fmt.Errorf("jurisdiction %q must be a dotted jurisdiction code within %q, such as %s.chengdong", code, v.cat.District, v.cat.District)
	}
	return nil
}

func validGrantID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func checkPurpose(p string) string {
	switch {
	case strings.TrimSpace(p) == "":
		return "a grant must state its purpose"
	case !utf8.ValidString(p) || utf8.RuneCountInString(p) > maxPurposeLen:
		return fmt.Sprintf("the purpose must be valid text of at most %d characters", maxPurposeLen)
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return "the purpose must be one line without control characters"
	}
	return ""
}

// generatedRules are the g2 and g3 lines derived from the catalog: each
// field group's sharing class and each dataset's and group's provider.
func generatedRules(c *access.Catalog) []rule {
	where := CatalogFile
	rules := []rule{{ptype: ptypeClass, fields: []string{classPrefix + string(access.ClassPublic), classPrefix + string(access.ClassUnconditional)}, where: where}}
	for _, d := range c.Datasets {
		rules = append(rules, rule{ptype: ptypeProvider, fields: []string{d.Name, d.Provider}, where: where})
		for _, g := range d.Groups {
			obj := d.Name + "/" + g.Name
			rules = append(rules,
				rule{ptype: ptypeClass, fields: []string{obj, classPrefix + string(g.Class)}, where: where},
				rule{ptype: ptypeProvider, fields: []string{obj, d.ProviderOf(g)}, where: where})
		}
	}
	return rules
}
