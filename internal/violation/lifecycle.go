package violation

import (
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/lifecycle"
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

// machine lists, per action, the statuses it may start from and where it
// leads. Anything not listed is refused.
var machine = lifecycle.New[Status, Action]("violation", "none (the file is closed)", map[Action]lifecycle.Transition[Status]{
	ActionIssueNotice: {From: []Status{StatusDiscovered}, To: StatusNoticeIssued},
	ActionMarkDue:     {From: []Status{StatusNoticeIssued}, To: StatusRectificationDue},
	ActionDemolish:    {From: []Status{StatusNoticeIssued, StatusRectificationDue}, To: StatusDemolished},
	ActionLegalize:    {From: []Status{StatusNoticeIssued, StatusRectificationDue}, To: StatusLegalized},
	ActionPenalize:    {From: []Status{StatusNoticeIssued, StatusRectificationDue}, To: StatusPenalized},
	ActionClose:       {From: []Status{StatusDemolished, StatusLegalized, StatusPenalized}, To: StatusClosed},
	ActionDismiss:     {From: []Status{StatusDiscovered}, To: StatusClosed},
})

// outcomes is what each resolving action records.
var outcomes = map[Action]Outcome{
	ActionDemolish: OutcomeDemolished,
	ActionLegalize: OutcomeLegalized,
	ActionPenalize: OutcomePenalized,
	ActionDismiss:  OutcomeUnfounded,
}

// Next returns the status action leads to from s, or a BAD_USER_INPUT error
// that names the current status and what is allowed from it.
func Next(s Status, a Action) (Status, error) { return machine.Next(s, a) }

// Actions returns every transition action (for tests and docs).
func Actions() []Action { return machine.Actions() }

// ParseAction validates an action name (transitions only).
func ParseAction(s string) (Action, error) {
	if machine.Has(Action(s)) {
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
