// Package apperr defines the hub's single coded error type. Domain packages
// return these; only the transport layer turns a code into a GraphQL
// extensions.code or an HTTP status. Anything without a code is an internal
// error: logged with its context and shown to the caller as "internal error".
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for the caller. The values are the GraphQL
// extensions.code strings listed in docs/design.md, Errors.
type Code string

// Error codes.
const (
	Unauthenticated    Code = "UNAUTHENTICATED"
	Forbidden          Code = "FORBIDDEN"
	BadUserInput       Code = "BAD_USER_INPUT"
	NotFound           Code = "NOT_FOUND"
	Conflict           Code = "CONFLICT"
	RateLimited        Code = "RATE_LIMITED"
	ServiceUnavailable Code = "SERVICE_UNAVAILABLE"
	Internal           Code = "INTERNAL"
)

// Error is an error a caller can act on. Message is safe to show to the
// caller; Field names the offending input field, if any.
type Error struct {
	Code    Code
	Message string
	Field   string
	// Extra carries machine-readable details (for example retryAfter).
	Extra map[string]any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Extensions returns what a caller is told of e besides its message: the
// code, the field when there is one, and Extra. The GraphQL error presenter
// and every HTTP route's JSON error body show an error through it, so the
// two never differ.
func (e *Error) Extensions() map[string]any {
	ext := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		ext[k] = v
	}
	ext["code"] = string(e.Code)
	if e.Field != "" {
		ext["field"] = e.Field
	}
	return ext
}

// New returns a coded error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a BAD_USER_INPUT error for one input field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err carries the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
