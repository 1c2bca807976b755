package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DevClaims are what a minted token says about its holder. Issuer and
// Audience default to IssuerDefault and AudienceDefault, Jurisdiction to
// JurisdictionDefault. Tests and `datahub token` use them; in production the
// identity provider mints tokens.
type DevClaims struct {
	Subject string
	Dept    string
	// Org is the evaluation organisation of an evaluator (Dept empty).
	Org          string
	Roles        []string
	Jurisdiction string
	Issuer       string
	Audience     string
	// Now is the issue time; time.Now when zero.
	Now time.Time
}

// MintDev returns an HS256 token signed with secret, valid for ttl. Only a
// Verifier in development mode with the same DevSecret accepts it.
func MintDev(secret []byte, c DevClaims, ttl time.Duration) (string, error) {
	if len(secret) < MinDevSecretLen {
		return "", fmt.Errorf("mint dev token: secret is %d bytes, want at least %d", len(secret), MinDevSecretLen)
	}
	return mint(jwt.SigningMethodHS256, secret, "", c, ttl)
}

// Mint returns a token signed with an asymmetric private key, valid for ttl:
// RS256 for *rsa.PrivateKey, ES256 for a P-256 *ecdsa.PrivateKey, EdDSA for
// ed25519.PrivateKey. kid, when not empty, goes in the header so the
// Verifier picks the matching public key.
func Mint(key crypto.Signer, kid string, c DevClaims, ttl time.Duration) (string, error) {
	var method jwt.SigningMethod
	switch k := key.(type) {
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", errors.New("mint token: only P-256 ECDSA keys (ES256) are supported")
		}
		method = jwt.SigningMethodES256
	case ed25519.PrivateKey:
		method = jwt.SigningMethodEdDSA
	default:
		return "", fmt.Errorf("mint token: unsupported key type %T", key)
	}
	return mint(method, key, kid, c, ttl)
}

func mint(method jwt.SigningMethod, key any, kid string, c DevClaims, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", errors.New("mint token: ttl must be positive")
	}
	if !validSubject(c.Subject) {
		return "", errors.New("mint token: subject is required")
	}
	if msg := checkOrg(c.Org, c.Dept, c.Roles); msg != "" {
		return "", fmt.Errorf("mint token: %s", msg)
	}
	if c.Org == "" {
		if msg := checkDept(c.Dept); msg != "" {
			return "", fmt.Errorf("mint token: %s", msg)
		}
	}
	if msg := checkRoles(c.Roles); msg != "" {
		return "", fmt.Errorf("mint token: %s", msg)
	}
	if c.Jurisdiction != "" {
		if msg := checkJurisdiction(c.Jurisdiction); msg != "" {
			return "", fmt.Errorf("mint token: %s", msg)
		}
	}
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	iss, aud := c.Issuer, c.Audience
	if iss == "" {
		iss = IssuerDefault
	}
	if aud == "" {
		aud = AudienceDefault
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    iss,
			Subject:   c.Subject,
			Audience:  jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
		},
		Dept:  c.Dept,
		Org:   c.Org,
		Roles: c.Roles,
		Jur:   c.Jurisdiction,
	}
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("mint token: sign: %w", err)
	}
	return s, nil
}

// LoadSigningKey reads a PEM private key (PKCS#8 "PRIVATE KEY", PKCS#1 "RSA
// PRIVATE KEY" or SEC 1 "EC PRIVATE KEY") for Mint.
func LoadSigningKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("signing key %s: no PEM block found", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("signing key %s: unsupported PEM block %q", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: unsupported key type %T", path, key)
	}
	return signer, nil
}
