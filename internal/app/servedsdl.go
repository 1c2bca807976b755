package app

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/fengcheng/datahub/graph"
)

// ServedSDL returns the federation SDL exactly as { _service { sdl } }
// answers it (what a gateway composes), from an in-process executor: no
// database, no configuration.
func ServedSDL() (string, error) {
	srv := handler.New(NewSchema(&graph.Resolver{}))
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	req := httptest.NewRequest("POST", "/query", strings.NewReader(`{"query":"{ _service { sdl } }"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var resp struct {
		Data struct {
			Service struct {
				SDL string `json:"sdl"`
			} `json:"_service"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		return "", fmt.Errorf("decode _service response: %w", err)
	}
	if len(resp.Errors) > 0 {
		return "", fmt.Errorf("_service: %s", resp.Errors[0].Message)
	}
	if resp.Data.Service.SDL == "" {
		return "", fmt.Errorf("_service: empty SDL")
	}
	return resp.Data.Service.SDL, nil
}
