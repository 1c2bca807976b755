package evaluation

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
)

// Organisation is a registered third-party evaluation organisation and its
// contract. An assessment is made by an outside organisation, never by one
// of the departments it assesses: evaluator credentials name the
// organisation (access.Principal.Org), and what the organisation may freeze
// and download is bounded by the contract's period and scope.
type Organisation struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// CreditCode is the unified social credit code (统一社会信用代码).
	CreditCode string `json:"creditCode,omitempty"`
	ContractNo string `json:"contractNo"`
	// The contract runs from From (inclusive) to To (exclusive).
	From time.Time `json:"contractFrom"`
	To   time.Time `json:"contractTo"`
	// Datasets are the snapshot datasets the contract covers.
	Datasets []string `json:"datasets"`
	// Jurisdictions are the subtrees the contract covers ("hailing" for the
	// whole district).
	Jurisdictions []string  `json:"jurisdictions"`
	RegisteredBy  string    `json:"registeredBy,omitempty"`
	RegisteredAt  time.Time `json:"registeredAt,omitzero"`
}

var (
	creditCodePattern = regexp.MustCompile(`^[0-9A-HJ-NPQRTUWXY]{18}$`)
)

// Validate checks a registration: BAD_USER_INPUT naming the field.
func (o *Organisation) Validate() error {
	o.Name = strings.TrimSpace(o.Name)
	o.ContractNo = strings.TrimSpace(o.ContractNo)
	switch {
	case !rules.OrgCode(o.Code):
		return apperr.Invalid("code", "an organisation code is 1–64 lower-case letters, digits and '-', such as \"jsu-assess\"")
	case o.Name == "" || len([]rune(o.Name)) > 200:
		return apperr.Invalid("name", "give the organisation's registered name (1–200 characters)")
	case o.CreditCode != "" && !creditCodePattern.MatchString(o.CreditCode):
		return apperr.Invalid("creditCode", "%q is not an 18-character unified social credit code", o.CreditCode)
	case o.ContractNo == "" || len(o.ContractNo) > 100:
		return apperr.Invalid("contractNo", "give the contract number (1–100 characters)")
	case o.From.IsZero() || o.To.IsZero() || !o.To.After(o.From):
		return apperr.Invalid("contractTo", "the contract period needs a start and an end after it")
	case len(o.Datasets) == 0:
		return apperr.Invalid("datasets", "name the datasets the contract covers: %s", strings.Join(SnapshotDatasets(), ", "))
	case len(o.Jurisdictions) == 0:
		return apperr.Invalid("jurisdictions", "name the jurisdictions the contract covers (hailing for the whole district)")
	}
	for _, d := range o.Datasets {
		if !slices.Contains(SnapshotDatasets(), d) {
			return apperr.Invalid("datasets", "unknown dataset %q: snapshots can be made of %s", d, strings.Join(SnapshotDatasets(), ", "))
		}
	}
	for _, j := range o.Jurisdictions {
		if err := rules.Jurisdiction("jurisdictions", j); err != nil {
			return err
		}
	}
	return nil
}

// Covers reports whether jurisdiction lies in the contract's scope: it is
// one of the scope's subtrees or under one. An empty jurisdiction (the
// whole district) is covered only by a district-wide scope.
func (o *Organisation) Covers(jurisdiction string) bool {
	if jurisdiction == "" {
		jurisdiction = districtRoot
	}
	for _, j := range o.Jurisdictions {
		if jurisdiction == j || strings.HasPrefix(jurisdiction, j+".") {
			return true
		}
	}
	return false
}

// districtRoot is the root of the jurisdiction tree.
const districtRoot = "hailing"

// permits returns FORBIDDEN unless at is inside the contract period and
// dataset (when given) and jurisdiction are in its scope.
func (o *Organisation) permits(at time.Time, dataset, jurisdiction string) error {
	if at.Before(o.From) || !at.Before(o.To) {
		return apperr.New(apperr.Forbidden, "the assessment contract %s of %s runs from %s to %s: outside it, assessment datasets can be neither made nor downloaded",
			o.ContractNo, o.Name, o.From.UTC().Format(time.RFC3339), o.To.UTC().Format(time.RFC3339))
	}
	if dataset != "" && !slices.Contains(o.Datasets, dataset) {
		return apperr.New(apperr.Forbidden, "the assessment contract %s of %s covers the datasets %s, not %s",
			o.ContractNo, o.Name, strings.Join(o.Datasets, ", "), dataset)
	}
	if !o.Covers(jurisdiction) {
		j := jurisdiction
		if j == "" {
			j = "the whole district (give filter.jurisdiction)"
		}
		return apperr.New(apperr.Forbidden, "the assessment contract %s of %s covers the jurisdictions %s, not %s",
			o.ContractNo, o.Name, strings.Join(o.Jurisdictions, ", "), j)
	}
	return nil
}

// OrgRef is how a manifest names the organisation a snapshot was made for.
type OrgRef struct {
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	CreditCode   string    `json:"creditCode,omitempty"`
	ContractNo   string    `json:"contractNo"`
	ContractFrom time.Time `json:"contractFrom"`
	ContractTo   time.Time `json:"contractTo"`
}

func (o *Organisation) ref() *OrgRef {
	return &OrgRef{Code: o.Code, Name: o.Name, CreditCode: o.CreditCode, ContractNo: o.ContractNo,
		ContractFrom: o.From.UTC(), ContractTo: o.To.UTC()}
}

// organisation returns the registered organisation of an evaluator
// principal: FORBIDDEN when the credential names none or one that is not
// registered. Principals without the evaluator role whom the policy lets
// read snapshots (the command centre's administrators) act for the
// district itself: nil, no contract applies.
func (s *Service) organisation(ctx context.Context) (*Organisation, error) {
	p := access.PrincipalFrom(ctx)
	if !p.HasRole(access.RoleEvaluator) && p.Org == "" {
		return nil, nil
	}
	if p.Org == "" {
		return nil, apperr.New(apperr.Forbidden, "evaluator credentials must belong to a registered evaluation organisation; this one names none: ask for a key issued to your organisation")
	}
	o, err := s.store.Organisation(ctx, p.Org)
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.New(apperr.Forbidden, "the organisation %q your credential names is not registered as an evaluation organisation", p.Org)
	}
	if err != nil {
		return nil, fmt.Errorf("evaluation organisation %s: %w", p.Org, err)
	}
	return o, nil
}

// RegisterOrganisation registers (or updates: a renewed contract) an
// evaluation organisation. It is an operator task (`datahub evalorg`): no
// principal is checked. BAD_USER_INPUT for an invalid registration or a
// code that is a department's.
func (s *Service) RegisterOrganisation(ctx context.Context, o Organisation) (*Organisation, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.From, o.To = o.From.UTC().Truncate(time.Microsecond), o.To.UTC().Truncate(time.Microsecond)
	if o.RegisteredBy == "" {
		o.RegisteredBy = access.PrincipalFrom(ctx).Actor()
	}
	if err := s.store.RegisterOrganisation(ctx, &o); err != nil {
		return nil, err
	}
	return &o, nil
}
