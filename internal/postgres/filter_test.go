package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
)

// filteredList is one domain list under test: list and count the rows a
// caller with the given row scope sees under a jurisdiction filter.
type filteredList struct {
	name        string
	list, count func(ctx context.Context, rows access.RowScope, jurisdiction string) (int, error)
}

// TestListFilterUnknownJurisdiction: every domain list refuses a
// jurisdiction filter naming no jurisdiction with BAD_USER_INPUT on
// filter.jurisdiction, as reports refuse the same code, instead of answering
// an empty page. A jurisdiction that exists but lies outside the caller's
// scope still answers an empty page without an error.
func TestListFilterUnknownJurisdiction(t *testing.T) {
	pool := setup(t)
	ctx := as(context.Background(), "urban-management", "officer")
	const west = "hailing.chengxi"

	// One row of each dataset in Chengxi, so that the out-of-scope filter
	// below has something to hide.
	in := validReport("filter-" + uuid.NewString())
	in.Jurisdiction = streetGrid(t, pool, west)
	if _, err := newService(pool, commandCentre(), nil).Report(ctx, in); err != nil {
		t.Fatalf("report case: %v", err)
	}
	vin := violInput(uuid.New())
	vin.Jurisdiction = streetGrid(t, pool, west)
	if _, err := violService(pool, violOfficer(), nil, nil).Report(ctx, vin); err != nil {
		t.Fatalf("report violation: %v", err)
	}
	grid, lat, lng := gridIn(t, pool, west)
	m := marker()
	if _, err := propService(pool, housingDesk()).Upsert(housingOfficer(), compound("filter-"+m, "城西小区"+m, grid, lat, lng, 2001)); err != nil {
		t.Fatalf("upsert compound: %v", err)
	}
	lot := lotInput("filter-" + uuid.NewString())
	lot.Jurisdiction, lot.Lat, lot.Lng = grid, lat, lng
	if _, err := parkingService(pool, parkingWriter("traffic-police"), nil).Upsert(as(context.Background(), "traffic-police", "officer"), lot); err != nil {
		t.Fatalf("upsert lot: %v", err)
	}

	lists := []filteredList{
		{"cases",
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				p, err := newService(pool, &access.Decision{Dataset: cases.Dataset, Rows: rows}, nil).List(ctx, cases.Filter{Jurisdiction: j}, "", nil, nil)
				if err != nil {
					return 0, err
				}
				return len(p.Cases), nil
			},
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				return newService(pool, &access.Decision{Dataset: cases.Dataset, Rows: rows}, nil).Count(ctx, cases.Filter{Jurisdiction: j})
			}},
		{"violations",
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				p, err := violService(pool, &access.Decision{Dataset: violation.Dataset, Rows: rows}, nil, nil).List(ctx, violation.Filter{Jurisdiction: j}, "", nil, nil)
				if err != nil {
					return 0, err
				}
				return len(p.Violations), nil
			},
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				return violService(pool, &access.Decision{Dataset: violation.Dataset, Rows: rows}, nil, nil).Count(ctx, violation.Filter{Jurisdiction: j})
			}},
		{"properties",
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				p, err := propService(pool, &access.Decision{Dataset: property.Dataset, Rows: rows}).List(ctx, property.Filter{Jurisdiction: j}, "", nil, nil)
				if err != nil {
					return 0, err
				}
				return len(p.Properties), nil
			},
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				return propService(pool, &access.Decision{Dataset: property.Dataset, Rows: rows}).Count(ctx, property.Filter{Jurisdiction: j})
			}},
		{"parking",
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				p, err := parkingService(pool, &access.Decision{Dataset: parking.Dataset, Rows: rows}, nil).List(ctx, parking.Filter{Jurisdiction: j}, "", nil, nil)
				if err != nil {
					return 0, err
				}
				return len(p.Lots), nil
			},
			func(ctx context.Context, rows access.RowScope, j string) (int, error) {
				return parkingService(pool, &access.Decision{Dataset: parking.Dataset, Rows: rows}, nil).Count(ctx, parking.Filter{Jurisdiction: j})
			}},
	}
	everything := access.RowScope{All: true}
	east := access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			for _, code := range []string{"hailing.nowhere", west + ".nowhere", "nowhere"} {
				for op, f := range map[string]func(context.Context, access.RowScope, string) (int, error){"list": l.list, "count": l.count} {
					n, err := f(ctx, everything, code)
					if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "filter.jurisdiction" {
						t.Errorf("%s with jurisdiction %q: %d rows, err %v; want BAD_USER_INPUT on filter.jurisdiction", op, code, n, err)
					}
				}
			}
			// An existing jurisdiction: rows for a caller who may see them,
			// an empty answer (not an error) for one who may not.
			for op, f := range map[string]func(context.Context, access.RowScope, string) (int, error){"list": l.list, "count": l.count} {
				if n, err := f(ctx, everything, west); err != nil || n == 0 {
					t.Errorf("%s of %s, every row in scope: %d rows, err %v", op, west, n, err)
				}
				if n, err := f(ctx, east, west); err != nil || n != 0 {
					t.Errorf("%s of %s, scope %v: %d rows, err %v; want none and no error", op, west, east.Jurisdictions, n, err)
				}
			}
		})
	}
}

// TestWatchFilterUnknownJurisdiction: a subscription filtered on a
// jurisdiction that does not exist is refused before it starts, instead of
// waiting for changes that can never match.
func TestWatchFilterUnknownJurisdiction(t *testing.T) {
	pool := setup(t)
	ctx := as(context.Background(), "urban-management", "officer")
	// The feed is never reached: the filter is checked first.
	_, err := newService(pool, commandCentre(), nil).Watch(ctx, nil, cases.Filter{Jurisdiction: "hailing.nowhere"}, time.Time{})
	if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "filter.jurisdiction" {
		t.Errorf("cases: err %v, want BAD_USER_INPUT on filter.jurisdiction", err)
	}
	_, err = violService(pool, violOfficer(), nil, nil).Watch(ctx, nil, violation.Filter{Jurisdiction: "hailing.nowhere"}, time.Time{})
	if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "filter.jurisdiction" {
		t.Errorf("violations: err %v, want BAD_USER_INPUT on filter.jurisdiction", err)
	}
}
