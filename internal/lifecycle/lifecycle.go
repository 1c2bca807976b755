// Package lifecycle is the small state machine the datasets' workflows
// share: per action, the states it may start from and the state it leads
// to. Cases and violations each declare their table; the refusal messages,
// the list of allowed actions and the catalogue of actions come from here.
package lifecycle

import (
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
)

// Transition is where an action may start from and where it leads.
type Transition[S ~string] struct {
	From []S
	To   S
}

// Machine is an immutable transition table. Anything it does not list is
// refused.
type Machine[S, A ~string] struct {
	noun     string // what a record is called in messages: "case"
	finished string // what is allowed from a state with no way out
	table    map[A]Transition[S]
}

// New returns the machine of table. noun names the record in messages
// ("cannot verify pass a case that is …"); finished is shown as the allowed
// actions of a state nothing leaves.
func New[S, A ~string](noun, finished string, table map[A]Transition[S]) *Machine[S, A] {
	return &Machine[S, A]{noun: noun, finished: finished, table: table}
}

// Next returns the state action a leads to from s, or BAD_USER_INPUT naming
// the current state and what is allowed from it.
func (m *Machine[S, A]) Next(s S, a A) (S, error) {
	t, ok := m.table[a]
	if !ok {
		return "", apperr.New(apperr.BadUserInput, "unknown %s action %s", m.noun, a)
	}
	if !slices.Contains(t.From, s) {
		return "", apperr.New(apperr.BadUserInput,
			"cannot %s a %s that is %s; from %s the allowed actions are: %s",
			strings.ToLower(strings.ReplaceAll(string(a), "_", " ")), m.noun, s, s, m.allowedText(s))
	}
	return t.To, nil
}

// Allowed returns the actions that may start from s, sorted.
func (m *Machine[S, A]) Allowed(s S) []A {
	var out []A
	for a, t := range m.table {
		if slices.Contains(t.From, s) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func (m *Machine[S, A]) allowedText(s S) string {
	allowed := m.Allowed(s)
	if len(allowed) == 0 {
		return m.finished
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return strings.Join(names, ", ")
}

// Actions returns every action of the table, sorted.
func (m *Machine[S, A]) Actions() []A {
	out := make([]A, 0, len(m.table))
	for a := range m.table {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Has reports whether a is an action of the table.
func (m *Machine[S, A]) Has(a A) bool {
	_, ok := m.table[a]
	return ok
}
