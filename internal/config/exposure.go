package config

import "fmt"

// Exposure says who may read a part of the hub that describes the hub
// rather than its data: the GraphQL schema through introspection, the
// federation SDL through _service.
type Exposure string

// Exposures, most open first.
const (
	// ExposureOpen lets anyone, anonymous callers included, read it.
	ExposureOpen Exposure = "open"
	// ExposureAuthenticated lets any caller with credentials read it: staff
	// tokens and API keys (not the citizen app acting for a citizen).
	ExposureAuthenticated Exposure = "authenticated"
	// ExposureService lets only API keys (department systems, a federation
	// gateway's own key) read it.
	ExposureService Exposure = "service"
	// ExposureOff refuses everyone.
	ExposureOff Exposure = "off"
)

// Production defaults: the schema is no public map of the hub. The
// federation SDL stays readable with a gateway's API key, which composition
// by introspection (Apollo Gateway's IntrospectAndCompose, rover subgraph
// introspect) needs; `datahub schema print` gives it without a running hub.
const (
	IntrospectionProductionDefault = ExposureOff
	FederationSDLProductionDefault = ExposureService
)

// MetricsTokenMinLength is the shortest METRICS_TOKEN accepted.
const MetricsTokenMinLength = 16

// IntrospectionExposure is who may introspect the schema: Introspection,
// or when unset open in development and closed in production.
func (c Config) IntrospectionExposure() Exposure {
	return c.exposure(c.Introspection, IntrospectionProductionDefault)
}

// FederationSDLExposure is who may read _service: FederationSDL, or when
// unset open in development and closed in production.
func (c Config) FederationSDLExposure() Exposure {
	return c.exposure(c.FederationSDL, FederationSDLProductionDefault)
}

func (c Config) exposure(set, production Exposure) Exposure {
	switch {
	case set != "":
		return set
	case c.Mode == ModeDevelopment:
		return ExposureOpen
	}
	// Production, or a mode Validate refuses: closed.
	return production
}

// Valid reports whether e is one of the exposures.
func (e Exposure) Valid() bool {
	switch e {
	case ExposureOpen, ExposureAuthenticated, ExposureService, ExposureOff:
		return true
	}
	return false
}

// MetricsOpen reports whether /metrics answers without a token: only in
// development with no METRICS_TOKEN set.
func (c Config) MetricsOpen() bool { return c.MetricsToken == "" && c.Mode != ModeProduction }

func (c Config) validateExposure() error {
	for _, v := range []struct {
		name string
		e    Exposure
	}{{"GRAPHQL_INTROSPECTION", c.Introspection}, {"FEDERATION_SDL", c.FederationSDL}} {
		if v.e != "" && !v.e.Valid() {
			return fmt.Errorf("%s must be open, authenticated, service or off, not %q", v.name, v.e)
		}
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < MetricsTokenMinLength {
		return fmt.Errorf("METRICS_TOKEN must be at least %d characters", MetricsTokenMinLength)
	}
	return nil
}
