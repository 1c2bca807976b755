package model

import (
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/apperr"
)

// MarshalDateTime writes a DateTime as RFC 3339 with up to microseconds:
// what PostgreSQL keeps, so a record reads the same in the answer to the
// mutation that wrote it and in every later query.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.Truncate(time.Microsecond).Format(time.RFC3339Nano)))
	})
}

// UnmarshalDateTime reads an RFC 3339 date-time. A value that is not one
// is the caller's mistake (BAD_USER_INPUT; the error presenter names the
// argument or input field from the error's path).
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apperr.Invalid("", "a DateTime is a string in RFC 3339 form, e.g. \"2025-11-20T08:30:00+08:00\"; got %v", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apperr.Invalid("", "%q is not a date-time: write it in RFC 3339 form with a time zone, e.g. \"2025-11-20T08:30:00+08:00\"", s)
	}
	return t, nil
}
