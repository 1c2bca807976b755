package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
)

// corsHeaders lets browsers on the origins in ALLOWED_ORIGINS call the hub
// (the same patterns as WebSockets: a host such as console.example.cn or
// *.example.cn, or a whole origin such as https://console.example.cn).
// Credentials travel in headers (Authorization, X-API-Key), never cookies,
// so no Access-Control-Allow-Credentials is sent. Without patterns the
// handler is returned unchanged: same origin only.
func corsHeaders(patterns []string, next http.Handler) http.Handler {
	if len(patterns) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowOriginFunc: func(origin string) bool { return originAllowed(patterns, origin) },
		AllowedMethods:  []string{http.MethodGet, http.MethodPost, http.MethodHead},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", "X-API-Key", "X-Citizen-ID", "X-Request-ID",
			"Range", "traceparent", "tracestate", "apollographql-client-name", "apollographql-client-version", LSNHeader},
		ExposedHeaders: []string{"X-Request-ID", "Retry-After", "Content-Range", "Accept-Ranges", LSNHeader},
		MaxAge:         600,
	}).Handler(next)
}

// originAllowed matches an Origin header against patterns with path.Match,
// as the WebSocket library does: against the host, or against the whole
// origin when the pattern has a scheme.
func originAllowed(patterns []string, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

// realClient sets r.RemoteAddr to the client's address when the request
// came through trusted proxies (TRUSTED_PROXIES): X-Forwarded-For is read
// from the right, skipping trusted hops, and the first untrusted address is
// the client. A peer outside the list is the client itself, whatever the
// header says, so nobody can pick their own rate-limit bucket. Without
// trusted proxies the handler is returned unchanged.
func realClient(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddr(remoteHost(r.RemoteAddr))
		if err != nil || !isTrusted(peer) {
			next.ServeHTTP(w, r)
			return
		}
		client := peer
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: trust nothing before it
			}
			client = a
			if !isTrusted(a) {
				break
			}
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = net.JoinHostPort(client.Unmap().String(), "0")
		next.ServeHTTP(w, r2)
	})
}

// refuseBatches answers a JSON array of operations (Apollo's BatchHttpLink,
// for one) with a clear BAD_USER_INPUT instead of the transport's "not
// valid JSON": the hub runs one operation per request, so that each is
// authenticated, limited, costed and audited on its own.
func refuseBatches(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		br := bufio.NewReaderSize(r.Body, 512)
		for {
			b, err := br.Peek(1)
			if err != nil || !unicode.IsSpace(rune(b[0])) {
				if err == nil && b[0] == '[' {
					writeError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput,
						"batched operations (a JSON array) are not supported: send one operation per request"))
					return
				}
				break
			}
			_, _ = br.ReadByte()
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{br, r.Body}
		next.ServeHTTP(w, r)
	})
}

// oneErrorPerField keeps one error per field path and message: a field
// group denied on a 200-row list is one error, at the lowest row's path, not
// 200 identical ones. Paths compare with their list indices left out.
func oneErrorPerField(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) < 2 {
		return resp
	}
	at := make(map[string]int, len(resp.Errors))
	kept := resp.Errors[:0:0]
	for _, e := range resp.Errors {
		var key strings.Builder
		for _, p := range e.Path {
			if name, ok := p.(ast.PathName); ok {
				key.WriteString(string(name))
			}
			key.WriteByte('/')
		}
		key.WriteString(e.Message)
		i, seen := at[key.String()]
		switch {
		case !seen:
			at[key.String()] = len(kept)
			kept = append(kept, e)
		case pathBefore(e.Path, kept[i].Path):
			kept[i] = e
		}
	}
	resp.Errors = kept
	return resp
}

// pathBefore orders two paths of the same shape by their list indices.
func pathBefore(a, b ast.Path) bool {
	for i := range min(len(a), len(b)) {
		x, xok := a[i].(ast.PathIndex)
		y, yok := b[i].(ast.PathIndex)
		if xok && yok && x != y {
			return x < y
		}
	}
	return false
}

// codedErrors gives every error gqlgen's transports write themselves (an
// unsupported content type, a mutation over GET) an extensions.code, as
// every other error of the hub has: BAD_USER_INPUT, the caller's mistake.
// Only error responses are buffered; answers stream as they are.
func codedErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &codingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}

type codingWriter struct {
	http.ResponseWriter
	status int
	buf    []byte
}

func (c *codingWriter) WriteHeader(status int) {
	c.status = status
	if status < 400 || status == http.StatusTooManyRequests {
		c.ResponseWriter.WriteHeader(status)
	}
}

func (c *codingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.status < 400 || c.status == http.StatusTooManyRequests {
		return c.ResponseWriter.Write(b)
	}
	c.buf = append(c.buf, b...)
	return len(b), nil
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes, WebSocket hijacking).
func (c *codingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// noOperation is gqlgen's message for a request without a query.
const noOperation = "no operation provided"

func (c *codingWriter) finish() {
	if c.status < 400 || c.status == http.StatusTooManyRequests {
		return
	}
	body := c.buf
	var resp struct {
		Errors []map[string]any `json:"errors"`
		Data   json.RawMessage  `json:"data,omitempty"`
	}
	if json.Unmarshal(body, &resp) == nil && len(resp.Errors) > 0 {
		changed := false
		// A request that failed before execution (parse, validation,
		// variable coercion: gqlgen's 422) is answered as GraphQL over HTTP
		// asks: without a data entry in application/graphql-response+json,
		// and with status 200 in application/json, whose clients read the
		// errors from the body whatever the status.
		graphqlResponse := strings.HasPrefix(c.Header().Get("Content-Type"), "application/graphql-response+json")
		switch {
		case graphqlResponse && (c.status == http.StatusBadRequest || c.status == http.StatusUnprocessableEntity) &&
			string(resp.Data) == "null":
			resp.Data, changed = nil, true
		case !graphqlResponse && c.status == http.StatusUnprocessableEntity:
			c.status = http.StatusOK
			if len(resp.Errors) == 1 && resp.Errors[0]["message"] == noOperation {
				// No query at all is not a GraphQL request: 400.
				c.status = http.StatusBadRequest
			}
		}
		for _, e := range resp.Errors {
			ext, _ := e["extensions"].(map[string]any)
			if ext == nil {
				ext = map[string]any{}
			}
			if _, ok := ext["code"]; !ok {
				ext["code"] = string(apperr.BadUserInput)
				e["extensions"] = ext
				changed = true
			}
		}
		if changed {
			if b, err := json.Marshal(resp); err == nil {
				body = b
				c.Header().Del("Content-Length")
			}
		}
	}
	c.ResponseWriter.WriteHeader(c.status)
	_, _ = c.ResponseWriter.Write(body)
}
