package policy

import (
	"errors"
	"slices"
	"sync"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

// MemoryAdapter is a Casbin adapter that keeps rules in memory. It serves
// as the run-time policy store in tests and in single-instance development
// setups; production uses the PostgreSQL adapter (casbinpg). It is safe for
// concurrent use. Rules are kept in insertion order; adding a rule twice
// stores it once.
type MemoryAdapter struct {
	mu    sync.Mutex
	rules [][]string // ptype first
}

var (
	_ persist.Adapter      = (*MemoryAdapter)(nil)
	_ persist.BatchAdapter = (*MemoryAdapter)(nil)
)

// NewMemoryAdapter returns a memory adapter holding rules, each written with
// its ptype first: []string{"p2", "dept:housing", "cases/reporter", …}.
func NewMemoryAdapter(rules ...[]string) *MemoryAdapter {
	a := &MemoryAdapter{}
	for _, r := range rules {
		a.add(r)
	}
	return a
}

// Rules returns a copy of the stored rules, ptype first.
func (a *MemoryAdapter) Rules() [][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([][]string, len(a.rules))
	for i, r := range a.rules {
		out[i] = slices.Clone(r)
	}
	return out
}

func (a *MemoryAdapter) add(r []string) {
	for _, have := range a.rules {
		if slices.Equal(have, r) {
			return
		}
	}
	a.rules = append(a.rules, slices.Clone(r))
}

// LoadPolicy loads every stored rule into m.
func (a *MemoryAdapter) LoadPolicy(m model.Model) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return loadRules(m, a.rules)
}

// SavePolicy replaces the stored rules with m's.
func (a *MemoryAdapter) SavePolicy(m model.Model) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rules = nil
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, r := range ast.Policy {
				a.add(append([]string{ptype}, r...))
			}
		}
	}
	return nil
}

// AddPolicy stores one rule.
func (a *MemoryAdapter) AddPolicy(_ string, ptype string, rule []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.add(append([]string{ptype}, rule...))
	return nil
}

// AddPolicies stores several rules.
func (a *MemoryAdapter) AddPolicies(_ string, ptype string, rules [][]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rules {
		a.add(append([]string{ptype}, r...))
	}
	return nil
}

// RemovePolicy deletes one rule.
func (a *MemoryAdapter) RemovePolicy(_ string, ptype string, rule []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	full := append([]string{ptype}, rule...)
	a.rules = slices.DeleteFunc(a.rules, func(r []string) bool { return slices.Equal(r, full) })
	return nil
}

// RemovePolicies deletes several rules.
func (a *MemoryAdapter) RemovePolicies(sec string, ptype string, rules [][]string) error {
	for _, r := range rules {
		if err := a.RemovePolicy(sec, ptype, r); err != nil {
			return err
		}
	}
	return nil
}

// RemoveFilteredPolicy deletes the rules of ptype whose fields from
// fieldIndex on equal fieldValues ("" matches anything).
func (a *MemoryAdapter) RemoveFilteredPolicy(_ string, ptype string, fieldIndex int, fieldValues ...string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rules = slices.DeleteFunc(a.rules, func(r []string) bool {
		if r[0] != ptype {
			return false
		}
		for i, v := range fieldValues {
			j := 1 + fieldIndex + i
			if v != "" && (j >= len(r) || r[j] != v) {
				return false
			}
		}
		return true
	})
	return nil
}

// loadRules adds rules (ptype first) to m, skipping duplicates.
func loadRules(m model.Model, rules [][]string) error {
	for _, r := range rules {
		if len(r) < 2 {
			return errors.New("access: empty policy rule")
		}
		if err := persist.LoadPolicyArray(r, m); err != nil {
			return err
		}
	}
	return nil
}

// snapshotAdapter hands an enforcer the merged, validated rules of one
// policy snapshot. It is read-only: the engine writes through the run-time
// store and rebuilds the snapshot.
type snapshotAdapter struct{ rules [][]string }

var errReadOnly = errors.New("access: a policy snapshot is read-only; change policy through the Engine")

func (a snapshotAdapter) LoadPolicy(m model.Model) error              { return loadRules(m, a.rules) }
func (a snapshotAdapter) SavePolicy(model.Model) error                { return errReadOnly }
func (a snapshotAdapter) AddPolicy(string, string, []string) error    { return errReadOnly }
func (a snapshotAdapter) RemovePolicy(string, string, []string) error { return errReadOnly }
func (a snapshotAdapter) RemoveFilteredPolicy(string, string, int, ...string) error {
	return errReadOnly
}
