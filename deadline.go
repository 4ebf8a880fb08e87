package hotlinebot

import "time"

// Span is a length of time in a deadline: natural time ("2h", "90s") or a
// number of working days ("5wd"). Exactly one of the two is set, or neither (zero).
type Span struct {
	Duration time.Duration
	Workdays int
}

// ParseSpan parses Go durations ("2h", "90s", "0s") and "Nwd".
func ParseSpan(s string) (Span, error) { panic("unimplemented") }

// String formats the span as ParseSpan reads it.
func (s Span) String() string { panic("unimplemented") }

// IsZero reports whether the span is unset.
func (s Span) IsZero() bool { return s.Duration == 0 && s.Workdays == 0 }

// After returns the moment the span ends when it starts at t: t+Duration, or
// cal.AddWorkdays(t, Workdays).
func (s Span) After(cal Calendar, t time.Time) time.Time { panic("unimplemented") }

// Before returns the moment the span starts when it ends at t: t-Duration, or
// cal.WorkdaysBefore(t, Workdays).
func (s Span) Before(cal Calendar, t time.Time) time.Time { panic("unimplemented") }

// Policy is the deadline policy for one urgency or category.
type Policy struct {
	Sign         Span // 签收 deadline, from dispatch
	Handle       Span // 办理 deadline, from dispatch
	ReturnWindow Span // 退回 allowed until this long after dispatch
	MaxExtension Span // all approved extensions of one ticket together
}

// DeadlinePolicy holds the policy per urgency and the optional per-category
// overrides, whose zero spans fall back to the urgency's.
type DeadlinePolicy struct {
	Urgency    map[Urgency]Policy
	Categories map[string]Policy
}

// DefaultDeadlinePolicy is used for keys the config leaves out.
func DefaultDeadlinePolicy() DeadlinePolicy { panic("unimplemented") }

// For returns the policy of a ticket with this urgency and category.
func (p DeadlinePolicy) For(u Urgency, category string) Policy { panic("unimplemented") }
