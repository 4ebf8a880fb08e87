package hotlinebot

import (
	"strconv"
	"strings"
	"time"
)

// Span is a length of time in a deadline: natural time ("2h", "90s") or a
// number of working days ("5wd"). Exactly one of the two is set, or neither (zero).
type Span struct {
	Duration time.Duration
	Workdays int
}

// Workdays returns a span of n working days.
func Workdays(n int) Span { return Span{Workdays: n} }

// ParseSpan parses Go durations ("2h", "90s", "0s", "1h30m") and "Nwd" (N a
// non-negative integer). Negative durations are refused.
func ParseSpan(s string) (Span, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return Span{}, Errorf(EINVALID, "时长不能为空：应为 2h、90s 这样的时长或 5wd 这样的工作日数")
	}
	if digits, ok := strings.CutSuffix(v, "wd"); ok {
		if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
			return Span{}, Errorf(EINVALID, "时长 %q 无效：工作日数应写作非负整数加 wd，如 5wd", s)
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return Span{}, Errorf(EINVALID, "时长 %q 无效：工作日数过大", s)
		}
		return Span{Workdays: n}, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return Span{}, Errorf(EINVALID, "时长 %q 无效：应为 2h、90s、1h30m 这样的时长或 5wd 这样的工作日数", s)
	}
	if d < 0 {
		return Span{}, Errorf(EINVALID, "时长 %q 无效：不能为负", s)
	}
	return Span{Duration: d}, nil
}

// String formats the span as ParseSpan reads it: "5wd", "2h", "1h30m", "0s".
func (s Span) String() string {
	if s.Workdays != 0 {
		return strconv.Itoa(s.Workdays) + "wd"
	}
	out := s.Duration.String()
	// time.Duration prints 2h as "2h0m0s"; drop the zero tails.
	if strings.HasSuffix(out, "m0s") {
		out = out[:len(out)-2]
	}
	if strings.HasSuffix(out, "h0m") {
		out = out[:len(out)-2]
	}
	return out
}

// MarshalText lets config and JSON carry a span as its string.
func (s Span) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a span with ParseSpan.
func (s *Span) UnmarshalText(b []byte) error {
	v, err := ParseSpan(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// IsZero reports whether the span is unset.
func (s Span) IsZero() bool { return s.Duration == 0 && s.Workdays == 0 }

// After returns the moment the span ends when it starts at t: t+Duration, or
// cal.AddWorkdays(t, Workdays).
func (s Span) After(cal Calendar, t time.Time) time.Time {
	if s.Workdays > 0 {
		return cal.AddWorkdays(t, s.Workdays)
	}
	return t.Add(s.Duration)
}

// Before returns the moment the span starts when it ends at t: t-Duration, or
// cal.WorkdaysBefore(t, Workdays).
func (s Span) Before(cal Calendar, t time.Time) time.Time {
	if s.Workdays > 0 {
		return cal.WorkdaysBefore(t, s.Workdays)
	}
	return t.Add(-s.Duration)
}

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

// DefaultDeadlinePolicy is used for keys the config leaves out: for normal
// tickets 签收 within 1 working day, 办理 within 5, returns within 1 and at
// most 10 working days of extensions; for urgent ones 30 minutes, 24 hours,
// 2 hours and 2 working days.
func DefaultDeadlinePolicy() DeadlinePolicy {
	return DeadlinePolicy{
		Urgency: map[Urgency]Policy{
			UrgencyNormal: {Sign: Workdays(1), Handle: Workdays(5), ReturnWindow: Workdays(1), MaxExtension: Workdays(10)},
			UrgencyUrgent: {
				Sign:         Span{Duration: 30 * time.Minute},
				Handle:       Span{Duration: 24 * time.Hour},
				ReturnWindow: Span{Duration: 2 * time.Hour},
				MaxExtension: Workdays(2),
			},
		},
		Categories: map[string]Policy{},
	}
}

// For returns the policy of a ticket with this urgency and category: the
// urgency's ("" counts as normal; an urgency the policy lacks takes the
// default's), with each non-zero span of the category's policy in its place.
func (p DeadlinePolicy) For(u Urgency, category string) Policy {
	if u == "" {
		u = UrgencyNormal
	}
	pol, ok := p.Urgency[u]
	if !ok {
		if pol, ok = DefaultDeadlinePolicy().Urgency[u]; !ok {
			pol = DefaultDeadlinePolicy().Urgency[UrgencyNormal]
		}
	}
	if c, ok := p.Categories[category]; ok && category != "" {
		pol = pol.overriddenBy(c)
	}
	return pol
}

// overriddenBy returns p with every non-zero span of o in its place.
func (p Policy) overriddenBy(o Policy) Policy {
	pick := func(base, over Span) Span {
		if over.IsZero() {
			return base
		}
		return over
	}
	return Policy{
		Sign:         pick(p.Sign, o.Sign),
		Handle:       pick(p.Handle, o.Handle),
		ReturnWindow: pick(p.ReturnWindow, o.ReturnWindow),
		MaxExtension: pick(p.MaxExtension, o.MaxExtension),
	}
}
