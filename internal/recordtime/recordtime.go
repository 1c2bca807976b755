// Package recordtime holds the one rule on the times records carry (when a
// case was reported, a violation discovered, free spaces observed): not
// before the district existed, not after now beyond a small clock skew.
// Every write path — GraphQL inputs, upserts, bulk rows — checks through it.
package recordtime

import (
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
)

// MaxSkew is how far in the future an event time may lie: senders' clocks
// run a little fast.
const MaxSkew = 5 * time.Minute

// Earliest is the earliest time a record may carry: Hailing District was
// formed in 1997 (Asia/Shanghai, UTC+8 all year since 1991). A time before
// it is a sender's default (year 1, the Unix epoch) or a typo, never data.
func Earliest() time.Time {
	return time.Date(1997, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
}

// Problem returns why t is not an acceptable event time at now, or "".
func Problem(t, now time.Time) string {
	if p := BeforeDistrict(t); p != "" {
		return p
	}
	if t.After(now.Add(MaxSkew)) {
		return fmt.Sprintf("the time %s lies in the future", t.UTC().Format(time.RFC3339))
	}
	return ""
}

// BeforeDistrict returns why t is too early to be an event time, or "":
// for a parser that has no clock yet, and must refuse the zero time a
// record would otherwise read as "not given".
func BeforeDistrict(t time.Time) string {
	if t.Before(Earliest()) {
		return fmt.Sprintf("the time %s lies before the district existed (1997)", t.UTC().Format(time.RFC3339))
	}
	return ""
}

// Check returns BAD_USER_INPUT naming field when t is not an acceptable
// event time at now.
func Check(field string, t, now time.Time) error {
	if p := Problem(t, now); p != "" {
		return apperr.Invalid(field, "%s", p)
	}
	return nil
}
