package lifecycle

import (
	"slices"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
)

type (
	state  string
	action string
)

var door = New[state, action]("door", "none (the door is gone)", map[action]Transition[state]{
	"OPEN":   {From: []state{"CLOSED"}, To: "OPEN"},
	"CLOSE":  {From: []state{"OPEN"}, To: "CLOSED"},
	"REMOVE": {From: []state{"OPEN", "CLOSED"}, To: "GONE"},
})

func TestNext(t *testing.T) {
	if to, err := door.Next("CLOSED", "OPEN"); err != nil || to != "OPEN" {
		t.Fatalf("open a closed door: %q %v", to, err)
	}
	_, err := door.Next("OPEN", "OPEN")
	if !apperr.Is(err, apperr.BadUserInput) || !strings.Contains(err.Error(), "cannot open a door that is OPEN; from OPEN the allowed actions are: CLOSE, REMOVE") {
		t.Fatalf("open an open door: %v", err)
	}
	if _, err := door.Next("GONE", "OPEN"); err == nil || !strings.Contains(err.Error(), "none (the door is gone)") {
		t.Fatalf("open a removed door: %v", err)
	}
	if _, err := door.Next("OPEN", "PAINT"); !apperr.Is(err, apperr.BadUserInput) || !strings.Contains(err.Error(), "unknown door action PAINT") {
		t.Fatalf("unknown action: %v", err)
	}
}

func TestCatalogue(t *testing.T) {
	if got := door.Actions(); !slices.Equal(got, []action{"CLOSE", "OPEN", "REMOVE"}) {
		t.Errorf("Actions() = %v", got)
	}
	if got := door.Allowed("CLOSED"); !slices.Equal(got, []action{"OPEN", "REMOVE"}) {
		t.Errorf("Allowed(CLOSED) = %v", got)
	}
	if door.Has("PAINT") || !door.Has("OPEN") {
		t.Error("Has is wrong")
	}
}
