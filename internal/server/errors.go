package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// errorPresenter is the one place where coded errors become GraphQL errors
// with extensions.code. Uncoded errors are internal: logged with their
// context and shown as "internal error" so nothing internal reaches clients.
//
// inputErrs are sentinel errors of the schema's generated code that mean the
// caller's input was wrong (federation representations naming no entity
// type, or lacking their key fields).
func errorPresenter(log *slog.Logger, m *Metrics, inputErrs []error) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var ae *apperr.Error
		switch {
		case errors.As(err, &ae):
			gqlErr.Message = ae.Message
			gqlErr.Extensions = ae.Extensions()
			if ae.Field == "" && ae.Code == apperr.BadUserInput {
				// A scalar's own check (DateTime) knows no names; the
				// argument or input field is the last name on the path.
				if field := lastName(gqlErr.Path); field != "" {
					gqlErr.Extensions["field"] = field
				}
			}
		case gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil:
			// gqlgen's own parse and validation errors carry their code.
			if code, _ := gqlErr.Extensions["code"].(string); code == "GRAPHQL_VALIDATION_FAILED" || code == "GRAPHQL_PARSE_FAILED" {
				gqlErr.Extensions["code"] = code
			}
		case isInputError(err):
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
		case isRequestError(err):
			// gqlgen's transports answer a body that is not JSON with its
			// text echoed: keep the reason, never the body.
			if msg, _, cut := strings.Cut(gqlErr.Message, " body:"); cut && strings.HasPrefix(msg, "json request body could not be decoded") {
				gqlErr.Message = "the request body is not valid JSON" + strings.TrimPrefix(msg, "json request body could not be decoded")
			}
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
		case isOneOf(err, inputErrs):
			gqlErr.Message = err.Error()
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
		case postgres.Unavailable(err):
			// A store that did not translate its driver error: the
			// database is down or restarting, which the client should retry.
			log.WarnContext(ctx, "database unavailable", "err", err, "path", gqlErr.Path.String(), "request_id", RequestID(ctx))
			gqlErr.Message = postgres.ErrUnavailable.Message
			gqlErr.Extensions = map[string]any{"code": string(apperr.ServiceUnavailable)}
		case errors.Is(err, context.Canceled):
			// The client hung up (or the server is shutting down): no one
			// reads the answer and nothing is wrong with the hub.
			log.InfoContext(ctx, "request cancelled", "path", gqlErr.Path.String(), "request_id", RequestID(ctx))
			gqlErr.Message = "the request was cancelled"
			gqlErr.Extensions = map[string]any{"code": string(apperr.ServiceUnavailable)}
		default:
			log.ErrorContext(ctx, "internal error", "err", err, "path", gqlErr.Path.String(), "request_id", RequestID(ctx))
			gqlErr.Message = "internal error"
			gqlErr.Extensions = map[string]any{"code": string(apperr.Internal), "requestId": RequestID(ctx)}
		}
		m.countError(fmt.Sprint(gqlErr.Extensions["code"]))
		return gqlErr
	}
}

// isInputError recognises gqlgen's argument coercion errors (a wrong enum
// value, a string where an int belongs), which are the caller's fault.
func isInputError(err error) bool {
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge.Rule != "" {
		return true
	}
	return false
}

// isRequestError recognises the errors gqlgen's transports raise about the
// request as a whole (a body that cannot be read or is not JSON): they have
// no path and wrap no other error.
func isRequestError(err error) bool {
	var ge *gqlerror.Error
	return errors.As(err, &ge) && ge.Err == nil && len(ge.Path) == 0
}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// lastName returns the last field or argument name of path.
func lastName(path ast.Path) string {
	for i := len(path) - 1; i >= 0; i-- {
		if name, ok := path[i].(ast.PathName); ok {
			return string(name)
		}
	}
	return ""
}

// recoverFunc turns a resolver panic into an internal error and logs it.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "request_id", RequestID(ctx), "stack", string(debug.Stack()))
		return errors.New("internal error")
	}
}
