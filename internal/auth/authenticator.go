package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
)

// Request headers the Authenticator reads besides Authorization.
const (
	HeaderAPIKey    = "X-API-Key"
	HeaderCitizenID = "X-Citizen-ID"
)

// Credentials are what one request or WebSocket connection presents,
// whatever the transport. Empty fields were not sent.
type Credentials struct {
	// Bearer is a JWT (without the "Bearer " scheme).
	Bearer string
	// APIKey is a dhk_ key.
	APIKey string
	// CitizenID is the citizen a citizen-app key acts for.
	CitizenID string
	// citizenIDSent records a citizen id that was sent empty, which is an
	// error rather than an absence.
	citizenIDSent bool
}

// Authenticator picks the credential a request carries and returns its
// principal. It is safe for concurrent use.
//
// Rules:
//   - Authorization: Bearer <jwt> → a user (Verifier);
//     X-API-Key: <key> or Authorization: ApiKey <key> → a service (APIKeys);
//     nothing → access.Anonymous(). Two credentials at once are refused.
//   - X-Citizen-ID is honoured only with an API key holding the citizen-app
//     role; it must be 1–64 characters of [A-Za-z0-9_-]. Sent with a token,
//     another key or no credential at all, it is refused: nobody else may
//     claim to act for a citizen.
//   - A citizen-app key without X-Citizen-ID acts as the app itself, with
//     public access only: the principal is a service (Subject = key id)
//     holding just the public role, no department and no citizen id. This
//     serves the app's citizen-independent screens (open parking nearby,
//     public figures) without lending it any department's or citizen's
//     rights.
//   - Every token's and key's department, roles and jurisdiction are
//     checked against the directory and the policy (Identities) on every
//     request: a key whose department has since left the directory stops
//     working.
//
// Every refusal is UNAUTHENTICATED; database failures are internal errors.
type Authenticator struct {
	verifier *Verifier
	keys     *APIKeys
	ids      *Identities
}

// NewAuthenticator combines a token verifier, a key store and the identity
// check every principal passes. verifier or keys may be nil, in which case
// that kind of credential is refused; without ids every token and key is
// refused (the check fails closed).
func NewAuthenticator(verifier *Verifier, keys *APIKeys, ids *Identities) *Authenticator {
	return &Authenticator{verifier: verifier, keys: keys, ids: ids}
}

// checkIdentity applies the identity check; what names the credential.
func (a *Authenticator) checkIdentity(ctx context.Context, what string, p *access.Principal) error {
	if a.ids == nil {
		return unauthenticated("this server cannot check identities; no credential is accepted")
	}
	return a.ids.Check(ctx, what, p)
}

// Authenticate returns the principal of an HTTP request (see Authenticator
// for the rules).
func (a *Authenticator) Authenticate(r *http.Request) (*access.Principal, error) {
	var c Credentials
	authz, err := singleHeader(r.Header, "Authorization")
	if err != nil {
		return nil, err
	}
	if authz != "" {
		if c, err = parseAuthorization(authz); err != nil {
			return nil, err
		}
	}
	key, err := singleHeader(r.Header, HeaderAPIKey)
	if err != nil {
		return nil, err
	}
	if key != "" {
		if c.Bearer != "" || c.APIKey != "" {
			return nil, unauthenticated("send one credential: an Authorization header or an %s header, not both", HeaderAPIKey)
		}
		c.APIKey = key
	}
	if vals := r.Header.Values(HeaderCitizenID); len(vals) > 0 {
		if len(vals) > 1 {
			return nil, unauthenticated("send one %s header, not %d", HeaderCitizenID, len(vals))
		}
		c.CitizenID, c.citizenIDSent = strings.TrimSpace(vals[0]), true
	}
	return a.AuthenticateCredentials(r.Context(), c)
}

// singleHeader returns the trimmed value of a header sent at most once. An
// empty header counts as absent: some clients send "Authorization: " when
// nobody is signed in.
func singleHeader(h http.Header, name string) (string, error) {
	vals := h.Values(name)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		return strings.TrimSpace(vals[0]), nil
	default:
		return "", unauthenticated("send one %s header, not %d", name, len(vals))
	}
}

// parseAuthorization reads "Bearer <jwt>" or "ApiKey <key>"; the scheme is
// case-insensitive.
func parseAuthorization(v string) (Credentials, error) {
	scheme, cred, _ := strings.Cut(v, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if cred == "" {
			return Credentials{}, unauthenticated("the Authorization header says Bearer but carries no token")
		}
		return Credentials{Bearer: cred}, nil
	case strings.EqualFold(scheme, "ApiKey"):
		if cred == "" {
			return Credentials{}, unauthenticated("the Authorization header says ApiKey but carries no key")
		}
		return Credentials{APIKey: cred}, nil
	default:
		return Credentials{}, unauthenticated("the Authorization scheme %q is not supported: use \"Bearer <token>\" or \"ApiKey <key>\"", truncate(scheme, 16))
	}
}

// AuthenticateToken returns the principal of a single credential string, as
// a WebSocket client or a CLI might hold it: "Bearer <jwt>", "ApiKey <key>",
// a bare dhk_ key or a bare JWT. An empty string is the anonymous principal.
// No citizen id can be given this way.
func (a *Authenticator) AuthenticateToken(ctx context.Context, raw string) (*access.Principal, error) {
	raw = strings.TrimSpace(raw)
	var c Credentials
	switch {
	case raw == "":
	case strings.HasPrefix(raw, APIKeyPrefix):
		c.APIKey = raw
	case strings.Contains(raw, " "):
		var err error
		if c, err = parseAuthorization(raw); err != nil {
			return nil, err
		}
	default:
		c.Bearer = raw
	}
	return a.AuthenticateCredentials(ctx, c)
}

// AuthenticateInit returns the principal of a graphql-transport-ws
// connection_init payload: {"Authorization": "Bearer …"} (or "ApiKey …"),
// or {"apiKey": "…", "citizenId": "…"}. Keys match case-insensitively, and
// "X-API-Key" / "X-Citizen-ID" are accepted too; the same fields nested
// under "headers" (as some clients send them) are read as well. An empty
// payload is the anonymous principal.
func (a *Authenticator) AuthenticateInit(ctx context.Context, payload map[string]any) (*access.Principal, error) {
	fields := map[string]string{}
	if err := collectInitFields(payload, fields); err != nil {
		return nil, err
	}
	if h, ok := lookupFold(payload, "headers"); ok {
		if hm, ok := h.(map[string]any); ok {
			if err := collectInitFields(hm, fields); err != nil {
				return nil, err
			}
		}
	}
	var c Credentials
	if v := fields["authorization"]; v != "" {
		var err error
		if c, err = parseAuthorization(v); err != nil {
			return nil, err
		}
	}
	if v := fields["apikey"]; v != "" {
		if c.Bearer != "" || c.APIKey != "" {
			return nil, unauthenticated("send one credential: Authorization or apiKey, not both")
		}
		c.APIKey = v
	}
	if v, ok := fields["citizenid"]; ok {
		c.CitizenID, c.citizenIDSent = v, true
	}
	return a.AuthenticateCredentials(ctx, c)
}

// initAliases maps the lower-cased payload keys to the field they carry.
var initAliases = map[string]string{
	"authorization": "authorization",
	"apikey":        "apikey",
	"api_key":       "apikey",
	"x-api-key":     "apikey",
	"citizenid":     "citizenid",
	"citizen_id":    "citizenid",
	"x-citizen-id":  "citizenid",
}

func collectInitFields(m map[string]any, into map[string]string) error {
	for k, v := range m {
		field, ok := initAliases[strings.ToLower(k)]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return unauthenticated("the connection_init field %q must be a string", truncate(k, 32))
		}
		if _, dup := into[field]; dup {
			return unauthenticated("the connection_init payload gives %q more than once", field)
		}
		into[field] = strings.TrimSpace(s)
	}
	return nil
}

func lookupFold(m map[string]any, key string) (any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// AuthenticateCredentials applies the Authenticator's rules to credentials
// already taken out of their transport.
func (a *Authenticator) AuthenticateCredentials(ctx context.Context, c Credentials) (*access.Principal, error) {
	citizenSent := c.citizenIDSent || c.CitizenID != ""
	switch {
	case c.Bearer != "" && c.APIKey != "":
		return nil, unauthenticated("send one credential: a bearer token or an API key, not both")

	case c.Bearer != "":
		if a.verifier == nil {
			return nil, unauthenticated("bearer tokens are not accepted by this server; use an API key")
		}
		p, err := a.verifier.Verify(ctx, c.Bearer)
		if err != nil {
			return nil, err
		}
		if err := a.checkIdentity(ctx, "the bearer token", p); err != nil {
			return nil, err
		}
		if citizenSent {
			return nil, unauthenticated("%s is accepted only with a citizen-app API key, not with a staff token", HeaderCitizenID)
		}
		return p, nil

	case c.APIKey != "":
		if a.keys == nil {
			return nil, unauthenticated("API keys are not accepted by this server")
		}
		p, err := a.keys.Authenticate(ctx, c.APIKey)
		if err != nil {
			return nil, err
		}
		if err := a.checkIdentity(ctx, "the API key "+p.Subject, p); err != nil {
			return nil, err
		}
		if !p.HasRole(access.RoleCitizenApp) {
			if citizenSent {
				return nil, unauthenticated("%s is accepted only with a citizen-app API key; this key does not hold the citizen-app role", HeaderCitizenID)
			}
			return p, nil
		}
		if !citizenSent {
			// The app acting for itself: public access only (see the type
			// documentation).
			return &access.Principal{
				Kind:         access.KindService,
				Subject:      p.Subject,
				Roles:        []string{access.RolePublic},
				Jurisdiction: p.Jurisdiction,
			}, nil
		}
		if !ValidCitizenID(c.CitizenID) {
			return nil, unauthenticated("%s must be 1–64 characters of A–Z, a–z, 0–9, '_' and '-'", HeaderCitizenID)
		}
		p.CitizenID = c.CitizenID
		return p, nil

	default:
		if citizenSent {
			return nil, unauthenticated("%s is accepted only with a citizen-app API key; send the key too", HeaderCitizenID)
		}
		return access.Anonymous(), nil
	}
}
