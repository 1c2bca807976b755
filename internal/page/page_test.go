package page

import (
	"strconv"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

func TestAfter(t *testing.T) {
	empty := ""
	for _, a := range []*string{nil, &empty} {
		if c, err := After(a, "REPORTED_AT_DESC", TimeKey); c != nil || err != nil {
			t.Fatalf("After(%v) = %v, %v; want nil, nil", a, c, err)
		}
	}
	at := time.Date(2025, 11, 20, 8, 30, 0, 123456000, time.UTC)
	want := At("REPORTED_AT_DESC", at, uuid.New())
	s := want.Encode()
	got, err := After(&s, "REPORTED_AT_DESC", TimeKey)
	if err != nil || got == nil || *got != want || !got.Time().Equal(at) {
		t.Fatalf("After(cursor) = %v, %v; want %v", got, err, want)
	}
	if _, err := After(&s, "DEADLINE_ASC", TimeKey); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("a cursor of another order: %v, want BAD_USER_INPUT", err)
	}
}

// TestKeys walks every key kind through Encode and Decode, including text
// keys holding the separator, and refuses keys of the wrong kind.
func TestKeys(t *testing.T) {
	id := uuid.New()
	for _, c := range []struct {
		cur  Cursor
		kind KeyKind
	}{
		{Of("NAME_ASC", "东方|花园 1|2", id), TextKey},
		{Of("NAME_ASC", "", id), TextKey},
		{Of("BUILD_YEAR_DESC", strconv.Itoa(1998), id), IntKey},
		{At("DEADLINE_ASC", Infinity, id), TimeKey},
	} {
		got, err := Decode(c.cur.Encode(), c.cur.Order, c.kind)
		if err != nil || got != c.cur {
			t.Errorf("Decode(Encode(%v)) = %v, %v", c.cur, got, err)
		}
	}
	if got, _ := Decode(Of("BUILD_YEAR_DESC", "1998", id).Encode(), "BUILD_YEAR_DESC", IntKey); got.Int() != 1998 {
		t.Errorf("Int() = %d, want 1998", got.Int())
	}
	for _, bad := range []string{
		Of("BUILD_YEAR_DESC", "nineteen", id).Encode(),
		"not base64!",
		"QUJD", // "ABC": no separators
	} {
		if _, err := Decode(bad, "BUILD_YEAR_DESC", IntKey); !apperr.Is(err, apperr.BadUserInput) {
			t.Errorf("Decode(%q): %v, want BAD_USER_INPUT", bad, err)
		}
	}
}

func TestParse(t *testing.T) {
	neg, big := -1, FirstMax+1
	for _, n := range []*int{&neg, &big} {
		if _, err := Parse(n, nil, "NAME", TextKey); !apperr.Is(err, apperr.BadUserInput) {
			t.Errorf("first %d: %v, want BAD_USER_INPUT", *n, err)
		}
	}
	r, err := Parse(nil, nil, "NAME", TextKey)
	if err != nil || r.First != FirstDefault || r.After != nil {
		t.Fatalf("defaults: %+v %v", r, err)
	}
}

// TestParseArgs checks the Relay arguments: one direction per request, the
// default size, and the field each refusal names.
func TestParseArgs(t *testing.T) {
	at := time.Date(2025, 11, 20, 8, 30, 0, 0, time.UTC)
	cur := At("REPORTED_AT_DESC", at, uuid.New())
	s := cur.Encode()
	n, zero, bad := 7, 0, FirstMax+1
	empty := ""
	for _, tt := range []struct {
		name  string
		a     Args
		want  Request
		field string
	}{
		{"none", Args{}, Request{First: FirstDefault}, ""},
		{"first after", Args{First: &n, After: &s}, Request{First: n, After: &cur}, ""},
		{"first 0", Args{First: &zero}, Request{First: 0}, ""},
		{"last", Args{Last: &n}, Request{Backward: true, Last: n}, ""},
		{"last 0", Args{Last: &zero}, Request{Backward: true, Last: 0}, ""},
		{"last before", Args{Last: &n, Before: &s}, Request{Backward: true, Last: n, Before: &cur}, ""},
		{"before alone", Args{Before: &s}, Request{Backward: true, Last: FirstDefault, Before: &cur}, ""},
		{"empty before", Args{First: &n, Before: &empty}, Request{First: n}, ""},
		{"first and last", Args{First: &n, Last: &n}, Request{}, "last"},
		{"last after", Args{Last: &n, After: &s}, Request{}, "after"},
		{"first before", Args{First: &n, Before: &s}, Request{}, "before"},
		{"after before", Args{After: &s, Before: &s}, Request{}, "before"},
		{"last too large", Args{Last: &bad}, Request{}, "last"},
		{"bad before", Args{Last: &n, Before: ptr("nope")}, Request{}, "before"},
		{"before of another order", Args{Before: ptr(At("DEADLINE_ASC", at, cur.ID).Encode())}, Request{}, "before"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseArgs(tt.a, "REPORTED_AT_DESC", TimeKey)
			if tt.field != "" {
				e, ok := apperr.As(err)
				if !ok || e.Code != apperr.BadUserInput || e.Field != tt.field {
					t.Fatalf("err %v, want BAD_USER_INPUT on %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			same := func(a, b *Cursor) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
			if got.First != tt.want.First || got.Last != tt.want.Last || got.Backward != tt.want.Backward ||
				!same(got.After, tt.want.After) || !same(got.Before, tt.want.Before) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// Against the direction of travel a page answers whether a cursor was given.
	if i := (Request{First: 3, After: &cur}).InfoOf(false); i.HasNext || !i.HasPrev {
		t.Fatalf("forward page after a cursor: %+v", i)
	}
	if i := (Request{Backward: true, Last: 3}).InfoOf(true); i.HasNext || !i.HasPrev {
		t.Fatalf("backward page from the end: %+v", i)
	}
}

func ptr[T any](v T) *T { return &v }
