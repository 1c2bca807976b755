package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// errorPresenter is the one place where coded errors become GraphQL errors
// with extensions.code. Uncoded errors are internal: logged with their
// context and shown as "internal error" so nothing internal reaches clients.
func errorPresenter(log *slog.Logger, m *Metrics) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var ae *apperr.Error
		switch {
		case errors.As(err, &ae):
			gqlErr.Message = ae.Message
			ext := map[string]any{"code": string(ae.Code)}
			if ae.Field != "" {
				ext["field"] = ae.Field
			}
			for k, v := range ae.Extra {
				ext[k] = v
			}
			gqlErr.Extensions = ext
		case gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil:
			// gqlgen's own parse and validation errors carry their code.
			if code, _ := gqlErr.Extensions["code"].(string); code == "GRAPHQL_VALIDATION_FAILED" || code == "GRAPHQL_PARSE_FAILED" {
				gqlErr.Extensions["code"] = code
			}
		case isInputError(err):
			gqlErr.Extensions = map[string]any{"code": string(apperr.BadUserInput)}
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

// recoverFunc turns a resolver panic into an internal error and logs it.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "request_id", RequestID(ctx), "stack", string(debug.Stack()))
		return errors.New("internal error")
	}
}
