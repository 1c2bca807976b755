package evaluation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// ActionPublish is the evaluation dataset action that publishes (freezes)
// a period's indicators (policy.csv).
const ActionPublish = "publish"

// Grouping names a frozen set of rows: the district total or one dimension.
type Grouping string

// GroupingTotal is the rows grouped by nothing: one per period.
const GroupingTotal Grouping = "TOTAL"

// PublishedGroupings are the groupings a publication freezes.
func PublishedGroupings() []Grouping {
	out := []Grouping{GroupingTotal}
	for _, d := range Dims() {
		out = append(out, Grouping(d))
	}
	return out
}

// GroupingOf returns the grouping of a GROUP BY of at most one dimension.
func GroupingOf(d *Dim) Grouping {
	if d == nil {
		return GroupingTotal
	}
	return Grouping(*d)
}

// Publication is one version of a period's published indicators: the
// figures as they stood when published, as departments read them (Exact)
// and as the public reads them (Public: small cells suppressed by the rules
// of the time), per grouping. It never changes; a correction is a new
// version with a reason.
type Publication struct {
	ID             uuid.UUID
	Period         Period
	Start          Month
	Version        int
	Reason         string
	PublishedBy    string
	PublishedDept  string
	PublishedAt    time.Time
	WeightsVersion string
	RulesVersion   int
	// Checksum is the SHA-256 of the canonical JSON of Exact then Public.
	Checksum string
	// Exact and Public are nil in a listing (Store.Publications).
	Exact  map[Grouping][]Row
	Public map[Grouping][]Row
}

// PeriodStart and PeriodEnd bound the published period in the evaluation
// time zone.
func (p *Publication) PeriodStart(loc *time.Location) time.Time { return p.Start.Start(loc) }

// PeriodEnd returns the first instant after the period.
func (p *Publication) PeriodEnd(loc *time.Location) time.Time {
	return (p.Start + Month(p.Period.Months())).Start(loc)
}

// PublicationStore keeps publications (part of the evaluation Store).
type PublicationStore interface {
	// Publish stores p as the next version of its period, setting
	// p.Version; CONFLICT when another version was published meanwhile.
	Publish(ctx context.Context, p *Publication) error
	// Publications lists a period's versions, newest first, without rows.
	Publications(ctx context.Context, period Period, start Month) ([]*Publication, error)
	// Publication returns one version with its rows (version 0: the
	// latest), or NOT_FOUND.
	Publication(ctx context.Context, period Period, start Month, version int) (*Publication, error)
}

// Publish freezes the indicators of the period (of length period)
// containing at: every figure of the district, each street, community,
// department and case class, exact and as the public sees them, stored
// with who published them and when. Later changes to the period's cases
// never alter a published figure. Publishing a period again is a
// correction: a new version, which needs a reason; earlier versions stay
// readable. Only a period that has ended can be published (BAD_USER_INPUT)
// and only by principals with the evaluation dataset's publish action
// (FORBIDDEN).
func (s *Service) Publish(ctx context.Context, period Period, at time.Time, reason string) (*Publication, error) {
	d, err := s.auth.Decide(ctx, Dataset)
	if err != nil {
		return nil, err
	}
	if !d.Can(ActionPublish) {
		return nil, apperr.New(apperr.Forbidden, "only the urban-management bureau's evaluation office may publish indicators")
	}
	start, err := s.periodAt(period, at)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if err := rules.MaxText("reason", "the reason", reason, rules.MaxNote); err != nil {
		return nil, err
	}
	now := s.now()
	end := (start + Month(period.Months())).Start(s.loc)
	if now.Before(end) {
		return nil, apperr.Invalid("at", "the %s starting %s has not ended: only a closed period can be published", strings.ToLower(string(period)), start)
	}
	prior, err := s.store.Publications(ctx, period, start)
	if err != nil {
		return nil, fmt.Errorf("publications: %w", err)
	}
	if len(prior) > 0 && reason == "" {
		return nil, apperr.Invalid("reason", "the period was published (version %d); a correction needs a reason", prior[0].Version)
	}
	// Every queued case change first, so the frozen figures are complete.
	if _, err := s.store.Refresh(ctx, s.rules, now, RefreshOptions{}); err != nil {
		return nil, fmt.Errorf("publish: refresh: %w", err)
	}
	p := &Publication{
		ID: uuid.Must(uuid.NewV7()), Period: period, Start: start, Reason: reason,
		PublishedBy: access.PrincipalFrom(ctx).Actor(), PublishedDept: access.PrincipalFrom(ctx).Dept,
		PublishedAt: now.UTC().Truncate(time.Microsecond), RulesVersion: RulesVersion,
		Exact: map[Grouping][]Row{}, Public: map[Grouping][]Row{},
	}
	if s.weights != nil {
		p.WeightsVersion = s.weights.Version
	}
	for _, g := range PublishedGroupings() {
		q := Query{Period: period, From: start.Start(s.loc), To: end}
		if g != GroupingTotal {
			q.GroupBy = []Dim{Dim(g)}
		}
		for public, into := range map[bool]map[Grouping][]Row{false: p.Exact, true: p.Public} {
			rows, err := s.indicators(ctx, &q, start, start+Month(period.Months()), public, now)
			if err != nil {
				return nil, fmt.Errorf("publish %s: %w", g, err)
			}
			into[g] = rows
		}
	}
	if p.Checksum, err = publicationChecksum(p); err != nil {
		return nil, err
	}
	if err := s.store.Publish(ctx, p); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	return p, nil
}

func publicationChecksum(p *Publication) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, m := range []map[Grouping][]Row{p.Exact, p.Public} {
		// encoding/json sorts map keys: the encoding is canonical.
		if err := enc.Encode(m); err != nil {
			return "", fmt.Errorf("publication checksum: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// periodAt returns the first month of the period of length period that
// contains at.
func (s *Service) periodAt(period Period, at time.Time) (Month, error) {
	if !period.Valid() {
		return 0, apperr.Invalid("period", "unknown period %q: use MONTH, QUARTER or YEAR", period)
	}
	if at.IsZero() {
		return 0, apperr.Invalid("at", "give an instant in the period")
	}
	return period.Start(MonthOf(at, s.loc)), nil
}

// Publications lists the versions published for the period containing at,
// newest first, to everyone who may read indicators. Their rows are read
// when asked for (PublishedView.Rows).
func (s *Service) Publications(ctx context.Context, period Period, at time.Time) ([]*PublishedView, error) {
	public, err := s.indicatorAccess(ctx)
	if err != nil {
		return nil, err
	}
	start, err := s.periodAt(period, at)
	if err != nil {
		return nil, err
	}
	list, err := s.store.Publications(ctx, period, start)
	if err != nil {
		return nil, err
	}
	out := make([]*PublishedView, len(list))
	for i, p := range list {
		out[i] = &PublishedView{Publication: p, public: public, store: s.store}
	}
	return out, nil
}

// Published returns a published version (0: the latest) of the period
// containing at, or nil when none was published. Public callers (see
// indicatorAccess) get the suppressed rows frozen with it.
func (s *Service) Published(ctx context.Context, period Period, at time.Time, version int) (*PublishedView, error) {
	public, err := s.indicatorAccess(ctx)
	if err != nil {
		return nil, err
	}
	start, err := s.periodAt(period, at)
	if err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, apperr.Invalid("version", "versions start at 1")
	}
	p, err := s.store.Publication(ctx, period, start, version)
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &PublishedView{Publication: p, public: public, store: s.store}, nil
}

// PublishedView is a publication as one caller reads it.
type PublishedView struct {
	*Publication
	public bool
	store  PublicationStore
}

// Rows returns the frozen rows of one grouping for the caller, reading
// them first when the view came from a listing.
func (v *PublishedView) Rows(ctx context.Context, g Grouping) ([]Row, error) {
	if v.Exact == nil {
		full, err := v.store.Publication(ctx, v.Period, v.Start, v.Version)
		if err != nil {
			return nil, err
		}
		v.Exact, v.Public = full.Exact, full.Public
	}
	rows := v.Exact[g]
	if v.public {
		rows = v.Public[g]
	}
	if rows == nil {
		rows = []Row{}
	}
	return rows, nil
}
