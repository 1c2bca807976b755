package app

import (
	"strings"
	"testing"
)

// TestListenLoopbackOnly: in development mode the socket actually bound
// must be loopback, whatever the address said.
func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		ln, err := listen(addr, 16, true)
		if err == nil {
			ln.Close()
			t.Fatalf("development listener on %s was opened", addr)
		}
		if !strings.Contains(err.Error(), "not loopback") {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := listen(addr, 16, true)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		ln.Close()
	}
	ln, err := listen("0.0.0.0:0", 16, false)
	if err != nil {
		t.Fatalf("production listener: %v", err)
	}
	ln.Close()
}
