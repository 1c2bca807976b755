package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// insertKCase adds one case of minor class (major = its first two digits;
// a component for major 01, an event otherwise) reported at the local time
// at, in a community of street.
func insertKCase(t *testing.T, pool *pgxpool.Pool, street, community, minor, at string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source,
		status, description, lat, lng, jurisdiction_code, street_code, community_code, reported_at, source_dept, reporter_name, reporter_phone)
		VALUES (gen_random_uuid(), $1, 'urban-management', CASE WHEN left($2, 2) = '01' THEN 'COMPONENT' ELSE 'EVENT' END, left($2, 2), $2, 'CITIZEN_REPORT', 'REPORTED', '井盖缺失',
			32.49, 119.92, $3, $4, $3, $5, 'urban-management', '赵测试', '13912345678')`,
		randomCode("K-"), minor, community, street, lt(at))
	if err != nil {
		t.Fatalf("insert case: %v", err)
	}
}

// recordingPurposes remembers the purpose and principal of every audited
// snapshot read.
type recordingPurposes struct {
	mu       sync.Mutex
	purposes []string
	actors   []string
}

func (a *recordingPurposes) Read(ctx context.Context, d *access.Decision, _ int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.purposes = append(a.purposes, d.Purpose)
	a.actors = append(a.actors, access.PrincipalFrom(ctx).Actor())
	return nil
}

// TestSnapshotKAnonymity: on hand-built cases, one day per rule (local
// times; the part of day 06–12 Shanghai starts at 22:00 UTC the day
// before), every combination of community, class and hour holds at least
// five rows after the least generalization, and the manifest says which.
func TestSnapshotKAnonymity(t *testing.T) {
	pool := setup(t)
	street, c1, c2 := insertEvalJurisdictions(t, pool)
	day := func(d int, clock string) string { return fmt.Sprintf("2025-04-%02d %s", d, clock) }
	// 14 April: five alike at 09h. 15 April: three at 09h, two at 11h.
	// 16 April: three in c1, two in c2. 17 April: four rows. 18 April: five
	// events and one component (a sixth of the rows: too many to withhold).
	for i := range 5 {
		insertKCase(t, pool, street, c1, "0501", day(14, fmt.Sprintf("09:%02d", 10*i)))
	}
	for _, clock := range []string{"09:05", "09:15", "09:25", "11:05", "11:45"} {
		insertKCase(t, pool, street, c1, "0501", day(15, clock))
	}
	for i, c := range []string{c1, c1, c1, c2, c2} {
		insertKCase(t, pool, street, c, "0501", day(16, fmt.Sprintf("09:%02d", 10*i)))
	}
	for i := range 4 {
		insertKCase(t, pool, street, c1, "0501", day(17, fmt.Sprintf("09:%02d", 10*i)))
	}
	for i, minor := range []string{"0501", "0501", "0501", "0501", "0501", "0101"} {
		insertKCase(t, pool, street, c1, minor, day(18, fmt.Sprintf("09:%02d", 5*i)))
	}
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	ctx := evaluatorCtx()
	on := func(d int) evaluation.SnapshotFilter {
		from, to := lt(day(d, "00:00")), lt(day(d+1, "00:00"))
		return evaluation.SnapshotFilter{Jurisdiction: street, ReportedFrom: &from, ReportedTo: &to}
	}
	for _, tc := range []struct {
		day          int
		said         []string
		reported     string
		community    bool
		smallest     int
		profileCoord bool
	}{
		{14, []string{}, "2025-04-14T01:00:00Z", true, 5, false},
		{15, []string{"hour → part of day (00–06, 06–12, 12–18, 18–24 Asia/Shanghai)"}, "2025-04-14T22:00:00Z", true, 5, false},
		{16, []string{"hour → part of day (00–06, 06–12, 12–18, 18–24 Asia/Shanghai)", "community → street"}, "2025-04-15T22:00:00Z", false, 5, false},
	} {
		m, err := svc.CreateSnapshot(ctx, "cases", on(tc.day), evaluation.Profile{})
		if err != nil {
			t.Fatalf("%d April: %v", tc.day, err)
		}
		k := m.KAnonymity
		if k == nil || k.K != 5 || k.SmallestGroup != tc.smallest || strings.Join(k.Generalized, "|") != strings.Join(tc.said, "|") || m.Rows != 5 {
			t.Fatalf("%d April: %d rows, k-anonymity %+v, want generalized %q", tc.day, m.Rows, k, tc.said)
		}
		nd := exportBytes(t, ctx, svc, m.ID, evaluation.FormatNDJSON, 0)
		for _, line := range strings.Split(strings.TrimSpace(string(nd)), "\n") {
			var row map[string]any
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatal(err)
			}
			if tc.day != 15 && row["reported_at"] != tc.reported || (row["community_code"] != nil) != tc.community {
				t.Errorf("%d April row: reported_at %v community %v", tc.day, row["reported_at"], row["community_code"])
			}
			if tc.day == 15 && row["reported_at"] != tc.reported {
				t.Errorf("15 April: reported_at %v, want the part of day %s", row["reported_at"], tc.reported)
			}
		}
		// The dictionary states the generalization too.
		dict := string(getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/dictionary.ndjson"))
		if tc.day == 16 && !strings.Contains(dict, "generalized for k-anonymity to street_code") {
			t.Errorf("16 April: the dictionary does not say the community was generalized")
		}
	}
	for _, d := range []int{17, 18} {
		if _, err := svc.CreateSnapshot(ctx, "cases", on(d), evaluation.Profile{}); apperr.CodeOf(err) != apperr.BadUserInput ||
			!strings.Contains(err.Error(), "k-anonymity") {
			t.Errorf("%d April: %v, want BAD_USER_INPUT naming k-anonymity", d, err)
		}
	}
}

// TestSnapshotOtherDatasets freezes violations, parking lots, their
// availability history and inspection rounds in every format: the
// manifests' checksums match the downloads, each dictionary describes the
// dataset's columns, and no direct identifier (party name and phone, plate,
// lot contact, inspector name) leaves the server.
func TestSnapshotOtherDatasets(t *testing.T) {
	pool := setup(t)
	bg := context.Background()
	street, c1, _ := insertEvalJurisdictions(t, pool)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(bg, q, args...); err != nil {
			t.Fatalf("%s: %v", q[:40], err)
		}
	}
	at := func(d int, clock string) time.Time { return lt(fmt.Sprintf("2025-04-%02d %s", d, clock)) }
	// Six illegal constructions (rooftop additions) found at 10h on working
	// days, one demolished; the party and plate columns hold personal data.
	for i := range 6 {
		status, outcome := "NOTICE_ISSUED", any(nil)
		if i == 0 {
			status, outcome = "DEMOLISHED", "DEMOLISHED"
		}
		exec(`INSERT INTO violations (id, record_no, owner_dept, kind, subtype, channel, status, outcome, description, area_m2, lat, lng,
			jurisdiction_code, street_code, community_code, party_name, party_phone, discovered_at, source_dept)
			VALUES (gen_random_uuid(), $1, 'urban-management', 'ILLEGAL_CONSTRUCTION', 'ROOFTOP_ADDITION', 'DRONE', $2, $3,
			'钱违建 13812345678 幸福路12号楼顶加盖', 35.5, 32.49, 119.92, $4, $5, $4, '钱违建', '13812345678', $6, 'urban-management')`,
			randomCode("V-"), status, outcome, c1, street, at(14+i%4, "10:20"))
	}
	// Five lots with a contact each, and a sample of free spaces per lot.
	for i := range 5 {
		id := uuid.New()
		exec(`INSERT INTO parking_lots (id, name, kind, is_government, lat, lng, jurisdiction_code, street_code, owner_dept,
			total_spaces, shared_spaces, weekday_windows, rest_day_all_day, contact_name, contact_phone, source_dept, external_id)
			VALUES ($1, $2, 'GOVERNMENT_SHARED', true, 32.49, 119.92, $3, $4, 'urban-management', 80, 40, '{18:30-07:30}', true,
			'孙管理', '13700001111', 'urban-management', $5)`, id, fmt.Sprintf("测试机关停车场%d", i), c1, street, randomCode("P-"))
		exec(`INSERT INTO parking_availability_history (lot_id, at, free, reported_at) VALUES ($1, $2, $3, $2)`, id, at(15, "19:00"), 30+i)
	}
	// A round of five inspections by two inspectors each.
	round := fmt.Sprintf("20%02d-%02d", 40+rand.IntN(59), 1+rand.IntN(12))
	insp := []string{randomCode("i"), randomCode("i")}
	for _, id := range insp {
		exec(`INSERT INTO inspectors (id, name, dept) VALUES ($1, '李检查', 'housing')`, id)
	}
	exec(`INSERT INTO inspection_rounds (round, period_start, dept, seed, ratio, k, register_size, drawn, targets_hash, inspectors_hash,
		targets_register, inspectors_register, drawn_at, drawn_by) VALUES ($1, '2025-04-01', 'housing', 7, 0.5, 2, 10, 5,
		repeat('a', 64), repeat('b', 64), '', '', now(), 'test')`, round)
	for i := range 5 {
		pid := uuid.New()
		exec(`INSERT INTO properties (id, owner_dept, name, lat, lng, jurisdiction_code, street_code, community_code, build_year,
			buildings, households, source_dept, external_id) VALUES ($1, 'housing', $2, 32.49, 119.92, $3, $4, $3, 2001, 6, 300,
			'housing', $5)`, pid, fmt.Sprintf("测试小区%d", i), c1, street, randomCode("H-"))
		exec(`INSERT INTO inspections (id, round, rank, property_id, inspector_ids, scheduled_on, result, findings, recorded_at)
			VALUES (gen_random_uuid(), $1, $2, $3, $4, '2025-04-16', 'RECTIFY', '李检查发现3幢502室消防通道堵塞', $5)`,
			round, i+1, pid, insp, at(16, "15:00"))
	}

	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	ctx := evaluatorCtx()
	filter := evaluation.SnapshotFilter{Jurisdiction: street}
	for _, tc := range []struct {
		dataset string
		rows    int64
		column  string // a column the dictionary must describe
	}{
		{evaluation.SnapshotViolations, 6, "demolished_area_m2"},
		{evaluation.SnapshotParkingLots, 5, "weekday_windows"},
		{evaluation.SnapshotAvailability, 5, "free"},
		{evaluation.SnapshotInspections, 5, "inspector_refs"},
	} {
		t.Run(tc.dataset, func(t *testing.T) {
			m, err := svc.CreateSnapshot(ctx, tc.dataset, filter, evaluation.Profile{KeepText: true})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if m.Rows != tc.rows || m.Dataset != tc.dataset || m.KAnonymity == nil || m.Organisation == nil || m.XLSX == nil || m.Parquet == nil {
				t.Fatalf("manifest: %d rows, %+v %+v", m.Rows, m.KAnonymity, m.Organisation)
			}
			for _, f := range []evaluation.Format{evaluation.FormatNDJSON, evaluation.FormatCSV, evaluation.FormatCSVBOM, evaluation.FormatXLSX, evaluation.FormatParquet} {
				b := exportBytes(t, ctx, svc, m.ID, f, 0)
				if r := m.Rendering(f); sha(b) != r.SHA256 || int64(len(b)) != r.Bytes {
					t.Errorf("%s: %d bytes %s, manifest %+v", f, len(b), sha(b), r)
				}
			}
			nd := exportBytes(t, ctx, svc, m.ID, evaluation.FormatNDJSON, 0)
			// The house number as it stood in the text ("3幢502室"): a bare
			// "502" also turns up by chance in ids and hashes.
			for _, bad := range []string{"钱违建", "13812345678", "孙管理", "13700001111", "李检查", "幢502", "502室", insp[0]} {
				if bytes.Contains(nd, []byte(bad)) {
					t.Errorf("%q in the rows", bad)
				}
			}
			if tc.dataset == evaluation.SnapshotInspections && !bytes.Contains(nd, []byte(evaluation.Removed)) {
				t.Errorf("inspection findings not scrubbed: %s", nd)
			}
			dict := getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/dictionary.csv")
			if !bytes.Contains(dict, []byte(tc.dataset+","+tc.column+",")) {
				t.Errorf("dictionary lacks %s.%s", tc.dataset, tc.column)
			}
			paths := map[string]bool{}
			for _, f := range m.Files() {
				paths[f.Name] = true
			}
			if !paths[tc.dataset+".ndjson"] || !paths[tc.dataset+".parquet"] || !paths["dictionary.csv"] {
				t.Errorf("files %v", paths)
			}
		})
	}
	// Violations carry the quasi-identifiers; four of them are too few.
	from, to := at(14, "00:00"), at(15, "00:00")
	if _, err := svc.CreateSnapshot(ctx, evaluation.SnapshotViolations, evaluation.SnapshotFilter{Jurisdiction: street, ReportedFrom: &from,
		ReportedTo: &to}, evaluation.Profile{}); apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("two violations: %v, want BAD_USER_INPUT", err)
	}
	if _, err := svc.CreateSnapshot(ctx, evaluation.SnapshotViolations, evaluation.SnapshotFilter{Jurisdiction: street, Kind: "EVENT"},
		evaluation.Profile{}); apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("a case kind on violations: %v, want BAD_USER_INPUT", err)
	}
}

// TestSnapshotOrganisation: evaluator credentials belong to a registered
// organisation whose contract bounds snapshots in time and scope; the
// manifest and the audit records name the organisation.
func TestSnapshotOrganisation(t *testing.T) {
	pool := setup(t)
	street := insertBulkCases(t, pool, 300)
	other := insertBulkCases(t, pool, 300)
	clk := fixture.NewClock(evalNow)
	rec := &recordingPurposes{}
	svc := newEvalService(t, pool, clk, func(c *evaluation.Config) { c.Auditor = rec })
	bg := context.Background()
	// A second organisation whose contract covers cases in street only,
	// during the first half of 2025.
	narrow := evaluation.Organisation{Code: "narrow-" + strings.ToLower(randomCode("o")), Name: "窄范围评估所", ContractNo: "NARROW-1",
		CreditCode: "91321200MA1XXXXX0X", From: lt("2025-01-01 00:00"), To: lt("2025-07-01 00:00"),
		Datasets: []string{"cases"}, Jurisdictions: []string{street}}
	if _, err := svc.RegisterOrganisation(bg, narrow); err != nil {
		t.Fatalf("register: %v", err)
	}
	as := func(org string) context.Context {
		return access.WithPrincipal(bg, &access.Principal{Kind: access.KindService, Subject: "k-" + org, Org: org,
			Roles: []string{access.RoleEvaluator}, Jurisdiction: "hailing"})
	}
	filter := evaluation.SnapshotFilter{Jurisdiction: street}

	// Inside the period and scope: made, and the manifest names the
	// organisation and its contract.
	m, err := svc.CreateSnapshot(as(narrow.Code), "cases", filter, evaluation.Profile{})
	if err != nil {
		t.Fatalf("inside the contract: %v", err)
	}
	if o := m.Organisation; o == nil || o.Code != narrow.Code || o.ContractNo != "NARROW-1" || !o.ContractTo.Equal(narrow.To) ||
		o.CreditCode != narrow.CreditCode {
		t.Fatalf("manifest organisation %+v", m.Organisation)
	}
	again, err := svc.Snapshot(as(narrow.Code), m.ID)
	if err != nil || again.Organisation == nil || again.Organisation.Name != narrow.Name {
		t.Fatalf("stored manifest: %+v, %v", again, err)
	}
	// Downloads too, and each audit record names the organisation and the
	// contract.
	exportBytes(t, as(narrow.Code), svc, m.ID, evaluation.FormatCSV, 0)
	rec.mu.Lock()
	for i, p := range rec.purposes {
		if !strings.Contains(p, narrow.Code) || !strings.Contains(p, "NARROW-1") || !strings.Contains(p, m.ID.String()) ||
			!strings.Contains(rec.actors[i], "@org:"+narrow.Code) {
			t.Errorf("audit record %d: purpose %q by %q", i, p, rec.actors[i])
		}
	}
	if len(rec.purposes) != 2 {
		t.Errorf("%d audit records, want the creation and the download", len(rec.purposes))
	}
	rec.mu.Unlock()

	forbidden := func(what string, err error, words ...string) {
		t.Helper()
		if apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("%s: %v, want FORBIDDEN", what, err)
			return
		}
		for _, w := range words {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", what, err, w)
			}
		}
	}
	// Out of scope: another street, the whole district, another dataset.
	_, err = svc.CreateSnapshot(as(narrow.Code), "cases", evaluation.SnapshotFilter{Jurisdiction: other}, evaluation.Profile{})
	forbidden("another street", err, "NARROW-1", street)
	_, err = svc.CreateSnapshot(as(narrow.Code), "cases", evaluation.SnapshotFilter{}, evaluation.Profile{})
	forbidden("the whole district", err)
	_, err = svc.CreateSnapshot(as(narrow.Code), "violations", filter, evaluation.Profile{})
	forbidden("another dataset", err, "violations")
	// Another organisation may not download it.
	_, err = svc.Export(evaluatorCtx(), m.ID, evaluation.FormatNDJSON, &bytes.Buffer{}, 0)
	forbidden("another organisation's download", err)
	// An evaluator without an organisation, or with an unregistered one.
	_, err = svc.CreateSnapshot(as(""), "cases", filter, evaluation.Profile{})
	forbidden("no organisation", err, "organisation")
	_, err = svc.CreateSnapshot(as("nobody-registered"), "cases", filter, evaluation.Profile{})
	forbidden("unregistered organisation", err, "not registered")

	// Outside the period: neither made nor downloaded, over HTTP too.
	clk.Set(lt("2025-07-01 00:00"))
	_, err = svc.CreateSnapshot(as(narrow.Code), "cases", filter, evaluation.Profile{})
	forbidden("after the contract", err, "NARROW-1")
	_, err = svc.Export(as(narrow.Code), m.ID, evaluation.FormatNDJSON, &bytes.Buffer{}, 0)
	forbidden("download after the contract", err)
	_, err = svc.Snapshots(as(narrow.Code), 10)
	forbidden("listing after the contract", err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		server.ExportHandler(svc, nil).ServeHTTP(w, r.WithContext(as(narrow.Code)))
	}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/datasets/" + m.ID.String() + ".csv")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Errorf("HTTP download after the contract: %d %+v", resp.StatusCode, body)
	}
	clk.Set(lt("2024-12-31 23:59"))
	_, err = svc.CreateSnapshot(as(narrow.Code), "cases", filter, evaluation.Profile{})
	forbidden("before the contract", err)
	clk.Set(evalNow)
	if list, err := svc.Snapshots(as(narrow.Code), 100); err != nil || len(list) != 1 || list[0].ID != m.ID {
		t.Errorf("an organisation lists its own snapshots only: %d, %v", len(list), err)
	}

	// An organisation is never a department.
	dept := narrow
	dept.Code = "housing"
	if _, err := svc.RegisterOrganisation(bg, dept); apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("registering a department as an organisation: %v", err)
	}
}
