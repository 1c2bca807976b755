package parking_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
)

func lotWriter() *access.Decision {
	return &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true}, Actions: []string{"write"}}
}

func newService(store *memStore, d *access.Decision, clk *fixture.Clock, counters parking.Counters) *parking.Service {
	return parking.NewService(parking.Config{Store: store, Directory: fixture.NewDirectory(), Authorizer: fixture.Auth{D: d},
		Availability: counters, Calendar: calendar.Default(), Now: clk.Now})
}

func officer(dept string) context.Context { return fixture.As(context.Background(), dept, "officer") }

func lotInput(ext string) parking.UpsertInput {
	nm := parking.MustRange("22:00-06:00")
	return parking.UpsertInput{ExternalID: ext, Name: "海陵区人民政府机关停车场", Kind: parking.KindGovernmentShared,
		Address: "泰州市海陵区府前路8号", Lat: 32.4902, Lng: 119.9207, OwnerDept: "street-chengdong",
		Operator: "海陵区人民政府机关", TotalSpaces: 120, SharedSpaces: 60,
		Windows:  parking.Windows{Weekday: []parking.Range{parking.MustRange("18:30-07:30")}, RestDayAllDay: true, NoMovement: &nm},
		MaxSeats: 7, BookingRule: "无需预约", FeeRule: "错时共享时段免费", ContactName: "王师傅", ContactPhone: "0523-86881234"}
}

func TestUpsertCreateUpdateUnchanged(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC))
	svc := newService(store, lotWriter(), clk, nil)
	ctx := officer(parking.ProviderDept)

	created, err := svc.Upsert(ctx, lotInput("P-1"))
	if err != nil || created.Outcome != upsert.Created || created.Record.Version != 1 {
		t.Fatalf("create: %+v %v", created, err)
	}
	got, err := svc.Get(ctx, created.Record.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.JurisdictionCode != fixture.GridChengdong || got.SourceDept != parking.ProviderDept || !got.IsGovernment ||
		got.OwnerDept != "street-chengdong" || !got.CreatedAt.Equal(clk.Now()) {
		t.Fatalf("stored lot: %+v", got)
	}

	clk.Advance(time.Hour)
	before := store.writeCount()
	same, err := svc.Upsert(ctx, lotInput("P-1"))
	if err != nil || same.Outcome != upsert.Unchanged || same.Record.Version != 1 || !same.Record.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("unchanged: %+v %v", same, err)
	}
	if store.writeCount() != before {
		t.Fatal("an unchanged upsert wrote")
	}

	changed := lotInput("P-1")
	changed.SharedSpaces = 80
	changed.Windows.Weekday = []parking.Range{parking.MustRange("19:00-07:00")}
	changed.Version = fixture.Ptr(1)
	upd, err := svc.Upsert(ctx, changed)
	if err != nil || upd.Outcome != upsert.Updated || upd.Record.Version != 2 || upd.Record.ID != created.Record.ID ||
		!upd.Record.CreatedAt.Equal(created.Record.CreatedAt) || !upd.Record.UpdatedAt.Equal(clk.Now()) {
		t.Fatalf("update: %+v %v", upd, err)
	}
	// The same change re-sent with its (now stale) version: nothing to do.
	if again, err := svc.Upsert(ctx, changed); err != nil || again.Outcome != upsert.Unchanged || again.Record.Version != 2 {
		t.Fatalf("re-send: %+v %v", again, err)
	}
	// Another change on the stale version: CONFLICT, nothing written.
	stale := changed
	stale.TotalSpaces = 150
	before = store.writeCount()
	if _, err := svc.Upsert(ctx, stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v, want CONFLICT", err)
	}
	stale.Version = fixture.Ptr(0)
	if _, err := svc.Upsert(ctx, stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("create-only on an existing lot: %v, want CONFLICT", err)
	}
	fresh := lotInput("P-2")
	fresh.Version = fixture.Ptr(3)
	if _, err := svc.Upsert(ctx, fresh); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a version for a lot that does not exist: %v, want CONFLICT", err)
	}
	if store.writeCount() != before {
		t.Fatal("a refused upsert wrote")
	}
	cur, _ := svc.Get(ctx, created.Record.ID)
	if cur.Version != 2 || cur.TotalSpaces != 120 || cur.SharedSpaces != 80 {
		t.Fatalf("after refusals: %+v", cur)
	}
}

func TestUpsertRules(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC))
	svc := newService(store, lotWriter(), clk, nil)
	in := lotInput("SCD-1")
	in.OwnerDept = ""
	res, err := svc.Upsert(officer("street-chengdong"), in)
	if err != nil || res.Outcome != upsert.Created || res.Record.OwnerDept != "street-chengdong" || res.Record.Version != 1 {
		t.Fatalf("create: %+v %v", res, err)
	}
	// Another street office may not file one for others.
	if _, err := svc.Upsert(officer("street-chengxi"), lotInput("SCD-1")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("other department: %v, want FORBIDDEN", err)
	}
	// The traffic police write every lot; a lot they filed and gave to a
	// street office stays out of another office's reach.
	tp := lotInput("TP-1")
	if _, err := svc.Upsert(officer(parking.ProviderDept), tp); err != nil {
		t.Fatalf("the provider filing for a street office: %v", err)
	}
	// Without the write action nobody writes, nor does a caller without a
	// department.
	ro := newService(store, &access.Decision{Rows: access.RowScope{All: true}}, clk, nil)
	if _, err := ro.Upsert(officer(parking.ProviderDept), lotInput("X")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("no write action: %v", err)
	}
	if _, err := svc.Upsert(fixture.As(context.Background(), ""), lotInput("X")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("no department: %v", err)
	}
	bad := []struct {
		field string
		edit  func(*parking.UpsertInput)
	}{
		{"externalId", func(in *parking.UpsertInput) { in.ExternalID = " " }},
		{"name", func(in *parking.UpsertInput) { in.Name = "" }},
		{"kind", func(in *parking.UpsertInput) { in.Kind = "GARAGE" }},
		{"location", func(in *parking.UpsertInput) { in.Lat = 31 }},
		{"sharedSpaces", func(in *parking.UpsertInput) { in.SharedSpaces = 121 }},
		{"totalSpaces", func(in *parking.UpsertInput) { in.TotalSpaces = -1 }},
		{"maxSeats", func(in *parking.UpsertInput) { in.MaxSeats = -7 }},
		{"contactPhone", func(in *parking.UpsertInput) { in.ContactPhone = "12345" }},
		{"ownerDept", func(in *parking.UpsertInput) { in.OwnerDept = "no-such-dept" }},
		{"ownerDept", func(in *parking.UpsertInput) { in.OwnerDept = "Not A Code" }},
		{"jurisdiction", func(in *parking.UpsertInput) { in.Jurisdiction = "hailing.nowhere" }},
		{"windows.hours", func(in *parking.UpsertInput) { in.Windows.Hours = []parking.Range{parking.AllDay} }},
	}
	for _, b := range bad {
		in := lotInput("SCD-bad")
		b.edit(&in)
		_, err := svc.Upsert(officer(parking.ProviderDept), in)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != b.field {
			t.Errorf("%s: %v", b.field, err)
		}
	}
	if got := strings.Join(store.externalIDs(), " "); got != "street-chengdong/SCD-1 traffic-police/TP-1" {
		t.Fatalf("stored lots %q", got)
	}
}

func TestUpsertOwnerChange(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC))
	svc := newService(store, lotWriter(), clk, nil)
	ctx := officer("street-chengdong")
	if _, err := svc.Upsert(ctx, lotInput("SCD-2")); err != nil {
		t.Fatal(err)
	}
	// An owner may not hand its lot to another department: it must still
	// be allowed to write the lot after the change.
	moved := lotInput("SCD-2")
	moved.OwnerDept = "street-chengxi"
	if _, err := svc.Upsert(ctx, moved); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("handing the lot over: %v, want FORBIDDEN", err)
	}
}

func TestListValidation(t *testing.T) {
	reader := &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true},
		Fields: map[string]access.FieldAccess{"core": access.FieldVisible}}
	svc := newService(newMemStore(), reader, fixture.NewClock(time.Now()), nil)
	ctx := officer(parking.ProviderDept)
	tests := []struct {
		name  string
		f     parking.Filter
		order parking.Order
		first *int
		after *string
		field string
	}{
		{"unknown order", parking.Filter{}, "SIZE", nil, nil, "orderBy"},
		{"first above the maximum", parking.Filter{}, "", fixture.Ptr(201), nil, "first"},
		{"garbage cursor", parking.Filter{}, "", nil, fixture.Ptr("%%%"), "after"},
		{"text too long", parking.Filter{Text: strings.Repeat("停", 101)}, "", nil, nil, "filter.text"},
		{"unknown kind", parking.Filter{Kind: "GARAGE"}, "", nil, nil, "filter.kind"},
		{"bad owner", parking.Filter{OwnerDept: "Traffic Police"}, "", nil, nil, "filter.ownerDept"},
		{"unknown jurisdiction", parking.Filter{Jurisdiction: "hailing.nowhere"}, "", nil, nil, "filter.jurisdiction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.List(ctx, tc.f, tc.order, tc.first, tc.after)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
				t.Fatalf("err = %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
		})
	}
}

func TestReportAvailabilityRules(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC))
	counters := &memCounters{}
	svc := newService(store, lotWriter(), clk, counters)
	res, err := svc.Upsert(officer("street-chengdong"), lotInput("AV-1"))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record.ID
	if _, err := svc.ReportAvailability(officer("street-chengxi"), id, 3, nil); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("another department: %v, want FORBIDDEN", err)
	}
	ro := newService(store, &access.Decision{Rows: access.RowScope{All: true}}, clk, counters)
	if _, err := ro.ReportAvailability(officer("street-chengdong"), id, 3, nil); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("no write action: %v, want FORBIDDEN", err)
	}
	if _, err := newService(store, lotWriter(), clk, nil).ReportAvailability(officer("street-chengdong"), id, 3, nil); !apperr.Is(err, apperr.ServiceUnavailable) {
		t.Fatalf("no counters: %v, want SERVICE_UNAVAILABLE", err)
	}
	for _, free := range []int{-1, 121} {
		_, err := svc.ReportAvailability(officer("street-chengdong"), id, free, nil)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "free" {
			t.Fatalf("free %d: %v", free, err)
		}
	}
	future := clk.Now().Add(time.Hour)
	if _, err := svc.ReportAvailability(officer("street-chengdong"), id, 3, &future); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("a count from the future: %v", err)
	}
	narrow := lotWriter()
	narrow.Rows = access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}
	if _, err := newService(store, narrow, clk, counters).ReportAvailability(officer(parking.ProviderDept), id, 3, nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("a lot outside the scope: %v, want NOT_FOUND", err)
	}
	got, err := svc.ReportAvailability(officer(parking.ProviderDept), id, 42, nil)
	if err != nil || got.Free != 42 || !got.At.Equal(clk.Now()) {
		t.Fatalf("report: %+v %v", got, err)
	}
	if cur, err := svc.Availability(officer(parking.ProviderDept), []uuid.UUID{id}); err != nil || cur[id].Free != 42 {
		t.Fatalf("availability: %+v %v", cur, err)
	}
}
