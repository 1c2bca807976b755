package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// ReadBack hands data, written to a temporary file called name, to an
// independent reader in test/readers (installed by scripts/test-readers.sh)
// and returns what the reader prints: program runs script, a path relative
// to the repository root, with the file as its argument. Tests read the
// hub's XLSX and Parquet files back this way, never with the library that
// wrote them.
func ReadBack(tb testing.TB, data []byte, name, program, script string) []byte {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	out, err := exec.Command(program, filepath.Join(root, script), p).Output()
	if err != nil {
		tb.Fatalf("%s %s (run scripts/test-readers.sh): %v", program, script, err)
	}
	return out
}
