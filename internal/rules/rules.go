// Package rules holds the validation rules several datasets share — the
// district's bounding box, phone numbers, jurisdiction and department
// codes, text limits, photo URLs — so that each rule, and the message a
// caller gets when a value breaks it, is stated once.
//
// The checks run once per row of bulk files of millions of rows, so the
// patterns are matched by hand and nothing allocates unless a value is
// refused.
package rules

import (
	"fmt"
	"net/url"
	"unicode"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
)

// District bounds: what a dataset locates must lie inside Hailing District
// (with margin).
const (
	MinLat, MaxLat = 32.30, 32.70
	MinLng, MaxLng = 119.70, 120.15
)

// InDistrict reports whether (lat, lng) lies inside the district box. NaN
// and infinities are outside.
func InDistrict(lat, lng float64) bool {
	return lat >= MinLat && lat <= MaxLat && lng >= MinLng && lng <= MaxLng
}

// Location returns BAD_USER_INPUT on field when (lat, lng) lies outside the
// district box (NaN and infinities included), nil otherwise.
func Location(field string, lat, lng float64) error {
	if InDistrict(lat, lng) {
		return nil
	}
	return apperr.Invalid(field, "(%.5f, %.5f) is not inside Hailing District (latitude %.2f–%.2f, longitude %.2f–%.2f)",
		lat, lng, MinLat, MaxLat, MinLng, MaxLng)
}

// IsPhone reports whether s is a mobile number (1, then 3–9, then 9
// digits) or a landline (0, a 2–3 digit area code, an optional dash, 7–8
// digits): the pattern ^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$.
func IsPhone(s string) bool {
	if len(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && digits(s[2:]) {
		return true
	}
	if len(s) == 0 || s[0] != '0' {
		return false
	}
	for area := 2; area <= 3; area++ {
		if len(s) < 1+area || !digits(s[1:1+area]) {
			continue
		}
		rest := s[1+area:]
		if len(rest) > 0 && rest[0] == '-' {
			rest = rest[1:]
		}
		if (len(rest) == 7 || len(rest) == 8) && digits(rest) {
			return true
		}
	}
	return false
}

// Phone returns BAD_USER_INPUT on field when s is neither empty (every
// phone number the hub keeps is optional) nor a phone number (IsPhone).
func Phone(field, s string) error {
	if s == "" || IsPhone(s) {
		return nil
	}
	return apperr.Invalid(field, "%q is not a mobile number (11 digits) or a landline such as 0523-86881234", s)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// JurisdictionCode reports whether s has the form of a jurisdiction code:
// labels of a–z, 0–9 and _ joined by single dots (hailing.chengdong), the
// pattern ^[a-z0-9_]+(\.[a-z0-9_]+)*$ the jurisdictions table checks.
func JurisdictionCode(s string) bool {
	label := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			label++
		case c == '.' && label > 0:
			label = 0
		default:
			return false
		}
	}
	return label > 0
}

// Jurisdiction returns BAD_USER_INPUT on field when code is not a
// jurisdiction code (JurisdictionCode; the empty string is not one).
func Jurisdiction(field, code string) error {
	if JurisdictionCode(code) {
		return nil
	}
	return apperr.Invalid(field, "%q is not a jurisdiction code such as hailing.chengdong", code)
}

// OptionalJurisdiction is Jurisdiction for a field that may be left empty
// (a point located from its coordinates, a filter not given).
func OptionalJurisdiction(field, code string) error {
	if code == "" {
		return nil
	}
	return Jurisdiction(field, code)
}

// MaxCodeLen bounds department and organisation codes.
const MaxCodeLen = 64

// DeptCode reports whether s has the form of a department code: 1 to 64
// lower-case letters, digits and '-' (traffic-police), the pattern
// ^[a-z0-9-]{1,64}$ credentials and API keys are held to.
func DeptCode(s string) bool {
	if len(s) == 0 || len(s) > MaxCodeLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// OrgCode reports whether s has the form of an evaluation organisation's
// code (jsu-assess): the same form as a department code, as organisations
// and departments share the credentials' columns.
func OrgCode(s string) bool { return DeptCode(s) }

// Text limits, in characters, the datasets state the same way.
const (
	// MaxSearchText bounds the free text a list filter searches for.
	MaxSearchText = 100
	// MaxAddress bounds an address.
	MaxAddress = 200
	// MaxDescription bounds the description of a case or violation.
	MaxDescription = 2000
	// MaxContactName bounds the name of a reporter or contact person.
	MaxContactName = 50
	// MaxExternalID bounds the id a record has in its sender's system.
	MaxExternalID = 100
	// MaxNote bounds a note or reason written on a workflow step.
	MaxNote = 1000
)

// TooLong reports whether s has more than max characters.
func TooLong(s string, max int) bool {
	// Counting stops early: a byte count within the limit needs none.
	return len(s) > max && utf8.RuneCountInString(s) > max
}

// MaxText returns BAD_USER_INPUT on field when s has more than max
// characters: "<what> is limited to <max> characters".
func MaxText(field, what, s string, max int) error {
	if !TooLong(s, max) {
		return nil
	}
	return apperr.Invalid(field, "%s is limited to %d characters", what, max)
}

// SearchText returns BAD_USER_INPUT on field when a filter's search text
// is longer than MaxSearchText.
func SearchText(field, s string) error {
	return MaxText(field, "search text", s, MaxSearchText)
}

// Address returns BAD_USER_INPUT on field when an address is longer than
// MaxAddress.
func Address(field, s string) error {
	return MaxText(field, "the address", s, MaxAddress)
}

// Site checks where a record says it is, in the order every dataset reports
// problems: its address ("address"), its point ("location") and, when
// given, its jurisdiction code ("jurisdiction").
func Site(address string, lat, lng float64, jurisdiction string) error {
	if err := Address("address", address); err != nil {
		return err
	}
	if err := Location("location", lat, lng); err != nil {
		return err
	}
	return OptionalJurisdiction("jurisdiction", jurisdiction)
}

// PrintableID reports whether an external id is 1 to MaxExternalID
// characters without control characters.
func PrintableID(s string) bool {
	if s == "" || TooLong(s, MaxExternalID) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Photo limits.
const (
	// MaxPhotos is how many photos a record may carry.
	MaxPhotos = 9
	// MaxPhotoURL bounds a photo URL, in bytes.
	MaxPhotoURL = 500
)

// PhotoCount returns BAD_USER_INPUT on field when there are more than
// MaxPhotos photos.
func PhotoCount(field string, n int) error {
	if n <= MaxPhotos {
		return nil
	}
	return apperr.Invalid(field, "at most %d photos", MaxPhotos)
}

// PhotoURLs returns BAD_USER_INPUT on field[i] for the first URL that is
// not valid UTF-8 text or not an absolute http(s) URL of at most
// MaxPhotoURL bytes.
func PhotoURLs(field string, urls []string) error {
	for i, u := range urls {
		if !utf8.ValidString(u) {
			return apperr.Invalid(fmt.Sprintf("%s[%d]", field, i), "not valid UTF-8 text")
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || len(u) > MaxPhotoURL {
			return apperr.Invalid(fmt.Sprintf("%s[%d]", field, i), "%q is not an http(s) URL", u)
		}
	}
	return nil
}
