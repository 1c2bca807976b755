package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// The profiler listens on loopback addresses only: a profile shows what
// the process holds.
func TestDebugListenerIsLoopbackOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.1.2.3:6060", "example.com:6060", "nonsense"} {
		if err := serveDebug(ctx, addr, log); err == nil {
			t.Errorf("%q accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		if err := serveDebug(ctx, addr, log); err != nil {
			t.Errorf("%q refused: %v", addr, err)
		}
	}
}
