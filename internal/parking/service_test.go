package parking_test

import (
	"math"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
)

// The service's tests against the real database (Near's batching, input
// validation, upsert rules) live in internal/postgres/parking_service_test.go.

func apperrAs(err error) (*apperr.Error, bool) { return apperr.As(err) }

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
