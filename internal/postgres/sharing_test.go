package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/sharing"
	"github.com/fengcheng/datahub/policies"
	"github.com/google/uuid"
)

// TestRequestAccessUnknownJurisdiction: a request for data in a
// jurisdiction that does not exist is refused with BAD_USER_INPUT on
// jurisdiction and leaves no request behind; an existing one is filed.
func TestRequestAccessUnknownJurisdiction(t *testing.T) {
	pool := setup(t)
	// The baseline policy alone: requesting validates the grant against the
	// catalog but stores no policy.
	eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS})
	if err != nil {
		t.Fatal(err)
	}
	svc := sharing.NewService(postgres.NewSharingStore(pool, nil), postgres.NewDirectoryStore(pool), eng, nil, nil)
	// A purpose of its own, so that this test counts only its own rows.
	purpose := "扬尘投诉回访 " + uuid.NewString()
	ctx := as(context.Background(), "environment", "admin")
	request := func(jurisdiction string) (*sharing.Request, error) {
		return svc.RequestAccess(ctx, sharing.RequestInput{Dataset: "cases", FieldGroups: []string{"reporter"},
			Jurisdiction: jurisdiction, Purpose: purpose, Until: time.Now().Add(24 * time.Hour)})
	}
	stored := func() int {
		t.Helper()
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM access_requests WHERE purpose = $1`, purpose).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, code := range []string{"hailing.nowhere", "hailing.chengdong.nowhere"} {
		r, err := request(code)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "jurisdiction" {
			t.Errorf("jurisdiction %q: request %+v, err %v; want BAD_USER_INPUT on jurisdiction", code, r, err)
		}
	}
	if n := stored(); n != 0 {
		t.Fatalf("%d requests stored for jurisdictions that do not exist", n)
	}

	r, err := request("hailing.chengdong")
	if err != nil || r.Status != sharing.StatusPending || r.Jurisdiction != "hailing.chengdong" {
		t.Fatalf("existing jurisdiction: %+v %v", r, err)
	}
	// Without a jurisdiction the request covers the whole district.
	if r, err := request(""); err != nil || r.Jurisdiction != "hailing" {
		t.Fatalf("no jurisdiction: %+v %v", r, err)
	}
	if n := stored(); n != 2 {
		t.Fatalf("%d requests stored, want 2", n)
	}
}
