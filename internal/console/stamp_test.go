package console

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stampInputs are the console sources the build stamp covers; keep in step
// with console/scripts/stamp.mjs.
var (
	stampFiles = []string{"index.html", "explorer.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "codegen.ts", "schema.graphql"}
	stampDirs  = []string{"src", "public"}
)

// sourceHash is console/scripts/stamp.mjs's hash of the sources in root.
func sourceHash(t *testing.T, root string) string {
	t.Helper()
	var rel []string
	for _, f := range stampFiles {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			rel = append(rel, f)
		}
	}
	for _, d := range stampDirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if !e.IsDir() {
				r, _ := filepath.Rel(root, p)
				rel = append(rel, filepath.ToSlash(r))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(rel)
	h := sha256.New()
	for _, r := range rel {
		b, err := os.ReadFile(filepath.Join(root, r))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		h.Write([]byte(r + "\n" + hex.EncodeToString(sum[:]) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBuildIsCurrent fails when the committed build (dist/) was not made
// from the console's current sources and lockfile: rebuild with
// `make console` and commit internal/console/dist.
func TestBuildIsCurrent(t *testing.T) {
	stamp, err := fs.ReadFile(Assets(), "source.sha256")
	if err != nil {
		t.Fatalf("the embedded build has no source.sha256: run make console and commit internal/console/dist (%v)", err)
	}
	want := sourceHash(t, filepath.Join("..", "..", "console"))
	if got := strings.TrimSpace(string(stamp)); got != want {
		t.Fatalf("internal/console/dist is stale: built from sources %s, the sources are now %s; run make console and commit internal/console/dist", got, want)
	}
	if _, err := fs.Stat(Assets(), "index.html"); err != nil {
		t.Fatal("the embedded build has no index.html")
	}
}

// TestStaleSourcesAreNoticed proves the guard can fail: a changed source
// file changes the hash.
func TestStaleSourcesAreNoticed(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package-lock.json", "{}")
	write("src/main.ts", "one")
	a := sourceHash(t, dir)
	write("src/main.ts", "two")
	if sourceHash(t, dir) == a {
		t.Fatal("a changed source did not change the hash")
	}
}
