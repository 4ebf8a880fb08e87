package hotlinebot

import "time"

// Env is what a transition needs besides the ticket and the actor.
type Env struct {
	Now      time.Time
	Calendar Calendar
	Policy   DeadlinePolicy
}

// Apply is the ticket lifecycle: it returns what cmd does to t when actor takes
// it at env.Now, or a coded *Error: EFORBIDDEN when the actor may not take the
// action, ECONFLICT when the ticket's status does not allow it, EINVALID for
// bad arguments. It never changes t.
func Apply(t Ticket, actor Actor, cmd Command, env Env) (Transition, error) { panic("unimplemented") }
