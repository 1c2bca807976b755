package cases_test

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
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/cases/casestest"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

// memStore is an in-memory cases.Store honouring the interface's contracts
// (row scope, NOT_FOUND outside it, version checks, unique keys, one
// pending request per case), for unit tests of the service's rules; the
// PostgreSQL store has its own tests in internal/postgres. The nested-list
// reads (ByParent, CountByParent) are not implemented: the embedded nil
// interface panics if a test reaches them.
type memStore struct {
	cases.Store

	mu       sync.Mutex
	seq      int
	cases    map[uuid.UUID]*cases.Case
	events   map[uuid.UUID][]cases.Event
	requests map[uuid.UUID]*cases.Request
	// writes counts successful writes, so a test can prove a refusal
	// wrote nothing.
	writes int
}

func newMemStore() *memStore {
	return &memStore{cases: map[uuid.UUID]*cases.Case{}, events: map[uuid.UUID][]cases.Event{}, requests: map[uuid.UUID]*cases.Request{}}
}

func cloneCase(c *cases.Case) *cases.Case {
	n := *c
	n.PhotoURLs = slices.Clone(c.PhotoURLs)
	return &n
}

func caseInScope(scope access.RowScope, c *cases.Case) bool {
	return fixture.InScope(scope, c.JurisdictionCode, []string{c.OwnerDept, c.HandlingDept}, c.CitizenID)
}

func (m *memStore) Get(_ context.Context, scope access.RowScope, id uuid.UUID) (*cases.Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cases[id]
	if !ok || !caseInScope(scope, c) {
		return nil, apperr.New(apperr.NotFound, "case not found")
	}
	return cloneCase(c), nil
}

func (m *memStore) GetMany(_ context.Context, scope access.RowScope, ids []uuid.UUID) ([]*cases.Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*cases.Case
	for _, id := range ids {
		if c, ok := m.cases[id]; ok && caseInScope(scope, c) {
			out = append(out, cloneCase(c))
		}
	}
	return out, nil
}

// List orders by the order's key, then id, both in the order's direction,
// and starts after the cursor's (key, id).
func (m *memStore) List(_ context.Context, scope access.RowScope, q cases.ListQuery) ([]*cases.Case, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	desc := q.Order == cases.OrderReportedDesc || q.Order == cases.OrderDeadlineDesc
	compare := func(ka time.Time, ia uuid.UUID, kb time.Time, ib uuid.UUID) int {
		c := cmp.Or(ka.Compare(kb), slices.Compare(ia[:], ib[:]))
		if desc {
			return -c
		}
		return c
	}
	var list []*cases.Case
	for _, c := range m.cases {
		if !caseInScope(scope, c) || !q.Filter.Matches(c, q.Now) {
			continue
		}
		if q.After != nil && compare(q.Order.SortKey(c), c.ID, q.After.Time(), q.After.ID) <= 0 {
			continue
		}
		list = append(list, cloneCase(c))
	}
	slices.SortFunc(list, func(a, b *cases.Case) int { return compare(q.Order.SortKey(a), a.ID, q.Order.SortKey(b), b.ID) })
	if len(list) > q.First {
		return list[:q.First], true, nil
	}
	return list, false, nil
}

func (m *memStore) Count(_ context.Context, scope access.RowScope, f cases.Filter, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.cases {
		if caseInScope(scope, c) && f.Matches(c, now) {
			n++
		}
	}
	return n, nil
}

func (m *memStore) Create(_ context.Context, c *cases.Case, ev cases.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.cases {
		switch {
		case o.ID == c.ID:
			return apperr.New(apperr.Conflict, "case %s exists", c.ID)
		case c.ExternalID != "" && o.SourceDept == c.SourceDept && o.ExternalID == c.ExternalID:
			return apperr.New(apperr.Conflict, "external id %q is taken", c.ExternalID)
		case c.CitizenKey != "" && o.CitizenID == c.CitizenID && o.CitizenKey == c.CitizenKey:
			return apperr.New(apperr.Conflict, "idempotency key %q is taken", c.CitizenKey)
		}
	}
	m.seq++
	c.CaseNo = fmt.Sprintf("HL%d-%07d", c.ReportedAt.Year(), m.seq)
	m.cases[c.ID] = cloneCase(c)
	m.events[c.ID] = append(m.events[c.ID], ev)
	m.writes++
	return nil
}

// update writes c at prevVersion; the caller holds mu.
func (m *memStore) update(c *cases.Case, prevVersion int, ev cases.Event) error {
	cur, ok := m.cases[c.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "case %s not found", c.ID)
	}
	if cur.Version != prevVersion {
		return apperr.New(apperr.Conflict, "the case was changed by someone else meanwhile (now version %d, status %s)", cur.Version, cur.Status)
	}
	m.cases[c.ID] = cloneCase(c)
	m.events[c.ID] = append(m.events[c.ID], ev)
	return nil
}

func (m *memStore) Update(_ context.Context, c *cases.Case, prevVersion int, ev cases.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.update(c, prevVersion, ev); err != nil {
		return err
	}
	m.writes++
	return nil
}

// Revise writes c at prevVersion without a timeline event (a sender's
// revision of what it reported; the upsert the store is moving to).
func (m *memStore) Revise(_ context.Context, c *cases.Case, prevVersion int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.cases[c.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "case %s not found", c.ID)
	}
	if cur.Version != prevVersion {
		return apperr.New(apperr.Conflict, "the case was changed by someone else meanwhile (now version %d, status %s)", cur.Version, cur.Status)
	}
	m.cases[c.ID] = cloneCase(c)
	m.writes++
	return nil
}

func (m *memStore) Timelines(_ context.Context, ids []uuid.UUID) (map[uuid.UUID][]cases.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uuid.UUID][]cases.Event{}
	for _, id := range ids {
		if evs, ok := m.events[id]; ok {
			out[id] = slices.Clone(evs)
		}
	}
	return out, nil
}

func (m *memStore) find(match func(*cases.Case) bool) (*cases.Case, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cases {
		if match(c) {
			return cloneCase(c), nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "case not found")
}

// BySource is GetByExternal within scope (the look-up by key the store
// is moving to).
func (m *memStore) BySource(_ context.Context, scope access.RowScope, sourceDept, externalID string) (*cases.Case, error) {
	return m.find(func(c *cases.Case) bool {
		return c.SourceDept == sourceDept && c.ExternalID == externalID && caseInScope(scope, c)
	})
}

func (m *memStore) GetByCitizenKey(_ context.Context, citizenID, key string) (*cases.Case, error) {
	return m.find(func(c *cases.Case) bool { return c.CitizenID == citizenID && c.CitizenKey == key })
}

func (m *memStore) SaveRequest(_ context.Context, r *cases.Request, isNew bool, c *cases.Case, prevVersion int, ev *cases.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Check everything before writing anything: one transaction.
	if c != nil {
		if cur, ok := m.cases[c.ID]; !ok || cur.Version != prevVersion {
			return apperr.New(apperr.Conflict, "the case was changed by someone else meanwhile")
		}
	}
	if isNew {
		for _, o := range m.requests {
			if o.CaseID == r.CaseID && o.Status == cases.RequestPending && r.Status == cases.RequestPending {
				return apperr.New(apperr.Conflict, "the case already has a pending deferral or backlog request")
			}
		}
	} else if cur, ok := m.requests[r.ID]; !ok || cur.Status != cases.RequestPending {
		return apperr.New(apperr.Conflict, "the request was decided by someone else meanwhile; reload it")
	}
	if c != nil {
		if err := m.update(c, prevVersion, *ev); err != nil {
			return err
		}
	}
	n := *r
	m.requests[r.ID] = &n
	m.writes++
	return nil
}

func (m *memStore) Request(_ context.Context, scope access.RowScope, id uuid.UUID) (*cases.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok || !caseInScope(scope, m.cases[r.CaseID]) {
		return nil, apperr.New(apperr.NotFound, "request not found")
	}
	n := *r
	return &n, nil
}

func (m *memStore) sortedRequests(keep func(*cases.Request) bool) []*cases.Request {
	var out []*cases.Request
	for _, r := range m.requests {
		if keep(r) {
			n := *r
			out = append(out, &n)
		}
	}
	slices.SortFunc(out, func(a, b *cases.Request) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), slices.Compare(a.ID[:], b.ID[:]))
	})
	return out
}

func (m *memStore) Requests(_ context.Context, caseIDs []uuid.UUID) (map[uuid.UUID][]*cases.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uuid.UUID][]*cases.Request{}
	for _, r := range m.sortedRequests(func(r *cases.Request) bool { return slices.Contains(caseIDs, r.CaseID) }) {
		out[r.CaseID] = append(out[r.CaseID], r)
	}
	return out, nil
}

func (m *memStore) PendingRequests(_ context.Context, scope access.RowScope, limit int) ([]*cases.Request, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := m.sortedRequests(func(r *cases.Request) bool {
		return r.Status == cases.RequestPending && caseInScope(scope, m.cases[r.CaseID])
	})
	if len(list) > limit {
		list = list[:limit]
	}
	return list, nil
}

func (m *memStore) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// TestMemStoreContract holds the fake to the contract the PostgreSQL store
// is held to (internal/postgres TestCaseStoreContract).
func TestMemStoreContract(t *testing.T) {
	casestest.Contract(t, casestest.Fixture{Store: newMemStore(), Inside: fixture.GridChengdong, Outside: fixture.GridChengxi})
}
