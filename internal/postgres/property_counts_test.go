package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestPropertyCountsStayExact holds the maintained per-compound counts
// (case_property_counts, violation_property_counts) to a live count(*)
// under several row scopes, after inserts, updates that move rows between
// compounds, streets, grids and departments, and deletes: a nested
// totalCount must count exactly the rows its list may show.
func TestPropertyCountsStayExact(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	caseSvc := newService(pool, commandCentre(), nil)
	caseCtx := as(ctx, "urban-management", "officer", "dispatcher")
	violSvc := violService(pool, violOfficer(), nil, nil)
	violCtx := as(ctx, "urban-management", "officer")
	cs, vs := postgres.NewCaseStore(pool), postgres.NewViolationStore(pool)

	var grids []string
	rows, err := pool.Query(ctx, `SELECT code FROM jurisdictions WHERE level = 'GRID' AND (code LIKE 'hailing.chengdong.%' OR code LIKE 'hailing.chengxi.%') ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		grids = append(grids, g)
	}
	rows.Close()
	if len(grids) < 4 {
		t.Fatalf("grids: %v", grids)
	}
	grids = []string{grids[0], grids[1], grids[len(grids)-2], grids[len(grids)-1]} // two streets, two grids each
	depts := []string{"planning", "housing", "water"}

	props := make([]uuid.UUID, 4)
	keys := make([]string, len(props))
	for i := range props {
		props[i] = uuid.New()
		keys[i] = props[i].String()
	}
	var caseIDs, violIDs []uuid.UUID
	for i := range 24 {
		in := validReport("property-counts-" + uuid.NewString())
		p := props[i%len(props)]
		in.PropertyID = &p
		c, err := caseSvc.Report(caseCtx, in)
		if err != nil {
			t.Fatal(err)
		}
		caseIDs = append(caseIDs, c.ID)
		if i%2 == 0 {
			v, err := violSvc.Report(violCtx, violInput(p))
			if err != nil {
				t.Fatal(err)
			}
			violIDs = append(violIDs, v.ID)
		}
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// place puts rows in a grid (and its street and community), keeping the
	// denormalised columns consistent as the store writes them.
	const place = `SET jurisdiction_code = $2::text, street_code = subpath($2::text::ltree, 0, 2)::text, community_code = subpath($2::text::ltree, 0, 3)::text`
	for i, id := range caseIDs {
		handling := &depts[i%len(depts)]
		if i%5 == 4 {
			handling = nil // not dispatched
		}
		exec(`UPDATE cases `+place+`, handling_dept = $3 WHERE id = $1`, id, grids[i%len(grids)], handling)
	}
	for i, id := range violIDs {
		exec(`UPDATE violations `+place+` WHERE id = $1`, id, grids[(i+1)%len(grids)])
	}

	street := func(g string) string { return g[:len("hailing.chengdong")] }
	scopes := []struct {
		name  string
		scope access.RowScope
		cases string // the same scope over cases, written out
		viols string
	}{
		{"all", access.RowScope{All: true}, "TRUE", "TRUE"},
		{"street", access.RowScope{Jurisdictions: []string{street(grids[0])}},
			fmt.Sprintf("street_code = '%s'", street(grids[0])), fmt.Sprintf("street_code = '%s'", street(grids[0]))},
		{"grid", access.RowScope{Jurisdictions: []string{grids[3]}},
			fmt.Sprintf("jurisdiction_code = '%s'", grids[3]), fmt.Sprintf("jurisdiction_code = '%s'", grids[3])},
		{"dept", access.RowScope{Depts: []string{"planning"}}, "'planning' IN (owner_dept, handling_dept)", "owner_dept = 'planning'"},
		{"owner", access.RowScope{Depts: []string{"urban-management"}}, "owner_dept = 'urban-management'", "owner_dept = 'urban-management'"},
		{"grid or dept", access.RowScope{Jurisdictions: []string{grids[1]}, Depts: []string{"water"}},
			fmt.Sprintf("(jurisdiction_code = '%s' OR 'water' IN (owner_dept, handling_dept))", grids[1]),
			fmt.Sprintf("(jurisdiction_code = '%s' OR owner_dept = 'water')", grids[1])},
		{"citizen", access.RowScope{CitizenID: "citizen-counts", Jurisdictions: []string{grids[2]}},
			fmt.Sprintf("(citizen_id = 'citizen-counts' OR jurisdiction_code = '%s')", grids[2]), fmt.Sprintf("jurisdiction_code = '%s'", grids[2])},
		{"none", access.RowScope{}, "FALSE", "FALSE"},
		// No department has the code '': an undispatched case (no handling
		// department) must not match it.
		{"empty dept", access.RowScope{Depts: []string{""}}, "'' IN (owner_dept, handling_dept)", "owner_dept = ''"},
	}
	check := func(step string) {
		t.Helper()
		for _, s := range scopes {
			wantCases := liveCounts(t, pool, "cases", s.cases, props)
			wantViols := liveCounts(t, pool, "violations", s.viols, props)
			gotCases, err := cs.CountByParent(ctx, s.scope, links.ParentProperty, keys)
			if err != nil {
				t.Fatal(err)
			}
			gotViols, err := vs.CountByParent(ctx, s.scope, links.ParentProperty, keys)
			if err != nil {
				t.Fatal(err)
			}
			_, pageCases, err := cs.ByParent(ctx, s.scope, links.ParentProperty, keys, page.Request{First: 2}, true, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, pageViols, err := vs.ByParent(ctx, s.scope, links.ParentProperty, keys, page.Request{First: 2}, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if gotCases[k] != wantCases[k] || gotViols[k] != wantViols[k] {
					t.Errorf("%s, scope %s, compound %s: counted %d cases and %d violations, live %d and %d",
						step, s.name, k, gotCases[k], gotViols[k], wantCases[k], wantViols[k])
				}
				// A parent without a row in scope has no page row to carry its count.
				if (wantCases[k] > 0 && pageCases[k] != wantCases[k]) || (wantViols[k] > 0 && pageViols[k] != wantViols[k]) {
					t.Errorf("%s, scope %s, compound %s: page totals %d cases and %d violations, live %d and %d",
						step, s.name, k, pageCases[k], pageViols[k], wantCases[k], wantViols[k])
				}
			}
		}
	}
	check("after inserts")

	// Updates moving rows between compounds, streets, grids and
	// departments, one row and many at once.
	exec(`UPDATE cases SET property_id = $2 WHERE id = $1`, caseIDs[0], props[1])
	exec(`UPDATE cases SET property_id = NULL WHERE id = $1`, caseIDs[1])
	exec(`UPDATE cases SET property_id = $2 WHERE id = ANY($1)`, caseIDs[2:8], props[3])
	exec(`UPDATE cases `+place+` WHERE id = ANY($1)`, caseIDs[8:14], grids[2])
	exec(`UPDATE cases SET handling_dept = CASE WHEN handling_dept IS NULL THEN 'planning' END WHERE id = ANY($1)`, caseIDs[10:20])
	exec(`UPDATE cases SET owner_dept = 'water', citizen_id = 'citizen-counts' WHERE id = ANY($1)`, caseIDs[18:22])
	exec(`UPDATE cases SET property_id = $2, handling_dept = 'housing' WHERE id = $1`, caseIDs[1], props[0])
	exec(`UPDATE violations SET property_id = $2 WHERE id = ANY($1)`, violIDs[:3], props[2])
	exec(`UPDATE violations `+place+`, owner_dept = 'planning' WHERE id = ANY($1)`, violIDs[3:7], grids[0])
	exec(`UPDATE violations SET property_id = NULL WHERE id = $1`, violIDs[7])
	exec(`UPDATE cases SET status = status WHERE id = ANY($1)`, caseIDs) // no scope column changes
	check("after updates")

	// Concurrent writers moving cases between the same groups.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				id := caseIDs[(w*7+i*5)%len(caseIDs)]
				_, err := pool.Exec(ctx, `UPDATE cases `+place+`, property_id = $3, handling_dept = $4 WHERE id = $1`,
					id, grids[(w+i)%len(grids)], props[(w*3+i)%len(props)], depts[(w+2*i)%len(depts)])
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check("after concurrent updates")

	// Deletes, and a rolled-back change that must leave no trace.
	exec(`DELETE FROM cases WHERE id = ANY($1)`, caseIDs[3:6])
	exec(`DELETE FROM case_events WHERE case_id = $1`, caseIDs[12])
	exec(`DELETE FROM cases WHERE id = $1`, caseIDs[12])
	exec(`DELETE FROM violations WHERE id = ANY($1)`, violIDs[8:10])
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET property_id = $2 WHERE id = ANY($1)`, caseIDs, props[0]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	check("after deletes")
}

// liveCounts counts table's rows per compound under cond.
func liveCounts(t *testing.T, pool *pgxpool.Pool, table, cond string, props []uuid.UUID) map[string]int {
	t.Helper()
	out := map[string]int{}
	rows, err := pool.Query(context.Background(), `SELECT property_id::text, count(*) FROM `+table+`
		WHERE property_id = ANY($1) AND `+cond+` GROUP BY property_id`, props)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A maintained count may stand for a live one only if its groups are
// judged on the very columns the rows are: every column of the row scope
// (the citizen's aside, which counts live) is a column of the count table.
func TestCountScopeMatchesRowScope(t *testing.T) {
	pool := setup(t)
	tables := postgres.CountGroupColumns()
	if len(tables) != 2 {
		t.Fatalf("count tables %v, want cases' and violations'", tables)
	}
	for table, cols := range tables {
		for _, col := range cols {
			var ok bool
			if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM information_schema.columns
				WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2)`, table, col).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Errorf("%s has no column %s: its groups are judged on less than the rows", table, col)
			}
		}
	}
}
