package violation_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/fengcheng/datahub/internal/violation/violationtest"
	"github.com/google/uuid"
)

// memStore is an in-memory violation.Store honouring the interface's
// contracts (row scope, NOT_FOUND outside it, version checks, the unique
// (SourceDept, ExternalID) key), for unit tests of the service's rules; the
// PostgreSQL store has its own tests in internal/postgres. The nested-list
// reads (ByProperty, ByCase, ByParent, CountByParent) are not implemented:
// the embedded nil interface panics if a test reaches them.
type memStore struct {
	violation.Store

	mu     sync.Mutex
	seq    int
	rows   map[uuid.UUID]*violation.Violation
	events map[uuid.UUID][]violation.Event
	// cases are the cases CaseVisible knows, with their jurisdictions.
	cases  map[uuid.UUID]string
	writes int
}

func newMemStore() *memStore {
	return &memStore{rows: map[uuid.UUID]*violation.Violation{}, events: map[uuid.UUID][]violation.Event{}, cases: map[uuid.UUID]string{}}
}

func clone(v *violation.Violation) *violation.Violation {
	n := *v
	return &n
}

func inScope(scope access.RowScope, v *violation.Violation) bool {
	return fixture.InScope(scope, v.JurisdictionCode, []string{v.OwnerDept}, "")
}

func notFound() error { return apperr.New(apperr.NotFound, "violation not found") }

func (m *memStore) Get(_ context.Context, scope access.RowScope, id uuid.UUID) (*violation.Violation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.rows[id]
	if !ok || !inScope(scope, v) {
		return nil, notFound()
	}
	return clone(v), nil
}

func (m *memStore) GetMany(_ context.Context, scope access.RowScope, ids []uuid.UUID) ([]*violation.Violation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*violation.Violation
	for _, id := range ids {
		if v, ok := m.rows[id]; ok && inScope(scope, v) {
			out = append(out, clone(v))
		}
	}
	return out, nil
}

// List orders by the order's key, then id, both in the order's direction,
// and starts after the cursor's (key, id).
func (m *memStore) List(_ context.Context, scope access.RowScope, q violation.ListQuery) ([]*violation.Violation, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	compare := func(ka time.Time, ia uuid.UUID, kb time.Time, ib uuid.UUID) int {
		c := cmp.Or(ka.Compare(kb), slices.Compare(ia[:], ib[:]))
		if q.Order == violation.OrderDiscoveredDesc {
			return -c
		}
		return c
	}
	var list []*violation.Violation
	for _, v := range m.rows {
		if !inScope(scope, v) || !q.Filter.Matches(v, q.Now) {
			continue
		}
		if q.After != nil && compare(q.Order.SortKey(v), v.ID, q.After.Time(), q.After.ID) <= 0 {
			continue
		}
		list = append(list, clone(v))
	}
	slices.SortFunc(list, func(a, b *violation.Violation) int {
		return compare(q.Order.SortKey(a), a.ID, q.Order.SortKey(b), b.ID)
	})
	if len(list) > q.First {
		return list[:q.First], true, nil
	}
	return list, false, nil
}

func (m *memStore) Count(_ context.Context, scope access.RowScope, f violation.Filter, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.rows {
		if inScope(scope, v) && f.Matches(v, now) {
			n++
		}
	}
	return n, nil
}

func (m *memStore) BySource(_ context.Context, scope access.RowScope, sourceDept, externalID string) (*violation.Violation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.rows {
		if v.SourceDept == sourceDept && v.ExternalID == externalID && inScope(scope, v) {
			return clone(v), nil
		}
	}
	return nil, notFound()
}

func (m *memStore) Create(_ context.Context, v *violation.Violation, ev violation.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.rows {
		if o.ID == v.ID || (v.ExternalID != "" && o.SourceDept == v.SourceDept && o.ExternalID == v.ExternalID) {
			return apperr.New(apperr.Conflict, "violation %s/%s exists", v.SourceDept, v.ExternalID)
		}
	}
	m.seq++
	v.RecordNo = fmt.Sprintf("WF%d-%06d", v.DiscoveredAt.Year(), m.seq)
	m.rows[v.ID] = clone(v)
	m.events[v.ID] = append(m.events[v.ID], ev)
	m.writes++
	return nil
}

func (m *memStore) Update(_ context.Context, v *violation.Violation, prevVersion int, ev violation.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.rows[v.ID]
	if !ok {
		return notFound()
	}
	if cur.Version != prevVersion {
		return apperr.New(apperr.Conflict, "the violation was changed by someone else meanwhile (now version %d, status %s)", cur.Version, cur.Status)
	}
	m.rows[v.ID] = clone(v)
	m.events[v.ID] = append(m.events[v.ID], ev)
	m.writes++
	return nil
}

func (m *memStore) MarkDue(_ context.Context, now time.Time, actor, note string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, v := range m.rows {
		if v.Status != violation.StatusNoticeIssued || v.Deadline == nil || v.Deadline.After(now) {
			continue
		}
		prev := v.Status
		v.Status, v.DueAt, v.UpdatedAt = violation.StatusRectificationDue, &now, now
		v.Version++
		m.events[v.ID] = append(m.events[v.ID], violation.Event{ViolationID: v.ID, Action: violation.ActionMarkDue,
			FromStatus: prev, ToStatus: v.Status, Actor: actor, ActorDept: v.OwnerDept, Note: note, At: now})
		n++
	}
	if n > 0 {
		m.writes++
	}
	return n, nil
}

func (m *memStore) Timelines(_ context.Context, ids []uuid.UUID) (map[uuid.UUID][]violation.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uuid.UUID][]violation.Event{}
	for _, id := range ids {
		if evs, ok := m.events[id]; ok {
			out[id] = slices.Clone(evs)
		}
	}
	return out, nil
}

func (m *memStore) CaseVisible(_ context.Context, scope access.RowScope, id uuid.UUID) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.cases[id]
	return ok && fixture.InScope(scope, j, nil, ""), nil
}

// addCase makes a case in jurisdiction known to CaseVisible.
func (m *memStore) addCase(jurisdiction string) uuid.UUID {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := uuid.New()
	m.cases[id] = jurisdiction
	return id
}

// state returns a violation's stored status, version and event count.
func (m *memStore) state(id uuid.UUID) (violation.Status, int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.rows[id]
	return v.Status, v.Version, len(m.events[id])
}

func (m *memStore) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// TestMemStoreContract holds the fake to the contract the PostgreSQL store
// is held to (internal/postgres TestViolationStoreContract).
func TestMemStoreContract(t *testing.T) {
	violationtest.Contract(t, violationtest.Fixture{Store: newMemStore(), Inside: fixture.GridChengdong, Outside: fixture.GridChengxi})
}
