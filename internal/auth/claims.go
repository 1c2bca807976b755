// Package auth turns credentials into an access.Principal: staff JWTs
// (Verifier), API keys for department systems, the citizen-app backend and
// evaluation teams (APIKeys), and the HTTP / WebSocket entry points that pick
// between them (Authenticator). It decides who is calling, never what they
// may see: that is internal/access.
//
// Every refusal is an *apperr.Error with code UNAUTHENTICATED and a message
// the caller can act on; the underlying library error stays in the chain for
// logs only.
package auth

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
)

// Defaults shared by tokens and API keys.
const (
	// IssuerDefault is the iss of tokens the hub mints and expects when
	// VerifierConfig.Issuer is empty.
	IssuerDefault = "fengcheng-datahub"
	// AudienceDefault is the aud of tokens the hub mints and expects when
	// VerifierConfig.Audience is empty.
	AudienceDefault = "datahub"
	// JurisdictionDefault is the district root: the jurisdiction of a token
	// without a jur claim and of an API key created without one. Every
	// jurisdiction a credential names must be this code or lie under it.
	JurisdictionDefault = "hailing"
)

// Formats of the identity parts a credential carries. Departments and
// jurisdictions use the same patterns as the departments and jurisdictions
// tables, so a principal can never name something the database could not
// hold.
var (
	rolePattern      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
	citizenIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

const (
	maxRoles           = 32
	maxJurisdictionLen = 200
	maxSubjectLen      = 200
)

func unauthenticated(format string, args ...any) *apperr.Error {
	return apperr.New(apperr.Unauthenticated, format, args...)
}

// checkDept, checkRoles and checkJurisdiction return a plain description of
// what is wrong (empty when fine) so that tokens and API key creation can
// each wrap it in their own error code.

func checkDept(dept string) string {
	if dept == "" {
		return "department is missing"
	}
	if !rules.DeptCode(dept) {
		return "department must be a department code such as \"urban-management\" (lower-case letters, digits and '-')"
	}
	return ""
}

// checkOrg describes what is wrong with the organisation a credential
// names (empty when fine). Evaluator credentials belong to a registered
// third-party evaluation organisation, never to one of the departments it
// evaluates: a credential with the evaluator role names an organisation
// and no department, holds no other role, and a credential naming an
// organisation is an evaluator's. Whether the organisation is registered,
// and its contract, the evaluation service checks on every snapshot.
func checkOrg(org, dept string, roles []string) string {
	evaluator := slices.Contains(roles, access.RoleEvaluator)
	switch {
	case org == "" && evaluator:
		return "evaluator credentials belong to a registered evaluation organisation: name the organisation (org), not a department"
	case org == "":
		return ""
	case !rules.OrgCode(org):
		return "the organisation must be an organisation code such as \"jsu-assess\" (lower-case letters, digits and '-')"
	case dept != "":
		return "an evaluation organisation's credential names no department: the organisation is not one of the departments it evaluates"
	case !evaluator || len(roles) != 1:
		return "an evaluation organisation's credential holds the evaluator role and no other"
	}
	return ""
}

func checkRoles(roles []string) string {
	if len(roles) > maxRoles {
		return "too many roles"
	}
	for _, r := range roles {
		if !rolePattern.MatchString(r) {
			return "role names must be lower-case words joined by '-', such as \"street-officer\""
		}
	}
	return ""
}

func checkJurisdiction(code string) string {
	if len(code) > maxJurisdictionLen || !rules.JurisdictionCode(code) {
		return "jurisdiction must be a dotted jurisdiction code such as \"hailing.chengdong\""
	}
	if code != JurisdictionDefault && !strings.HasPrefix(code, JurisdictionDefault+".") {
		return "jurisdiction must lie within the district \"" + JurisdictionDefault + "\""
	}
	return ""
}

// HoldableRoles returns the roles of cat a credential may hold: every role
// that is not abstract (abstract roles exist only to be inherited in the
// policy), in catalog order.
func HoldableRoles(cat *access.Catalog) []string {
	var out []string
	for _, r := range cat.Roles {
		if !r.Abstract {
			out = append(out, r.Name)
		}
	}
	return out
}

// CheckKnownRoles returns a plain description of the first of roles that is
// not among known, listing the known ones, or "" when every role is known.
// A role the policy does not know grants nothing: its holder would see empty
// lists without being told why.
func CheckKnownRoles(roles, known []string) string {
	for _, r := range roles {
		if !slices.Contains(known, r) {
			return fmt.Sprintf("unknown role %q; the roles are: %s", r, strings.Join(known, ", "))
		}
	}
	return ""
}

// CheckKnownDept returns a plain description of what is wrong when dept is
// not among the known department codes, listing them, or "" when it is.
func CheckKnownDept(dept string, known []string) string {
	if slices.Contains(known, dept) {
		return ""
	}
	if len(known) == 0 {
		return fmt.Sprintf("unknown department %q: the directory holds no departments yet (datahub seed loads it)", dept)
	}
	return fmt.Sprintf("unknown department %q; the departments are: %s", dept, strings.Join(known, ", "))
}

// UnknownJurisdiction describes a jurisdiction code the tree does not hold.
// The tree has hundreds of codes, too many to list.
func UnknownJurisdiction(code string) string {
	return fmt.Sprintf("unknown jurisdiction %q: give a code of the jurisdiction tree such as %s.chengdong", code, JurisdictionDefault)
}

// ValidCitizenID reports whether id is an acceptable citizen id: 1–64
// characters from [A-Za-z0-9_-]. The hub stores it as given; the citizen-app
// backend chooses its ids.
func ValidCitizenID(id string) bool { return citizenIDPattern.MatchString(id) }

func validSubject(sub string) bool {
	if sub == "" || len(sub) > maxSubjectLen {
		return false
	}
	for _, r := range sub {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
