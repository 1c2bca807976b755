package seed_test

import (
	"math"
	"testing"

	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/google/uuid"
)

func TestParkingLots(t *testing.T) {
	grids := []seed.ParkingGrid{
		{Code: "hailing.chengzhong.pozijie.g01", NameZh: "坡子街社区第1网格", Lat: 32.4890, Lng: 119.9210},
		{Code: "hailing.chengdong.fenghuang.g02", NameZh: "凤凰社区第2网格", Lat: 32.4920, Lng: 119.9440},
		{Code: "hailing.jiulong.longhu.g01", NameZh: "龙湖社区第1网格", Lat: 32.4780, Lng: 119.8640},
		{Code: "hailing.chengnan.nanyuan.g05", NameZh: "南园社区第5网格", Lat: 32.4660, Lng: 119.9230},
	}
	a := seed.ParkingLots(7, grids, seed.ParkingLotsDefault)
	b := seed.ParkingLots(7, grids, seed.ParkingLotsDefault)
	if len(a) != seed.ParkingLotsDefault {
		t.Fatalf("%d lots, want %d", len(a), seed.ParkingLotsDefault)
	}
	gov, shared := 0, 0
	ids, names := map[uuid.UUID]bool{}, map[string]bool{}
	for i := range a {
		l := &a[i]
		if l.ID != b[i].ID || l.Name != b[i].Name || l.Lat != b[i].Lat {
			t.Fatal("ParkingLots is not deterministic")
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
	if c := seed.ParkingLots(8, grids, seed.ParkingLotsDefault); c[0].ID == a[0].ID {
		t.Fatal("another seed gave the same lots")
	}
}
