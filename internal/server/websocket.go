package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// WebSocket close codes of the graphql-transport-ws protocol the hub uses.
const (
	// CloseUnauthenticated ends a connection whose credential stopped being
	// valid while it was open (a token expired, a key was revoked): sign in
	// again and reconnect.
	CloseUnauthenticated = 4401
	// CloseForbidden refuses a connection_init whose credential is not
	// valid.
	CloseForbidden = 4403
)

// wsSession is one WebSocket connection. A connection lives for hours, so
// what HTTP checks once per request is checked here once per operation
// (credential, rate limit, request timeout), and the credential again every
// recheck interval while subscriptions run.
type wsSession struct {
	remoteAddr string
	subs       atomic.Int64

	mu      sync.Mutex
	conn    transport.WebsocketConn
	payload transport.InitPayload
	cancel  context.CancelFunc
	ended   *apperr.Error // why the connection was closed; nil while open
}

type wsSessionKey struct{}

func sessionFrom(ctx context.Context) *wsSession {
	s, _ := ctx.Value(wsSessionKey{}).(*wsSession)
	return s
}

func (s *wsSession) credentials() transport.InitPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payload
}

func (s *wsSession) endedBy() *apperr.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// end closes the connection with code and e's message as the reason, and
// cancels every operation on it. Later calls change nothing.
func (s *wsSession) end(code int, e *apperr.Error) {
	s.mu.Lock()
	if s.ended != nil {
		s.mu.Unlock()
		return
	}
	s.ended = e
	conn, cancel := s.conn, s.cancel
	s.mu.Unlock()
	// The close frame goes first: cancelling makes gqlgen close the
	// connection as a normal closure, which would hide the reason.
	if conn != nil {
		_ = conn.WriteClose(code, closeReason(e.Message))
	}
	if cancel != nil {
		cancel()
	}
}

// closeReason fits a message into a close frame (at most 123 bytes).
func closeReason(s string) string {
	if len(s) > 123 {
		s = strings.ToValidUTF8(s[:120], "") + "..."
	}
	return s
}

// sessionConns records each accepted connection in its session, so the
// session can close it with a code of its choosing.
type sessionConns struct {
	inner transport.WebsocketImplementation
}

func (s sessionConns) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := s.inner.Accept(w, r, opts)
	if err == nil {
		if sess := sessionFrom(r.Context()); sess != nil {
			sess.mu.Lock()
			sess.conn = c
			sess.mu.Unlock()
		}
	}
	return c, err
}

// wsGuard applies the per-operation rules to WebSocket connections.
type wsGuard struct {
	log     *slog.Logger
	metrics *Metrics // nil in unit tests
	// present is the hub's error presenter: refusals made before gqlgen
	// has a response context still become errors the one usual way.
	present  graphql.ErrorPresenterFunc
	auth     func(ctx context.Context, payload map[string]any) (*access.Principal, error)
	limiter  Allower
	limits   RateLimits
	timeout  time.Duration
	recheck  time.Duration
	maxSubs  int64
	scope    func(ctx context.Context) context.Context
	initTime time.Duration
}

// transport returns the WebSocket transport with the guard's hooks.
func (g *wsGuard) transport(impl transport.WebsocketImplementation) transport.Websocket {
	return transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		// A connection that never says who it is holds a socket and a
		// goroutine for nothing.
		InitTimeout:    g.initTime,
		Implementation: sessionConns{inner: impl},
		InitFunc:       g.init,
	}
}

// handle serves a WebSocket upgrade with a fresh session.
func (g *wsGuard) handle(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if g.metrics != nil {
		g.metrics.websockets.Inc()
		defer g.metrics.websockets.Dec()
	}
	sess := &wsSession{remoteAddr: r.RemoteAddr}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), wsSessionKey{}, sess)))
}

func (g *wsGuard) init(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	if g.auth == nil {
		return ctx, nil, nil
	}
	p, err := g.auth(ctx, payload)
	if err != nil {
		// graphql-transport-ws has no error message before the ack: the
		// client learns why from the close, 4403 as the protocol says,
		// with the reason.
		var reason string
		if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthenticated {
			reason = e.Message
		} else {
			g.log.ErrorContext(ctx, "websocket authentication", "err", err)
			reason = "authentication is unavailable, try again"
		}
		reason = closeReason(reason)
		g.log.InfoContext(ctx, "websocket refused", "reason", reason)
		ctx = transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, reason), CloseForbidden)
		return ctx, nil, err
	}
	if sess := sessionFrom(ctx); sess != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		sess.mu.Lock()
		sess.payload, sess.cancel = payload, cancel
		sess.mu.Unlock()
		go g.watch(ctx, sess)
	}
	// No request-scoped decision cache or loaders here: a subscription
	// lives for hours, and every event must be judged by the policy in
	// force when it is sent (a revoked or expired grant stops the data at
	// once).
	return access.WithPrincipal(ctx, p), nil, nil
}

// watch checks the connection's credential every recheck interval and
// closes the connection (4401, with the reason) once it is no longer valid:
// a subscription sends no operations that could notice. A check that
// cannot be made (the database is down) keeps the connection; its next
// operation is refused until the check can be made again.
func (g *wsGuard) watch(ctx context.Context, sess *wsSession) {
	t := time.NewTicker(g.recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := g.auth(ctx, sess.credentials()); err != nil {
			if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthenticated {
				g.log.InfoContext(ctx, "websocket closed: credential no longer valid", "reason", e.Message)
				sess.end(CloseUnauthenticated, e)
				return
			}
			if ctx.Err() == nil {
				g.log.WarnContext(ctx, "websocket credential recheck", "err", err)
			}
		}
	}
}

// aroundOperation runs each operation of a WebSocket connection under the
// rules an HTTP request gets: the credential is checked again (and its
// principal, as it is now, used), the caller's rate limits apply, and
// queries and mutations get the request timeout. Subscriptions are capped
// per connection. Operations over HTTP pass through.
func (g *wsGuard) aroundOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	sess := sessionFrom(ctx)
	if sess == nil {
		return next(ctx)
	}
	if e := sess.endedBy(); e != nil {
		return g.refuse(ctx, e)
	}
	p, err := g.auth(ctx, sess.credentials())
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthenticated {
			// The refusal is written before the close frame, so the client
			// reads why its operation failed and then why the socket closed.
			return thenEnd(g.refuse(ctx, e), func() { sess.end(CloseUnauthenticated, e) })
		}
		g.log.ErrorContext(ctx, "websocket authentication", "err", err)
		return g.refuse(ctx, apperr.New(apperr.ServiceUnavailable, "authentication is unavailable, try again"))
	}
	ctx = access.WithPrincipal(ctx, p)
	if g.limiter != nil {
		if e := rateCheck(ctx, g.log, g.limiter, g.limits, p, sess.remoteAddr); e != nil {
			return g.refuse(ctx, e)
		}
	}
	if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation == ast.Subscription {
		if n := sess.subs.Add(1); n > g.maxSubs {
			sess.subs.Add(-1)
			return g.refuse(ctx, &apperr.Error{Code: apperr.RateLimited,
				Message: "this connection already carries " + strconv.FormatInt(g.maxSubs, 10) +
					" subscriptions: complete one, or open another connection",
				Extra: map[string]any{"maxSubscriptions": g.maxSubs}})
		}
		// The operation's context ends when the subscription does
		// (completed by either side, or the connection closed).
		if g.metrics != nil {
			g.metrics.subscriptions.Inc()
		}
		context.AfterFunc(ctx, func() {
			sess.subs.Add(-1)
			if g.metrics != nil {
				g.metrics.subscriptions.Dec()
			}
		})
		return next(ctx)
	}
	if g.scope != nil {
		ctx = g.scope(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := h(ctx)
		if r == nil {
			cancel()
		}
		return r
	}
}

// thenEnd runs end once h has answered: gqlgen writes each response before
// it asks for the next, so end runs after the answer is on the wire.
func thenEnd(h graphql.ResponseHandler, end func()) graphql.ResponseHandler {
	return func(ctx context.Context) *graphql.Response {
		if r := h(ctx); r != nil {
			return r
		}
		end()
		return nil
	}
}

// refuse answers an operation with one coded error, through the error
// presenter like every other error.
func (g *wsGuard) refuse(ctx context.Context, e *apperr.Error) graphql.ResponseHandler {
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{g.present(ctx, e)}})
}
