package parking_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/parking/parkingtest"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

// memStore is an in-memory parking.Store honouring the interface's
// contracts for the registry's writes and reads by key (row scope, NOT_FOUND
// outside it, version checks, the unique (SourceDept, ExternalID) key), for
// unit tests of the service's rules; the PostgreSQL store has its own tests
// in internal/postgres. The list, proximity and statistics reads are not
// implemented: the embedded nil interface panics if a test reaches them.
type memStore struct {
	parking.Store

	mu     sync.Mutex
	lots   map[uuid.UUID]*parking.Lot
	writes int
}

func newMemStore() *memStore { return &memStore{lots: map[uuid.UUID]*parking.Lot{}} }

func clone(l *parking.Lot) *parking.Lot {
	n := *l
	return &n
}

func inScope(scope access.RowScope, l *parking.Lot) bool {
	return fixture.InScope(scope, l.JurisdictionCode, []string{l.OwnerDept}, "")
}

func (m *memStore) Get(_ context.Context, scope access.RowScope, id uuid.UUID) (*parking.Lot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.lots[id]
	if !ok || !inScope(scope, l) {
		return nil, apperr.New(apperr.NotFound, "parking lot not found")
	}
	return clone(l), nil
}

func (m *memStore) GetMany(_ context.Context, scope access.RowScope, ids []uuid.UUID) ([]*parking.Lot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*parking.Lot
	for _, id := range ids {
		if l, ok := m.lots[id]; ok && inScope(scope, l) {
			out = append(out, clone(l))
		}
	}
	return out, nil
}

// BySource answers NOT_FOUND for a lot missing within scope.
func (m *memStore) BySource(_ context.Context, scope access.RowScope, sourceDept, externalID string) (*parking.Lot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lots {
		if l.SourceDept == sourceDept && l.ExternalID == externalID && inScope(scope, l) {
			return clone(l), nil
		}
	}
	return nil, apperr.New(apperr.NotFound, "parking lot not found")
}

func (m *memStore) Create(_ context.Context, lot *parking.Lot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.lots {
		if o.ID == lot.ID || (o.SourceDept == lot.SourceDept && o.ExternalID == lot.ExternalID) {
			return apperr.New(apperr.Conflict, "lot %s/%s exists", lot.SourceDept, lot.ExternalID)
		}
	}
	m.lots[lot.ID] = clone(lot)
	m.writes++
	return nil
}

func (m *memStore) Update(_ context.Context, lot *parking.Lot, prevVersion int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.lots[lot.ID]
	if !ok {
		return apperr.New(apperr.NotFound, "parking lot not found")
	}
	if cur.Version != prevVersion {
		return apperr.New(apperr.Conflict, "the lot was changed meanwhile (now version %d)", cur.Version)
	}
	m.lots[lot.ID] = clone(lot)
	m.writes++
	return nil
}

func (m *memStore) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

func (m *memStore) externalIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.lots {
		out = append(out, l.SourceDept+"/"+l.ExternalID)
	}
	slices.Sort(out)
	return out
}

// memCounters are live counts in memory: the newest report wins.
type memCounters struct {
	mu  sync.Mutex
	cur map[uuid.UUID]parking.Availability
}

func (c *memCounters) Report(_ context.Context, lotID uuid.UUID, free int, at time.Time) (parking.Availability, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		c.cur = map[uuid.UUID]parking.Availability{}
	}
	if old, ok := c.cur[lotID]; ok && old.At.After(at) {
		return old, false, nil
	}
	c.cur[lotID] = parking.Availability{Free: free, At: at}
	return c.cur[lotID], true, nil
}

func (c *memCounters) Current(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]parking.Availability, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[uuid.UUID]parking.Availability{}
	for _, id := range ids {
		if a, ok := c.cur[id]; ok {
			out[id] = a
		}
	}
	return out, nil
}

// TestMemStoreContract holds the fake to the contract the PostgreSQL store
// is held to (internal/postgres TestParkingStoreContract).
func TestMemStoreContract(t *testing.T) {
	parkingtest.Contract(t, parkingtest.Fixture{Store: newMemStore(), Inside: fixture.GridChengdong, Outside: fixture.GridChengxi,
		InsideDept: "street-chengdong", OtherDept: "street-chengxi"})
}
