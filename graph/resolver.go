package graph

import (
	"context"
	"sync/atomic"

	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/feed"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/sharing"
	"github.com/fengcheng/datahub/internal/violation"
)

// Resolver is the dependency root of the GraphQL layer. Resolvers stay thin:
// they map arguments, call one service and map the result; access rules and
// business rules live in the services.
type Resolver struct {
	Access            Decider
	CaseService       *cases.Service
	DirectoryService  *directory.Service
	PropertyService   *property.Service
	ViolationService  *violation.Service
	ParkingService    *parking.Service
	EvaluationService *evaluation.Service
	IngestService     *ingest.Service
	// Feed delivers change events to subscriptions.
	Feed interface {
		feed.Changes
		feed.Readings
	}
	Sharing *sharing.Service
	Audit   *audit.Trail
	// Catalog describes the access catalog, its baseline policy and the
	// caller's own access (accessCatalog).
	Catalog interface {
		Describe(ctx context.Context) ([]policy.DatasetView, error)
	}

	// fastServed counts the operations the fast path answered.
	fastServed atomic.Uint64
}

// FastPathServed returns how many operations the fast path answered.
func (r *Resolver) FastPathServed() uint64 { return r.fastServed.Load() }
