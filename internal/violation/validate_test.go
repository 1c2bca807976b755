package violation

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
)

func TestNormalizeIDNumber(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"11010519491231002X", "11010519491231002X", true}, // GB 11643 sample
		{"11010519491231002x", "11010519491231002X", true}, // lowercase x raised
		{" 321202197503021235 ", "321202197503021235", true},
		{"440524188001010014", "", false},  // valid sample, but born before 1900
		{"321202198805170015", "", false},  // wrong check digit (…0011 would be right)
		{"110105194912310021", "", false},  // wrong check digit
		{"11010519491231002", "", false},   // 17 characters
		{"1101051949123100211", "", false}, // 19 characters
		{"11010519491331002X", "", false},  // month 13 (check digit aside)
		{"31020220250230001X", "", false},  // 30 February
		{"11010521000101001X", "", false},  // born in the future
		{"A1010519491231002X", "", false},  // letter in the body
		{"１１０１０５１９４９１２３１００２Ｘ", "", false},  // full-width digits
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := NormalizeIDNumber(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("NormalizeIDNumber(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Every body gets exactly one valid check character.
	body := "32120219880517001"
	valid := 0
	for _, c := range "0123456789X" {
		if _, ok := NormalizeIDNumber(body + string(c)); ok {
			valid++
		}
	}
	if valid != 1 || IDCheckChar(body) == 0 {
		t.Fatalf("%d valid check characters for %s", valid, body)
	}
	if _, ok := NormalizeIDNumber(body + string(IDCheckChar(body))); !ok {
		t.Fatal("IDCheckChar disagrees with NormalizeIDNumber")
	}
}

func TestNormalizePlate(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"苏M12345", "苏M12345", true},
		{"苏MD12345", "苏MD12345", true}, // new energy, small vehicle
		{"苏MFA1234", "苏MFA1234", true}, // new energy with a letter
		{"苏M12345D", "苏M12345D", true}, // new energy, large vehicle
		{"苏m·a8b9c", "苏MA8B9C", true},  // dot and lowercase normalised
		{"苏 M 1234挂", "苏M1234挂", true},
		{"京A12345", "京A12345", true},
		{"苏M1234", "", false},   // too short
		{"苏M123456", "", false}, // 6 digits, not new energy
		{"苏MO1234", "", false},  // O is not used
		{"苏I12345", "", false},  // nor I
		{"港M12345", "", false},  // not a province prefix
		{"SM12345", "", false},  // no province character
		{"苏MD1234X", "", false}, // small new energy ends in 4 digits
		{"苏1M2345", "", false},  // city letter missing
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := NormalizePlate(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("NormalizePlate(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func validInput() ReportInput {
	area := 42.5
	return ReportInput{
		Kind: KindIllegalConstruction, Subtype: SubtypeRooftopAddition, Channel: ChannelDrone,
		Description: "顶层违法搭建彩钢棚", AreaM2: &area, Lat: 32.49, Lng: 119.92,
		Party: Party{Name: "王建国", IDNumber: "11010519491231002X", Phone: "13812345678"},
	}
}

// TestValidateReport covers the input rules that need no store.
func TestValidateReport(t *testing.T) {
	now := time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC)
	nan, zero, huge, neg := math.NaN(), 0.0, 100_000.5, -3.0
	future := now.Add(time.Hour)
	tests := []struct {
		name  string
		edit  func(*ReportInput)
		field string
	}{
		{"valid", func(*ReportInput) {}, ""},
		{"unknown kind", func(in *ReportInput) { in.Kind = "LITTERING" }, "kind"},
		{"subtype of another kind", func(in *ReportInput) { in.Subtype = SubtypeStreetVending }, "subtype"},
		{"missing subtype", func(in *ReportInput) { in.Subtype = "" }, "subtype"},
		{"subtype on a kind without", func(in *ReportInput) {
			in.Kind, in.AreaM2, in.Plate = KindIllegalAdvertising, nil, ""
		}, "subtype"},
		{"unknown channel", func(in *ReportInput) { in.Channel = "PIGEON" }, "channel"},
		{"empty description", func(in *ReportInput) { in.Description = "  " }, "description"},
		{"long description", func(in *ReportInput) { in.Description = strings.Repeat("违", 2001) }, "description"},
		{"construction without area", func(in *ReportInput) { in.AreaM2 = nil }, "areaM2"},
		{"zero area", func(in *ReportInput) { in.AreaM2 = &zero }, "areaM2"},
		{"negative area", func(in *ReportInput) { in.AreaM2 = &neg }, "areaM2"},
		{"area over 100,000 m²", func(in *ReportInput) { in.AreaM2 = &huge }, "areaM2"},
		{"NaN area", func(in *ReportInput) { in.AreaM2 = &nan }, "areaM2"},
		{"latitude out of range", func(in *ReportInput) { in.Lat = 95 }, "location"},
		{"outside the district", func(in *ReportInput) { in.Lat, in.Lng = 31.23, 121.47 }, "location"},
		{"NaN latitude", func(in *ReportInput) { in.Lat = nan }, "location"},
		{"bad jurisdiction code", func(in *ReportInput) { in.Jurisdiction = "Hailing/East" }, "jurisdiction"},
		{"bad ID check digit", func(in *ReportInput) { in.Party.IDNumber = "110105194912310021" }, "party.idNumber"},
		{"short ID number", func(in *ReportInput) { in.Party.IDNumber = "3212021988" }, "party.idNumber"},
		{"bad phone", func(in *ReportInput) { in.Party.Phone = "12345" }, "party.phone"},
		{"plate on construction", func(in *ReportInput) { in.Plate = "苏M12345" }, "plate"},
		{"parking without plate", func(in *ReportInput) { in.Kind, in.Subtype, in.AreaM2 = KindIllegalParking, "", nil }, "plate"},
		{"parking with a bad plate", func(in *ReportInput) {
			in.Kind, in.Subtype, in.AreaM2, in.Plate = KindIllegalParking, "", nil, "苏M1234"
		}, "plate"},
		{"discovered in the future", func(in *ReportInput) { in.DiscoveredAt = &future }, "discoveredAt"},
		{"long external id", func(in *ReportInput) { in.ExternalID = strings.Repeat("x", 101) }, "externalId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := validInput()
			tc.edit(&in)
			err := validateReport(&in, now)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid input refused: %v", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
				t.Fatalf("err = %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
		})
	}
	// Parking with a plate written loosely is accepted and normalised.
	in := validInput()
	in.Kind, in.Subtype, in.AreaM2, in.Plate = KindIllegalParking, "", nil, "苏m·d12345"
	if err := validateReport(&in, now); err != nil || in.Plate != "苏MD12345" {
		t.Fatalf("parking: %v, plate %q", err, in.Plate)
	}
}

func FuzzNormalizeIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "321202197503021235", "32120219880517001", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeIDNumber(s)
		if !ok {
			return
		}
		if len(got) != 18 || IDCheckChar(got[:17]) != got[17] {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, ok := NormalizeIDNumber(got); !ok || again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
	})
}

func FuzzNormalizePlate(f *testing.F) {
	for _, s := range []string{"苏M12345", "苏MD12345", "苏M12345D", "苏m·a8b9c", "", "苏"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizePlate(s)
		if !ok {
			return
		}
		if n := utf8.RuneCountInString(got); n < 7 || n > 8 || !utf8.ValidString(got) {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, ok := NormalizePlate(got); !ok || again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
	})
}
