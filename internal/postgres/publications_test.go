package postgres_test

import (
	"context"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

// streetRows returns the rows of one street in a STREET grouping.
func streetRows(rows []evaluation.Row, street string) []evaluation.Row {
	var out []evaluation.Row
	for _, r := range rows {
		if r.Group.Street == street {
			out = append(out, r)
		}
	}
	return out
}

func publishedRows(t *testing.T, ctx context.Context, svc *evaluation.Service, version int, street string) (*evaluation.PublishedView, []evaluation.Row) {
	t.Helper()
	v, err := svc.Published(ctx, evaluation.PeriodMonth, lt("2025-05-10 00:00"), version)
	if err != nil || v == nil {
		t.Fatalf("published v%d: %v %v", version, v, err)
	}
	rows, err := v.Rows(ctx, evaluation.Grouping(evaluation.DimStreet))
	if err != nil {
		t.Fatal(err)
	}
	return v, streetRows(rows, street)
}

// TestPublishedIndicatorsAreFrozen publishes May, changes May's cases, and
// checks that the live figures moved while the published ones did not; a
// correction is a second version with a reason, and both stay readable.
func TestPublishedIndicatorsAreFrozen(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	admin := as(context.Background(), "urban-management", "admin")
	may := lt("2025-05-10 00:00")
	live := func() []evaluation.Row {
		return streetRows(indicators(t, staffCtx(), svc, evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2025-05-01 00:00"),
			To: lt("2025-06-01 00:00"), GroupBy: []evaluation.Dim{evaluation.DimStreet}}), f.street)
	}

	_, err := svc.Publish(staffCtx(), evaluation.PeriodMonth, may, "")
	wantCode(t, "an officer publishing", err, apperr.Forbidden)
	_, err = svc.Publish(admin, evaluation.PeriodMonth, lt("2025-06-01 00:00"), "")
	wantCode(t, "publishing the current month", err, apperr.BadUserInput)
	if v, err := svc.Published(staffCtx(), evaluation.PeriodMonth, may, 0); err != nil || v != nil {
		t.Fatalf("before publication: %v %v, want nil", v, err)
	}

	before := live()
	p1, err := svc.Publish(admin, evaluation.PeriodMonth, may, "")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if p1.Version != 1 || p1.PublishedBy != "u-urban-management@urban-management" || p1.Checksum == "" || p1.WeightsVersion == "" {
		t.Fatalf("publication: %+v", p1)
	}
	_, frozen := publishedRows(t, staffCtx(), svc, 0, f.street)
	if got, want := figureDump(frozen), figureDump(before); got != want {
		t.Fatalf("published rows differ from the live ones at publication:\n%s\nlive:\n%s", got, want)
	}
	_, err = svc.Publish(admin, evaluation.PeriodMonth, may, "")
	wantCode(t, "republishing without a reason", err, apperr.BadUserInput)

	// A3 (closed in May) is rated after the fact; M1's rating is withdrawn.
	if _, err := pool.Exec(context.Background(), `UPDATE cases SET rating = 5, rated_at = '2025-06-01 10:00+08' WHERE id = $1`, f.ids["A3"]); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE cases SET rating = NULL, rating_comment = NULL, rated_at = NULL WHERE id = $1`, f.ids["M1"]); err != nil {
		t.Fatal(err)
	}
	after := live()
	if figureDump(after) == figureDump(before) {
		t.Fatal("the change did not move the live May figures: the test proves nothing")
	}
	_, still := publishedRows(t, staffCtx(), svc, 0, f.street)
	if got, want := figureDump(still), figureDump(before); got != want {
		t.Fatalf("a published figure moved:\n%s\nwas:\n%s", got, want)
	}

	p2, err := svc.Publish(admin, evaluation.PeriodMonth, may, "A3 的评价补录")
	if err != nil || p2.Version != 2 || p2.Reason != "A3 的评价补录" || p2.Checksum == p1.Checksum {
		t.Fatalf("correction: %+v %v", p2, err)
	}
	if _, rows := publishedRows(t, staffCtx(), svc, 0, f.street); figureDump(rows) != figureDump(after) {
		t.Fatalf("latest version is not the correction:\n%s", figureDump(rows))
	}
	if _, rows := publishedRows(t, staffCtx(), svc, 1, f.street); figureDump(rows) != figureDump(before) {
		t.Fatalf("version 1 changed:\n%s", figureDump(rows))
	}
	hist, err := svc.Publications(staffCtx(), evaluation.PeriodMonth, may)
	if err != nil || len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 {
		t.Fatalf("history: %v %v", hist, err)
	}

	// The public reads the suppressed view frozen with it: the street's
	// May counts are below 5.
	_, pub := publishedRows(t, evaluatorCtx(), svc, 0, f.street)
	sat, _ := pub[0].Figure(evaluation.FigSatisfaction)
	exact, _ := after[0].Figure(evaluation.FigSatisfaction)
	if !sat.Suppressed || sat.Value != nil || exact.Suppressed || exact.Value == nil {
		t.Fatalf("public %+v, exact %+v", sat, exact)
	}

	if _, err := pool.Exec(context.Background(), `UPDATE indicator_publications SET reason = 'x'`); err == nil {
		t.Fatal("a publication was changed in place")
	}
}
