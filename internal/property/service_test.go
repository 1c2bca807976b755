package property_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

func newService(store *memStore, d *access.Decision) *property.Service {
	return property.NewService(property.Config{Store: store, Directory: fixture.NewDirectory(), Authorizer: fixture.Auth{D: d}})
}

func housing() *access.Decision {
	return &access.Decision{Dataset: property.Dataset, Rows: access.RowScope{All: true},
		Fields: map[string]access.FieldAccess{property.GroupPublic: access.FieldVisible, property.GroupCore: access.FieldVisible}}
}

var ctx = fixture.As(context.Background(), property.OwnerDept, "officer")

func TestGetWithinScope(t *testing.T) {
	east := &property.Property{ID: uuid.New(), OwnerDept: property.OwnerDept, Name: "凤凰小区", JurisdictionCode: fixture.GridChengdong}
	west := &property.Property{ID: uuid.New(), OwnerDept: property.OwnerDept, Name: "文化新村", JurisdictionCode: fixture.GridChengxi}
	store := newMemStore(east, west)
	street := housing()
	street.Rows = access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}
	svc := newService(store, street)
	if p, err := svc.Get(ctx, east.ID); err != nil || p.Name != east.Name {
		t.Fatalf("within scope: %+v %v", p, err)
	}
	for _, id := range []uuid.UUID{west.ID, uuid.New()} {
		if _, err := svc.Get(ctx, id); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("outside the scope or missing: %v, want NOT_FOUND", err)
		}
	}
	list, err := svc.GetMany(ctx, []uuid.UUID{east.ID, west.ID})
	if err != nil || len(list) != 1 || list[0].ID != east.ID {
		t.Fatalf("get many: %+v %v", list, err)
	}
	nothing := housing()
	nothing.Rows = access.RowScope{}
	if _, err := newService(store, nothing).Get(ctx, east.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("no rows: %v, want NOT_FOUND", err)
	}
}

// Lists and counts refuse a bad request before reading anything: the
// store's list is not implemented, so reaching it would panic.
func TestListValidation(t *testing.T) {
	svc := newService(newMemStore(), housing())
	tests := []struct {
		name  string
		f     property.Filter
		order property.Order
		first *int
		after *string
		field string
	}{
		{"unknown order", property.Filter{}, "HEIGHT", nil, nil, "orderBy"},
		{"negative first", property.Filter{}, "", fixture.Ptr(-1), nil, "first"},
		{"garbage cursor", property.Filter{}, "", nil, fixture.Ptr("zzz"), "after"},
		{"text too long", property.Filter{Text: strings.Repeat("园", 101)}, "", nil, nil, "filter.text"},
		{"empty year range", property.Filter{BuildYearFrom: fixture.Ptr(2000), BuildYearTo: fixture.Ptr(1990)}, "", nil, nil, "filter.buildYearFrom"},
		{"unknown renovation", property.Filter{Renovation: []property.RenovationStatus{"HALF_DONE"}}, "", nil, nil, "filter.renovation"},
		{"malformed jurisdiction", property.Filter{Jurisdiction: "Hailing East"}, "", nil, nil, "filter.jurisdiction"},
		{"unknown jurisdiction", property.Filter{Jurisdiction: "hailing.nowhere"}, "", nil, nil, "filter.jurisdiction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.List(ctx, tc.f, tc.order, tc.first, tc.after)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
				t.Fatalf("list: %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
			if tc.first == nil && tc.after == nil && tc.order == "" {
				_, err := svc.Count(ctx, tc.f)
				if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
					t.Fatalf("count: %v, want BAD_USER_INPUT on %s", err, tc.field)
				}
			}
		})
	}
	// The management company is core data: a caller reading only the
	// public group may not filter on it.
	public := housing()
	public.Fields = map[string]access.FieldAccess{property.GroupPublic: access.FieldVisible}
	_, err := newService(newMemStore(), public).List(ctx, property.Filter{HasManagement: fixture.Ptr(true)}, "", nil, nil)
	if e, ok := apperr.As(err); !ok || e.Code != apperr.Forbidden || e.Field != "filter.hasManagement" {
		t.Fatalf("filter on management without core: %v, want FORBIDDEN on filter.hasManagement", err)
	}
}
