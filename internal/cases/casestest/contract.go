// Package casestest holds the contract every cases.Store honours, run both
// against the PostgreSQL store (internal/postgres) and against the
// in-memory fake the case service's unit tests use, so the fake cannot
// drift from the store it stands in for.
package casestest

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

// Fixture is what the contract needs of a store under test: the store, and
// two grids of different streets that its directory holds.
type Fixture struct {
	Store cases.Store
	// Inside and Outside are grid codes (street.community.grid) in two
	// different streets.
	Inside, Outside string
}

// newCase is a reported case in grid, sent by a department system under
// externalID, reported at.
func newCase(grid, externalID string, at time.Time) (*cases.Case, cases.Event) {
	c := &cases.Case{
		ID: uuid.Must(uuid.NewV7()), OwnerDept: cases.OwnerDept, Kind: cases.KindEvent, MajorCode: "05", MinorCode: "0502",
		Source: cases.SourceEnforcementTerminal, Status: cases.StatusReported, Description: "占道经营 " + externalID,
		Lat: 32.49, Lng: 119.92, JurisdictionCode: grid, PhotoURLs: []string{}, ReportedAt: at,
		SourceDept: cases.OwnerDept, ExternalID: externalID, CreatedAt: at, UpdatedAt: at, Version: 1,
	}
	ev := cases.Event{CaseID: c.ID, Action: cases.ActionReport, ToStatus: cases.StatusReported, Actor: "contract", ActorDept: cases.OwnerDept, At: at}
	return c, ev
}

// Contract checks f.Store against the promises cases.Store documents: rows
// outside the scope read as missing, versions guard every write, the
// source key is unique, and lists page in order.
func Contract(t *testing.T, f Fixture) {
	ctx := context.Background()
	all := access.RowScope{All: true}
	mine := access.RowScope{Jurisdictions: []string{fixture.StreetOf(f.Inside)}}
	// Unique per run: the PostgreSQL store keeps what earlier runs wrote.
	run := uuid.NewString()[:8]
	at := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)

	in, inEv := newCase(f.Inside, "contract-in-"+run, at)
	out, outEv := newCase(f.Outside, "contract-out-"+run, at.Add(time.Minute))
	for _, c := range []struct {
		c  *cases.Case
		ev cases.Event
	}{{in, inEv}, {out, outEv}} {
		if err := f.Store.Create(ctx, c.c, c.ev); err != nil {
			t.Fatalf("create %s: %v", c.c.ExternalID, err)
		}
	}

	// Scope: a case outside reads exactly like a missing one.
	if got, err := f.Store.Get(ctx, mine, in.ID); err != nil || got.ID != in.ID || got.Version != 1 {
		t.Errorf("Get inside the scope: %+v %v", got, err)
	}
	for _, id := range []uuid.UUID{out.ID, uuid.Must(uuid.NewV7())} {
		if _, err := f.Store.Get(ctx, mine, id); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Get %s outside the scope or missing: %v, want NOT_FOUND", id, err)
		}
	}
	if got, err := f.Store.GetMany(ctx, mine, []uuid.UUID{in.ID, out.ID}); err != nil || len(got) != 1 || got[0].ID != in.ID {
		t.Errorf("GetMany within the scope: %d cases, %v", len(got), err)
	}
	if got, err := f.Store.BySource(ctx, mine, cases.OwnerDept, out.ExternalID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("BySource outside the scope: %+v %v, want NOT_FOUND", got, err)
	}
	if got, err := f.Store.BySource(ctx, all, cases.OwnerDept, out.ExternalID); err != nil || got.ID != out.ID {
		t.Errorf("BySource: %+v %v", got, err)
	}

	// The source key is unique, within the scope or not.
	dup, dupEv := newCase(f.Inside, out.ExternalID, at)
	if err := f.Store.Create(ctx, dup, dupEv); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("a second case under a taken source key: %v, want CONFLICT", err)
	}

	// Versions guard every write.
	next := *in
	next.Status, next.Version, next.UpdatedAt = cases.StatusRegistered, 2, at.Add(2*time.Minute)
	reg := cases.Event{CaseID: in.ID, Action: cases.ActionRegister, FromStatus: cases.StatusReported, ToStatus: cases.StatusRegistered,
		Actor: "contract", ActorDept: cases.OwnerDept, At: next.UpdatedAt}
	if err := f.Store.Update(ctx, &next, 0, reg); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Update from a stale version: %v, want CONFLICT", err)
	}
	if err := f.Store.Update(ctx, &next, 1, reg); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, err := f.Store.Get(ctx, all, in.ID); err != nil || got.Status != cases.StatusRegistered || got.Version != 2 {
		t.Errorf("after Update: %+v %v", got, err)
	}
	revised := next
	revised.Description, revised.Version = "占道经营（地址已核实） "+run, 3
	if err := f.Store.Revise(ctx, &revised, 1); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Revise from a stale version: %v, want CONFLICT", err)
	}
	if err := f.Store.Revise(ctx, &revised, 2); err != nil {
		t.Fatalf("Revise: %v", err)
	}
	if got, err := f.Store.Get(ctx, all, in.ID); err != nil || got.Description != revised.Description || got.Version != 3 || got.Status != cases.StatusRegistered {
		t.Errorf("after Revise: %+v %v", got, err)
	}
	tl, err := f.Store.Timelines(ctx, []uuid.UUID{in.ID})
	if err != nil || len(tl[in.ID]) != 2 || tl[in.ID][0].Action != cases.ActionReport || tl[in.ID][1].Action != cases.ActionRegister {
		t.Errorf("timeline: %+v %v, want the report then the registration (Revise adds no event)", tl[in.ID], err)
	}

	// A list in the scope pages newest first and says whether more follow.
	q := cases.ListQuery{Filter: cases.Filter{Text: run}, Order: cases.OrderReportedDesc, First: 1, Now: at}
	if got, more, err := f.Store.List(ctx, all, q); err != nil || len(got) != 1 || got[0].ID != out.ID || !more {
		t.Errorf("List, first page of 1: %d cases (more %v), %v; want the newer case and more", len(got), more, err)
	}
	if got, more, err := f.Store.List(ctx, mine, q); err != nil || len(got) != 1 || got[0].ID != in.ID || more {
		t.Errorf("List within the scope: %d cases (more %v), %v; want only the case inside", len(got), more, err)
	}
}
