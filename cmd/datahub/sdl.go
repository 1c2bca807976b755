package main

import (
	"encoding/json"
	"fmt"
)

func extractSDL(body []byte) (string, error) {
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
	if err := json.Unmarshal(body, &resp); err != nil {
		return "", fmt.Errorf("decode _service response: %w", err)
	}
	if len(resp.Errors) > 0 {
		return "", fmt.Errorf("_service: %s", resp.Errors[0].Message)
	}
	return resp.Data.Service.SDL, nil
}
