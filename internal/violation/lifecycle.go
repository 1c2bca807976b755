package violation

import (
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
)

// Status is where a violation stands in its lifecycle: discovered → notice
// issued (责令限期改正) → rectification due → demolished | legalized |
// penalized → closed, with closing an unfounded discovery and resolving
// before the deadline as shortcuts.
type Status string

// Violation statuses.
const (
	StatusDiscovered       Status = "DISCOVERED"        // recorded, not yet acted on
	StatusNoticeIssued     Status = "NOTICE_ISSUED"     // ordered to rectify by the deadline
	StatusRectificationDue Status = "RECTIFICATION_DUE" // the deadline passed without rectification
	StatusDemolished       Status = "DEMOLISHED"        // removed (拆除 / 清除)
	StatusLegalized        Status = "LEGALIZED"         // permits obtained afterwards
	StatusPenalized        Status = "PENALIZED"         // administrative penalty imposed
	StatusClosed           Status = "CLOSED"            // file closed (terminal)
)

// Open reports whether the violation still stands: not yet demolished,
// legalized, penalized or closed. It matches the generated is_open column of
// the violations table; deadlines and "overdue" only concern open ones.
func (s Status) Open() bool {
	return s == StatusDiscovered || s == StatusNoticeIssued || s == StatusRectificationDue
}

// Action is a lifecycle transition.
type Action string

// Transitions; one GraphQL mutation each. ActionReport and ActionUpdate
// only name timeline events (creation, upsert of new data).
const (
	ActionReport      Action = "REPORT"
	ActionUpdate      Action = "UPDATE"
	ActionIssueNotice Action = "ISSUE_NOTICE" // 责令限期改正: the deadline starts
	ActionMarkDue     Action = "MARK_DUE"     // the deadline passed
	ActionDemolish    Action = "DEMOLISH"
	ActionLegalize    Action = "LEGALIZE"
	ActionPenalize    Action = "PENALIZE"
	ActionClose       Action = "CLOSE"
	ActionDismiss     Action = "DISMISS" // close an unfounded discovery
)

// transitions lists, per action, the statuses it may start from and where it
// leads. Anything not listed is refused.
var transitions = map[Action]struct {
	from []Status
	to   Status
}{
	ActionIssueNotice: {[]Status{StatusDiscovered}, StatusNoticeIssued},
	ActionMarkDue:     {[]Status{StatusNoticeIssued}, StatusRectificationDue},
	ActionDemolish:    {[]Status{StatusNoticeIssued, StatusRectificationDue}, StatusDemolished},
	ActionLegalize:    {[]Status{StatusNoticeIssued, StatusRectificationDue}, StatusLegalized},
	ActionPenalize:    {[]Status{StatusNoticeIssued, StatusRectificationDue}, StatusPenalized},
	ActionClose:       {[]Status{StatusDemolished, StatusLegalized, StatusPenalized}, StatusClosed},
	ActionDismiss:     {[]Status{StatusDiscovered}, StatusClosed},
}

// outcomes is what each resolving action records.
var outcomes = map[Action]Outcome{
	ActionDemolish: OutcomeDemolished,
	ActionLegalize: OutcomeLegalized,
	ActionPenalize: OutcomePenalized,
	ActionDismiss:  OutcomeUnfounded,
}

// Next returns the status action leads to from s, or a BAD_USER_INPUT error
// that names the current status and what is allowed from it.
func Next(s Status, a Action) (Status, error) {
	t, ok := transitions[a]
	if !ok {
		return "", apperr.New(apperr.BadUserInput, "unknown violation action %s", a)
	}
	if !slices.Contains(t.from, s) {
		return "", apperr.New(apperr.BadUserInput,
			"cannot %s a violation that is %s; from %s the allowed actions are: %s",
			strings.ToLower(strings.ReplaceAll(string(a), "_", " ")), s, s, allowedFrom(s))
	}
	return t.to, nil
}

func allowedFrom(s Status) string {
	var out []string
	for a, t := range transitions {
		if slices.Contains(t.from, s) {
			out = append(out, string(a))
		}
	}
	if len(out) == 0 {
		return "none (the file is closed)"
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// Actions returns every transition action (for tests and docs).
func Actions() []Action {
	out := make([]Action, 0, len(transitions))
	for a := range transitions {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// ParseAction validates an action name (transitions only).
func ParseAction(s string) (Action, error) {
	if _, ok := transitions[Action(s)]; ok {
		return Action(s), nil
	}
	return "", apperr.Invalid("action", "unknown violation action %q", s)
}

// Statuses returns every status in lifecycle order.
func Statuses() []Status {
	return []Status{StatusDiscovered, StatusNoticeIssued, StatusRectificationDue,
		StatusDemolished, StatusLegalized, StatusPenalized, StatusClosed}
}

// ParseStatus validates a status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", apperr.Invalid("status", "unknown status %q", s)
}
