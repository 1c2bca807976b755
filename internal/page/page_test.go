package page

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAfter(t *testing.T) {
	empty := ""
	for _, a := range []*string{nil, &empty} {
		if c, err := After(a, "REPORTED_AT_DESC"); c != nil || err != nil {
			t.Fatalf("After(%v) = %v, %v; want nil, nil", a, c, err)
		}
	}
	want := Cursor{Order: "REPORTED_AT_DESC", Key: time.Date(2025, 11, 20, 8, 30, 0, 0, time.UTC), ID: uuid.New()}
	s := want.Encode()
	got, err := After(&s, "REPORTED_AT_DESC")
	if err != nil || got == nil || *got != want {
		t.Fatalf("After(cursor) = %v, %v; want %v", got, err, want)
	}
	if _, err := After(&s, "DEADLINE_ASC"); err == nil {
		t.Fatal("a cursor of another order was accepted")
	}
}
