package cases

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
)

// UpsertInput is one case as a department system sends it. With the
// caller's department, ExternalID identifies the case.
type UpsertInput struct {
	ExternalID string
	// Version, when set, must equal the stored version for a change to be
	// written (optimistic concurrency); 0 means "create only". Re-sending
	// unchanged content is never a conflict, so a retried request whose
	// answer was lost is harmless.
	Version     *int
	Kind        Kind
	MinorCode   string
	Source      Source
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

// Upsert creates the case the caller's department files under
// in.ExternalID (status REPORTED, with a REPORT event on its timeline),
// updates its reported fields when they changed (version + 1; the workflow
// state is left alone), or leaves it untouched when nothing changed (no new
// version, no event). The caller must be an admin, officer or system of the
// department that provides cases (FORBIDDEN otherwise). BAD_USER_INPUT
// naming the field for invalid input (the rules of a reported case, which
// a bulk file's rows follow too); CONFLICT when in.Version is stale.
// Nothing is written unless every check passes.
func (s *Service) Upsert(ctx context.Context, in UpsertInput) (upsert.Result[*Case], error) {
	var none upsert.Result[*Case]
	p := access.PrincipalFrom(ctx)
	if p.Kind == access.KindAnonymous {
		return none, apperr.New(apperr.Unauthenticated, "sign in to write %s", Dataset)
	}
	if !p.WritesFor(OwnerDept) {
		return none, apperr.New(apperr.Forbidden, "only %s (its admins, officers and systems) may write %s", OwnerDept, Dataset)
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return none, err
	}
	now := s.Now()
	next, err := s.upsertCase(ctx, &in, now)
	if err != nil {
		return none, err
	}
	w := writer{scope: d.Rows, principal: p, now: now}
	res, err := upsert.Run(ctx, func(ctx context.Context) (upsert.Result[*Case], error) {
		return s.upsertRound(ctx, w, next, in.Version)
	})
	if err != nil {
		return none, err
	}
	// The case comes back as a read shows it: audited as one.
	if err := access.AuditReturned(ctx, s.audit, d, res.Record); err != nil {
		return none, err
	}
	return res, nil
}

// writer is who writes an upsert, and when.
type writer struct {
	scope     access.RowScope
	principal *access.Principal
	now       time.Time
}

// upsertCase validates in with the rules of a reported case and returns the
// case it describes: a new one, whose identity the round keeps or replaces
// with the stored case's.
func (s *Service) upsertCase(ctx context.Context, in *UpsertInput, now time.Time) (*Case, error) {
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	switch {
	case in.ExternalID == "":
		return nil, apperr.Invalid("externalId", "give the case's id in your system (externalId): it is required")
	case !rules.PrintableID(in.ExternalID):
		return nil, apperr.Invalid("externalId", "the externalId must be 1 to %d printable characters", rules.MaxExternalID)
	}
	if in.Version != nil && *in.Version < 0 {
		return nil, apperr.Invalid("version", "a version is a positive number (or 0 to create only), not %d", *in.Version)
	}
	rep := ReportInput{Kind: in.Kind, MinorCode: in.MinorCode, Source: in.Source, Description: in.Description,
		Address: in.Address, Lat: in.Lat, Lng: in.Lng, Jurisdiction: in.Jurisdiction, ReporterName: in.ReporterName,
		ReporterPhone: in.ReporterPhone, PhotoURLs: in.PhotoURLs, ExternalID: in.ExternalID}
	cl, err := ReportRules{Classes: s.classes, StreetLevel: true}.Check(&rep)
	if err != nil {
		return nil, err
	}
	if in.ReportedAt != nil {
		if err := recordtime.Check("reportedAt", *in.ReportedAt, now); err != nil {
			return nil, err
		}
	}
	if rep.Jurisdiction, err = directory.Place(ctx, s.dir, "case", rep.Jurisdiction, rep.Lat, rep.Lng); err != nil {
		return nil, err
	}
	if !strings.Contains(rep.Jurisdiction, ".") { // a located point is always in a grid
		return nil, apperr.Invalid("jurisdiction", "a case must lie in a street or town, not the whole district")
	}
	c := &Case{
		OwnerDept: OwnerDept, Kind: cl.Kind, MajorCode: cl.MajorCode, MinorCode: cl.MinorCode, Source: rep.Source,
		Description: rep.Description, Address: rep.Address, Lat: rep.Lat, Lng: rep.Lng, JurisdictionCode: rep.Jurisdiction,
		ReporterName: rep.ReporterName, ReporterPhone: rep.ReporterPhone, PhotoURLs: rep.PhotoURLs,
		ExternalID: in.ExternalID,
	}
	if c.PhotoURLs == nil {
		c.PhotoURLs = []string{}
	}
	if in.ReportedAt != nil {
		c.ReportedAt = in.ReportedAt.UTC()
	}
	return c, nil
}

// upsertRound does one read-compare-write round (upsert.Run). The writer's
// scope applies: a case it cannot see is missing to it, and creating one
// under its key meets the key's uniqueness and is refused as taken.
func (s *Service) upsertRound(ctx context.Context, w writer, in *Case, version *int) (upsert.Result[*Case], error) {
	var none upsert.Result[*Case]
	source := sourceDept(w.principal)
	cur, err := s.store.BySource(ctx, w.scope, source, in.ExternalID)
	if apperr.Is(err, apperr.NotFound) {
		if version != nil && *version != 0 {
			return none, apperr.New(apperr.Conflict, "no case with externalId %q exists (you gave version %d); send no version to create it", in.ExternalID, *version)
		}
		c := *in
		c.ID, c.Status, c.SourceDept = uuid.Must(uuid.NewV7()), StatusReported, source
		c.CreatedAt, c.UpdatedAt, c.Version = w.now, w.now, 1
		if c.ReportedAt.IsZero() {
			c.ReportedAt = w.now
		}
		ev := Event{CaseID: c.ID, Action: ActionReport, ToStatus: StatusReported, Actor: w.principal.Actor(), ActorDept: w.principal.Dept, At: w.now}
		if err := s.store.Create(ctx, &c, ev); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				return none, fmt.Errorf("%w: %w: %w", apperr.KeyTaken(in.ExternalID), upsert.ErrRaced, err)
			}
			return none, fmt.Errorf("create case: %w", err)
		}
		return upsert.Result[*Case]{Record: &c, Outcome: upsert.Created}, nil
	}
	if err != nil {
		return none, err
	}
	if sameReport(cur, in) {
		return upsert.Result[*Case]{Record: cur, Outcome: upsert.Unchanged}, nil
	}
	if version != nil && *version != cur.Version {
		return none, apperr.New(apperr.Conflict, "the case has changed since you loaded it (your version %d, current version %d, status %s); reload and try again",
			*version, cur.Version, cur.Status)
	}
	next := *cur
	next.Kind, next.MajorCode, next.MinorCode, next.Source = in.Kind, in.MajorCode, in.MinorCode, in.Source
	next.Description, next.Address, next.Lat, next.Lng = in.Description, in.Address, in.Lat, in.Lng
	next.JurisdictionCode, next.ReporterName, next.ReporterPhone = in.JurisdictionCode, in.ReporterName, in.ReporterPhone
	next.PhotoURLs = in.PhotoURLs
	if !in.ReportedAt.IsZero() {
		next.ReportedAt = in.ReportedAt
	}
	next.UpdatedAt, next.Version = w.now, cur.Version+1
	if err := s.store.Revise(ctx, &next, cur.Version); err != nil {
		return none, upsert.Raced(err, version)
	}
	return upsert.Result[*Case]{Record: &next, Outcome: upsert.Updated}, nil
}

// sameReport reports whether writing in's reported fields over c would
// change nothing (a report time not given keeps c's).
func sameReport(c, in *Case) bool {
	return c.Kind == in.Kind && c.MajorCode == in.MajorCode && c.MinorCode == in.MinorCode && c.Source == in.Source &&
		c.Description == in.Description && c.Address == in.Address && c.Lat == in.Lat && c.Lng == in.Lng &&
		c.JurisdictionCode == in.JurisdictionCode && c.ReporterName == in.ReporterName && c.ReporterPhone == in.ReporterPhone &&
		slices.Equal(c.PhotoURLs, in.PhotoURLs) && (in.ReportedAt.IsZero() || c.ReportedAt.Equal(in.ReportedAt))
}
