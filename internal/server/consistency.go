package server

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// LSNHeader carries a write position: the hub sets it on the response to a
// mutation, and a client that sends it back with a later query reads its
// own writes even when that query is served by a replica.
const LSNHeader = "X-Datahub-LSN"

// ReadRouter sends read-only operations to database replicas.
type ReadRouter interface {
	// ForRead marks ctx as a query that must see every write up to token
	// (a value WriteToken returned; empty: no such write). A token that
	// does not parse sends the query to the primary.
	ForRead(ctx context.Context, token string) context.Context
	// WriteToken names the primary's position now, after the caller's
	// writes committed.
	WriteToken(ctx context.Context) (string, error)
}

type lsnKey struct{}

// lsnExchange is one HTTP request's write position in and header out.
type lsnExchange struct {
	token string
	out   http.Header
}

// withLSN keeps the request's write position and its response headers for
// the operation middleware.
func withLSN(r *http.Request, w http.ResponseWriter) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), lsnKey{}, &lsnExchange{token: r.Header.Get(LSNHeader), out: w.Header()}))
}

// readRouting routes queries to replicas (with the caller's write
// position, if any) and hands every mutation's caller the position after
// its writes. Subscriptions stay on the primary: the records they re-read
// changed a moment ago. Operations over a WebSocket carry no position.
func readRouting(rr ReadRouter, log interface {
	Warn(msg string, args ...any)
}) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		ex, _ := ctx.Value(lsnKey{}).(*lsnExchange)
		switch graphql.GetOperationContext(ctx).Operation.Operation {
		case ast.Query:
			token := ""
			if ex != nil {
				token = ex.token
			}
			return next(rr.ForRead(ctx, token))
		case ast.Mutation:
			h := next(ctx)
			if ex == nil {
				return h
			}
			return func(ctx context.Context) *graphql.Response {
				resp := h(ctx)
				token, err := rr.WriteToken(ctx)
				if err != nil {
					// The caller's next read goes wherever it is sent;
					// without the header it may miss this write on a
					// replica for up to REPLICA_MAX_LAG.
					log.Warn("write position for read-your-writes", "err", err)
					return resp
				}
				ex.out.Set(LSNHeader, token)
				return resp
			}
		}
		return next(ctx)
	}
}
