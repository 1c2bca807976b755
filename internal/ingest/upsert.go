package ingest

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
)

// UpsertCaseInput is one case as a department system sends it. With the
// caller's department, ExternalID identifies the case.
type UpsertCaseInput struct {
	ExternalID string
	// Version, when set, must equal the stored version for a change to be
	// written (optimistic concurrency); 0 means "create only". Re-sending
	// unchanged content is never a conflict, so a retried request whose
	// answer was lost is harmless.
	Version     *int
	Kind        cases.Kind
	MinorCode   string
	Source      cases.Source
	Description string
	Address     string
	Lat, Lng    float64
	// Jurisdiction is optional: when empty the case is filed under the
	// grid nearest the point.
	Jurisdiction  string
	ReporterName  string
	ReporterPhone string
	// ReportedAt is optional: a new case is then reported now, an existing
	// one keeps its report time.
	ReportedAt *time.Time
	PhotoURLs  []string
}

// UpsertCase creates the case the caller's department files under
// in.ExternalID (status REPORTED, with a REPORT event on its timeline),
// updates its reported fields when they changed (version + 1; the workflow
// state is left alone), or leaves it untouched when nothing changed (no new
// version, no event). Every write also writes an outbox row, in the same
// transaction. The caller must be an admin, officer or system of the
// provider department (FORBIDDEN otherwise). BAD_USER_INPUT naming the
// field for invalid input (the same rules as a reported case, and as a row
// of a bulk file); CONFLICT when in.Version is stale. Nothing is written
// unless every check passes.
func (s *Service) UpsertCase(ctx context.Context, in UpsertCaseInput) (upsert.Result[*cases.Case], error) {
	var none upsert.Result[*cases.Case]
	w, err := s.authorize(ctx, cases.Dataset)
	if err != nil {
		return none, err
	}
	rec := CaseRecord{
		ExternalID: in.ExternalID, Kind: in.Kind, MinorCode: in.MinorCode, Source: in.Source,
		Description: in.Description, Address: in.Address, Lat: in.Lat, Lng: in.Lng, Jurisdiction: in.Jurisdiction,
		ReporterName: in.ReporterName, ReporterPhone: in.ReporterPhone, PhotoURLs: in.PhotoURLs,
	}
	if in.ReportedAt != nil {
		// Checked here too: the zero time would pass as "not given".
		if err := recordtime.Check("reportedAt", *in.ReportedAt, w.Now); err != nil {
			return none, err
		}
		rec.ReportedAt = *in.ReportedAt
	}
	if math.IsNaN(in.Lat) || math.IsNaN(in.Lng) {
		// NaN means "missing" in a record; a caller's NaN is out of range.
		rec.Lat, rec.Lng = math.Inf(1), math.Inf(1)
	}
	cl, err := s.validator.Validate(&rec, w.Now)
	if err != nil {
		return none, err
	}
	if in.Version != nil && *in.Version < 0 {
		return none, invalidVersion(*in.Version)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return none, fmt.Errorf("new case id: %w", err)
	}
	row := &CaseRow{CaseRecord: rec, ID: id, MajorCode: cl.MajorCode}
	c, outcome, err := s.store.UpsertCase(ctx, row, w, in.Version)
	if err != nil {
		return none, err
	}
	// The case comes back as a read shows it: audited as one.
	if s.auth != nil && s.audit != nil {
		d, err := s.auth.Decide(ctx, cases.Dataset)
		if err != nil {
			return none, err
		}
		if err := access.AuditReturned(ctx, s.audit, d, c); err != nil {
			return none, err
		}
	}
	return upsert.Result[*cases.Case]{Record: c, Outcome: outcome}, nil
}
