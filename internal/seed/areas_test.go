package seed_test

import (
	"math"
	"testing"

	"github.com/fengcheng/datahub/internal/seed"
)

// The district's known area is shared among its parts: every jurisdiction
// has an area, and each one's children add up to it (to rounding).
func TestJurisdictionAreasSumToParents(t *testing.T) {
	js := seed.Jurisdictions()
	if js[0].AreaKm2 != seed.DistrictAreaKm2 {
		t.Fatalf("district area %v, want %v", js[0].AreaKm2, seed.DistrictAreaKm2)
	}
	area := map[string]float64{}
	sum := map[string]float64{}
	kids := map[string]int{}
	for _, j := range js {
		if j.AreaKm2 <= 0 {
			t.Fatalf("%s has no area", j.Code)
		}
		area[j.Code] = j.AreaKm2
		if j.ParentCode != "" {
			sum[j.ParentCode] += j.AreaKm2
			kids[j.ParentCode]++
		}
	}
	for parent, s := range sum {
		if math.Abs(s-area[parent]) > 0.001*float64(kids[parent]) {
			t.Errorf("%s: children sum to %.3f km², parent has %.3f", parent, s, area[parent])
		}
	}
	if town, street := area["hailing.jiulong"], area["hailing.chengzhong"]; town <= street {
		t.Errorf("a town (%.1f km²) should be larger than an urban street (%.1f km²)", town, street)
	}
}
