package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
)

// Persona is a demo user the development login signs in as.
type Persona struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	NameEn       string   `json:"nameEn"`
	Dept         string   `json:"dept"`
	Org          string   `json:"org,omitempty"`
	Roles        []string `json:"roles"`
	Jurisdiction string   `json:"jurisdiction,omitempty"`
}

// Personas are the development login's demo users: one per kind of console
// user (requester, provider admin, auditor, street, evaluator).
var Personas = []Persona{
	{ID: "water-officer", Name: "水利局 业务员", NameEn: "Water bureau officer", Dept: "water", Roles: []string{"officer"}},
	{ID: "water-admin", Name: "水利局 管理员", NameEn: "Water bureau admin", Dept: "water", Roles: []string{"admin"}},
	{ID: "um-admin", Name: "城市管理局 管理员", NameEn: "Urban-management admin", Dept: "urban-management", Roles: []string{"admin"}},
	{ID: "um-auditor", Name: "城市管理局 审计员", NameEn: "Urban-management auditor", Dept: "urban-management", Roles: []string{"auditor"}},
	{ID: "housing-admin", Name: "住建局 管理员", NameEn: "Housing admin", Dept: "housing", Roles: []string{"admin"}},
	{ID: "planning-admin", Name: "规划局 管理员", NameEn: "Planning admin", Dept: "planning", Roles: []string{"admin"}},
	{ID: "chengdong-officer", Name: "城东街道 执法队员", NameEn: "Chengdong street officer", Dept: "street-chengdong", Roles: []string{"street-officer"}},
	// The evaluator belongs to the demo evaluation organisation (registered
	// by the seeder), not to a department it evaluates.
	{ID: "evaluator", Name: "第三方评估组", NameEn: "Evaluation team", Org: "demo-assessors", Roles: []string{"evaluator"}},
}

// DevLoginTTL is how long a development login's token lasts.
const DevLoginTTL = 8 * time.Hour

// DevLogin lists the personas (GET) and mints a development token for one
// (POST {"persona": id}). It exists only in development mode, where the
// signing key is public and the hub listens on loopback: with enabled false
// (production) both answer 404, like a route that does not exist.
func DevLogin(enabled bool, secret []byte, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		if !enabled {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]any{"personas": Personas})
		case http.MethodPost:
			// JSON only: a cross-site form cannot send it without CORS.
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
				return
			}
			var in struct {
				Persona string `json:"persona"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"persona\": id}"})
				return
			}
			for _, p := range Personas {
				if p.ID != in.Persona {
					continue
				}
				at := now()
				tok, err := auth.MintDev(secret, auth.DevClaims{Subject: "demo-" + p.ID, Dept: p.Dept, Org: p.Org, Roles: p.Roles,
					Jurisdiction: p.Jurisdiction, Now: at}, DevLoginTTL)
				if err != nil {
					writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not mint a token"})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expiresAt": at.Add(DevLoginTTL).UTC().Format(time.RFC3339),
					"persona": p})
				return
			}
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown persona"})
		default:
			w.Header().Set("Allow", "GET, POST")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET or POST"})
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
