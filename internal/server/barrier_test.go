package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/audit"
)

// The audit barrier holds a response until the records its reads enqueued
// are committed, and a failed commit replaces the data by the error.
func TestAuditBarrier(t *testing.T) {
	present := errorPresenter(slog.New(slog.NewJSONHandler(io.Discard, nil)), NewMetrics(nil), nil)
	data := json.RawMessage(`{"cases":{"totalCount":3}}`)
	run := func(read bool, flushErr error) (*graphql.Response, int) {
		flushes := 0
		mw := auditBarrier(func(context.Context) error { flushes++; return flushErr }, present)
		resp := mw(graphql.WithResponseContext(context.Background(), present, nil), func(ctx context.Context) *graphql.Response {
			if b := audit.BarrierFrom(ctx); b == nil {
				t.Fatal("the resolvers' context carries no barrier")
			} else if read {
				b.Defer()
			}
			return &graphql.Response{Data: data}
		})
		return resp, flushes
	}

	if resp, n := run(false, nil); n != 0 || string(resp.Data) != string(data) {
		t.Fatalf("no audited read: %d flushes, data %s", n, resp.Data)
	}
	if resp, n := run(true, nil); n != 1 || string(resp.Data) != string(data) {
		t.Fatalf("an audited read: %d flushes, data %s", n, resp.Data)
	}
	unavailable := &apperr.Error{Code: apperr.ServiceUnavailable, Message: "the audit trail cannot record this read"}
	resp, n := run(true, fmt.Errorf("audit read: %w", unavailable))
	if n != 1 || resp.Data != nil || len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "SERVICE_UNAVAILABLE" {
		t.Fatalf("a failed commit must withhold the data: %d flushes, %+v", n, resp)
	}
}
