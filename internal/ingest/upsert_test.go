package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/jackc/pgx/v5/pgxpool"
)

func validUpsert(externalID string) cases.UpsertInput {
	at := time.Date(2025, 5, 1, 9, 30, 0, 0, time.UTC)
	return cases.UpsertInput{
		ExternalID: externalID, Kind: cases.KindEvent, MinorCode: "0502", Source: cases.SourceEnforcementTerminal,
		Description: "占道经营：水果摊", Address: "海陵南路 88 号", Lat: 32.4921, Lng: 119.9187,
		ReporterName: "李四", ReporterPhone: "13912345678", ReportedAt: &at, PhotoURLs: []string{"https://img.example.cn/x.jpg"},
	}
}

func ptr[T any](v T) *T { return &v }

// caseService is the case service on pool, each caller scoped to its own
// department's rows: the single-record path whose rules bulk ingest shares.
func caseService(pool *pgxpool.Pool) *cases.Service {
	return cases.NewService(cases.Config{Store: postgres.NewCaseStore(pool), Directory: postgres.NewDirectoryStore(pool),
		Authorizer: ownRows{}, Calendar: calendar.Default()})
}

func TestUpsertCase(t *testing.T) {
	pool := setup(t)
	svc := caseService(pool)
	ctx := as(context.Background(), "urban-management", "officer")
	id := prefix("upsert")
	in := validUpsert(id)

	before := snapshot(t, pool)
	res, err := svc.Upsert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Record
	if res.Outcome != upsert.Created || c.Version != 1 || c.Status != cases.StatusReported || c.ExternalID != id ||
		c.SourceDept != "urban-management" || c.MajorCode != "05" || !strings.HasPrefix(c.CaseNo, "HL2025-") ||
		c.JurisdictionCode == "" || !c.ReportedAt.Equal(*in.ReportedAt) {
		t.Fatalf("created %+v (%s)", c, res.Outcome)
	}
	created := snapshot(t, pool)
	if created.Cases-before.Cases != 1 || created.Events-before.Events != 1 || created.Outbox-before.Outbox != 1 {
		t.Fatalf("create wrote %+v → %+v", before, created)
	}

	// The same record again (with a stale version even): nothing changes.
	again := in
	again.Version = ptr(0)
	res, err = svc.Upsert(ctx, again)
	if err != nil || res.Outcome != upsert.Unchanged || res.Record.Version != 1 || res.Record.ID != c.ID {
		t.Fatalf("again: %+v %v", res, err)
	}
	unchanged(t, pool, created)

	// A change: version 2, an UPDATED outbox row, no timeline event; the
	// report time is kept when not sent.
	changed := in
	changed.Description = "占道经营：水果摊两处"
	changed.ReportedAt = nil
	changed.Version = ptr(1)
	res, err = svc.Upsert(ctx, changed)
	if err != nil || res.Outcome != upsert.Updated || res.Record.Version != 2 || res.Record.Description != changed.Description ||
		!res.Record.ReportedAt.Equal(*in.ReportedAt) || res.Record.CaseNo != c.CaseNo {
		t.Fatalf("update: %+v %v", res, err)
	}
	updated := snapshot(t, pool)
	if updated.Events != created.Events || updated.Outbox-created.Outbox != 1 || updated.VersionSum-created.VersionSum != 1 {
		t.Fatalf("update wrote %+v → %+v", created, updated)
	}
	var op string
	if err := pool.QueryRow(context.Background(), "SELECT op || ':' || version || ':' || (payload->>'status') FROM outbox WHERE id = $1", updated.MaxOutbox).Scan(&op); err != nil || op != "UPDATED:2:REPORTED" {
		t.Fatalf("outbox %q %v", op, err)
	}

	// A stale version with a change: CONFLICT, nothing written.
	stale := changed
	stale.Description = "别的描述"
	stale.Version = ptr(1)
	if _, err := svc.Upsert(ctx, stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v", err)
	}
	// A version for a case that does not exist: CONFLICT.
	missing := validUpsert(prefix("missing"))
	missing.Version = ptr(3)
	if _, err := svc.Upsert(ctx, missing); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("version of a missing case: %v", err)
	}
	// Invalid input: BAD_USER_INPUT naming the field.
	for field, change := range map[string]func(*cases.UpsertInput){
		"description":  func(in *cases.UpsertInput) { in.Description = "" },
		"class":        func(in *cases.UpsertInput) { in.MinorCode = "0599" },
		"location":     func(in *cases.UpsertInput) { in.Lat = 0 },
		"externalId":   func(in *cases.UpsertInput) { in.ExternalID = "" },
		"jurisdiction": func(in *cases.UpsertInput) { in.Jurisdiction = "hailing.nowhere" },
		"version":      func(in *cases.UpsertInput) { in.Version = ptr(-1) },
	} {
		bad := validUpsert(prefix("bad"))
		change(&bad)
		_, err := svc.Upsert(ctx, bad)
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.BadUserInput || ae.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
	}
	unchanged(t, pool, updated)
}

// TestUpsertMatchesImport pins the single and the bulk path to the same idea
// of "unchanged": a record written by one and re-sent by the other changes
// nothing, located jurisdictions included.
func TestUpsertMatchesImport(t *testing.T) {
	pool := setup(t)
	svc, single := newService(t, pool, ingest.Config{}), caseService(pool)
	ctx := umSystem()
	p := prefix("cross")
	const n = 60
	file := genNDJSON(p, n)
	if rep := importString(t, svc, ctx, ingest.NDJSON, file, ingest.Options{}); rep.Inserted != n {
		t.Fatalf("import %+v", rep)
	}
	before := snapshot(t, pool)
	rows, err := pool.Query(context.Background(), `SELECT external_id, kind, minor_code, source, description, address, lat, lng,
		coalesce(reporter_name, ''), coalesce(reporter_phone, ''), reported_at, photo_urls, jurisdiction_code
		FROM cases WHERE source_dept = 'urban-management' AND external_id LIKE $1 || '-%'`, p)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []cases.UpsertInput
	var jurs []string
	for rows.Next() {
		var in cases.UpsertInput
		var at time.Time
		var jur string
		if err := rows.Scan(&in.ExternalID, &in.Kind, &in.MinorCode, &in.Source, &in.Description, &in.Address, &in.Lat, &in.Lng,
			&in.ReporterName, &in.ReporterPhone, &at, &in.PhotoURLs, &jur); err != nil {
			t.Fatal(err)
		}
		in.ReportedAt = &at
		inputs = append(inputs, in)
		jurs = append(jurs, jur)
	}
	if rows.Err() != nil || len(inputs) != n {
		t.Fatalf("%d cases, %v", len(inputs), rows.Err())
	}
	located := 0
	for i, in := range inputs {
		// Rows sent without a jurisdiction were located in bulk; the single
		// path locates them with DirectoryStore.Locate and must agree.
		if !strings.Contains(file, fmt.Sprintf(`"externalId":"%s","kind"`, in.ExternalID)) {
			t.Fatalf("%s is not in the file", in.ExternalID)
		}
		if jurs[i] != "hailing.chengdong.fenghuang" {
			located++
			want, err := postgres.NewDirectoryStore(pool).Locate(context.Background(), in.Lat, in.Lng)
			if err != nil || want != jurs[i] {
				t.Fatalf("%s: located %s in bulk, Locate says %s (%v)", in.ExternalID, jurs[i], want, err)
			}
		} else {
			in.Jurisdiction = jurs[i]
		}
		res, err := single.Upsert(ctx, in)
		if err != nil || res.Outcome != upsert.Unchanged {
			t.Fatalf("%s: %+v %v", in.ExternalID, res, err)
		}
	}
	if located == 0 {
		t.Fatal("no case was located")
	}
	unchanged(t, pool, before)

	// And the other way round: a case created by an upsert, then sent in a
	// file with the same content, is unchanged.
	in := validUpsert(prefix("cross-single"))
	if _, err := single.Upsert(ctx, in); err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, pool)
	line := fmt.Sprintf(`{"externalId":%q,"kind":"EVENT","minorCode":"0502","source":"ENFORCEMENT_TERMINAL","description":%q,"address":%q,"lat":%v,"lng":%v,"reporterName":%q,"reporterPhone":%q,"reportedAt":%q,"photoUrls":[%q]}`,
		in.ExternalID, in.Description, in.Address, in.Lat, in.Lng, in.ReporterName, in.ReporterPhone, in.ReportedAt.Format(time.RFC3339Nano), in.PhotoURLs[0])
	if rep := importString(t, svc, ctx, ingest.NDJSON, line, ingest.Options{}); rep.Unchanged != 1 {
		t.Fatalf("report %+v", rep)
	}
	unchanged(t, pool, before)
}
