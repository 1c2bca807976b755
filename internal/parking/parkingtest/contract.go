// Package parkingtest holds the contract every parking.Store honours in
// what the lot service's writes rely on, run both against the PostgreSQL
// store (internal/postgres) and against the in-memory fake the service's
// unit tests use, so the fake cannot drift from the store it stands in for.
package parkingtest

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

// Fixture is what the contract needs of a store under test: the store, two
// grids of different streets its directory holds, and the street offices
// (department codes) that own lots there.
type Fixture struct {
	Store                 parking.Store
	Inside, Outside       string
	InsideDept, OtherDept string
}

func newLot(grid, owner, externalID string, at time.Time) *parking.Lot {
	return &parking.Lot{
		ID: uuid.Must(uuid.NewV7()), Name: "合同测试停车场 " + externalID, Kind: parking.KindGovernmentShared,
		Address: "泰州市海陵区府前路8号", Lat: 32.4901, Lng: 119.9203, JurisdictionCode: grid, OwnerDept: owner,
		IsGovernment: true, TotalSpaces: 80, SharedSpaces: 40, Windows: parking.StandardSharedWindows(), MaxSeats: 7,
		ContactName: "王师傅", ContactPhone: "0523-86881234",
		SourceDept: owner, ExternalID: externalID, CreatedAt: at, UpdatedAt: at, Version: 1,
	}
}

// Contract checks f.Store against what parking.Store documents for the
// writes: rows outside the scope read as missing (by id and by source key),
// the source key is unique, and versions guard updates.
func Contract(t *testing.T, f Fixture) {
	ctx := context.Background()
	mine := access.RowScope{Jurisdictions: []string{fixture.StreetOf(f.Inside)}}
	all := access.RowScope{All: true}
	run := uuid.NewString()[:8]
	at := time.Now().UTC().Truncate(time.Microsecond)

	in := newLot(f.Inside, f.InsideDept, "contract-in-"+run, at)
	out := newLot(f.Outside, f.OtherDept, "contract-out-"+run, at)
	for _, l := range []*parking.Lot{in, out} {
		if err := f.Store.Create(ctx, l); err != nil {
			t.Fatalf("create %s: %v", l.ExternalID, err)
		}
	}
	if got, err := f.Store.Get(ctx, mine, in.ID); err != nil || got.ID != in.ID || got.Version != 1 {
		t.Errorf("Get inside the scope: %+v %v", got, err)
	}
	if _, err := f.Store.Get(ctx, mine, out.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Get outside the scope: %v, want NOT_FOUND", err)
	}
	if got, err := f.Store.GetMany(ctx, mine, []uuid.UUID{in.ID, out.ID}); err != nil || len(got) != 1 || got[0].ID != in.ID {
		t.Errorf("GetMany within the scope: %d lots, %v", len(got), err)
	}
	if _, err := f.Store.BySource(ctx, mine, f.OtherDept, out.ExternalID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("BySource outside the scope: %v, want NOT_FOUND", err)
	}
	if got, err := f.Store.BySource(ctx, all, f.OtherDept, out.ExternalID); err != nil || got.ID != out.ID {
		t.Errorf("BySource: %+v %v", got, err)
	}
	dup := newLot(f.Inside, f.OtherDept, out.ExternalID, at)
	if err := f.Store.Create(ctx, dup); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("a second lot under a taken source key: %v, want CONFLICT", err)
	}
	next := *in
	next.TotalSpaces, next.Version, next.UpdatedAt = 90, 2, at.Add(time.Minute)
	if err := f.Store.Update(ctx, &next, 0); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Update from a stale version: %v, want CONFLICT", err)
	}
	if err := f.Store.Update(ctx, &next, 1); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got, err := f.Store.Get(ctx, all, in.ID); err != nil || got.TotalSpaces != 90 || got.Version != 2 {
		t.Errorf("after Update: %+v %v", got, err)
	}
}
