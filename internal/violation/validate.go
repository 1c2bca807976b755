package violation

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// AreaMaxM2 bounds any area: larger figures are typing errors (the largest
// demolitions on record are a few thousand m²).
const AreaMaxM2 = 100_000

// validArea reports whether a is a usable area in m²: finite, > 0 and at
// most AreaMaxM2.
func validArea(a float64) bool {
	return !math.IsNaN(a) && a > 0 && a <= AreaMaxM2
}

// idWeights are the ISO 7064 MOD 11-2 weights (2^(17-i) mod 11) of the first
// 17 characters of a resident ID number; idCheck maps the weighted sum mod
// 11 to the check character.
var (
	idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	idCheck   = "10X98765432"
)

// IDCheckChar returns the check character of the first 17 digits of a
// resident ID number, or 0 when they are not 17 ASCII digits.
func IDCheckChar(first17 string) byte {
	if len(first17) != 17 {
		return 0
	}
	sum := 0
	for i := range 17 {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0
		}
		sum += int(c-'0') * idWeights[i]
	}
	return idCheck[sum%11]
}

// NormalizeIDNumber checks an 18-character resident ID number (GB 11643:
// 6-digit region, 8-digit birth date, 3-digit sequence, ISO 7064 MOD 11-2
// check character) and returns it with a lowercase x raised. It reports
// false when the format, birth date or check character is wrong.
func NormalizeIDNumber(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 18 {
		return "", false
	}
	want := IDCheckChar(s[:17])
	if want == 0 || s[17] != want {
		return "", false
	}
	if s[0] == '0' { // region codes start at 11 (Beijing)
		return "", false
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil || birth.Year() < 1900 || birth.After(time.Now()) {
		return "", false
	}
	return s, true
}

// plateProvinces are the one-character province abbreviations that begin a
// licence plate.
const plateProvinces = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

// Plate letters exclude I and O (they read as 1 and 0).
var (
	// Ordinary plate: province, city letter, 5 letters or digits (the last
	// may be 挂 trailer, 学 learner, 警 police).
	plateOrdinary = regexp.MustCompile(`^[` + plateProvinces + `][A-HJ-NP-Z][A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警]$`)
	// New-energy plate: province, city letter, then D/F and a letter or
	// digit and 4 digits (small vehicles) or 5 digits and D/F (large).
	plateNewEnergy = regexp.MustCompile(`^[` + plateProvinces + `][A-HJ-NP-Z]([DF][A-HJ-NP-Z0-9][0-9]{4}|[0-9]{5}[DF])$`)
)

// NormalizePlate checks a Chinese licence plate — ordinary (苏M12345) or
// new-energy (苏MD12345) — and returns it without spaces or the middle dot,
// letters raised. It reports false for anything else.
func NormalizePlate(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '·', '•', '.', '-':
			return -1
		}
		return r
	}, s)
	s = strings.ToUpper(s)
	if utf8.RuneCountInString(s) < 7 || utf8.RuneCountInString(s) > 8 {
		return "", false
	}
	if plateOrdinary.MatchString(s) || plateNewEnergy.MatchString(s) {
		return s, true
	}
	return "", false
}

// ReportInput is a violation as recorded by an officer or sent by a
// department system (drone platform, enforcement terminal, traffic police).
type ReportInput struct {
	Kind        Kind
	Subtype     Subtype // required for kinds with subtypes, empty otherwise
	Channel     Channel
	Description string
	// AreaM2 is required (> 0) for illegal construction.
	AreaM2  *float64
	Address string
	Lat     float64
	Lng     float64
	// Jurisdiction is optional: located from the point when empty.
	Jurisdiction string
	Party        Party
	// Plate is required for illegal parking and refused otherwise.
	Plate        string
	PropertyID   *uuid.UUID
	CaseID       *uuid.UUID
	DiscoveredAt *time.Time // now when nil
	// ExternalID is the sending system's id; Upsert requires it.
	ExternalID string
}

// validateReport checks and normalises in; it does not touch the store.
func validateReport(in *ReportInput, now time.Time) error {
	in.Description = strings.TrimSpace(in.Description)
	in.Address = strings.TrimSpace(in.Address)
	in.Jurisdiction = strings.TrimSpace(in.Jurisdiction)
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Party.Name = strings.TrimSpace(in.Party.Name)
	in.Party.Phone = strings.TrimSpace(in.Party.Phone)
	in.Party.IDNumber = strings.TrimSpace(in.Party.IDNumber)
	in.Plate = strings.TrimSpace(in.Plate)
	if !in.Kind.Valid() {
		return apperr.Invalid("kind", "unknown kind %q", in.Kind)
	}
	if subs := subtypes[in.Kind]; len(subs) > 0 {
		if !slices.Contains(subs, in.Subtype) {
			return apperr.Invalid("subtype", "a %s violation needs one of the subtypes %s", in.Kind, joinSubtypes(subs))
		}
	} else if in.Subtype != "" {
		return apperr.Invalid("subtype", "%s violations have no subtypes", in.Kind)
	}
	if !in.Channel.Valid() {
		return apperr.Invalid("channel", "unknown discovery channel %q", in.Channel)
	}
	if in.Description == "" {
		return apperr.Invalid("description", "describe the violation: the description must not be empty")
	}
	// In this order: the first problem is reported.
	for _, err := range []error{
		rules.MaxText("description", "the description", in.Description, rules.MaxDescription),
		rules.Site(in.Address, in.Lat, in.Lng, in.Jurisdiction),
		rules.MaxText("externalId", "the external id", in.ExternalID, rules.MaxExternalID),
	} {
		if err != nil {
			return err
		}
	}
	if in.AreaM2 != nil {
		if !validArea(*in.AreaM2) {
			return apperr.Invalid("areaM2", "the area must be more than 0 and at most %d m²", AreaMaxM2)
		}
		a := math.Round(*in.AreaM2*100) / 100 // centimetre-square precision is plenty
		in.AreaM2 = &a
	} else if in.Kind.Construction() {
		return apperr.Invalid("areaM2", "give the area in m² of the illegal structure")
	}
	if err := validateParty(&in.Party); err != nil {
		return err
	}
	if in.Kind == KindIllegalParking {
		p, ok := NormalizePlate(in.Plate)
		if !ok {
			if in.Plate == "" {
				return apperr.Invalid("plate", "an illegal-parking violation needs the vehicle's plate")
			}
			return apperr.Invalid("plate", "%q is not a licence plate such as 苏M12345 or 苏MD12345", in.Plate)
		}
		in.Plate = p
	} else if in.Plate != "" {
		return apperr.Invalid("plate", "a plate is recorded for illegal parking only")
	}
	if in.DiscoveredAt != nil {
		if err := recordtime.Check("discoveredAt", *in.DiscoveredAt, now); err != nil {
			return err
		}
		t := in.DiscoveredAt.UTC().Truncate(time.Microsecond)
		in.DiscoveredAt = &t
	}
	return nil
}

func validateParty(p *Party) error {
	if utf8.RuneCountInString(p.Name) > 100 {
		return apperr.Invalid("party.name", "the name is limited to 100 characters")
	}
	if err := rules.Phone("party.phone", p.Phone); err != nil {
		return err
	}
	if p.IDNumber != "" {
		id, ok := NormalizeIDNumber(p.IDNumber)
		if !ok {
			return apperr.Invalid("party.idNumber", "not a valid 18-character resident ID number (check the birth date and the last character)")
		}
		p.IDNumber = id
	}
	return nil
}

func joinSubtypes(list []Subtype) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
