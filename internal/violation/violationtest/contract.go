// Package violationtest holds the contract every violation.Store honours
// in what the violation service's writes rely on, run both against the
// PostgreSQL store (internal/postgres) and against the in-memory fake the
// service's unit tests use, so the fake cannot drift from the store.
package violationtest

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
)

// Fixture is what the contract needs of a store under test: the store and
// two grids of different streets its directory holds.
type Fixture struct {
	Store           violation.Store
	Inside, Outside string
}

func newViolation(grid, externalID string, at time.Time) (*violation.Violation, violation.Event) {
	v := &violation.Violation{
		ID: uuid.Must(uuid.NewV7()), OwnerDept: violation.DeptUrbanManagement, Kind: violation.KindStreetOccupation,
		Channel: violation.ChannelPatrol, Status: violation.StatusDiscovered, Description: "店外经营 " + externalID,
		Address: "海陵南路 88 号", Lat: 32.49, Lng: 119.92, JurisdictionCode: grid, DiscoveredAt: at,
		SourceDept: violation.DeptUrbanManagement, ExternalID: externalID, CreatedAt: at, UpdatedAt: at, Version: 1,
	}
	ev := violation.Event{ViolationID: v.ID, Action: violation.ActionReport, ToStatus: violation.StatusDiscovered,
		Actor: "contract", ActorDept: violation.DeptUrbanManagement, At: at}
	return v, ev
}

// Contract checks f.Store against what violation.Store documents for the
// writes: rows outside the scope read as missing (by id and by source key),
// the source key is unique, versions guard updates, and each write adds its
// event to the timeline.
func Contract(t *testing.T, f Fixture) {
	ctx := context.Background()
	mine := access.RowScope{Jurisdictions: []string{fixture.StreetOf(f.Inside)}}
	all := access.RowScope{All: true}
	run := uuid.NewString()[:8]
	at := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)

	in, inEv := newViolation(f.Inside, "contract-in-"+run, at)
	out, outEv := newViolation(f.Outside, "contract-out-"+run, at)
	if err := f.Store.Create(ctx, in, inEv); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := f.Store.Create(ctx, out, outEv); err != nil {
		t.Fatalf("create: %v", err)
	}
	if in.RecordNo == "" {
		t.Error("Create left the record number empty")
	}
	if got, err := f.Store.Get(ctx, mine, in.ID); err != nil || got.ID != in.ID || got.Version != 1 {
		t.Errorf("Get inside the scope: %+v %v", got, err)
	}
	if _, err := f.Store.Get(ctx, mine, out.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Get outside the scope: %v, want NOT_FOUND", err)
	}
	if got, err := f.Store.GetMany(ctx, mine, []uuid.UUID{in.ID, out.ID}); err != nil || len(got) != 1 || got[0].ID != in.ID {
		t.Errorf("GetMany within the scope: %d violations, %v", len(got), err)
	}
	if _, err := f.Store.BySource(ctx, mine, out.SourceDept, out.ExternalID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("BySource outside the scope: %v, want NOT_FOUND", err)
	}
	if got, err := f.Store.BySource(ctx, all, out.SourceDept, out.ExternalID); err != nil || got.ID != out.ID {
		t.Errorf("BySource: %+v %v", got, err)
	}
	dup, dupEv := newViolation(f.Inside, out.ExternalID, at)
	if err := f.Store.Create(ctx, dup, dupEv); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("a second violation under a taken source key: %v, want CONFLICT", err)
	}
	next := *in
	next.Description, next.Version, next.UpdatedAt = "店外经营（已拍照） "+run, 2, at.Add(time.Minute)
	upd := violation.Event{ViolationID: in.ID, Action: violation.ActionUpdate, FromStatus: in.Status, ToStatus: in.Status,
		Actor: "contract", ActorDept: violation.DeptUrbanManagement, Note: "changed: description", At: next.UpdatedAt}
	if err := f.Store.Update(ctx, &next, 0, upd); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Update from a stale version: %v, want CONFLICT", err)
	}
	if err := f.Store.Update(ctx, &next, 1, upd); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, err := f.Store.Get(ctx, all, in.ID); err != nil || got.Description != next.Description || got.Version != 2 {
		t.Errorf("after Update: %+v %v", got, err)
	}
	tl, err := f.Store.Timelines(ctx, []uuid.UUID{in.ID})
	if err != nil || len(tl[in.ID]) != 2 || tl[in.ID][0].Action != violation.ActionReport || tl[in.ID][1].Action != violation.ActionUpdate {
		t.Errorf("timeline: %+v %v, want the report then the update", tl[in.ID], err)
	}
}
