package postgres

import "sync"

// lowCardinality holds one shared copy of each value of the text columns
// with few distinct values (departments, kinds, class codes, statuses,
// jurisdiction codes): a page of fifty cases would otherwise allocate
// four hundred copies of the same two dozen strings. It is process-wide for
// the reason Go's unique package is: the strings are immutable and the same
// for every store and pool.
var lowCardinality = &internTable{m: map[string]string{}, max: internMax}

// internMax bounds the table; once full, new values are copied as usual.
// The hub's codes number a few thousand (950 jurisdictions, some hundred
// class codes, 16 departments).
const internMax = 8192

type internTable struct {
	mu  sync.RWMutex
	m   map[string]string
	max int
}

// get returns b as a string, shared when the table holds it.
func (t *internTable) get(b []byte) string {
	t.mu.RLock()
	s, ok := t.m[string(b)] // the conversion in an index does not allocate
	t.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	t.mu.Lock()
	if old, ok := t.m[s]; ok {
		s = old
	} else if len(t.m) < t.max {
		t.m[s] = s
	}
	t.mu.Unlock()
	return s
}

// internedText scans a text column (NOT NULL, or coalesced) through
// lowCardinality: pgx hands ScanBytes the row's own bytes, uncopied.
type internedText string

func (s *internedText) ScanBytes(b []byte) error {
	*s = internedText(lowCardinality.get(b))
	return nil
}

// interned is the scan target of a low-cardinality text column for s (a
// named string type converts: interned((*string)(&c.Kind))).
func interned(s *string) *internedText { return (*internedText)(s) }
