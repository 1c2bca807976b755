package parking_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
)

func apperrAs(err error) (*apperr.Error, bool) { return apperr.As(err) }

type fixedAuth struct{ d *access.Decision }

func (f fixedAuth) Decide(context.Context, string) (*access.Decision, error) { return f.d, nil }

// memStore is an in-memory parking.Store: enough to test the service's
// logic (batching, upserts, permissions) apart from SQL, which the postgres
// package tests against the real database.
type memStore struct {
	mu        sync.Mutex
	lots      []*parking.Lot
	nearCalls []parking.NearQuery
}

func (m *memStore) Get(_ context.Context, _ access.RowScope, id uuid.UUID) (*parking.Lot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lots {
		if l.ID == id {
			c := *l
			return &c, nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "lot %s not found", id)
}

func (m *memStore) GetMany(ctx context.Context, s access.RowScope, ids []uuid.UUID) ([]*parking.Lot, error) {
	var out []*parking.Lot
	for _, id := range ids {
		if l, err := m.Get(ctx, s, id); err == nil {
			out = append(out, l)
		}
	}
	return out, nil
}

func (m *memStore) List(context.Context, access.RowScope, parking.ListQuery) ([]*parking.Lot, bool, error) {
	return nil, false, nil
}

func (m *memStore) Near(_ context.Context, _ access.RowScope, q parking.NearQuery) ([]parking.Nearby, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nearCalls = append(m.nearCalls, q)
	var out []parking.Nearby
	for _, l := range m.lots {
		d := haversine(q.Lat, q.Lng, l.Lat, l.Lng)
		if d > q.Radius {
			continue
		}
		if q.After != nil && (d < q.After.Distance || slices.Contains(q.After.Seen, l.ID)) {
			continue
		}
		out = append(out, parking.Nearby{Lot: l, DistanceMeters: d})
	}
	// Ties in any order, as an index scan may return them.
	sort.SliceStable(out, func(i, j int) bool { return out[i].DistanceMeters < out[j].DistanceMeters })
	return out[:min(len(out), q.Limit)], nil
}

func (m *memStore) OpeningRate(context.Context, access.RowScope) (parking.Rate, error) {
	return parking.Rate{}, nil
}

func (m *memStore) GetByExternalID(_ context.Context, src, ext string) (*parking.Lot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lots {
		if l.SourceDept == src && l.ExternalID == ext {
			c := *l
			return &c, nil
		}
	}
	return nil, nil
}

func (m *memStore) Create(_ context.Context, l *parking.Lot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *l
	m.lots = append(m.lots, &c)
	return nil
}

func (m *memStore) Update(_ context.Context, l *parking.Lot, prev int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.lots {
		if x.ID == l.ID {
			if x.Version != prev {
				return apperr.New(apperr.Conflict, "changed")
			}
			c := *l
			m.lots[i] = &c
			return nil
		}
	}
	return apperr.New(apperr.NotFound, "gone")
}

func (m *memStore) Count(context.Context, access.RowScope, parking.Filter) (int, error) {
	return 0, errors.New("memStore: not used by these tests")
}

func (m *memStore) ByParent(context.Context, access.RowScope, links.Parent, []string, int, bool) (map[string][]*parking.Lot, map[string]int, error) {
	return nil, nil, errors.New("memStore: not used by these tests")
}

func (m *memStore) CountByParent(context.Context, access.RowScope, links.Parent, []string) (map[string]int, error) {
	return nil, errors.New("memStore: not used by these tests")
}

func (m *memStore) Locate(context.Context, float64, float64) (string, error) {
	return "hailing.chengzhong.pozijie.g01", nil
}
func (m *memStore) JurisdictionExists(context.Context, string) (bool, error) { return true, nil }
func (m *memStore) DepartmentExists(_ context.Context, code string) (bool, error) {
	return code != "no-such-dept", nil
}

const earthRadius = 6371008.771 // meters: PostGIS's sphere (WGS 84 mean radius)

func haversine(lat1, lng1, lat2, lng2 float64) float64 {
	r := math.Pi / 180
	dlat, dlng := (lat2-lat1)*r, (lng2-lng1)*r
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Sin(dlng/2)*math.Sin(dlng/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(a))
}

func ptr[T any](v T) *T { return &v }

func writer() *access.Decision {
	return &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true}, Actions: []string{"write"}}
}

func as(dept string) context.Context {
	return access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindUser, Subject: "u", Dept: dept, Roles: []string{"officer"}})
}

func TestNearBatchesPastClosedLotsAndTies(t *testing.T) {
	st := &memStore{}
	// 60 closed government lots nearest, then ties: 5 open lots at one point.
	for i := range 60 {
		st.lots = append(st.lots, &parking.Lot{ID: uuid.New(), Kind: parking.KindGovernmentShared, IsGovernment: true,
			TotalSpaces: 10, SharedSpaces: 5, Windows: parking.StandardSharedWindows(),
			Lat: 32.49 + float64(i)*0.00001, Lng: 119.92})
	}
	var open []uuid.UUID
	for range 5 {
		l := &parking.Lot{ID: uuid.New(), Kind: parking.KindPublic, TotalSpaces: 10, Lat: 32.495, Lng: 119.92}
		st.lots = append(st.lots, l)
		open = append(open, l.ID)
	}
	svc := parking.NewService(parking.Config{Store: st, Authorizer: fixedAuth{writer()}, Calendar: calendar.Default()})
	noon := local(t, "2025-06-10 12:00")
	got, err := svc.Near(context.Background(), 32.49, 119.92, nil, &noon, ptr(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d lots, want 4", len(got))
	}
	seen := map[uuid.UUID]bool{}
	for _, nb := range got {
		if !nb.Status.Open || !slices.Contains(open, nb.Lot.ID) || seen[nb.Lot.ID] {
			t.Fatalf("unexpected lot %+v", nb)
		}
		seen[nb.Lot.ID] = true
	}
	if len(st.nearCalls) < 2 {
		t.Fatalf("expected several batches, got %d", len(st.nearCalls))
	}
	// Without openAt: one query of exactly first, closed lots included.
	st.nearCalls = nil
	all, err := svc.Near(context.Background(), 32.49, 119.92, ptr(20000.0), nil, ptr(100))
	if err != nil || len(all) != 65 || len(st.nearCalls) != 1 || st.nearCalls[0].Limit != 100 {
		t.Fatalf("near without openAt: %d lots, %d calls, %v", len(all), len(st.nearCalls), err)
	}
	// Ties across batch boundaries: all 5 open lots sit at one distance and
	// batches of 16 must neither skip nor repeat any.
	got, err = svc.Near(context.Background(), 32.49, 119.92, nil, &noon, ptr(100))
	if err != nil || len(got) != 5 {
		t.Fatalf("all open lots: %d, %v", len(got), err)
	}
}

func TestNearValidation(t *testing.T) {
	svc := parking.NewService(parking.Config{Store: &memStore{}, Authorizer: fixedAuth{writer()}, Calendar: calendar.Default()})
	tests := []struct {
		name     string
		lat, lng float64
		radius   *float64
		first    *int
		field    string
	}{
		{"latitude", 91, 119.92, nil, nil, "lat"},
		{"NaN latitude", math.NaN(), 119.92, nil, nil, "lat"},
		{"longitude", 32.49, -181, nil, nil, "lng"},
		{"zero radius", 32.49, 119.92, ptr(0.0), nil, "radiusMeters"},
		{"radius too large", 32.49, 119.92, ptr(20000.5), nil, "radiusMeters"},
		{"negative first", 32.49, 119.92, nil, ptr(-1), "first"},
		{"first too large", 32.49, 119.92, nil, ptr(101), "first"},
	}
	for _, tc := range tests {
		_, err := svc.Near(context.Background(), tc.lat, tc.lng, tc.radius, nil, tc.first)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
			t.Errorf("%s: %v, want BAD_USER_INPUT on %s", tc.name, err, tc.field)
		}
	}
	if got, err := svc.Near(context.Background(), 32.49, 119.92, ptr(20000.0), nil, ptr(0)); err != nil || len(got) != 0 {
		t.Errorf("first 0: %v %v", got, err)
	}
}

func validInput(ext string) parking.UpsertInput {
	return parking.UpsertInput{ExternalID: ext, Name: "海陵区实验小学停车场", Kind: parking.KindGovernmentShared,
		Address: "泰州市海陵区府前路8号", Lat: 32.4901, Lng: 119.9203, Operator: "海陵区实验小学",
		TotalSpaces: 80, SharedSpaces: 40, Windows: parking.StandardSharedWindows(), MaxSeats: 7,
		ContactName: "王师傅", ContactPhone: "0523-86881234"}
}

func TestUpsertRules(t *testing.T) {
	st := &memStore{}
	clk := time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC)
	svc := parking.NewService(parking.Config{Store: st, Authorizer: fixedAuth{writer()}, Calendar: calendar.Default(),
		Now: func() time.Time { return clk }})
	ctx := as("street-chengzhong")
	in := validInput("SCH-1")
	in.OwnerDept = ""
	res, err := svc.Upsert(ctx, in)
	if err != nil || res.Action != parking.UpsertCreated || res.Lot.OwnerDept != "street-chengzhong" || !res.Lot.IsGovernment || res.Lot.Version != 1 {
		t.Fatalf("create: %+v %v", res, err)
	}
	// Another street office may not take it over, nor file one for others.
	other := validInput("SCH-1")
	other.OwnerDept = "street-chengzhong"
	if _, err := svc.Upsert(as("street-chengdong"), other); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("other department: %v, want FORBIDDEN", err)
	}
	// Without the write action nobody writes.
	ro := parking.NewService(parking.Config{Store: st, Authorizer: fixedAuth{&access.Decision{Rows: access.RowScope{All: true}}}, Calendar: calendar.Default()})
	if _, err := ro.Upsert(as(parking.ProviderDept), validInput("X")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("no write action: %v", err)
	}
	bad := []struct {
		field string
		edit  func(*parking.UpsertInput)
	}{
		{"externalId", func(in *parking.UpsertInput) { in.ExternalID = " " }},
		{"name", func(in *parking.UpsertInput) { in.Name = "" }},
		{"kind", func(in *parking.UpsertInput) { in.Kind = "GARAGE" }},
		{"location", func(in *parking.UpsertInput) { in.Lat = 31 }},
		{"sharedSpaces", func(in *parking.UpsertInput) { in.SharedSpaces = 81 }},
		{"totalSpaces", func(in *parking.UpsertInput) { in.TotalSpaces = -1 }},
		{"maxSeats", func(in *parking.UpsertInput) { in.MaxSeats = -7 }},
		{"contactPhone", func(in *parking.UpsertInput) { in.ContactPhone = "12345" }},
		{"ownerDept", func(in *parking.UpsertInput) { in.OwnerDept = "no-such-dept" }},
		{"windows.hours", func(in *parking.UpsertInput) { in.Windows.Hours = []parking.Range{parking.AllDay} }},
	}
	for _, b := range bad {
		in := validInput("SCH-bad")
		b.edit(&in)
		_, err := svc.Upsert(as(parking.ProviderDept), in)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != b.field {
			t.Errorf("%s: %v", b.field, err)
		}
	}
	if len(st.lots) != 1 {
		t.Fatalf("invalid input wrote lots: %d", len(st.lots))
	}
}

func TestDemo(t *testing.T) {
	grids := []parking.Grid{
		{Code: "hailing.chengzhong.pozijie.g01", NameZh: "坡子街社区第1网格", Lat: 32.4890, Lng: 119.9210},
		{Code: "hailing.chengdong.fenghuang.g02", NameZh: "凤凰社区第2网格", Lat: 32.4920, Lng: 119.9440},
		{Code: "hailing.jiulong.longhu.g01", NameZh: "龙湖社区第1网格", Lat: 32.4780, Lng: 119.8640},
		{Code: "hailing.chengnan.nanyuan.g05", NameZh: "南园社区第5网格", Lat: 32.4660, Lng: 119.9230},
	}
	a := parking.Demo(7, grids)
	b := parking.Demo(7, grids)
	if len(a) != parking.DemoLots {
		t.Fatalf("%d lots, want %d", len(a), parking.DemoLots)
	}
	gov, shared := 0, 0
	ids, names := map[uuid.UUID]bool{}, map[string]bool{}
	for i := range a {
		l := &a[i]
		if l.ID != b[i].ID || l.Name != b[i].Name || l.Lat != b[i].Lat {
			t.Fatal("Demo is not deterministic")
		}
		if ids[l.ID] || names[l.Name] {
			t.Fatalf("duplicate id or name: %s %s", l.ID, l.Name)
		}
		ids[l.ID], names[l.Name] = true, true
		if math.Abs(l.Lat-32.49) > 0.08 || math.Abs(l.Lng-119.92) > 0.08 {
			t.Fatalf("%s at (%f, %f) is outside the district box", l.Name, l.Lat, l.Lng)
		}
		if err := parking.ValidateWindows(l.Kind, l.Windows); err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		if l.SharedSpaces > l.TotalSpaces || l.ExternalID == "" || l.OwnerDept == "" {
			t.Fatalf("inconsistent lot %+v", l)
		}
		if l.IsGovernment {
			gov++
			if l.Kind == parking.KindGovernmentShared && l.SharedSpaces > 0 {
				shared++
			}
		}
	}
	if gov != 40 || shared != 17 {
		t.Fatalf("government lots %d (want 40), shared %d (want 17)", gov, shared)
	}
	if c := parking.Demo(8, grids); c[0].ID == a[0].ID {
		t.Fatal("another seed gave the same lots")
	}
}
