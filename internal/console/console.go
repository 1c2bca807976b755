// Package console serves the governance console: a single-page front-end
// (console/ in the repository, built with Vite) embedded in the binary,
// which talks to the hub only through its GraphQL API with the signed-in
// user's credentials. The build is committed under dist/ so that the Go
// build needs no Node; TestBuildIsCurrent fails when it is stale.
package console

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is the console's URL path.
const Prefix = "/console/"

//go:embed all:dist
var dist embed.FS

// Assets returns the built console (index.html, assets/…, source.sha256).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub fails only on invalid ones
	}
	return sub
}

// contentSecurityPolicy allows only the console's own scripts, styles,
// images and API: no inline script, no other origin, no framing. connect-src
// 'self' covers the same-origin WebSocket of subscriptions.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'; object-src 'none'"

// explorerPolicy is the explorer's: GraphiQL's stylesheet carries its fonts
// as data: URIs and its editor sets inline styles; scripts and the API stay
// same-origin.
const explorerPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

// secure sets the console's security headers on every answer.
func secure(h http.Header) {
	secureWith(h, contentSecurityPolicy)
}

func secureWith(h http.Header, policy string) {
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// Static serves the built console under Prefix. Hashed files under
// assets/ are cached for good; any other path that names no file is a
// page of the single-page app and gets index.html, never cached.
func Static(assets fs.FS) http.Handler {
	index, indexErr := fs.ReadFile(assets, "index.html")
	modTime := time.Time{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/console")
		name = strings.TrimPrefix(name, "/")
		if name != "" && name != "index.html" && name != "source.sha256" {
			if st, err := fs.Stat(assets, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					w.Header().Set("Cache-Control", "no-cache")
				}
				http.ServeFileFS(w, r, assets, name)
				return
			}
			if path.Ext(name) != "" {
				// A missing asset is a 404, not the app: a browser must
				// not run index.html as a script.
				http.NotFound(w, r)
				return
			}
		}
		if indexErr != nil {
			http.Error(w, "the console is not built: run make console", http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "index.html", modTime, bytes.NewReader(index))
	})
}

// Explorer serves the API explorer page (GraphiQL, bundled into the build
// with the console: no CDN, so it works offline). Its scripts and styles
// are the console's hashed assets under Prefix.
func Explorer(assets fs.FS) http.Handler {
	page, err := fs.ReadFile(assets, "explorer.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secureWith(w.Header(), explorerPolicy)
		if err != nil {
			http.Error(w, "the explorer is not built: run make console", http.StatusNotFound)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "explorer.html", time.Time{}, bytes.NewReader(page))
	})
}
