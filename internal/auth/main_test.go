package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/testenv"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// testKeys are the signing keys of the token tests. RSA generation is slow
// under -race, so they are made once for the whole package.
type testKeys struct {
	rsa      *rsa.PrivateKey // kid "rsa-1"
	rsaNoKID *rsa.PrivateKey // configured without a kid
	ec       *ecdsa.PrivateKey
	ed       ed25519.PrivateKey
	stranger *rsa.PrivateKey // never configured
}

var sharedKeys = sync.OnceValue(func() *testKeys {
	must := func(k crypto.Signer, err error) crypto.Signer {
		if err != nil {
			panic(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &testKeys{
		rsa:      must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey),
		rsaNoKID: must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey),
		ec:       must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)).(*ecdsa.PrivateKey),
		ed:       ed,
		stranger: must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey),
	}
})

// writePublicPEM writes pub as a PKIX "PUBLIC KEY" PEM file in dir.
func writePublicPEM(t testing.TB, dir, name string, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	return writePEM(t, dir, name, "PUBLIC KEY", der)
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}
	return path
}

// wantUnauthenticated fails unless err is UNAUTHENTICATED with a message
// containing want.
func wantUnauthenticated(t *testing.T, err error, want string) {
	t.Helper()
	wantCode(t, err, apperr.Unauthenticated, want)
}

func wantCode(t *testing.T, err error, code apperr.Code, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %q", code, want)
	}
	e, ok := apperr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("message %q does not contain %q", e.Message, want)
	}
}
