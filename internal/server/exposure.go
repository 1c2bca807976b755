package server

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// schemaExposure decides per operation who may read the schema itself:
// introspection (__schema, __type) and the federation SDL (_service). It
// replaces gqlgen's Introspection extension, which opens both to everyone.
// gqlgen ties _service to the same switch as introspection, so an
// operation is let through with that switch on only when every part of the
// schema it asks for is open to its caller; otherwise it is refused whole,
// FORBIDDEN, before anything runs.
type schemaExposure struct {
	introspection, sdl config.Exposure
}

var (
	_ graphql.HandlerExtension        = schemaExposure{}
	_ graphql.OperationContextMutator = schemaExposure{}
)

func (schemaExposure) ExtensionName() string                   { return "SchemaExposure" }
func (schemaExposure) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (s schemaExposure) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	rc.DisableIntrospection = true
	if rc.Operation == nil {
		return nil
	}
	intro, sdl := asksForSchema(rc.Operation.SelectionSet)
	if !intro && !sdl {
		return nil
	}
	p := access.PrincipalFrom(ctx)
	if intro && !exposed(s.introspection, p) {
		return coded(apperr.Forbidden, "schema introspection is not open to %s on this hub; ask its operators for the schema", nil, callerKind(s.introspection))
	}
	if sdl && !exposed(s.sdl, p) {
		return coded(apperr.Forbidden, "the federation SDL (_service) is not open to %s on this hub; compose with `datahub schema print`, or use a gateway API key", nil, callerKind(s.sdl))
	}
	rc.DisableIntrospection = false
	return nil
}

// exposed reports whether p may read what e guards.
func exposed(e config.Exposure, p *access.Principal) bool {
	switch e {
	case config.ExposureOpen:
		return true
	case config.ExposureAuthenticated:
		return (p.Kind == access.KindUser || p.Kind == access.KindService) && p.CitizenID == ""
	case config.ExposureService:
		return p.Kind == access.KindService && p.CitizenID == ""
	}
	return false
}

func callerKind(e config.Exposure) string {
	switch e {
	case config.ExposureAuthenticated:
		return "anonymous callers"
	case config.ExposureService:
		return "callers other than department systems"
	}
	return "anyone"
}

// asksForSchema reports whether set (with its fragments) selects
// introspection fields or _service anywhere.
func asksForSchema(set ast.SelectionSet) (intro, sdl bool) {
	walkFields(set, func(f *ast.Field, _ bool) bool {
		switch f.Name {
		case "__schema", "__type":
			intro = true
		case "_service":
			sdl = true
		}
		return intro && sdl
	})
	return intro, sdl
}

// metricsGuard serves /metrics to Prometheus: with a token, only to
// requests bearing it (`authorization: {credentials_file: …}` in the
// scrape config); without one, openly in development and not at all in
// production, where the figures (routes, error rates, pool sizes) are no
// business of the public.
func metricsGuard(cfg config.Config, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case cfg.MetricsOpen():
		case cfg.MetricsToken == "":
			http.NotFound(w, r)
			return
		default:
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(cfg.MetricsToken)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				http.Error(w, "metrics need the bearer token the hub was given in METRICS_TOKEN", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
