package property_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/google/uuid"
)

func pid(i int) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], uint64(i))
	u[0] = 0x42
	return u
}

// registers returns n targets with the given complaints and m inspectors.
func registers(n, m int, complaints func(i int) int) property.Registers {
	var r property.Registers
	for i := range n {
		c := 0
		if complaints != nil {
			c = complaints(i)
		}
		r.Targets = append(r.Targets, property.Target{PropertyID: pid(i), Complaints: c})
	}
	for i := range m {
		r.Inspectors = append(r.Inspectors, fmt.Sprintf("INS-%02d", i+1))
	}
	return r
}

func mustDraw(t *testing.T, r property.Registers, seed int64, ratio float64, k int) *property.DrawResult {
	t.Helper()
	res, err := property.Draw(r, seed, ratio, k)
	if err != nil {
		t.Fatalf("Draw: %v", err)
	}
	return res
}

func TestDrawIsReproducible(t *testing.T) {
	r := registers(200, 12, func(i int) int { return i % 7 })
	r.Conflicts = []property.Conflict{{InspectorID: "INS-03", PropertyID: pid(5)}}
	r.PreviousRounds = []string{"2025-H2"}
	r.Previous = []property.Assignment{{PropertyID: pid(9), InspectorID: "INS-01"}}
	a := mustDraw(t, r, 20260101, 0.1, 2)
	b := mustDraw(t, r, 20260101, 0.1, 2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed and registers gave different draws")
	}
	// Order of the register rows does not matter: the registers are put in
	// canonical order first.
	shuffled := r
	shuffled.Targets = append([]property.Target(nil), r.Targets...)
	for i, j := 0, len(shuffled.Targets)-1; i < j; i, j = i+1, j-1 {
		shuffled.Targets[i], shuffled.Targets[j] = shuffled.Targets[j], shuffled.Targets[i]
	}
	shuffled.Inspectors = append([]string{"INS-12"}, r.Inspectors[:11]...)
	if c := mustDraw(t, shuffled, 20260101, 0.1, 2); !reflect.DeepEqual(a, c) {
		t.Fatal("reordered registers gave a different draw")
	}
	if d := mustDraw(t, r, 20260102, 0.1, 2); reflect.DeepEqual(a.Picks, d.Picks) {
		t.Fatal("another seed gave the same draw")
	}
	if a.TargetsHash != b.TargetsHash || a.InspectorsHash != b.InspectorsHash || len(a.TargetsHash) != 64 {
		t.Fatalf("hashes %s %s", a.TargetsHash, a.InspectorsHash)
	}
	// The snapshots decode back to registers that encode identically and
	// replay the same draw.
	back, err := property.DecodeRegisters(r.EncodeTargets(), r.EncodeInspectors())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.EncodeTargets(), r.EncodeTargets()) || !bytes.Equal(back.EncodeInspectors(), r.EncodeInspectors()) {
		t.Fatal("decode/encode does not round-trip")
	}
	if e := mustDraw(t, back, 20260101, 0.1, 2); !reflect.DeepEqual(a, e) {
		t.Fatal("replay from the snapshots differs")
	}
}

func TestRegisterHashes(t *testing.T) {
	base := registers(50, 6, func(i int) int { return i % 3 })
	th, ih := base.Hashes()
	changes := map[string]func(r *property.Registers){
		"complaints":        func(r *property.Registers) { r.Targets[3].Complaints++ },
		"another target":    func(r *property.Registers) { r.Targets = append(r.Targets, property.Target{PropertyID: pid(999)}) },
		"another inspector": func(r *property.Registers) { r.Inspectors = append(r.Inspectors, "INS-99") },
		"a conflict": func(r *property.Registers) {
			r.Conflicts = append(r.Conflicts, property.Conflict{InspectorID: "INS-01", PropertyID: pid(1)})
		},
		"previous round": func(r *property.Registers) {
			r.PreviousRounds = []string{"2025-H1"}
			r.Previous = []property.Assignment{{PropertyID: pid(2), InspectorID: "INS-02"}}
		},
	}
	for name, change := range changes {
		r := base
		r.Targets = append([]property.Target(nil), base.Targets...)
		r.Inspectors = append([]string(nil), base.Inspectors...)
		change(&r)
		t2, i2 := r.Hashes()
		if t2 == th && i2 == ih {
			t.Errorf("%s: hashes unchanged", name)
		}
		res := mustDraw(t, r, 1, 0.1, 2)
		if res.TargetsHash != t2 || res.InspectorsHash != i2 {
			t.Errorf("%s: the draw records other hashes than the registers'", name)
		}
	}
	// Targets and inspectors are hashed separately: a new inspector leaves
	// the targets hash alone.
	r := base
	r.Inspectors = append(append([]string(nil), base.Inspectors...), "INS-77")
	if t2, i2 := r.Hashes(); t2 != th || i2 == ih {
		t.Error("a new inspector should change only the inspectors hash")
	}
}

func TestDrawRatio(t *testing.T) {
	tests := []struct {
		n     int
		ratio float64
		want  int
	}{
		{600, 0.05, 30}, // 0.05·600 is 30.000000000000004 in floating point
		{600, 0.10, 60},
		{37, 0.05, 2},
		{37, 0.10, 4},
		{37, 1, 37},
		{3, 0.05, 1},
		{100, 0.333, 34},
	}
	for _, tc := range tests {
		if got := property.SampleSize(tc.n, tc.ratio); got != tc.want {
			t.Errorf("SampleSize(%d, %v) = %d, want %d", tc.n, tc.ratio, got, tc.want)
		}
		res := mustDraw(t, registers(tc.n, 6, nil), 7, tc.ratio, 2)
		if len(res.Picks) != tc.want || res.RegisterSize != tc.n {
			t.Errorf("Draw(n=%d, ratio=%v) drew %d of %d, want %d", tc.n, tc.ratio, len(res.Picks), res.RegisterSize, tc.want)
		}
		seen := map[uuid.UUID]bool{}
		for i, p := range res.Picks {
			if seen[p.PropertyID] || p.Rank != i+1 {
				t.Fatalf("pick %d: %+v repeated or out of rank", i, p)
			}
			seen[p.PropertyID] = true
		}
	}
	refusals := []struct {
		name  string
		r     property.Registers
		ratio float64
		k     int
		field string
	}{
		{"ratio under 5 %", registers(100, 6, nil), 0.049, 2, "ratio"},
		{"ratio zero", registers(100, 6, nil), 0, 2, "ratio"},
		{"ratio over 100 %", registers(100, 6, nil), 1.01, 2, "ratio"},
		{"one inspector per target", registers(100, 6, nil), 0.1, 1, "inspectorsPerTarget"},
		{"empty register", registers(0, 6, nil), 0.1, 2, "round"},
		{"too few inspectors", registers(100, 1, nil), 0.1, 2, "inspectorsPerTarget"},
	}
	for _, tc := range refusals {
		_, err := property.Draw(tc.r, 1, tc.ratio, tc.k)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
			t.Errorf("%s: err = %v, want BAD_USER_INPUT on %s", tc.name, err, tc.field)
		}
	}
}

func TestDrawInspectorsAndRecusal(t *testing.T) {
	r := registers(40, 5, nil)
	// INS-01 declared conflicts with the first ten compounds.
	for i := range 10 {
		r.Conflicts = append(r.Conflicts, property.Conflict{InspectorID: "INS-01", PropertyID: pid(i)})
	}
	first := mustDraw(t, r, 99, 1, 2) // every target, so every target is in both rounds
	check := func(res *property.DrawResult, previous map[property.Assignment]bool) {
		t.Helper()
		load := map[string]int{}
		for _, p := range res.Picks {
			if len(p.InspectorIDs) != 2 || p.InspectorIDs[0] == p.InspectorIDs[1] {
				t.Fatalf("%s: inspectors %v, want 2 distinct", p.PropertyID, p.InspectorIDs)
			}
			for _, id := range p.InspectorIDs {
				load[id]++
				a := property.Assignment{PropertyID: p.PropertyID, InspectorID: id}
				if id == "INS-01" && p.PropertyID[15] < 10 {
					t.Fatalf("INS-01 drawn for %s despite a declared conflict", p.PropertyID)
				}
				if previous[a] {
					t.Fatalf("%s inspects %s again in the next round", id, p.PropertyID)
				}
			}
		}
		// 80 assignments over 5 inspectors, handed to the least loaded.
		for id, n := range load {
			if n < 12 || n > 20 {
				t.Errorf("inspector %s has %d assignments: the load is not spread (%v)", id, n, load)
			}
		}
	}
	check(first, nil)

	next := r
	next.PreviousRounds = []string{"2026-H1"}
	prev := map[property.Assignment]bool{}
	for _, p := range first.Picks {
		for _, id := range p.InspectorIDs {
			a := property.Assignment{PropertyID: p.PropertyID, InspectorID: id}
			next.Previous = append(next.Previous, a)
			prev[a] = true
		}
	}
	second := mustDraw(t, next, 100, 1, 2)
	check(second, prev)

	// With three inspectors, two recused by the previous round and one
	// by a conflict, nobody is left: the draw says so rather than
	// breaking the rules.
	tight := registers(1, 3, nil)
	tight.Previous = []property.Assignment{{PropertyID: pid(0), InspectorID: "INS-01"}, {PropertyID: pid(0), InspectorID: "INS-02"}}
	if _, err := property.Draw(tight, 1, 1, 2); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("too few eligible inspectors: %v", err)
	}
	tight.Previous = tight.Previous[:1]
	res := mustDraw(t, tight, 1, 1, 2)
	if got := res.Picks[0].InspectorIDs; !reflect.DeepEqual(got, []string{"INS-02", "INS-03"}) {
		t.Fatalf("inspectors %v, want the two not recused", got)
	}
}

// TestDrawWeighting: a target with ten times the complaints is drawn
// markedly more often. The seeds are fixed, so the test cannot flake; the
// bound is far below the ratio it shows (about 6) so that a change of the
// PCG stream would not break it either.
func TestDrawWeighting(t *testing.T) {
	// 10 hot targets with 20 complaints (weight 21), 90 with 2 (weight 3).
	r := registers(100, 4, func(i int) int {
		if i%10 == 0 {
			return 20
		}
		return 2
	})
	const draws = 400
	hot, cold := 0, 0
	for seed := int64(1); seed <= draws; seed++ {
		for _, p := range mustDraw(t, r, seed, 0.1, 2).Picks {
			if int(p.PropertyID[15])%10 == 0 {
				hot++
			} else {
				cold++
			}
		}
	}
	hotRate := float64(hot) / (10 * draws)   // chance a given hot target is drawn
	coldRate := float64(cold) / (90 * draws) // chance a given cold target is drawn
	t.Logf("hot %.3f, cold %.3f per draw (ratio %.1f)", hotRate, coldRate, hotRate/coldRate)
	if hotRate < 2.5*coldRate {
		t.Fatalf("hot targets drawn at %.3f, cold at %.3f: weighting too weak", hotRate, coldRate)
	}
	// Zero-complaint targets still get drawn: weight 1 + complaints.
	if coldRate == 0 {
		t.Fatal("cold targets are never drawn")
	}
}

func TestDecodeRegistersRefusesGarbage(t *testing.T) {
	good := registers(3, 2, nil)
	tests := map[string][2]string{
		"no header":          {"x\n", string(good.EncodeInspectors())},
		"bad weight":         {"datahub-draw-targets v1\n" + pid(1).String() + " 0\n", string(good.EncodeInspectors())},
		"bad uuid":           {"datahub-draw-targets v1\nnot-a-uuid 3\n", string(good.EncodeInspectors())},
		"unknown line":       {string(good.EncodeTargets()), "datahub-draw-inspectors v1\npreviou-round -\n"},
		"bad inspector id":   {string(good.EncodeTargets()), "datahub-draw-inspectors v1\nprevious-round -\ninspector a b\n"},
		"late previous":      {string(good.EncodeTargets()), "datahub-draw-inspectors v1\ninspector a\nprevious-round -\n"},
		"short conflict":     {string(good.EncodeTargets()), "datahub-draw-inspectors v1\nprevious-round -\nconflict a\n"},
		"malformed previous": {string(good.EncodeTargets()), "datahub-draw-inspectors v1\nprevious-round -\nprevious x a\n"},
	}
	for name, in := range tests {
		if _, err := property.DecodeRegisters([]byte(in[0]), []byte(in[1])); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzDecodeRegisters(f *testing.F) {
	r := registers(3, 2, func(i int) int { return i })
	r.PreviousRounds = []string{"2025-H1"}
	r.Conflicts = []property.Conflict{{InspectorID: "INS-01", PropertyID: pid(1)}}
	r.Previous = []property.Assignment{{PropertyID: pid(2), InspectorID: "INS-02"}}
	f.Add(r.EncodeTargets(), r.EncodeInspectors())
	f.Add([]byte("datahub-draw-targets v1\n"), []byte("datahub-draw-inspectors v1\nprevious-round -\n"))
	f.Fuzz(func(t *testing.T, targets, inspectors []byte) {
		reg, err := property.DecodeRegisters(targets, inspectors)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a canonical form that decodes to
		// the same registers.
		again, err := property.DecodeRegisters(reg.EncodeTargets(), reg.EncodeInspectors())
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !bytes.Equal(again.EncodeTargets(), reg.EncodeTargets()) || !bytes.Equal(again.EncodeInspectors(), reg.EncodeInspectors()) {
			t.Fatal("canonical encoding is not stable")
		}
	})
}
