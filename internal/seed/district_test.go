package seed

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/jackc/pgx/v5/pgxpool"
)

// demoTables are the tables All fills besides Run's; they are emptied
// before each run so a rerun starts from the same empty database.
const demoTables = `properties, building_permits, inspectors, inspector_conflicts, inspection_rounds, inspections,
	parking_lots, violations, violation_events`

// seedAll loads the whole demo district (All) into an emptied database.
func seedAll(t *testing.T, pool *pgxpool.Pool, opts Options) AllStats {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `TRUNCATE `+demoTables+`, case_events, cases, departments, jurisdictions RESTART IDENTITY CASCADE`); err != nil {
		t.Fatal(err)
	}
	st, err := All(ctx, pool, opts, nil)
	if err != nil {
		t.Fatalf("All: %v", err)
	}
	return st
}

// TestDistrictFacts checks the whole demo district (the small test seed)
// against the facts of docs/demo-data.md, as proportions and rules rather
// than the full-scale counts.
func TestDistrictFacts(t *testing.T) {
	ctx := context.Background()
	pool := env.Pool(t)
	opts := testOptions()
	st := seedAll(t, pool, opts)
	t.Logf("%+v", st)
	cal := calendar.Default()
	from := opts.Now.AddDate(-ViolationYears, 0, 0) // the violations' period

	t.Run("households for about 480,000 residents", func(t *testing.T) {
		households := query(t, pool, `SELECT sum(households)::float8 FROM properties`)[0]
		residents := households * PropertyPersonsPerHousehold
		if residents < 0.9*PropertyResidents || residents > 1.1*PropertyResidents {
			t.Fatalf("%.0f households × %.1f = %.0f residents, want about %d", households,
				PropertyPersonsPerHousehold, residents, PropertyResidents)
		}
		t.Logf("%.0f households, %.0f residents", households, residents)
	})

	t.Run("illegal construction goes to enforcement and the street offices", func(t *testing.T) {
		// Every dispatch of an illegal-construction case, re-dispatches
		// after a return included, names urban management or a street or
		// town office; planning and housing never get one.
		rows, err := pool.Query(ctx, `SELECT e.note, count(*) FROM case_events e JOIN cases c ON c.id = e.case_id
			WHERE c.kind = 'EVENT' AND c.minor_code = '0302' AND e.action = 'DISPATCH' GROUP BY e.note`)
		if err != nil {
			t.Fatal(err)
		}
		byDept := map[string]int{}
		for rows.Next() {
			var note string
			var n int
			if err := rows.Scan(&note, &n); err != nil {
				t.Fatal(err)
			}
			byDept[note] = n
		}
		rows.Close()
		enforcement, streets := 0, 0
		for note, n := range byDept {
			switch dept := note[len("→ "):]; {
			case dept == "urban-management":
				enforcement += n
			case len(dept) > 7 && (dept[:7] == "street-" || dept[:5] == "town-"):
				streets += n
			default:
				t.Errorf("%d illegal-construction dispatches to %s", n, dept)
			}
		}
		if enforcement == 0 || streets == 0 {
			t.Errorf("dispatches %v: want both urban management and the street offices", byDept)
		}
		if n := query(t, pool, `SELECT count(*) FROM cases WHERE kind = 'EVENT' AND minor_code = '0302'
			AND handling_dept IN ('planning', 'housing')`)[0]; n != 0 {
			t.Errorf("%v illegal-construction cases handled by planning or housing", n)
		}
	})

	t.Run("handling and closure in working hours except emergencies", func(t *testing.T) {
		emergency := map[string]bool{}
		for _, cl := range cases.DefaultCatalogue().All() {
			if cl.Emergency {
				emergency[string(cl.Kind)+cl.MinorCode] = true
			}
		}
		// Handling, and verification on site: passed (closure) or failed.
		rows, err := pool.Query(ctx, `SELECT c.kind || c.minor_code, e.action, e.at FROM case_events e
			JOIN cases c ON c.id = e.case_id WHERE e.action = ANY($1)`,
			[]string{string(cases.ActionHandle), string(cases.ActionVerify), string(cases.ActionRework)})
		if err != nil {
			t.Fatal(err)
		}
		var office, outside, urgent, urgentAfterHours int
		for rows.Next() {
			var class, action string
			var at time.Time
			if err := rows.Scan(&class, &action, &at); err != nil {
				t.Fatal(err)
			}
			switch {
			case emergency[class]:
				urgent++
				if !cal.IsWorkingTime(at) {
					urgentAfterHours++
				}
			case cal.IsWorkingTime(at):
				office++
			default:
				if outside++; outside <= 5 {
					t.Errorf("%s of a %s case at %s (local), outside working hours", action, class, at.In(cal.Location()).Format(time.DateTime))
				}
			}
		}
		rows.Close()
		if outside > 0 || office == 0 {
			t.Errorf("%d handlings and closures in working hours, %d outside", office, outside)
		}
		// Emergencies run around the clock: a good share of theirs fall
		// outside office hours (reports come day and night).
		if urgent == 0 || float64(urgentAfterHours) < 0.2*float64(urgent) {
			t.Errorf("%d of %d emergency handlings and closures outside working hours; want a good share", urgentAfterHours, urgent)
		}
		t.Logf("office hours %d; emergencies %d, %d of them outside", office, urgent, urgentAfterHours)
		// The case rows agree with their timelines.
		var bad int
		rows, err = pool.Query(ctx, `SELECT kind || minor_code, handled_at, closed_at FROM cases WHERE handled_at IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var class string
			var handled time.Time
			var closed *time.Time
			if err := rows.Scan(&class, &handled, &closed); err != nil {
				t.Fatal(err)
			}
			if !emergency[class] && (!cal.IsWorkingTime(handled) || (closed != nil && !cal.IsWorkingTime(*closed))) {
				bad++
			}
		}
		rows.Close()
		if bad > 0 {
			t.Errorf("%d cases handled or closed outside working hours", bad)
		}
	})

	t.Run("two double-random rounds a year on working days", func(t *testing.T) {
		rows, err := pool.Query(ctx, `SELECT round, period_start, drawn_at, published_at, previous_rounds FROM inspection_rounds ORDER BY period_start`)
		if err != nil {
			t.Fatal(err)
		}
		perYear := map[int]int{}
		for rows.Next() {
			var round string
			var start, drawn time.Time
			var published *time.Time
			var prev []string
			if err := rows.Scan(&round, &start, &drawn, &published, &prev); err != nil {
				t.Fatal(err)
			}
			perYear[start.Year()]++
			if !cal.IsWorkingTime(drawn) || published == nil || !cal.IsWorkingTime(*published) {
				t.Errorf("round %s drawn %v, published %v: not in working hours", round, drawn, published)
			}
			if len(prev) > property.RecusalRoundsDefault {
				t.Errorf("round %s looked back over %v", round, prev)
			}
		}
		rows.Close()
		if want := map[int]int{2024: 2, 2025: 2}; !maps.Equal(perYear, want) {
			t.Errorf("rounds per year %v, want %v", perYear, want)
		}
		rows, err = pool.Query(ctx, `SELECT round, scheduled_on, recorded_at FROM inspections`)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var round string
			var on time.Time
			var recorded *time.Time
			if err := rows.Scan(&round, &on, &recorded); err != nil {
				t.Fatal(err)
			}
			n++
			// scheduled_on is a date: noon of it lies on the same local day.
			if !cal.IsWorkingDay(time.Date(on.Year(), on.Month(), on.Day(), 4, 0, 0, 0, time.UTC)) ||
				recorded == nil || !cal.IsWorkingTime(*recorded) {
				t.Errorf("%s: inspection on %s recorded %v, not on a working day", round, on.Format(time.DateOnly), recorded)
			}
		}
		rows.Close()
		if n == 0 {
			t.Error("no inspections")
		}
	})

	t.Run("illegal-parking records at the scale of the 乱停乱放 cases", func(t *testing.T) {
		v := query(t, pool, `SELECT (SELECT count(*) FROM violations WHERE kind = 'ILLEGAL_PARKING')::float8,
			(SELECT count(*) FROM cases WHERE kind = 'EVENT' AND minor_code = '0503' AND status <> 'NOT_REGISTERED'
				AND reported_at >= $1)::float8`, from)
		records, cs := v[0], v[1]
		if cs == 0 || records < 0.8*cs || records > 1.25*cs {
			t.Fatalf("%.0f illegal-parking records for %.0f 乱停乱放 cases; want about one each", records, cs)
		}
		if st.Violations.IllegalParking != int(records) || st.Violations.ParkingCases != int(cs) {
			t.Errorf("stats %+v, tables say %.0f records, %.0f cases", st.Violations, records, cs)
		}
	})

	t.Run("800+ new parking spaces, with when they opened", func(t *testing.T) {
		v := query(t, pool, `SELECT count(*) FILTER (WHERE opened_at IS NULL),
			coalesce(sum(total_spaces) FILTER (WHERE opened_at >= $1), 0), count(*) FILTER (WHERE opened_at >= $1),
			count(*) FILTER (WHERE opened_at >= $1 AND kind NOT IN ('PUBLIC', 'ON_STREET')),
			count(*) FILTER (WHERE opened_at > $2 OR opened_at < '1990-01-01')
			FROM parking_lots`, ParkingNewSince, opts.Now)
		undated, spaces, lots, otherKinds, odd := v[0], v[1], v[2], v[3], v[4]
		if undated != 0 || odd != 0 || otherKinds != 0 {
			t.Errorf("%v lots without an opening date, %v opened in the future or long ago, %v new lots not public or on-street", undated, odd, otherKinds)
		}
		if spaces < ParkingNewSpacesMin || spaces > ParkingNewSpacesMax || lots < 2 {
			t.Errorf("%v spaces in %v lots opened since %s; want 800+", spaces, lots, ParkingNewSince.Format(time.DateOnly))
		}
		t.Logf("%v new spaces in %v lots", spaces, lots)
	})

	t.Run("deterministic", func(t *testing.T) {
		before := demoChecksum(t, pool)
		seedAll(t, pool, opts)
		if after := demoChecksum(t, pool); !maps.Equal(before, after) {
			t.Errorf("the same Seed and Now gave different demo data:\n%v\n%v", before, after)
		}
	})
}

// demoChecksum hashes the other datasets' demo rows in a stable order
// (record numbers aside: they come from a sequence a rerun does not reset).
func demoChecksum(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, order := range map[string]string{"properties": "id", "inspection_rounds": "round", "inspections": "id",
		"parking_lots": "id", "violations": "id", "cases": "id"} {
		var sum string
		err := pool.QueryRow(context.Background(),
			fmt.Sprintf(`SELECT md5(coalesce(string_agg((to_jsonb(t) - 'record_no')::text, E'\n' ORDER BY t.%s), '')) FROM %s t`, order, table)).Scan(&sum)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = sum
	}
	return out
}
