package cases

import (
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/lifecycle"
)

// Status is where a case stands in its lifecycle (national digital
// urban-management procedure: accept → register → dispatch → handle →
// verify → close, with side paths).
type Status string

// Case statuses.
const (
	StatusReported      Status = "REPORTED"       // collected / accepted, awaiting registration
	StatusRegistered    Status = "REGISTERED"     // 立案
	StatusNotRegistered Status = "NOT_REGISTERED" // 不予立案 (terminal)
	StatusDispatched    Status = "DISPATCHED"     // 派遣: the deadline clock runs
	StatusReturned      Status = "RETURNED"       // 退回: the department says it is not theirs
	StatusHandled       Status = "HANDLED"        // handling feedback submitted, awaiting verification
	StatusRework        Status = "REWORK"         // 返工: verification failed
	StatusDeferred      Status = "DEFERRED"       // 缓办 / extension granted
	StatusBacklog       Status = "BACKLOG"        // 挂账: cannot be solved now
	StatusClosed        Status = "CLOSED"         // 结案 (terminal)
)

// Open reports whether a case in status s still needs work. It matches the
// generated is_open column of the cases table.
func (s Status) Open() bool {
	return s != StatusClosed && s != StatusNotRegistered && s != StatusBacklog
}

// Action is a lifecycle transition.
type Action string

// Transitions; one GraphQL mutation each.
const (
	ActionReport   Action = "REPORT"
	ActionRegister Action = "REGISTER"
	ActionDecline  Action = "DECLINE"
	ActionDispatch Action = "DISPATCH"
	ActionReturn   Action = "RETURN"
	ActionHandle   Action = "SUBMIT_HANDLING"
	ActionVerify   Action = "VERIFY_PASS"
	ActionRework   Action = "VERIFY_FAIL"
	ActionDefer    Action = "DEFER"
	ActionBacklog  Action = "BACKLOG"
	ActionRate     Action = "RATE"
)

// machine lists, per action, the statuses it may start from and where it
// leads. Anything not listed is refused.
var machine = lifecycle.New[Status, Action]("case", "none (the case is finished)", map[Action]lifecycle.Transition[Status]{
	ActionRegister: {From: []Status{StatusReported}, To: StatusRegistered},
	ActionDecline:  {From: []Status{StatusReported}, To: StatusNotRegistered},
	ActionDispatch: {From: []Status{StatusRegistered, StatusReturned, StatusBacklog}, To: StatusDispatched},
	ActionReturn:   {From: []Status{StatusDispatched}, To: StatusReturned},
	ActionHandle:   {From: []Status{StatusDispatched, StatusRework, StatusDeferred}, To: StatusHandled},
	ActionVerify:   {From: []Status{StatusHandled}, To: StatusClosed},
	ActionRework:   {From: []Status{StatusHandled}, To: StatusRework},
	ActionDefer:    {From: []Status{StatusDispatched, StatusRework}, To: StatusDeferred},
	ActionBacklog:  {From: []Status{StatusDispatched, StatusRework, StatusDeferred}, To: StatusBacklog},
})

// Next returns the status action leads to from s, or a BAD_USER_INPUT error
// that names the current status and what is allowed from it.
func Next(s Status, a Action) (Status, error) { return machine.Next(s, a) }

// Actions returns every transition action (for tests and docs).
func Actions() []Action { return machine.Actions() }

// Statuses returns every status.
func Statuses() []Status {
	return []Status{StatusReported, StatusRegistered, StatusNotRegistered, StatusDispatched, StatusReturned,
		StatusHandled, StatusRework, StatusDeferred, StatusBacklog, StatusClosed}
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
