package property_test

import (
	"context"
	"sync"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

// memStore is an in-memory property.Store for unit tests of the service's
// read rules: Get and GetMany honour the row scope (NOT_FOUND outside it).
// Everything else — Upsert in particular, which is being reworked — is not
// implemented: the embedded nil interface panics if a test reaches it.
type memStore struct {
	property.Store

	mu   sync.Mutex
	rows map[uuid.UUID]*property.Property
}

func newMemStore(ps ...*property.Property) *memStore {
	m := &memStore{rows: map[uuid.UUID]*property.Property{}}
	for _, p := range ps {
		n := *p
		m.rows[p.ID] = &n
	}
	return m
}

func inScope(scope access.RowScope, p *property.Property) bool {
	return fixture.InScope(scope, p.JurisdictionCode, []string{p.OwnerDept}, "")
}

func (m *memStore) Get(_ context.Context, scope access.RowScope, id uuid.UUID) (*property.Property, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.rows[id]
	if !ok || !inScope(scope, p) {
		return nil, apperr.New(apperr.NotFound, "property not found")
	}
	n := *p
	return &n, nil
}

func (m *memStore) GetMany(_ context.Context, scope access.RowScope, ids []uuid.UUID) ([]*property.Property, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*property.Property
	for _, id := range ids {
		if p, ok := m.rows[id]; ok && inScope(scope, p) {
			n := *p
			out = append(out, &n)
		}
	}
	return out, nil
}
