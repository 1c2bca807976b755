package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/golang-jwt/jwt/v5"
	"github.com/maypok86/otter/v2"
)

// Mode says whether the hub runs for development or for real. Only
// development accepts HS256 tokens signed with the shared DevSecret.
type Mode string

// Modes.
const (
	ModeDevelopment Mode = "development"
	ModeProduction  Mode = "production"
)

// Signing algorithms the Verifier knows. Each public key type accepts
// exactly one of them, so a token can never pick how its key is used.
const (
	AlgRS256 = "RS256" // RSA public keys (at least 2048 bits)
	AlgES256 = "ES256" // ECDSA P-256 public keys
	AlgEdDSA = "EdDSA" // Ed25519 public keys
	AlgHS256 = "HS256" // DevSecret, development mode only
)

// Verifier defaults and limits.
const (
	// LeewayDefault is the clock skew allowed on exp, nbf and iat.
	LeewayDefault = 30 * time.Second
	// MinDevSecretLen is the shortest DevSecret accepted: HS256 with a short
	// secret can be brute-forced offline from one token.
	MinDevSecretLen = 32
	// maxTokenLen bounds the work spent on a header before refusing it.
	maxTokenLen = 8 << 10
)

// KeyFile names a PEM file holding one public key (PKIX "PUBLIC KEY", PKCS#1
// "RSA PUBLIC KEY" or an X.509 "CERTIFICATE"). ID is the kid that tokens
// signed with the matching private key carry; it may be empty, in which case
// the key is tried for tokens whose kid matches no configured key.
type KeyFile struct {
	ID   string
	Path string
}

// ParseKeyFiles parses a comma-separated key list as found in an environment
// variable: each entry is "kid=path" or just "path".
func ParseKeyFiles(spec string) ([]KeyFile, error) {
	var out []KeyFile
	for entry := range strings.SplitSeq(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		kf := KeyFile{Path: entry}
		if id, path, ok := strings.Cut(entry, "="); ok {
			kf = KeyFile{ID: strings.TrimSpace(id), Path: strings.TrimSpace(path)}
			if kf.ID == "" || kf.Path == "" {
				return nil, fmt.Errorf("key list entry %q: want kid=path or path", entry)
			}
		}
		out = append(out, kf)
	}
	return out, nil
}

// VerifierConfig configures NewVerifier. Zero values take the defaults.
type VerifierConfig struct {
	// Issuer is the required iss claim; IssuerDefault when empty.
	Issuer string
	// Audience is the required aud claim (one of the token's audiences);
	// AudienceDefault when empty.
	Audience string
	// KeyFiles are the public keys of the identity providers, one PEM file
	// each: RSA keys verify RS256, ECDSA P-256 keys ES256, Ed25519 keys EdDSA.
	KeyFiles []KeyFile
	// Mode is development or production; empty means production, so a
	// forgotten setting never opens the development door.
	Mode Mode
	// DevSecret, in development mode only, verifies HS256 tokens such as
	// those minted by MintDev. NewVerifier refuses it in production.
	DevSecret []byte
	// Leeway is the allowed clock skew; LeewayDefault when zero.
	Leeway time.Duration
	// Now is the clock; time.Now when nil (tests set it).
	Now func() time.Time
}

// Verifier checks staff JWTs and turns them into principals. It is safe for
// concurrent use.
type Verifier struct {
	mode      Mode
	devSecret []byte
	keys      []verificationKey
	// parsers holds one parser per algorithm, each allowing only that
	// algorithm: the choice of parser comes from the key, not the token.
	parsers map[string]*jwt.Parser
	now     func() time.Time
	// verified keeps the principals of tokens that passed every check, by
	// the token's exact text, so a client sending the same token request
	// after request costs one parse and signature check per verifiedTTL
	// (an ES256 or RS256 check is the dearest step of authentication).
	// A kept token is served only before its exp, read against now on
	// every use; the keys and checks are fixed for the verifier's life.
	verified *otter.Cache[string, verifiedToken]
}

// verifiedTTL bounds how long a verified token is kept; verifiedMax how
// many (about a kilobyte each).
const (
	verifiedTTL = time.Minute
	verifiedMax = 10_000
)

// verifiedToken is a kept verification: the principal and the token's exp.
type verifiedToken struct {
	principal access.Principal
	expires   time.Time
}

type verificationKey struct {
	id     string
	alg    string
	key    crypto.PublicKey
	source string
}

// NewVerifier loads the public keys and checks the configuration. It fails
// on an unreadable or unsupported key, a duplicate kid, an unknown mode, or a
// DevSecret outside development mode or shorter than MinDevSecretLen.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" {
		cfg.Issuer = IssuerDefault
	}
	if cfg.Audience == "" {
		cfg.Audience = AudienceDefault
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = LeewayDefault
	}
	if cfg.Leeway < 0 || cfg.Leeway > 5*time.Minute {
		return nil, fmt.Errorf("jwt leeway %s: want between 0 and 5m", cfg.Leeway)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeProduction
	case ModeDevelopment, ModeProduction:
	default:
		return nil, fmt.Errorf("auth mode %q: want %q or %q", cfg.Mode, ModeDevelopment, ModeProduction)
	}
	if len(cfg.DevSecret) > 0 {
		if cfg.Mode != ModeDevelopment {
			return nil, errors.New("a development secret (HS256) is accepted only in development mode; remove it in production")
		}
		if len(cfg.DevSecret) < MinDevSecretLen {
			return nil, fmt.Errorf("development secret is %d bytes: want at least %d", len(cfg.DevSecret), MinDevSecretLen)
		}
	}

	verified, err := otter.New(&otter.Options[string, verifiedToken]{
		MaximumSize:      verifiedMax,
		ExpiryCalculator: otter.ExpiryWriting[string, verifiedToken](verifiedTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("verified token cache: %w", err)
	}
	v := &Verifier{
		mode:      cfg.Mode,
		devSecret: cfg.DevSecret,
		parsers:   make(map[string]*jwt.Parser),
		now:       cfg.Now,
		verified:  verified,
	}
	seen := map[string]string{}
	for _, kf := range cfg.KeyFiles {
		k, err := loadPublicKey(kf)
		if err != nil {
			return nil, err
		}
		if k.id != "" {
			if prev, dup := seen[k.id]; dup {
				return nil, fmt.Errorf("key id %q is used by both %s and %s", k.id, prev, kf.Path)
			}
			seen[k.id] = kf.Path
		}
		v.keys = append(v.keys, k)
	}
	for _, alg := range []string{AlgRS256, AlgES256, AlgEdDSA, AlgHS256} {
		v.parsers[alg] = jwt.NewParser(
			jwt.WithValidMethods([]string{alg}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Now),
		)
	}
	return v, nil
}

func loadPublicKey(kf KeyFile) (verificationKey, error) {
	data, err := os.ReadFile(kf.Path)
	if err != nil {
		return verificationKey{}, fmt.Errorf("read public key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return verificationKey{}, fmt.Errorf("public key %s: no PEM block found", kf.Path)
	}
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return verificationKey{}, fmt.Errorf("public key %s holds a private key: give the verifier only the public key", kf.Path)
		}
		return verificationKey{}, fmt.Errorf("public key %s: unsupported PEM block %q", kf.Path, block.Type)
	}
	if err != nil {
		return verificationKey{}, fmt.Errorf("public key %s: %w", kf.Path, err)
	}
	alg, err := algorithmFor(pub)
	if err != nil {
		return verificationKey{}, fmt.Errorf("public key %s: %w", kf.Path, err)
	}
	return verificationKey{id: kf.ID, alg: alg, key: pub, source: kf.Path}, nil
}

// algorithmFor binds a key type to its single algorithm.
func algorithmFor(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key has %d bits: want at least 2048", k.N.BitLen())
		}
		return AlgRS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key on %s: only P-256 (ES256) is supported", k.Curve.Params().Name)
		}
		return AlgES256, nil
	case ed25519.PublicKey:
		return AlgEdDSA, nil
	default:
		return "", fmt.Errorf("unsupported key type %T: want RSA, ECDSA P-256 or Ed25519", pub)
	}
}

// tokenClaims are the claims of a staff token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Dept  string   `json:"dept"`
	Org   string   `json:"org,omitempty"`
	Roles []string `json:"roles"`
	Jur   string   `json:"jur,omitempty"`
}

type tokenHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// Verify checks raw (the token without "Bearer ") and returns the user it
// names. Every refusal is UNAUTHENTICATED: malformed tokens, alg "none",
// unsupported algorithms, HS256 outside development, a kid naming a key of
// another algorithm, bad signatures, expired or not-yet-valid tokens, a
// missing exp, a wrong issuer or audience, and sub, dept, roles or jur
// claims in the wrong format.
func (v *Verifier) Verify(ctx context.Context, raw string) (*access.Principal, error) {
	_ = ctx // reserved for a revocation check; verification itself is local
	if raw == "" {
		return nil, unauthenticated("the bearer token is empty")
	}
	if len(raw) > maxTokenLen {
		return nil, unauthenticated("the bearer token is malformed: longer than %d bytes", maxTokenLen)
	}
	if kept, ok := v.verified.GetIfPresent(raw); ok && v.now().Before(kept.expires) {
		return clonePrincipal(kept.principal), nil
	}
	hdr, err := decodeHeader(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", unauthenticated("the bearer token is malformed: it is not a signed JWT (header.claims.signature)"), err)
	}

	var keyfunc jwt.Keyfunc
	switch hdr.Alg {
	case AlgHS256:
		if v.mode != ModeDevelopment {
			return nil, unauthenticated("HS256 development tokens are not accepted in production; sign with the identity provider's key (RS256, ES256 or EdDSA)")
		}
		if len(v.devSecret) == 0 {
			return nil, unauthenticated("HS256 tokens are not accepted: no development secret is configured")
		}
		// Only the dev secret, never a public key's bytes: that is what
		// stops an HS256 token "signed" with a published RSA key.
		keyfunc = func(*jwt.Token) (any, error) { return v.devSecret, nil }
	case AlgRS256, AlgES256, AlgEdDSA:
		keys, err := v.keysFor(hdr)
		if err != nil {
			return nil, err
		}
		keyfunc = func(*jwt.Token) (any, error) { return jwt.VerificationKeySet{Keys: keys}, nil }
	default:
		if strings.EqualFold(hdr.Alg, "none") {
			return nil, unauthenticated("unsigned tokens (alg \"none\") are not accepted")
		}
		return nil, unauthenticated("signing algorithm %q is not accepted: use RS256, ES256 or EdDSA", truncate(hdr.Alg, 16))
	}

	var claims tokenClaims
	if _, err := v.parsers[hdr.Alg].ParseWithClaims(raw, &claims, keyfunc); err != nil {
		return nil, fmt.Errorf("%w: %w", tokenError(err, &claims), err)
	}
	p, err := principalFromClaims(&claims)
	if err != nil {
		return nil, err
	}
	// exp is required, so the parser has checked it is set.
	v.verified.Set(raw, verifiedToken{principal: *clonePrincipal(*p), expires: claims.ExpiresAt.Time})
	return p, nil
}

// clonePrincipal copies p, its roles too: callers may change what they get.
func clonePrincipal(p access.Principal) *access.Principal {
	p.Roles = slices.Clone(p.Roles)
	return &p
}

// keysFor selects the keys a token may be verified with. A kid must name a
// key of the token's algorithm: a kid naming an EC key in an RS256 token is
// an algorithm-confusion attempt, refused before any signature check.
func (v *Verifier) keysFor(hdr tokenHeader) ([]jwt.VerificationKey, error) {
	var keys []jwt.VerificationKey
	if hdr.Kid != "" {
		for _, k := range v.keys {
			if k.id != hdr.Kid {
				continue
			}
			if k.alg != hdr.Alg {
				return nil, unauthenticated("the token's algorithm %s does not match its key %q, which is a %s key", hdr.Alg, truncate(hdr.Kid, 64), k.alg)
			}
			return []jwt.VerificationKey{k.key}, nil
		}
	}
	// No kid, or a kid no configured key claims: try the keys of the
	// token's algorithm that were configured without an id (all of them
	// when the token has no kid).
	for _, k := range v.keys {
		if k.alg == hdr.Alg && (hdr.Kid == "" || k.id == "") {
			keys = append(keys, k.key)
		}
	}
	if len(keys) == 0 {
		if hdr.Kid != "" {
			return nil, unauthenticated("the token's signing key %q is not known to this server", truncate(hdr.Kid, 64))
		}
		return nil, unauthenticated("no %s signing key is configured on this server", hdr.Alg)
	}
	return keys, nil
}

func decodeHeader(raw string) (tokenHeader, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return tokenHeader{}, fmt.Errorf("token has %d segments", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return tokenHeader{}, fmt.Errorf("decode header: %w", err)
	}
	var h tokenHeader
	if err := json.Unmarshal(b, &h); err != nil {
		return tokenHeader{}, fmt.Errorf("decode header: %w", err)
	}
	return h, nil
}

// tokenError turns a jwt error into the message the caller sees. Checks run
// from the most fundamental fault to the least, so a forged and expired
// token reports the forgery. claims holds whatever was decoded before the
// failure, which tells which required claim is missing.
func tokenError(err error, claims *tokenClaims) *apperr.Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return unauthenticated("the bearer token is malformed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return unauthenticated("the bearer token's signature is invalid")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims.ExpiresAt == nil:
		return unauthenticated("the bearer token has no expiry (exp claim); tokens must expire")
	case errors.Is(err, jwt.ErrTokenExpired):
		return unauthenticated("the bearer token has expired; sign in again")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return unauthenticated("the bearer token is not valid yet (nbf is in the future); check the clocks")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return unauthenticated("the bearer token was issued in the future (iat); check the clocks")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims.Issuer == "":
		return unauthenticated("the bearer token was issued by an issuer this server does not trust")
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return unauthenticated("the bearer token is not intended for this service (aud)")
	default:
		return unauthenticated("the bearer token is invalid")
	}
}

func principalFromClaims(c *tokenClaims) (*access.Principal, error) {
	if !validSubject(c.Subject) {
		return nil, unauthenticated("the bearer token has no valid subject (sub claim)")
	}
	if msg := checkOrg(c.Org, c.Dept, c.Roles); msg != "" {
		return nil, unauthenticated("the bearer token's org claim is invalid: %s", msg)
	}
	if c.Org == "" {
		if msg := checkDept(c.Dept); msg != "" {
			return nil, unauthenticated("the bearer token's dept claim is invalid: %s", msg)
		}
	}
	if msg := checkRoles(c.Roles); msg != "" {
		return nil, unauthenticated("the bearer token's roles claim is invalid: %s", msg)
	}
	for _, r := range c.Roles {
		// The citizen-app role is for the app's API key, which vouches for
		// the citizen id; a person's token holding it could act for anyone.
		if r == access.RoleCitizenApp {
			return nil, unauthenticated("the role %q is reserved for the citizen-app API key and is not accepted in a token", r)
		}
	}
	jur := c.Jur
	if jur == "" {
		// Field roles are limited to their area: a token that names none
		// must not fall back to the whole district.
		if r, ok := FieldRole(c.Roles); ok {
			return nil, unauthenticated("a %s token must name its jurisdiction in the jur claim", r)
		}
		jur = defaultJurisdiction(c.Dept)
	}
	if msg := checkJurisdiction(jur); msg != "" {
		return nil, unauthenticated("the bearer token's jur claim is invalid: %s", msg)
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{}
	}
	return &access.Principal{
		Kind:         access.KindUser,
		Subject:      c.Subject,
		Dept:         c.Dept,
		Org:          c.Org,
		Roles:        roles,
		Jurisdiction: jur,
	}, nil
}

// FieldRole returns the first of roles that works in the field (a street
// officer, a grid worker) and true. Such a credential must name its
// jurisdiction: falling back to its department's whole area, let alone the
// district, would widen what its holder sees.
func FieldRole(roles []string) (string, bool) {
	for _, r := range roles {
		if r == access.RoleStreetOfficer || r == access.RoleGridWorker {
			return r, true
		}
	}
	return "", false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// defaultJurisdiction is the area of a department when a token names none:
// a street office's or town government's own street or town (department
// codes street-<x> and town-<x> serve hailing.<x>), else the district.
func defaultJurisdiction(dept string) string {
	for _, prefix := range []string{"street-", "town-"} {
		if suffix, ok := strings.CutPrefix(dept, prefix); ok && suffix != "" {
			return JurisdictionDefault + "." + suffix
		}
	}
	return JurisdictionDefault
}
