package evaluation

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// periodTable is one period length's rows over the years a public query
// touches, with the bases each row's figures are hidden on.
type periodTable struct {
	period Period
	accs   map[rowKey]*rowAcc
	bases  map[rowKey]*bases
	hidden map[rowKey]*hiddenBases
}

// publicIndicators answers a public caller's query. Small cells are judged
// not only in the cells asked for but in every month, quarter and year of
// the calendar years the query touches, because a caller can ask for all of
// them and subtract (doc.go, "Small cells across periods"): the months are
// read once and folded into quarters and years here.
func (s *Service) publicIndicators(ctx context.Context, q *Query, from, to Month, now time.Time) ([]Row, error) {
	loc := s.loc
	narrowed := q.Filter.caseSpecific()
	cur := MonthOf(now, loc)
	yFrom := PeriodYear.Start(from)
	yTo := min(PeriodYear.Start(to-1)+12, cur+1)
	months, wideMonths, horizon, err := s.store.Cells(ctx, CellQuery{Period: PeriodMonth, From: yFrom, To: yTo,
		GroupBy: q.GroupBy, Filter: q.Filter, Wide: narrowed})
	if err != nil {
		return nil, fmt.Errorf("indicators: cells: %w", err)
	}
	var other *OtherFacts
	if otherGroupable(q) {
		other, err = s.store.Other(ctx, OtherQuery{Jurisdiction: q.Filter.Jurisdiction, From: yFrom.Start(loc), To: yTo.Start(loc), Zone: loc.String()})
		if err != nil {
			return nil, fmt.Errorf("indicators: other datasets: %w", err)
		}
	}
	var tables [3]periodTable
	for _, p := range []Period{PeriodMonth, PeriodQuarter, PeriodYear} {
		pq := *q
		pq.Period = p
		var wide *wideRead
		if narrowed {
			wide = &wideRead{cells: FoldCells(wideMonths, p)}
		}
		var live []LiveCell
		if cur >= yFrom && cur < yTo {
			// "Not due yet" depends on where the current period ends, so
			// each period length reads its own live part.
			var wideLive []LiveCell
			end := (p.Start(cur) + Month(p.Months())).Start(loc)
			live, wideLive, err = s.store.Live(ctx, LiveQuery{GroupBy: q.GroupBy, Filter: q.Filter, Now: now, PeriodEnd: end, Wide: narrowed})
			if err != nil {
				return nil, fmt.Errorf("indicators: live: %w", err)
			}
			if wide != nil {
				wide.live = wideLive
			}
		}
		t := &tables[p.grain()]
		t.period = p
		t.accs = s.accumulate(&pq, yFrom, yTo, FoldCells(months, p), live, other, wide, now)
		t.bases = make(map[rowKey]*bases, len(t.accs))
		t.hidden = make(map[rowKey]*hiddenBases, len(t.accs))
		pcur := p.Start(cur)
		for k, a := range t.accs {
			b := rowBases(p, a, k.period == pcur)
			h := s.judge(p, a, k.period == pcur, true)
			t.bases[k], t.hidden[k] = &b, &h
		}
	}
	complementPeriods(&tables, yFrom, yTo)
	t := &tables[q.Period.grain()]
	for k := range t.accs {
		if k.period < from || k.period >= to {
			delete(t.accs, k)
		}
	}
	return s.rows(q.Period, t.accs, t.hidden, horizon, other, now), nil
}

// FoldCells aggregates month cells into the periods of p as the store does
// (internal/postgres readCells; TestEvaluationFoldCellsMatchesStore keeps the two
// alike): flows summed, stock counters taken from the period's last month
// (zero when that month has no cell).
func FoldCells(months []Cell, p Period) []Cell {
	if p == PeriodMonth {
		return months
	}
	type key struct {
		period Month
		group  Group
	}
	idx := map[key]int{}
	var out []Cell
	for i := range months {
		m := &months[i]
		k := key{p.Start(m.Period), m.Group}
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, Cell{Period: k.period, Group: m.Group})
		}
		c := &out[j]
		flows := m.Sum
		for _, sc := range StockCounters() {
			flows[sc] = 0
		}
		c.Sum.Add(&flows)
		if m.Period == p.Last(m.Period) {
			for _, sc := range StockCounters() {
				c.Sum[sc] = m.Sum[sc]
			}
		}
	}
	return out
}

// periodBases are the bases the period rule applies to: every base but
// the open stock, which is not a sum over sub-periods but equal to the
// last one's (a quarter's open cases are its last month's), so the small
// rule already judges both alike.
func periodBases() []base {
	out := make([]base, 0, numBases)
	for b := base(0); b < numBases; b++ {
		if b != bOpen {
			out = append(out, b)
		}
	}
	return out
}

// complementPeriods applies complementary suppression across periods (doc.go,
// "Small cells across periods"). A year's count is the sum of its quarters',
// a quarter's the sum of its months': in each such equation, per group and
// base, a lone hidden cell could be recovered by subtraction, so while an
// equation has exactly one hidden cell one more is hidden: the reported
// sibling with the smallest non-zero count (then a zero count, then the
// earliest), or the parent when no sibling is left. Cells with no row and
// months after the current one are known zeros and never count as hidden.
// Years are independent (nothing sums them), so the decision for a cell
// depends only on its own year's data, whatever range or period length a
// query asks for.
func complementPeriods(t *[3]periodTable, yFrom, yTo Month) { //nolint:gocognit // the three period rules in one pass; see doc.go
	groups := map[Group]bool{}
	for i := range t {
		for k := range t[i].accs {
			groups[k.group] = true
		}
	}
	type node struct {
		grain  int
		period Month
	}
	type equation struct {
		parent   node
		children []node
	}
	var eqs []equation
	for y := yFrom; y < yTo; y += 12 {
		year := equation{parent: node{2, y}}
		for q := y; q < y+12 && q < yTo; q += 3 {
			year.children = append(year.children, node{1, q})
			quarter := equation{parent: node{1, q}}
			for m := q; m < q+3 && m < yTo; m++ {
				quarter.children = append(quarter.children, node{0, m})
			}
			eqs = append(eqs, quarter)
		}
		eqs = append(eqs, year)
	}
	for g := range groups {
		cell := func(n node) (*bases, *hiddenBases) {
			k := rowKey{n.period, g}
			return t[n.grain].bases[k], t[n.grain].hidden[k]
		}
		for _, b := range periodBases() {
			for changed := true; changed; {
				changed = false
				for _, e := range eqs {
					hidden := 0
					for _, n := range append([]node{e.parent}, e.children...) {
						if _, h := cell(n); h != nil && h[b] {
							hidden++
						}
					}
					if hidden != 1 {
						continue
					}
					var cands []node
					for _, n := range e.children {
						if _, h := cell(n); h != nil && !h[b] {
							cands = append(cands, n)
						}
					}
					sort.SliceStable(cands, func(i, j int) bool {
						vi, _ := cell(cands[i])
						vj, _ := cell(cands[j])
						a, c := vi[b], vj[b]
						if (a == 0) != (c == 0) {
							return c == 0
						}
						return a < c
					})
					pick := e.parent
					if len(cands) > 0 {
						pick = cands[0]
					}
					if _, h := cell(pick); h != nil && !h[b] {
						h[b] = true
						changed = true
					}
				}
			}
		}
	}
}
